import { createHash } from 'node:crypto';

/**
 * message/send and webhook/send validation as WeCom does it (reference §2,
 * §13), answering the errcode WeCom would. Returns undefined when the body is
 * acceptable.
 */
export interface Rejection {
  errcode: number;
  errmsg: string;
}

/** A well-formed userid (1–64 chars, reference §4): shared by message/send and appchat. */
export const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;

const MSGTYPES = new Set([
  'text',
  'image',
  'voice',
  'video',
  'file',
  'textcard',
  'news',
  'mpnews',
  'markdown',
  'miniprogram_notice',
  'template_card',
]);
const MEDIA_TYPES = new Set(['image', 'voice', 'video', 'file']);
const INTERACTIVE_CARDS = new Set(['button_interaction', 'vote_interaction', 'multiple_interaction']);

const bytes = (value: unknown) => Buffer.byteLength(String(value ?? ''), 'utf8');
const isHttpUrl = (value: unknown) => typeof value === 'string' && /^https?:\/\//i.test(value) && bytes(value) <= 2048;
/** The errcode and errmsg WeCom answers a refused call with: every API family's refusals. */
export const reject = (errcode: number, errmsg: string) => ({ errcode, errmsg });

/** How every send opens: a msgtype this API knows, and the object of that name holding its content. */
function openBody(body: Record<string, unknown>, known: Set<string>): Rejection | { msgtype: string; content: Record<string, unknown> } {
  const msgtype = body.msgtype;
  if (typeof msgtype !== 'string' || !known.has(msgtype)) return reject(40008, 'invalid message type');
  const content = body[msgtype];
  if (!content || typeof content !== 'object') return reject(40058, `invalid parameter: ${msgtype} is missing`);
  return { msgtype, content: content as Record<string, unknown> };
}

export function validateMessageBody(body: Record<string, unknown>, mediaExists: (mediaId: string) => boolean): Rejection | undefined {
  const opened = openBody(body, MSGTYPES);
  if ('errcode' in opened) return opened;
  const { msgtype, content } = opened;
  switch (msgtype) {
    case 'text':
    case 'markdown':
      if (typeof content.content !== 'string' || content.content === '') return reject(44004, 'empty content');
      if (bytes(content.content) > 2048) return reject(45002, `content size out of limit (${msgtype} max 2048 bytes)`);
      return undefined;
    case 'textcard':
      if (typeof content.title !== 'string' || content.title === '') return reject(41016, 'missing title');
      if (typeof content.description !== 'string' || content.description === '') return reject(41033, 'missing description');
      if (!isHttpUrl(content.url)) return reject(40058, 'invalid parameter: textcard.url must be an http(s) URL');
      return undefined;
    case 'news': {
      const articles = content.articles;
      if (!Array.isArray(articles) || articles.length < 1 || articles.length > 8)
        return reject(40058, 'invalid parameter: news.articles must hold 1 to 8 articles');
      for (const article of articles as Record<string, unknown>[]) {
        if (typeof article.title !== 'string' || article.title === '') return reject(41016, 'missing title');
        const miniProgram = typeof article.appid === 'string' && typeof article.pagepath === 'string';
        if (!miniProgram && !isHttpUrl(article.url)) return reject(40058, 'invalid parameter: article url');
      }
      return undefined;
    }
    case 'template_card':
      return templateCardRejection(content);
    default:
      if (MEDIA_TYPES.has(msgtype) && (typeof content.media_id !== 'string' || !mediaExists(content.media_id)))
        return reject(40007, 'invalid media_id');
      return undefined;
  }
}

/** What a task_id may be (reference §15): up to 128 bytes of these, all ASCII. */
const TASK_ID = /^[0-9A-Za-z_\-@]{1,128}$/;
const MAX_KEY_BYTES = 1024;

/**
 * Whether clicks on the card come back to the app (reference §15): the three
 * interaction types, and notice cards with an action menu. Those need a
 * task_id, and message/send answers a response_code for them.
 */
