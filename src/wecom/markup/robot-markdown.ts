/**
 * Markdown as a group robot or chat takes it (reference §13, §14): tokens
 * written back as markdown source, and a textcard description made markdown.
 */
import { descriptionTokens, type DescriptionToken, type FontColor, type Inline, type MarkdownLine } from './tokens';
import { inlineText } from './text';

/** Inline tokens as markdown source. */
export function inlineMarkdown(nodes: Inline[]): string {
  return nodes
    .map((node) => {
      switch (node.kind) {
        case 'text':
          return node.text;
        case 'font':
          return `${node.open}${inlineMarkdown(node.children)}${node.close}`;
        case 'bold':
          return `**${inlineMarkdown(node.children)}**`;
        case 'code':
          return `\`${inlineMarkdown(node.children)}\``;
        case 'link':
          return `[${inlineMarkdown(node.children)}](${node.url})`;
        case 'mention':
          return `<@${node.userid}>`;
      }
    })
    .join('');
}

/** Markdown lines as markdown source: markdownLines' inverse. */
export function markdownSource(lines: MarkdownLine[]): string {
  return lines.map((line) => line.marker + inlineMarkdown(line.inline)).join('\n');
}

const text = (value: string): Inline => ({ kind: 'text', text: value });
const font = (color: FontColor, children: Inline[]): Inline => ({
  kind: 'font',
  color,
  open: `<font color="${color}">`,
  close: '</font>',
  children,
});

/** The colours a textcard's div classes become; `normal` stays plain. */
const DIV_FONT_COLORS: Record<string, FontColor> = { gray: 'comment', highlight: 'warning' };

function colored(divClass: string | undefined, value: string): string {
  const color = DIV_FONT_COLORS[divClass ?? ''];
  if (!color) return value;
  // Per line: a font tag is not trusted to span a line break.
  return value
    .split('\n')
    .map((line) => (line === '' ? line : inlineMarkdown([font(color, [text(line)])])))
    .join('\n');
}

/** A textcard description (`<div class="gray|normal|highlight">`, `<br>`) as robot markdown, each div on its own line. */
export function descriptionMarkdown(description: string): string {
  let out = '';
  const breakLine = () => {
    if (out !== '' && !out.endsWith('\n')) out += '\n';
  };
  let run: DescriptionToken[] = [];
  for (const token of descriptionTokens(description)) {
    if (token.kind === 'div' && token.paired) {
      // Text between blocks: trimmed, and left out when blank.
      const between = inlineText(run).replace(/^[ \t]+|[ \t]+$/g, '');
      if (between.trim() !== '') out += between;
      breakLine();
      run = [];
    } else if (token.kind === 'divEnd' && token.paired) {
      out += colored(token.divClass, inlineText(run));
      breakLine();
      run = [];
    } else run.push(token);
  }
  const rest = inlineText(run).replace(/^[ \t]+|[ \t]+$/g, '');
  if (rest.trim() !== '') out += rest;
  return out.replace(/\n+$/, '');
}

/** Robots have no textcard: the same card as markdown (bold title, description, a link as its button). */
export function textcardMarkdown(title: string, description: string, button: string, url: string): string {
  const lines: Inline[][] = [[{ kind: 'bold', children: [text(title)] }]];
  if (description) lines.push([text(description)]);
  lines.push([], [{ kind: 'link', url, children: [text(button)] }]);
  return lines.map(inlineMarkdown).join('\n');
}

/** `<@userid>` mentions on a line of their own, for the end of a markdown message. */
export function markdownMentions(users: string[]): string {
  if (users.length === 0) return '';
  const mentions = users.flatMap((userid, i): Inline[] => [...(i > 0 ? [text(' ')] : []), { kind: 'mention', userid }]);
  return `\n${inlineMarkdown(mentions)}`;
}
