/**
 * WeCom's markup (reference §2.2), read once: each field's dialect as tokens.
 * The check (check.ts), what a reader sees (text.ts), robot markdown
 * (robot-markdown.ts) and the console's preview all render these tokens, so
 * a tag, a div or an entity means the same to each of them.
 *
 * | dialect                 | markup WeCom renders                                   | tokenizer          |
 * | ----------------------- | ------------------------------------------------------ | ------------------ |
 * | textcard.description    | `<div class="gray|normal|highlight">`, `<br>`, entities | descriptionTokens |
 * | markdown.content        | headings, quotes, bold, code, links, `<font color>`, `<@userid>` | markdownLines |
 * | text.content            | `<a href="…">`                                         | textTokens         |
 */

/** Anything that starts like an HTML tag: `<` then a letter, `/` or `!`; an unclosed one runs to the next `<` or `>`. */
const TAG = /<[/!]?[a-z][^<>]*>?/gi;

/** A source cut into the tags in it and the text between them (empty texts left out). */
export function splitTags(source: string): { raw: string; isTag: boolean }[] {
  const pieces: { raw: string; isTag: boolean }[] = [];
  let last = 0;
  for (const match of source.matchAll(TAG)) {
    if (match.index > last) pieces.push({ raw: source.slice(last, match.index), isTag: false });
    pieces.push({ raw: match[0], isTag: true });
    last = match.index + match[0].length;
  }
  if (last < source.length) pieces.push({ raw: source.slice(last), isTag: false });
  return pieces;
}

/** The one entity table: HTML text's own four, and any numeric reference. */
const NAMED_ENTITIES: Record<string, string> = { lt: '<', gt: '>', amp: '&', quot: '"' };

export function decodeEntities(text: string): string {
  return text.replace(/&(lt|gt|amp|quot|#\d+|#x[0-9a-f]+);/gi, (entity, name: string) => {
    if (name[0] !== '#') return NAMED_ENTITIES[name.toLowerCase()];
    const code = name[1] === 'x' || name[1] === 'X' ? parseInt(name.slice(2), 16) : parseInt(name.slice(1), 10);
    return code <= 0x10ffff ? String.fromCodePoint(code) : entity;
  });
}

// ---- textcard.description -------------------------------------------------------------------------------------

export const DIV_CLASSES = ['gray', 'normal', 'highlight'] as const;
export type DivClass = (typeof DIV_CLASSES)[number];

/**
 * A div's start or end. `paired`: a start and the first end after it make a
 * block (divs do not nest: a start inside one is unpaired). `divClass`: the
 * class a well-formed `<div class="…">` names (`''` without one), on both
 * ends of a block; undefined for any other form.
 */
export interface DivToken {
  kind: 'div' | 'divEnd';
  raw: string;
  paired: boolean;
  divClass?: string;
}

export type DescriptionToken =
  { kind: 'text'; raw: string; text: string } | { kind: 'break'; raw: string } | DivToken | { kind: 'tag'; raw: string };

export const isDivClass = (value: string | undefined): value is DivClass => (DIV_CLASSES as readonly string[]).includes(value ?? '');

function descriptionTag(raw: string): DescriptionToken {
  if (/^<br\b/i.test(raw)) return { kind: 'break', raw };
  if (/^<\/div\b/i.test(raw)) return { kind: 'divEnd', raw, paired: false };
  if (/^<div\b/i.test(raw)) {
    const wellFormed = /^<div(?:\s+class="([^"]*)")?\s*>$/i.exec(raw);
    return { kind: 'div', raw, paired: false, divClass: wellFormed ? (wellFormed[1] ?? '') : undefined };
  }
  return { kind: 'tag', raw };
}

/** A textcard description as tokens: text (entities decoded), `<br>`, divs paired into blocks, other tags. */
export function descriptionTokens(description: string): DescriptionToken[] {
  const tokens = splitTags(description).map(({ raw, isTag }): DescriptionToken =>
    isTag ? descriptionTag(raw) : { kind: 'text', raw, text: decodeEntities(raw) },
  );
  let open: DivToken | undefined;
  for (const token of tokens) {
    if (token.kind === 'div' && !open) open = token;
    else if (token.kind === 'divEnd' && open) {
      open.paired = token.paired = true;
      token.divClass = open.divClass;
      open = undefined;
    }
  }
  return tokens;
}

// ---- markdown.content -----------------------------------------------------------------------------------------

export const FONT_COLORS = ['info', 'comment', 'warning'] as const;
export type FontColor = (typeof FONT_COLORS)[number];

export type Inline =
  | { kind: 'text'; text: string }
  /** `open` and `close` as written, so that the source can be written back. */
  | { kind: 'font'; color: FontColor; open: string; close: string; children: Inline[] }
  | { kind: 'bold'; children: Inline[] }
  | { kind: 'code'; children: Inline[] }
  | { kind: 'link'; url: string; children: Inline[] }
  | { kind: 'mention'; userid: string };

