import { escapeHtml } from '../ops/html';

/**
 * WeCom-looking previews of the bodies the gateway sends: what a member (or a
 * group) sees, drawn from the exact payload. One renderer for the message page,
 * the playground and the alert groups. Everything is escaped first; only the
 * markup WeCom itself renders (its markdown subset, textcard's <div class>) is
 * turned back into HTML, and only http(s) links.
 */

type Body = Record<string, unknown>;

const str = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));
const list = (value: unknown): Body[] => (Array.isArray(value) ? (value.filter((v) => v && typeof v === 'object') as Body[]) : []);
const obj = (value: unknown): Body => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Body) : {});
const lines = (escaped: string) => escaped.replace(/\n/g, '<br>');
const SAFE_URL = /^https?:\/\//i;

/** A link WeCom would open; anything but http(s) is shown as text. */
function link(text: string, url: string): string {
  return SAFE_URL.test(url) ? `<a href="${escapeHtml(url)}" rel="noreferrer noopener" target="_blank">${escapeHtml(text)}</a>` : escapeHtml(text);
}

/** WeCom's markdown subset: headings, bold, links, inline code, quotes and <font color="info|comment|warning">. */
export function markdownHtml(source: string): string {
  return source
    .split('\n')
    .map((line) => {
      let html = escapeHtml(line)
        .replace(/&lt;font color=(?:&quot;|&#39;)(info|comment|warning)(?:&quot;|&#39;)&gt;(.*?)&lt;\/font&gt;/g, '<span class="font-$1">$2</span>')
        .replace(/\*\*(.+?)\*\*/g, '<b>$1</b>')
        .replace(/`([^`]+)`/g, '<code>$1</code>')
        // The text and URL are already escaped; the URL is checked as the client would see it.
        .replace(/\[([^\]]+)\]\(([^)\s]+)\)/g, (_m, text: string, url: string) => (SAFE_URL.test(url) ? `<a href="${url}" rel="noreferrer noopener" target="_blank">${text}</a>` : text));
      const heading = /^(#{1,6}) (.*)$/.exec(html);
      if (heading) return `<div class="h${heading[1].length}">${heading[2]}</div>`;
      if (html.startsWith('&gt; ') || html === '&gt;') return `<div class="quote">${html.replace(/^&gt; ?/, '')}</div>`;
      return html === '' ? '<br>' : `<div>${html}</div>`;
    })
    .join('');
}

/** text.content: `<a href="…">` is the only markup WeCom renders there. */
function textHtml(source: string): string {
  return lines(escapeHtml(source)).replace(/&lt;a href=&quot;(https?:\/\/[^"&]*(?:&amp;[^"&]*)*)&quot;&gt;(.*?)&lt;\/a&gt;/gi, '<a href="$1" rel="noreferrer noopener" target="_blank">$2</a>');
}

/** textcard's description: WeCom renders <div class="gray|normal|highlight"> and <br>, nothing else. */
function textcardDescription(source: string): string {
  return lines(escapeHtml(source))
    .replace(/&lt;div class=(?:&quot;|&#39;)(gray|normal|highlight)(?:&quot;|&#39;)&gt;(.*?)&lt;\/div&gt;/g, '<div class="tc-$1">$2</div>')
    .replace(/&lt;br ?\/?&gt;/g, '<br>');
}

type CardBody = {
  card_type?: string;
  source?: { desc?: string };
  main_title?: { title?: string; desc?: string };
  emphasis_content?: { title?: string; desc?: string };
  sub_title_text?: string;
  horizontal_content_list?: { keyname?: string; value?: string; url?: string }[];
  jump_list?: { title?: string; url?: string }[];
  button_list?: { text?: string; style?: number; key?: string; url?: string }[];
  card_action?: { url?: string };
  replace_text?: string;
};

/** A template_card roughly as the WeCom client draws it (text_notice, news_notice, button_interaction…). */
export function cardHtml(card: CardBody): string {
  const items = (card.horizontal_content_list ?? []).map((i) => `<div class="item"><span>${escapeHtml(i.keyname)}</span>${i.url ? link(str(i.value), i.url) : escapeHtml(i.value)}</div>`).join('');
  const jumps = (card.jump_list ?? []).map((j) => `<div class="jump">${link(str(j.title), str(j.url))}</div>`).join('');
  const buttons = card.replace_text
    ? `<div class="buttons"><span class="button done">${escapeHtml(card.replace_text)}</span></div>`
    : (card.button_list ?? []).length > 0
      ? `<div class="buttons">${(card.button_list ?? []).map((b) => `<span class="button ${b.url ? 'link' : b.style === 1 ? 'primary' : ''}">${escapeHtml(b.text)}</span>`).join('')}</div>`
      : '';
  const emphasis = card.emphasis_content?.title ? `<div class="emphasis"><b>${escapeHtml(card.emphasis_content.title)}</b><span>${escapeHtml(card.emphasis_content.desc)}</span></div>` : '';
  return `<div class="card"><div class="source">${escapeHtml(card.source?.desc)}</div><div class="title">${escapeHtml(card.main_title?.title)}</div><div class="desc">${escapeHtml(card.main_title?.desc)}</div>${emphasis}${
    card.sub_title_text ? `<div class="sub">${lines(escapeHtml(card.sub_title_text))}</div>` : ''
  }<div class="items">${items}</div>${jumps}${buttons}</div>`;
}

function newsHtml(articles: Body[]): string {
  return `<div class="news">${articles
    .map((a, i) => `<div class="article${i === 0 ? ' first' : ''}"><div class="title">${link(str(a.title), str(a.url))}</div>${a.description ? `<div class="desc">${escapeHtml(a.description)}</div>` : ''}${a.picurl ? '<div class="pic">🖼</div>' : ''}</div>`)
    .join('')}</div>`;
}

/** Who a robot or chat text @-mentions, as the group sees it. */
function mentionsHtml(body: Body): string {
  const names = [...(Array.isArray(body.mentioned_list) ? body.mentioned_list : []), ...(Array.isArray(body.mentioned_mobile_list) ? body.mentioned_mobile_list : [])].map(str);
  return names.length > 0 ? `<div class="mentions">${names.map((n) => `@${escapeHtml(n === '@all' ? '所有人' : n)}`).join(' ')}</div>` : '';
}

function bodyHtml(msgtype: string, body: Body): string {
  switch (msgtype) {
    case 'text':
      return `<div class="bubble text">${textHtml(str(body.content))}${mentionsHtml(body)}</div>`;
    case 'markdown':
    case 'markdown_v2':
      return `<div class="bubble markdown">${markdownHtml(str(body.content))}</div>`;
    case 'textcard':
      return `<div class="textcard"><div class="title">${escapeHtml(body.title)}</div><div class="desc">${textcardDescription(str(body.description))}</div><div class="more">${link(str(body.btntxt) || '详情', str(body.url))}</div></div>`;
    case 'news':
    case 'mpnews':
      return newsHtml(list(body.articles));
    case 'template_card':
      return cardHtml(body as CardBody);
    case 'image':
    case 'file':
    case 'voice':
    case 'video':
      return `<div class="bubble media">📎 ${escapeHtml(msgtype)}${body.title ? ` · ${escapeHtml(body.title)}` : ''}${body.media_id ? ` · <code>${escapeHtml(body.media_id)}</code>` : ''}</div>`;
    default:
      return `<div class="bubble">${escapeHtml(msgtype)}</div>`;
  }
}

/**
 * A payload as its recipients see it: message/send, webhook/send and appchat/send
 * bodies all name their type in `msgtype` and carry it under that key.
 */
export function previewHtml(payload: Body): string {
  const msgtype = str(payload.msgtype);
  return `<div class="wecom-preview" data-msgtype="${escapeHtml(msgtype)}">${bodyHtml(msgtype, obj(payload[msgtype]))}</div>`;
}