export function isInteractiveCard(card: Record<string, unknown>): boolean {
  return (typeof card.card_type === 'string' && INTERACTIVE_CARDS.has(card.card_type)) || card.action_menu !== undefined;
}

/** A template_card as WeCom checks it on message/send and update_template_card (§2.2, §15); the task_id's uniqueness is the caller's. */
export function templateCardRejection(card: Record<string, unknown>): Rejection | undefined {
  if (typeof card.card_type !== 'string') return reject(40058, 'invalid parameter: card_type');
  if (isInteractiveCard(card) && (typeof card.task_id !== 'string' || !TASK_ID.test(card.task_id))) {
    return reject(40058, 'invalid parameter: task_id required, 1 to 128 bytes of [0-9A-Za-z_-@]');
  }
  const horizontal = card.horizontal_content_list;
  if (horizontal !== undefined && (!Array.isArray(horizontal) || horizontal.length > 6))
    return reject(40058, 'invalid parameter: horizontal_content_list holds at most 6 items');
  if (card.card_type === 'button_interaction') return buttonListRejection(card);
  const submitKey = (card.submit_button as Record<string, unknown> | undefined)?.key;
  if (submitKey !== undefined && (typeof submitKey !== 'string' || bytes(submitKey) > MAX_KEY_BYTES))
    return reject(40058, 'invalid parameter: submit_button.key exceeds 1024 bytes');
  return undefined;
}

function buttonListRejection(card: Record<string, unknown>): Rejection | undefined {
  const title = (card.main_title as Record<string, unknown> | undefined)?.title;
  if ((typeof title !== 'string' || title === '') && (typeof card.sub_title_text !== 'string' || card.sub_title_text === '')) {
    return reject(40058, 'invalid parameter: main_title.title or sub_title_text required');
  }
  const buttons = card.button_list;
  if (!Array.isArray(buttons) || buttons.length < 1 || buttons.length > 6)
    return reject(40058, 'invalid parameter: button_list must hold 1 to 6 buttons');
  const keys = new Set<string>();
  for (const [i, item] of (buttons as unknown[]).entries()) {
    const button = (item && typeof item === 'object' ? item : {}) as Record<string, unknown>;
    // type 1 opens its url; any other button calls back with its key as EventKey.
    if (button.type === 1) {
      if (!isHttpUrl(button.url)) return reject(40058, `invalid parameter: button_list.${i}.url must be an http(s) URL`);
      continue;
    }
    if (typeof button.key !== 'string' || button.key === '') return reject(40058, `invalid parameter: button_list.${i}.key required`);
    if (bytes(button.key) > MAX_KEY_BYTES) return reject(40058, `invalid parameter: button_list.${i}.key exceeds 1024 bytes`);
    if (keys.has(button.key)) return reject(40058, `invalid parameter: button_list.${i}.key duplicated`);
    keys.add(button.key);
  }
  return undefined;
}

/** Markup WeCom would not render (see markupProblems), refused the way WeCom refuses a bad parameter. */
export function markupRejection(problems: string[]): Rejection {
  return reject(40058, `invalid parameter: ${problems.join('; ')}`);
}

const ROBOT_MSGTYPES = new Set(['text', 'markdown', 'markdown_v2', 'image', 'news', 'file', 'voice', 'template_card']);
const ROBOT_CARDS = new Set(['text_notice', 'news_notice']);
const ROBOT_IMAGE_MAX = 2 << 20;
const JPG_MAGIC = Buffer.from([0xff, 0xd8, 0xff]);
const PNG_MAGIC = Buffer.from([0x89, 0x50, 0x4e, 0x47]);
const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;
export const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');