export interface MarkdownLine {
  block: 'heading' | 'quote' | 'paragraph';
  /** Heading level, 1 to 6 (0 for other blocks). */
  level: number;
  /** The block's marker as written (`## `, `> `, `>`, or `''`). */
  marker: string;
  inline: Inline[];
}

type Element = Exclude<Inline, { kind: 'text' | 'mention' }>;
type Build = (match: RegExpExecArray, slice: (range: [number, number]) => Inline[]) => Inline | undefined;

/**
 * One inline rule applied to a run of nodes: the pattern sees the run's text,
 * each element in it as one space (so a match may wrap whole elements, never
 * cut one), then the elements it left standing. Rules run one after another,
 * each over what the earlier ones made, and a match is not searched again.
 */
function applyRule(nodes: Inline[], pattern: RegExp, build: Build): Inline[] {
  const starts: number[] = [];
  let flat = '';
  for (const node of nodes) {
    starts.push(flat.length);
    flat += node.kind === 'text' ? node.text : ' ';
  }
  const slice = ([from, to]: [number, number]): Inline[] =>
    nodes.flatMap((node, i): Inline[] => {
      const start = starts[i];
      if (node.kind !== 'text') return start >= from && start < to ? [node] : [];
      const text = node.text.slice(Math.max(0, from - start), Math.max(0, to - start));
      return text === '' ? [] : [{ kind: 'text', text }];
    });
  const made = new Set<Inline>();
  const out: Inline[] = [];
  let last = 0;
  for (const match of flat.matchAll(pattern)) {
    const node = build(match, slice);
    if (!node) continue;
    out.push(...slice([last, match.index]), node);
    made.add(node);
    last = match.index + match[0].length;
  }
  out.push(...slice([last, flat.length]));
  return out.map((node) =>
    made.has(node) || node.kind === 'text' || node.kind === 'mention'
      ? node
      : { ...node, children: applyRule((node as Element).children, pattern, build) },
  );
}

const FONT = /<font\s+color="(info|comment|warning)"\s*>(.*?)<\/font\s*>/dgi;
const BOLD = /\*\*(.+?)\*\*/dg;
const CODE = /`([^`]+)`/dg;
const LINK = /\[([^\]]+)\]\(([^)\s]+)\)/dg;
const MENTION = /<@([^<>\s]+)>/g;

function inlineTokens(text: string): Inline[] {
  let nodes: Inline[] = text === '' ? [] : [{ kind: 'text', text }];
  nodes = applyRule(nodes, FONT, (m, slice) => {
    const color = m[1] as FontColor;
    // The tag name is case-blind, the colour is not (as the check reads it).
    if (!FONT_COLORS.includes(color)) return undefined;
    const [contentStart, contentEnd] = m.indices![2];
    return {
      kind: 'font',
      color,
      open: m[0].slice(0, contentStart - m.index),
      close: m[0].slice(contentEnd - m.index),
      children: slice([contentStart, contentEnd]),
    };
  });
  nodes = applyRule(nodes, BOLD, (m, slice) => ({ kind: 'bold', children: slice(m.indices![1]) }));
  nodes = applyRule(nodes, CODE, (m, slice) => ({ kind: 'code', children: slice(m.indices![1]) }));
  nodes = applyRule(nodes, LINK, (m, slice) => ({ kind: 'link', url: m[2], children: slice(m.indices![1]) }));
  return applyRule(nodes, MENTION, (m) => ({ kind: 'mention', userid: m[1] }));
}

function markdownLine(line: string): MarkdownLine {
  const heading = /^(#{1,6}) (.*)$/.exec(line);
  if (heading) return { block: 'heading', level: heading[1].length, marker: `${heading[1]} `, inline: inlineTokens(heading[2]) };
  const quote = /^> ?/.exec(line);
  if (quote && (line.startsWith('> ') || line === '>'))
    return { block: 'quote', level: 0, marker: quote[0], inline: inlineTokens(line.slice(quote[0].length)) };
  return { block: 'paragraph', level: 0, marker: '', inline: inlineTokens(line) };
}

/** A markdown content as its lines, each a block (heading, quote, paragraph) of inline tokens; HTML is not decoded. */
export function markdownLines(content: string): MarkdownLine[] {
  return content.split('\n').map(markdownLine);
}

// ---- text.content ---------------------------------------------------------------------------------------------

export type TextToken = { kind: 'text'; text: string } | { kind: 'link'; url: string; text: string; raw: string };

const TEXT_LINK = /<a\s+href="([^"<>]+)"\s*>([^\r\u2028\u2029]*?)<\/a\s*>/gi;

/** A text content as text and its only markup, `<a href="…">…</a>` (any other `<…>` is text). */
export function textTokens(content: string): TextToken[] {
  const tokens: TextToken[] = [];
  let last = 0;
  for (const match of content.matchAll(TEXT_LINK)) {
    if (match.index > last) tokens.push({ kind: 'text', text: content.slice(last, match.index) });
    tokens.push({ kind: 'link', url: match[1], text: match[2], raw: match[0] });
    last = match.index + match[0].length;
  }
  if (last < content.length) tokens.push({ kind: 'text', text: content.slice(last) });
  return tokens;
}
