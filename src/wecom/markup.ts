/**
 * The markup WeCom renders in message bodies (reference §2.2), as a check and
 * as what a reader sees. WeCom does not refuse other markup: it shows it as
 * plain text, so a message meant to be emphasised silently is not.
 */

const DIV_CLASSES = ['gray', 'normal', 'highlight'];
const FONT_COLORS = ['info', 'comment', 'warning'];

/** Anything that starts like an HTML tag: `<` then a letter, `/` or `!`. */
const TAG = /<[/!]?[a-z][^<>]*>?/gi;

/** textcard.description: `<div class="gray|normal|highlight">`, `</div>` and `<br>` only. */
function textcardDescriptionProblems(description: string): string[] {
  const problems: string[] = [];
  for (const [tag] of description.matchAll(TAG)) {
    if (/^<\/div>$|^<br\s*\/?>$/i.test(tag)) continue;
    const div = /^<div(?:\s+class="([^"]*)")?\s*>$/i.exec(tag);
    if (div && DIV_CLASSES.includes(div[1] ?? '')) continue;
    problems.push(`textcard.description: ${tag}: ${div ? `WeCom knows ${DIV_CLASSES.join(', ')}` : 'WeCom knows <div class="…">, </div> and <br>'}`);
  }
  return problems;
}

/** markdown.content: its only HTML is `<font color="info|comment|warning">`. */
function markdownContentProblems(content: string): string[] {
  const problems: string[] = [];
  for (const [tag] of content.matchAll(/<font\b[^<>]*>?/gi)) {
    const color = /^<font\s+color="([^"]*)"\s*>$/i.exec(tag)?.[1];
    if (color === undefined || !FONT_COLORS.includes(color)) problems.push(`markdown.content: ${tag}: WeCom knows ${FONT_COLORS.join(', ')}`);
  }
  return problems;
}

/** text.content: `<a href="…">` is its only markup; any other `<…>` is shown as written, which is fine. */
function textContentProblems(content: string): string[] {
  const problems: string[] = [];
  for (const [tag] of content.matchAll(/<a\b[^<>]*>?/gi)) {
    if (!/^<a\s+href="[^"]+"\s*>$/i.test(tag)) problems.push(`text.content: ${tag}: WeCom knows <a href="…">`);
  }
  return problems;
}

const asText = (value: unknown) => (typeof value === 'string' ? value : '');

/**
 * The markup in a message/send body that WeCom would not render, each naming
 * its field (`textcard.description: <div class="true">: WeCom knows …`).
 */
export function markupProblems(body: Record<string, unknown>): string[] {
  const content = (body[String(body.msgtype)] ?? {}) as Record<string, unknown>;
  switch (body.msgtype) {
    case 'textcard':
      return textcardDescriptionProblems(asText(content.description));
    case 'markdown':
      return markdownContentProblems(asText(content.content));
    case 'text':
      return textContentProblems(asText(content.content));
    default:
      return [];
  }
}

const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

function decodeEntities(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/gi, (entity, name: string) => {
    if (name[0] !== '#') return NAMED_ENTITIES[name.toLowerCase()];
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}

/**
 * What a reader sees of a textcard description whose markup WeCom knows (see
 * markupProblems): tags removed, `<br>` and each div's start and end as line
 * breaks (a div is a block), entities decoded.
 */
export function textcardSeen(description: string): string {
  let seen = '';
  let last = 0;
  const breakLine = () => {
    if (seen !== '' && !seen.endsWith('\n')) seen += '\n';
  };
  for (const match of description.matchAll(TAG)) {
    seen += decodeEntities(description.slice(last, match.index));
    last = match.index + match[0].length;
    if (/^<br\b/i.test(match[0])) seen += '\n';
    else if (/^<\/?div\b/i.test(match[0])) breakLine();
  }
  seen += decodeEntities(description.slice(last));
  return seen.replace(/\n+$/, '');
}
