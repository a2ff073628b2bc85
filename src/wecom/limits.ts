import { BUTTON_OPENS_URL, CARD_LIMITS, CARD_TEXT_CHARS, TASK_ID } from './card';

/**
 * The numbers WeCom states: the message/send limits (reference §2.2), applied to
 * a rendered message body before it is queued, and at the end of this file the
 * windows and caps flows plan by (recall, media_id, WelcomeCode, recipients,
 * customers, app group chats). Template card facts are in card.ts.
 *
 * Policy: free text (text/markdown content, titles, descriptions) is cut on a
 * UTF-8 character boundary and marked with TRUNCATION_MARK, because an alert
 * that arrives shortened is worth more than one refused; WeCom itself is
 * inconsistent here (docs say "truncated", the error table says 45002).
 * Structural problems (a URL without http(s), a news message with 0 or more
 * than 8 articles, empty content) cannot be repaired and are refused.
 */

export const TRUNCATION_MARK = '…';

/** A rendered message that WeCom would refuse; `field` names the payload path. */
export class MessageLimitError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
  }
}

export function byteLength(text: string): number {
  return Buffer.byteLength(text, 'utf8');
}

/** Cuts `text` to at most `maxBytes` UTF-8 bytes, never inside a character, ending with the mark when cut. */
export function truncateUtf8(text: string, maxBytes: number, mark = TRUNCATION_MARK): string {
  if (byteLength(text) <= maxBytes) return text;
  const budget = maxBytes - byteLength(mark);
  let used = 0;
  let out = '';
  for (const char of text) {
    const size = byteLength(char);
    if (used + size > budget) break;
    used += size;
    out += char;
  }
  return out + mark;
}

/** Like truncateUtf8, but never leaves half an HTML tag behind (textcard descriptions allow a small HTML subset). */
function truncateHtml(text: string, maxBytes: number): string {
  if (byteLength(text) <= maxBytes) return text;
  const cut = truncateUtf8(text, maxBytes, '');
  return truncateUtf8(cut.replace(/<[^>]*$/, ''), maxBytes);
}

function truncateChars(text: string, maxChars: number): string {
  const chars = [...text];
  return chars.length <= maxChars ? text : chars.slice(0, maxChars).join('');
}

/** Exported for the group-chat forms (chat-message.ts), which check the same fields. */
export function requireHttpUrl(value: unknown, field: string): string {
  if (typeof value !== 'string' || !/^https?:\/\/\S+$/i.test(value)) throw new MessageLimitError(field, 'must be an http(s) URL');
  if (byteLength(value) > 2048) throw new MessageLimitError(field, 'must be at most 2048 bytes');
  return value;
}

export function requireText(value: unknown, field: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new MessageLimitError(field, 'must not be empty');
  return value;
}

type Body = Record<string, unknown>;

function limitArticle(article: Body, field: string): Body {
  const out: Body = { ...article, title: truncateUtf8(requireText(article.title, `${field}.title`), 128) };
  if (typeof article.description === 'string') out.description = truncateUtf8(article.description, 512);
  const opensMiniProgram = typeof article.appid === 'string' && typeof article.pagepath === 'string';
  if (!opensMiniProgram || article.url !== undefined) out.url = requireHttpUrl(article.url, `${field}.url`);
  return out;
}

const clipChars = (text: unknown, max: number) =>
  typeof text === 'string' && [...text].length > max ? `${[...text].slice(0, max - 1).join('')}${TRUNCATION_MARK}` : text;

/**
 * A button_interaction card's free texts, cut to what the client shows; a status
 * line or replacement text that a template left empty (or only line breaks) is
 * left out, as WeCom wants optional fields absent rather than blank.
 */
function limitButtonCardTexts(card: Body): Body {
  const out: Body = { ...card };
  const mainTitle = card.main_title as Body | undefined;
  if (mainTitle)
    out.main_title = {
      ...mainTitle,
      title: clipChars(mainTitle.title, CARD_TEXT_CHARS.title),
      ...(mainTitle.desc !== undefined ? { desc: clipChars(mainTitle.desc, CARD_TEXT_CHARS.desc) } : {}),
    };
  for (const field of ['sub_title_text', 'replace_text'] as const) {
    const text = typeof card[field] === 'string' ? (card[field] as string).trim() : card[field];
    if (text === '') delete out[field];
    else if (text !== undefined) out[field] = field === 'sub_title_text' ? clipChars(text, CARD_TEXT_CHARS.subTitle) : text;
  }
  if (Array.isArray(card.horizontal_content_list)) {
    out.horizontal_content_list = (card.horizontal_content_list as Body[]).map((item) => ({
      ...item,
      keyname: clipChars(item.keyname, CARD_TEXT_CHARS.keyname),
      ...(item.value !== undefined ? { value: clipChars(item.value, CARD_TEXT_CHARS.value) } : {}),
    }));
  }
  return out;
}

/**
 * A button_interaction card as WeCom requires it (reference §2.2, §15). Nothing
 * here can be repaired by cutting: a key is echoed back as EventKey, a task_id
 * names the card for updates, so each problem is refused with its field.
 */
