/**
 * The markup WeCom renders in message bodies (reference §2.2), as a check.
 * WeCom does not refuse other markup: it shows it as plain text, so a message
 * meant to be emphasised silently is not.
 */
import { descriptionTokens, DIV_CLASSES, FONT_COLORS, isDivClass, splitTags } from './tokens';

/** textcard.description: `<div class="gray|normal|highlight">`, `</div>` and `<br>` only. */
function textcardDescriptionProblems(description: string): string[] {
  const problems: string[] = [];
  for (const token of descriptionTokens(description)) {
    if (token.kind === 'text' || (token.kind === 'div' && isDivClass(token.divClass))) continue;
    if (/^<\/div>$|^<br\s*\/?>$/i.test(token.raw)) continue;
    const knows =
      token.kind === 'div' && token.divClass !== undefined
        ? `WeCom knows ${DIV_CLASSES.join(', ')}`
        : 'WeCom knows <div class="…">, </div> and <br>';
    problems.push(`textcard.description: ${token.raw}: ${knows}`);
  }
  return problems;
}

/** The tags in a source whose name is `name` (`<font`, `</font`: any form, closed or not). */
const tagsNamed = (source: string, name: string) => splitTags(source).filter((p) => p.isTag && new RegExp(`^<${name}\\b`, 'i').test(p.raw));

/** markdown.content: its only HTML is `<font color="info|comment|warning">`. */
function markdownContentProblems(content: string): string[] {
  const problems: string[] = [];
  for (const { raw } of tagsNamed(content, 'font')) {
    const color = /^<font\s+color="([^"]*)"\s*>$/i.exec(raw)?.[1];
    if (color === undefined || !(FONT_COLORS as readonly string[]).includes(color))
      problems.push(`markdown.content: ${raw}: WeCom knows ${FONT_COLORS.join(', ')}`);
  }
  return problems;
}

/** text.content: `<a href="…">` is its only markup; any other `<…>` is shown as written, which is fine. */
function textContentProblems(content: string): string[] {
  const problems: string[] = [];
  for (const { raw } of tagsNamed(content, 'a')) {
    if (!/^<a\s+href="[^"]+"\s*>$/i.test(raw)) problems.push(`text.content: ${raw}: WeCom knows <a href="…">`);
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
