/**
 * A rendered message body (the app form, before app limits) in the forms group
 * chats take: a group robot's webhook/send (reference §13) and an app group
 * chat's appchat/send (§14). Pure functions; the send worker fetches media and
 * makes the calls.
 *
 * | rendered       | robot (webhook/send)                                            | app group chat (appchat/send)                     |
 * | -------------- | --------------------------------------------------------------- | ------------------------------------------------- |
 * | text           | text, split at 2048 bytes; @users/@all/mobiles on the last part | text, split at 2048; @users/@all on the last part |
 * | markdown       | markdown, split at 4096; `<@userid>` at the end, no @all/mobiles | markdown, split at 2048; `<@userid>` at the end, no @all |
 * | markdown_v2    | markdown_v2, split at 4096; no mentions                         | refused                                           |
 * | textcard       | markdown: **title**, description, [btntxt or 详情](url)          | textcard (app limits)                             |
 * | news           | news: title, description, url (required), picurl                | news (app limits)                                 |
 * | image          | image from the picture itself (worker: base64 + md5)            | image (app limits)                                |
 * | file, voice    | same type from the file itself (worker: webhook/upload_media)   | same type (app limits)                            |
 * | video          | file, from the video itself                                     | video (app limits)                                |
 * | template_card  | text_notice and news_notice only                                | refused                                           |
 * | anything else  | refused                                                         | refused                                           |
 *
 * Mentions are taken by text and markdown (and a textcard sent as markdown);
 * any other type with mentions is refused rather than sent without the ping.
 * What cannot be delivered throws MessageLimitError, naming the field.
 */
import { createHash } from 'node:crypto';
import type { ChatMessage, Mentions } from './group-chat';
import { descriptionMarkdown, markdownMentions, textcardMarkdown } from './markup/robot-markdown';
import { applyMessageLimits, byteLength, MessageLimitError, requireHttpUrl, requireText, truncateUtf8 } from './limits';

type Body = Record<string, unknown>;

const ROBOT_TEXT_BYTES = 2048;
const ROBOT_MARKDOWN_BYTES = 4096;
/** appchat/send takes the app message bodies (§2.2): text and markdown at 2048 bytes. */
const CHAT_TEXT_BYTES = 2048;
const ROBOT_IMAGE_BYTES = 2 * 1024 * 1024;
/** Numbered parts a long text may take (each spends one of a robot's 20 messages a minute). */
const MAX_PARTS = 5;
/** The longest UTF-8 sequence: a part's budget must hold at least one character. */
const MAX_CHAR_BYTES = 4;

function codePointBytes(codePoint: number): number {
  // A lone surrogate is encoded as U+FFFD (3 bytes), like any code point up to U+FFFF.
  return codePoint < 0x80 ? 1 : codePoint < 0x800 ? 2 : codePoint < 0x10000 ? 3 : 4;
}

/** The end (UTF-16 index) of the longest run from `start` that fits `budget` bytes; never inside a surrogate pair. */
function fittingEnd(text: string, start: number, budget: number): number {
  let used = 0;
  let i = start;
  while (i < text.length) {
    const codePoint = text.codePointAt(i)!;
    used += codePointBytes(codePoint);
    if (used > budget) break;
    i += codePoint > 0xffff ? 2 : 1;
  }
  return i;
}

/** Up to `count` pieces of at most `budget` bytes; `rest` is where the uncut text starts (text.length when none is left). */
function cutPieces(text: string, budget: number, count: number): { pieces: string[]; rest: number } {
  const pieces: string[] = [];
  let pos = 0;
  while (pos < text.length && pieces.length < count) {
    const end = fittingEnd(text, pos, budget);
    if (end === text.length) {
      pieces.push(text.slice(pos));
      pos = end;
      break;
    }
    // The last line break that fits (one right after the fitting run counts); it is dropped, so no part starts with it.
    const newline = text.lastIndexOf('\n', end);
    if (newline > pos) {
      pieces.push(text.slice(pos, newline));
      pos = newline + 1;
    } else {
      pieces.push(text.slice(pos, end));
      pos = end;
    }
  }
  return { pieces, rest: pos };
}

/** `\n(i/n)` with i and n of `digits` digits. */
const suffixBytes = (digits: number) => 4 + 2 * digits;

/** splitLongText, with `tail` (markdown mentions) kept at the end of the last part, before its number. */
function splitWithTail(text: string, maxBytes: number, maxParts: number, tail: string): string[] {
  const tailBytes = byteLength(tail);
  if (byteLength(text) + tailBytes <= maxBytes) return [text + tail];
  if (!(maxParts >= 1)) throw new RangeError(`maxParts must be at least 1, not ${maxParts}`);
  // One part: nothing to number, only to cut.
  if (maxParts === 1) return [truncateUtf8(text, maxBytes - tailBytes) + tail];
  for (let digits = 1; ; digits++) {
    // Every part reserves a number as long as n's: i ≤ n never has more digits.
    const budget = maxBytes - tailBytes - suffixBytes(digits);
    if (budget < MAX_CHAR_BYTES) throw new RangeError(`${maxBytes} bytes leave no room for a part and its number`);
    const count = Math.min(maxParts, 10 ** digits - 1);
    const { pieces, rest } = cutPieces(text, budget, count);
    if (rest >= text.length) return numbered(pieces, tail);
    if (count === maxParts) {
      const kept = cutPieces(text, budget, count - 1);
      return numbered([...kept.pieces, truncateUtf8(text.slice(kept.rest), budget)], tail);
    }
  }
}