/** Why a robot image is refused (base64 of the raw bytes, md5 of those bytes), or undefined. */
function robotImageProblem(image: Record<string, unknown>): string | undefined {
  if (typeof image.base64 !== 'string' || image.base64 === '' || typeof image.md5 !== 'string') return 'image needs base64 and md5 strings';
  if (image.base64.length % 4 !== 0 || !BASE64.test(image.base64)) return 'image base64 invalid';
  const raw = Buffer.from(image.base64, 'base64');
  if (raw.length > ROBOT_IMAGE_MAX) return 'image size exceeds 2 MB';
  if (!raw.subarray(0, 3).equals(JPG_MAGIC) && !raw.subarray(0, 4).equals(PNG_MAGIC)) return 'image is neither JPG nor PNG';
  if (createHash('md5').update(raw).digest('hex') !== image.md5.toLowerCase()) return 'image md5 mismatch';
  return undefined;
}

/**
 * A webhook/send body (reference §13). `mediaExists` answers whether a media_id
 * was uploaded with this robot's key, as this kind (file or voice), within 3 days.
 */
export function validateRobotBody(
  body: Record<string, unknown>,
  mediaExists: (mediaId: string, type: 'file' | 'voice') => boolean,
): Rejection | undefined {
  const opened = openBody(body, ROBOT_MSGTYPES);
  if ('errcode' in opened) return opened;
  const { msgtype, content } = opened;
  switch (msgtype) {
    case 'text':
      if (typeof content.content !== 'string' || content.content === '') return reject(44004, 'empty content');
      if (bytes(content.content) > 2048) return reject(40058, 'text.content exceed max length 2048');
      for (const list of ['mentioned_list', 'mentioned_mobile_list']) {
        if (content[list] !== undefined && !isStringList(content[list]))
          return reject(40058, `invalid parameter: text.${list} must be a list of strings`);
      }
      return undefined;
    case 'markdown':
    case 'markdown_v2':
      if (typeof content.content !== 'string' || content.content === '') return reject(44004, 'empty content');
      if (bytes(content.content) > 4096) return reject(40058, `${msgtype}.content exceed max length 4096`);
      return undefined;
    case 'image': {
      const problem = robotImageProblem(content);
      return problem ? reject(40058, `invalid parameter: ${problem}`) : undefined;
    }
    case 'news': {
      const articles = content.articles;
      if (!Array.isArray(articles) || articles.length < 1 || articles.length > 8)
        return reject(40058, 'invalid parameter: news.articles must hold 1 to 8 articles');
      for (const article of articles as Record<string, unknown>[]) {
        if (typeof article?.title !== 'string' || article.title === '') return reject(40058, 'invalid parameter: article title missing');
        if (!isHttpUrl(article.url)) return reject(40058, 'invalid parameter: article url must be an http(s) URL');
      }
      return undefined;
    }
    case 'file':
    case 'voice':
      // A voice id sent as a file (or the reverse) is the wrong kind: 40007 too (reference §4).
      if (typeof content.media_id !== 'string' || !mediaExists(content.media_id, msgtype)) return reject(40007, 'invalid media_id');
      return undefined;
    default:
      if (typeof content.card_type !== 'string' || !ROBOT_CARDS.has(content.card_type))
        return reject(40058, 'robots take text_notice and news_notice cards only');
      return undefined;
  }
}

/** Who a robot or app chat message @-mentions: text.mentioned_list, and `<@userid>` in markdown (markdown_v2 has none). */
export function mentionsOf(body: Record<string, unknown>): string[] {
  const content = (body[String(body.msgtype)] ?? {}) as Record<string, unknown>;
  if (body.msgtype === 'text') return isStringList(content.mentioned_list) ? [...(content.mentioned_list as string[])] : [];
  if (body.msgtype === 'markdown' && typeof content.content === 'string')
    return [...content.content.matchAll(/<@([^<>\s]+)>/g)].map((m) => m[1]);
  return [];
}

/** WeCom answers a body that is not a JSON object with 40058, not with an HTTP error. */
export function jsonObject(raw: unknown): Record<string, unknown> | undefined {
  try {
    const parsed: unknown = JSON.parse(typeof raw === 'string' ? raw : '');
    return parsed && typeof parsed === 'object' && !Array.isArray(parsed) ? (parsed as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}
