import { CompatErrcode, CompatError } from './answers';
import { byteLength } from '../limits';

/**
 * WeCom's limits on the bodies the gateway takes in its own API, checked when a
 * request is accepted so the caller gets WeCom's errcode then (reference §2.2,
 * §13, §14): what WeCom would refuse is refused, never cut. What WeCom cuts
 * itself (a textcard title past 128 bytes) the pipeline cuts as it does for /v1.
 */

type Body = Record<string, unknown>;

/** Where a body goes: an app's members (message/send), an app group chat (appchat/send) or a group robot (webhook/send). */
export type CompatDestination = 'app' | 'chat' | 'robot';

/** The message types each destination takes through the gateway (mpnews and miniprogram_notice are not relayed). */
export const COMPAT_MSGTYPES: Record<CompatDestination, readonly string[]> = {
  app: ['text', 'markdown', 'textcard', 'news', 'image', 'file', 'voice', 'video', 'template_card'],
  chat: ['text', 'markdown', 'textcard', 'news', 'image', 'file', 'voice', 'video'],
  robot: ['text', 'markdown', 'markdown_v2', 'news', 'image', 'file', 'voice', 'template_card'],
};

/** Bytes of text and markdown content: apps and chats 2048 (§2.2); a robot's text 2048, its markdown 4096 (§13). */
const CONTENT_BYTES: Record<CompatDestination, Record<string, number>> = {
  app: { text: 2048, markdown: 2048 },
  chat: { text: 2048, markdown: 2048 },
  robot: { text: 2048, markdown: 4096, markdown_v2: 4096 },
};

const present = (value: unknown) => typeof value === 'string' && value.trim() !== '';

/** A message's type, as WeCom checks it first: an unknown or unrelayed type is 40008. */
export function requireMsgtype(destination: CompatDestination, msgtype: unknown): string {
  if (typeof msgtype === 'string' && COMPAT_MSGTYPES[destination].includes(msgtype)) return msgtype;
  const types = COMPAT_MSGTYPES[destination].join(', ');
  const given = typeof msgtype === 'string' && msgtype !== '' ? msgtype : '(missing)';
  throw new CompatError(CompatErrcode.invalidMsgtype, `invalid message type ${given}: the gateway relays ${types} here`);
}

/** Content too long: apps and chats answer 45002 (§2.2), a robot 40058 naming the field and its limit (§13). */
function tooLong(destination: CompatDestination, field: string, max: number, bytes: number): CompatError {
  const errcode = destination === 'robot' ? CompatErrcode.invalidParameter : CompatErrcode.contentTooLong;
  return new CompatError(errcode, `${field} exceed max length ${max} (it is ${bytes} bytes)`);
}

/** The body under `msgtype`, checked as WeCom checks it; throws CompatError naming the field. */
export function checkBody(destination: CompatDestination, msgtype: string, body: unknown): Body {
  // `media` is the gateway's own file source (a URL it would fetch later, unchecked): WeCom bodies carry media_id or base64.
  if (typeof body === 'object' && body !== null && 'media' in body)
    throw new CompatError(CompatErrcode.invalidParameter, `invalid parameter: ${msgtype}.media is not a WeCom field (give media_id)`);
  const limit = CONTENT_BYTES[destination][msgtype];
  if (limit !== undefined) {
    const content = (body as Body | undefined)?.content;
    if (!present(content)) throw new CompatError(CompatErrcode.emptyContent, `empty content: ${msgtype}.content is empty or missing`);
    const bytes = byteLength(content as string);
    if (bytes > limit) throw tooLong(destination, `${msgtype}.content`, limit, bytes);
    return body as Body;
  }
  if (typeof body !== 'object' || body === null || Array.isArray(body))
    throw new CompatError(CompatErrcode.invalidParameter, `invalid parameter: ${msgtype} must be an object`);
  const fields = body as Body;
  if (msgtype === 'textcard') {
    if (!present(fields.title)) throw new CompatError(CompatErrcode.missingTitle, 'missing title: textcard.title is required');
    if (!present(fields.description))
      throw new CompatError(CompatErrcode.missingDescription, 'missing description: textcard.description is required');
  }
  if (msgtype === 'news' && (!Array.isArray(fields.articles) || fields.articles.length < 1 || fields.articles.length > 8))
    throw new CompatError(CompatErrcode.invalidParameter, 'invalid parameter: news.articles must hold 1 to 8 articles');
  if (msgtype === 'image' && destination === 'robot') {
    if (!present(fields.base64) || !present(fields.md5))
      throw new CompatError(CompatErrcode.invalidParameter, 'invalid parameter: a robot image needs image.base64 and image.md5');
  } else if (['image', 'file', 'voice', 'video'].includes(msgtype) && !present(fields.media_id)) {
    throw new CompatError(CompatErrcode.invalidMediaId, `invalid media_id: ${msgtype}.media_id is missing`);
  }
  if (msgtype === 'template_card' && !present(fields.card_type))
    throw new CompatError(CompatErrcode.invalidParameter, 'invalid parameter: template_card.card_type is required');
  return fields;
}