function numbered(pieces: string[], tail: string): string[] {
  const n = pieces.length;
  return pieces.map((piece, i) => `${piece}${i === n - 1 ? tail : ''}\n(${i + 1}/${n})`);
}

/**
 * Splits a text too long for one message into numbered parts of at most
 * `maxBytes` UTF-8 bytes each, number included: each part ends with `\n(i/n)`
 * (a suffix, as a prefix would break a markdown heading on the first line).
 * Parts are cut at the last line break that fits (the break is dropped), or
 * else between two characters. A text that fits is returned as it is.
 *
 * At most `maxParts` parts: beyond, the last part is cut and ends with
 * TRUNCATION_MARK before its number, because every part spends one of a
 * robot's 20 messages a minute. With maxParts 1 the text is only cut, unnumbered.
 */
export function splitLongText(text: string, maxBytes: number, maxParts = MAX_PARTS): string[] {
  return splitWithTail(text, maxBytes, maxParts, '');
}

interface MentionLists {
  users: string[];
  mobiles: string[];
}

function mentionLists(mentions: Mentions | undefined): MentionLists {
  const present = (list: string[] | undefined) => (list ?? []).filter((item) => typeof item === 'string' && item !== '');
  return { users: present(mentions?.users), mobiles: present(mentions?.mobiles) };
}

const hasMentions = (m: MentionLists) => m.users.length + m.mobiles.length > 0;

function textParts(content: string, maxBytes: number, lastPart: Body): ChatMessage[] {
  const parts = splitLongText(content, maxBytes);
  return parts.map((part, i) => ({ msgtype: 'text', body: i === parts.length - 1 ? { content: part, ...lastPart } : { content: part } }));
}

function markdownParts(msgtype: 'markdown' | 'markdown_v2', content: string, maxBytes: number, users: string[]): ChatMessage[] {
  return splitWithTail(content, maxBytes, MAX_PARTS, markdownMentions(users)).map((part) => ({ msgtype, body: { content: part } }));
}

/** Robots have no textcard: the same card as markdown (bold title, description, a link as its button). */
function textcardAsMarkdown(body: Body): string {
  const title = requireText(body.title, 'textcard.title');
  const url = requireHttpUrl(body.url, 'textcard.url');
  const description = typeof body.description === 'string' ? descriptionMarkdown(body.description) : '';
  const button = typeof body.btntxt === 'string' && body.btntxt !== '' ? body.btntxt : '详情';
  return textcardMarkdown(title, description, button, url);
}

function robotNews(body: Body): Body {
  const articles = body.articles;
  if (!Array.isArray(articles) || articles.length < 1 || articles.length > 8)
    throw new MessageLimitError('news.articles', 'must hold 1 to 8 articles');
  const robotArticles = articles.map((article: Body, i) => {
    if (typeof article?.url !== 'string' || !/^https?:\/\//i.test(article.url)) {
      throw new MessageLimitError(`news.articles.${i}.url`, 'a robot news article needs a url (robots cannot open mini programs)');
    }
    // appid/pagepath dropped: a robot's article opens its url.
    const out: Body = { title: article.title, url: article.url };
    if (article.description !== undefined) out.description = article.description;
    if (article.picurl !== undefined) out.picurl = article.picurl;
    return out;
  });
  // The app rule's title/description cuts and url checks.
  return applyMessageLimits('news', { articles: robotArticles });
}

/** `{media}` with a url or base64 source: what the worker turns into base64+md5 or a webhook media_id. */
function mediaSource(field: string, body: Body, refusal: string): Body {
  const media = body.media as { url?: unknown; base64?: unknown } | undefined;
  const present = (value: unknown) => typeof value === 'string' && value !== '';
  if (typeof media !== 'object' || media === null || !(present(media.url) || present(media.base64)))
    throw new MessageLimitError(field, refusal);
  return { media };
}

const ROBOT_CARD_TYPES = ['text_notice', 'news_notice'];

function robotCard(body: Body): Body {
  if (typeof body.card_type !== 'string' || !ROBOT_CARD_TYPES.includes(body.card_type)) {
    throw new MessageLimitError('template_card.card_type', 'robots take text_notice and news_notice cards only, not interactive cards');
  }
  // An action menu's clicks come back to an app (reference §15), which a robot is not.
  if (body.action_menu !== undefined)
    throw new MessageLimitError('template_card.action_menu', 'robots cannot take cards with an action menu (its clicks go to an app)');
  return body;
}