function requireButtonCard(card: Body): void {
  if (typeof card.task_id !== 'string' || card.task_id === '')
    throw new MessageLimitError('template_card.task_id', 'is required for a button_interaction card');
  if (!TASK_ID.test(card.task_id)) throw new MessageLimitError('template_card.task_id', 'must be 1 to 128 of [0-9A-Za-z_-@]');
  const mainTitle = (card.main_title ?? {}) as Body;
  const hasTitle = (value: unknown) => typeof value === 'string' && value.trim() !== '';
  if (!hasTitle(mainTitle.title) && !hasTitle(card.sub_title_text))
    throw new MessageLimitError('template_card.main_title.title', 'is required (or sub_title_text)');
  const horizontal = card.horizontal_content_list;
  if (horizontal !== undefined && (!Array.isArray(horizontal) || horizontal.length > CARD_LIMITS.horizontalItems)) {
    throw new MessageLimitError('template_card.horizontal_content_list', `must hold at most ${CARD_LIMITS.horizontalItems} items`);
  }
  const buttons = card.button_list;
  if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > CARD_LIMITS.buttons) {
    throw new MessageLimitError('template_card.button_list', `must hold 1 to ${CARD_LIMITS.buttons} buttons`);
  }
  const keys = new Map<string, number>();
  buttons.forEach((item, i) => {
    const button = (item ?? {}) as Body;
    const field = `template_card.button_list.${i}`;
    // A url button (type 1) opens its page; every other button calls back with its key.
    if (button.type === BUTTON_OPENS_URL) return void requireHttpUrl(button.url, `${field}.url`);
    if (typeof button.key !== 'string' || button.key === '')
      throw new MessageLimitError(`${field}.key`, "is required (it comes back as the click's EventKey)");
    if (byteLength(button.key) > CARD_LIMITS.keyBytes)
      throw new MessageLimitError(`${field}.key`, `must be at most ${CARD_LIMITS.keyBytes} bytes`);
    const first = keys.get(button.key);
    if (first !== undefined) throw new MessageLimitError(`${field}.key`, `must be unique within the card (button ${first} has it too)`);
    keys.set(button.key, i);
  });
}

/** Returns the body with WeCom's limits applied, or throws MessageLimitError. */
export function applyMessageLimits(msgtype: string, body: Body): Body {
  switch (msgtype) {
    case 'text':
    case 'markdown':
      return { ...body, content: truncateUtf8(requireText(body.content, `${msgtype}.content`), 2048) };
    case 'textcard': {
      const out: Body = {
        ...body,
        title: truncateUtf8(requireText(body.title, 'textcard.title'), 128),
        description: truncateHtml(requireText(body.description, 'textcard.description'), 512),
        url: requireHttpUrl(body.url, 'textcard.url'),
      };
      if (typeof body.btntxt === 'string' && body.btntxt !== '') out.btntxt = truncateChars(body.btntxt, 4);
      else delete out.btntxt;
      return out;
    }
    case 'news': {
      const articles = body.articles;
      if (!Array.isArray(articles) || articles.length < 1 || articles.length > 8)
        throw new MessageLimitError('news.articles', 'must hold 1 to 8 articles');
      return { ...body, articles: articles.map((a, i) => limitArticle(a as Body, `news.articles.${i}`)) };
    }
    case 'template_card':
      if (typeof body.card_type !== 'string') throw new MessageLimitError('template_card.card_type', 'is required');
      if (body.card_type !== 'button_interaction') return body;
      requireButtonCard(body);
      return limitButtonCardTexts(body);
    default:
      return body;
  }
}

/**
 * The content one message of a type may carry, where waiting messages may be merged:
 * app text and markdown 2048 bytes (reference §2.2), a robot's text 2048 and markdown 4096 (§13).
 */
const MERGEABLE_BYTES: Record<'app' | 'robot', Record<string, number>> = {
  app: { text: 2048, markdown: 2048 },
  robot: { text: 2048, markdown: 4096, markdown_v2: 4096 },
};

/** How many bytes of content a merged message of this type may hold; undefined: this type is never merged. */
export function mergeableBytes(to: 'app' | 'robot', msgtype: string): number | undefined {
  return Object.hasOwn(MERGEABLE_BYTES[to], msgtype) ? MERGEABLE_BYTES[to][msgtype] : undefined;
}

/** The most recipients WeCom takes in one message/send (reference §2.1). */
export const RECIPIENT_LIMITS = { users: 1000, parties: 100, tags: 100 } as const;

/**
 * A group robot takes at most 20 messages in any minute (reference §13): beyond,
 * errcode 45009 and nothing delivered. ROBOT_QUOTA sets another (budgets/robot-line.ts).
 */
export const ROBOT_SEND_LIMIT = { count: 20, windowMs: 60_000 } as const;

/** message/recall takes messages up to 24 hours old (reference §2.4). */
export const RECALL_WINDOW_MS = 24 * 3_600_000;

/** A media_id lives 3 days from its upload (reference §3). */
export const MEDIA_ID_LIFETIME_SECONDS = 3 * 86_400;

/** The WelcomeCode of an add_external_contact push is good for 20 s (reference §8). */
export const WELCOME_CODE_WINDOW_MS = 20_000;

/** Customers one employee may have, unless WeCom expanded the cap. */
export const CUSTOMERS_PER_EMPLOYEE = 5_000;

/** appchat/create and appchat/update (reference §14): members, the name's length, the chatid's form. */
export const APP_CHAT = { minMembers: 2, maxMembers: 2000, nameChars: 50, chatId: /^[0-9A-Za-z]{1,32}$/ } as const;
