/**
 * message/send validation as WeCom does it (reference §2), answering the
 * errcode WeCom would. Returns undefined when the body is acceptable.
 */
export interface Rejection {
  errcode: number;
  errmsg: string;
}

const MSGTYPES = new Set(['text', 'image', 'voice', 'video', 'file', 'textcard', 'news', 'mpnews', 'markdown', 'miniprogram_notice', 'template_card']);
const MEDIA_TYPES = new Set(['image', 'voice', 'video', 'file']);
const INTERACTIVE_CARDS = new Set(['button_interaction', 'vote_interaction', 'multiple_interaction']);

const bytes = (value: unknown) => Buffer.byteLength(String(value ?? ''), 'utf8');
const isHttpUrl = (value: unknown) => typeof value === 'string' && /^https?:\/\//i.test(value) && bytes(value) <= 2048;
const reject = (errcode: number, errmsg: string): Rejection => ({ errcode, errmsg });

export function validateMessageBody(body: Record<string, unknown>, mediaExists: (mediaId: string) => boolean): Rejection | undefined {
  const msgtype = body.msgtype;
  if (typeof msgtype !== 'string' || !MSGTYPES.has(msgtype)) return reject(40008, 'invalid message type');
  const content = body[msgtype] as Record<string, unknown> | undefined;
  if (!content || typeof content !== 'object') return reject(40058, `invalid parameter: ${msgtype} is missing`);
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
      if (!Array.isArray(articles) || articles.length < 1 || articles.length > 8) return reject(40058, 'invalid parameter: news.articles must hold 1 to 8 articles');
      for (const article of articles as Record<string, unknown>[]) {
        if (typeof article.title !== 'string' || article.title === '') return reject(41016, 'missing title');
        const miniProgram = typeof article.appid === 'string' && typeof article.pagepath === 'string';
        if (!miniProgram && !isHttpUrl(article.url)) return reject(40058, 'invalid parameter: article url');
      }
      return undefined;
    }
    case 'template_card':
      if (typeof content.card_type !== 'string') return reject(40058, 'invalid parameter: card_type');
      if (INTERACTIVE_CARDS.has(content.card_type) && typeof content.task_id !== 'string') return reject(40058, 'invalid parameter: task_id required');
      return undefined;
    default:
      if (MEDIA_TYPES.has(msgtype) && (typeof content.media_id !== 'string' || !mediaExists(content.media_id))) return reject(40007, 'invalid media_id');
      return undefined;
  }
}

/** Markup WeCom would not render (see markupProblems), refused the way WeCom refuses a bad parameter. */
export function markupRejection(problems: string[]): Rejection {
  return reject(40058, `invalid parameter: ${problems.join('; ')}`);
}
