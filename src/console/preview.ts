import { escapeHtml } from '../ops/html';
import { descriptionTokens, type Inline, isDivClass, markdownLines, textTokens } from '../wecom/markup/tokens';

/**
 * WeCom-looking previews of the bodies the gateway sends: what a member (or a
 * group) sees, drawn from the exact payload. One renderer for the message page,
 * the playground and the alert groups. The markup is read by the one tokenizer
 * (wecom/markup/tokens.ts); only what WeCom itself renders (its markdown subset,
 * textcard's <div class>, text's <a href>) becomes HTML, and only http(s) links;
 * all text is escaped.
 */

type Body = Record<string, unknown>;

const str = (value: unknown): string => (typeof value === 'string' ? value : value === undefined || value === null ? '' : String(value));
const list = (value: unknown): Body[] => (Array.isArray(value) ? (value.filter((v) => v && typeof v === 'object') as Body[]) : []);
const obj = (value: unknown): Body => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Body) : {});
const lines = (escaped: string) => escaped.replace(/\n/g, '<br>');
const SAFE_URL = /^https?:\/\//i;
const NEW_TAB = 'rel="noreferrer noopener" target="_blank"';

/** A link WeCom would open; anything but http(s) is shown as text. */
function link(text: string, url: string): string {
  return SAFE_URL.test(url) ? `<a href="${escapeHtml(url)}" ${NEW_TAB}>${escapeHtml(text)}</a>` : escapeHtml(text);
}

function inlineHtml(nodes: Inline[]): string {
  return nodes
    .map((node) => {
      switch (node.kind) {
        case 'text':
          return escapeHtml(node.text);
        case 'font':
          return `<span class="font-${node.color}">${inlineHtml(node.children)}</span>`;
        case 'bold':
          return `<b>${inlineHtml(node.children)}</b>`;
        case 'code':
          return `<code>${inlineHtml(node.children)}</code>`;
        case 'link': {
          const text = inlineHtml(node.children);
          return SAFE_URL.test(node.url) ? `<a href="${escapeHtml(node.url)}" ${NEW_TAB}>${text}</a>` : text;
        }
        case 'mention':
          return escapeHtml(`<@${node.userid}>`);
      }
    })
    .join('');
}

/** WeCom's markdown subset: headings, bold, links, inline code, quotes and <font color="info|comment|warning">. */
export function markdownHtml(source: string): string {
  return markdownLines(source)
    .map(({ block, level, inline }) => {
      const html = inlineHtml(inline);
      if (block === 'heading') return `<div class="h${level}">${html}</div>`;
      if (block === 'quote') return `<div class="quote">${html}</div>`;
      return html === '' ? '<br>' : `<div>${html}</div>`;
    })
    .join('');
}

/** text.content: `<a href="…">` is the only markup WeCom renders there. */
function textHtml(source: string): string {
  return textTokens(source)
    .map((token) =>
      token.kind === 'link' && SAFE_URL.test(token.url)
        ? `<a href="${lines(escapeHtml(token.url))}" ${NEW_TAB}>${lines(escapeHtml(token.text))}</a>`
        : lines(escapeHtml(token.kind === 'link' ? token.raw : token.text)),
    )
    .join('');
}

/** textcard's description: WeCom renders <div class="gray|normal|highlight"> and <br>, nothing else. */
function textcardDescription(source: string): string {
  return descriptionTokens(source)
    .map((token) => {
      if (token.kind === 'text') return lines(escapeHtml(token.text));
      if (token.kind === 'break') return '<br>';
      const block = (token.kind === 'div' || token.kind === 'divEnd') && token.paired && isDivClass(token.divClass);
      if (block) return token.kind === 'div' ? `<div class="tc-${token.divClass}">` : '</div>';
      // Markup WeCom does not know, shown as written.
      return lines(escapeHtml(token.raw));
    })
    .join('');
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
  const items = (card.horizontal_content_list ?? [])
    .map((i) => `<div class="item"><span>${escapeHtml(i.keyname)}</span>${i.url ? link(str(i.value), i.url) : escapeHtml(i.value)}</div>`)
    .join('');
  const jumps = (card.jump_list ?? []).map((j) => `<div class="jump">${link(str(j.title), str(j.url))}</div>`).join('');
  const buttons = card.replace_text
    ? `<div class="buttons"><span class="button done">${escapeHtml(card.replace_text)}</span></div>`
    : (card.button_list ?? []).length > 0
      ? `<div class="buttons">${(card.button_list ?? []).map(buttonHtml).join('')}</div>`
      : '';
  const emphasis = card.emphasis_content?.title
    ? `<div class="emphasis"><b>${escapeHtml(card.emphasis_content.title)}</b><span>${escapeHtml(card.emphasis_content.desc)}</span></div>`
    : '';
  const sub = card.sub_title_text ? `<div class="sub">${lines(escapeHtml(card.sub_title_text))}</div>` : '';
  return (
    `<div class="card"><div class="source">${escapeHtml(card.source?.desc)}</div>` +
    `<div class="title">${escapeHtml(card.main_title?.title)}</div><div class="desc">${escapeHtml(card.main_title?.desc)}</div>` +
    `${emphasis}${sub}<div class="items">${items}</div>${jumps}${buttons}</div>`
  );
}

function buttonHtml(b: NonNullable<CardBody['button_list']>[number]): string {
  return `<span class="button ${b.url ? 'link' : b.style === 1 ? 'primary' : ''}">${escapeHtml(b.text)}</span>`;
}

function newsHtml(articles: Body[]): string {
  return `<div class="news">${articles.map(articleHtml).join('')}</div>`;
}

function articleHtml(a: Body, i: number): string {
  const desc = a.description ? `<div class="desc">${escapeHtml(a.description)}</div>` : '';
  const pic = a.picurl ? '<div class="pic">🖼</div>' : '';
  return `<div class="article${i === 0 ? ' first' : ''}"><div class="title">${link(str(a.title), str(a.url))}</div>${desc}${pic}</div>`;
}

/** Who a robot or chat text @-mentions, as the group sees it. */
function mentionsHtml(body: Body): string {
  const names = [
    ...(Array.isArray(body.mentioned_list) ? body.mentioned_list : []),
    ...(Array.isArray(body.mentioned_mobile_list) ? body.mentioned_mobile_list : []),
  ].map(str);
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
      return (
        `<div class="textcard"><div class="title">${escapeHtml(body.title)}</div>` +
        `<div class="desc">${textcardDescription(str(body.description))}</div>` +
        `<div class="more">${link(str(body.btntxt) || '详情', str(body.url))}</div></div>`
      );
    case 'news':
    case 'mpnews':
      return newsHtml(list(body.articles));
    case 'template_card':
      return cardHtml(body as CardBody);
    case 'image':
    case 'file':
    case 'voice':
    case 'video': {
      const title = body.title ? ` · ${escapeHtml(body.title)}` : '';
      const media = body.media_id ? ` · <code>${escapeHtml(body.media_id)}</code>` : '';
      return `<div class="bubble media">📎 ${escapeHtml(msgtype)}${title}${media}</div>`;
    }
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