/** The webhook/send messages (reference §13) for a rendered message: one, or the parts of a long text. */
export function toRobotMessages(msgtype: string, body: Body, mentions?: Mentions): ChatMessage[] {
  const m = mentionLists(mentions);
  const noMentions = () => {
    if (hasMentions(m)) throw new MessageLimitError('mentions', `a robot ${msgtype} message cannot @mention: send it as text or markdown`);
  };
  const robotMarkdown = (content: string) => {
    if (m.mobiles.length > 0 || m.users.includes('@all')) {
      throw new MessageLimitError('mentions', 'a robot markdown message can @mention userids only, not @all or mobiles: send it as text');
    }
    return markdownParts('markdown', content, ROBOT_MARKDOWN_BYTES, m.users);
  };
  switch (msgtype) {
    case 'text': {
      const lastPart: Body = {};
      if (m.users.length > 0) lastPart.mentioned_list = m.users;
      if (m.mobiles.length > 0) lastPart.mentioned_mobile_list = m.mobiles;
      return textParts(requireText(body.content, 'text.content'), ROBOT_TEXT_BYTES, lastPart);
    }
    case 'markdown':
      return robotMarkdown(requireText(body.content, 'markdown.content'));
    case 'markdown_v2':
      if (hasMentions(m)) throw new MessageLimitError('mentions', 'markdown_v2 cannot @mention anyone: send it as text or markdown');
      return markdownParts('markdown_v2', requireText(body.content, 'markdown_v2.content'), ROBOT_MARKDOWN_BYTES, []);
    case 'textcard':
      return robotMarkdown(textcardAsMarkdown(body));
    case 'news':
      noMentions();
      return [{ msgtype: 'news', body: robotNews(body) }];
    case 'image':
      noMentions();
      return [
        { msgtype: 'image', body: mediaSource('image', body, 'a robot image needs the picture itself (url or base64), not a media_id') },
      ];
    case 'file':
    case 'voice':
      noMentions();
      return [{ msgtype, body: mediaSource(msgtype, body, `a robot ${msgtype} needs the file itself (url or base64), not a media_id`) }];
    case 'video':
      // Robots have no video message: the video goes as a file.
      noMentions();
      return [
        {
          msgtype: 'file',
          body: mediaSource('video', body, 'a robot gets a video as a file, which needs the video itself (url or base64), not a media_id'),
        },
      ];
    case 'template_card':
      noMentions();
      return [{ msgtype: 'template_card', body: robotCard(body) }];
    default:
      throw new MessageLimitError('msgtype', `robots cannot take ${msgtype}`);
  }
}

const CHAT_PASS_THROUGH = new Set(['textcard', 'news', 'image', 'file', 'voice', 'video']);

/** The appchat/send messages (reference §14) for a rendered message: one, or the parts of a long text. */
export function toChatMessages(msgtype: string, body: Body, mentions?: Mentions): ChatMessage[] {
  const m = mentionLists(mentions);
  if (msgtype === 'text' || msgtype === 'markdown') {
    if (m.mobiles.length > 0) throw new MessageLimitError('mentions', 'app group chats mention by userid only');
    const content = requireText(body.content, `${msgtype}.content`);
    if (msgtype === 'text') return textParts(content, CHAT_TEXT_BYTES, m.users.length > 0 ? { mentioned_list: m.users } : {});
    if (m.users.includes('@all'))
      throw new MessageLimitError('mentions', 'an app group chat markdown message can @mention userids only, not @all: send it as text');
    return markdownParts('markdown', content, CHAT_TEXT_BYTES, m.users);
  }
  if (CHAT_PASS_THROUGH.has(msgtype)) {
    if (hasMentions(m))
      throw new MessageLimitError('mentions', `an app group chat ${msgtype} message cannot @mention: send it as text or markdown`);
    return [{ msgtype, body: applyMessageLimits(msgtype, body) }];
  }
  throw new MessageLimitError('msgtype', `app group chats cannot take ${msgtype}`);
}

const isJpeg = (bytes: Buffer) => bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const isPng = (bytes: Buffer) => bytes.length >= 8 && bytes.subarray(0, 8).equals(PNG_SIGNATURE);

/** A robot's image body (reference §13): base64 and the md5 of the raw bytes; or, as a string, why the picture cannot go. */
export function robotImage(bytes: Buffer): { base64: string; md5: string } | string {
  if (!isJpeg(bytes) && !isPng(bytes)) return 'a robot image must be a JPG or PNG';
  if (bytes.length > ROBOT_IMAGE_BYTES)
    return `a robot image must be at most 2 MB (this one is ${(bytes.length / (1024 * 1024)).toFixed(1)} MB)`;
  return { base64: bytes.toString('base64'), md5: createHash('md5').update(bytes).digest('hex') };
}

/** The webhook/send JSON for one message. */
export function robotPayload(message: ChatMessage): Record<string, unknown> {
  return { msgtype: message.msgtype, [message.msgtype]: message.body };
}

/** The appchat/send JSON for one message; safe 0: shareable, as app messages are sent by default. */
export function chatPayload(chatid: string, message: ChatMessage): Record<string, unknown> {
  return { chatid, msgtype: message.msgtype, [message.msgtype]: message.body, safe: 0 };
}
