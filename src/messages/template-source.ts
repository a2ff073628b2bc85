import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document } from 'yaml';
import type { z } from 'zod';

/**
 * Template files as their authors see them: every problem names the file, the
 * line and the key (`file:line: msgtypes.text.content`), event templates and
 * welcome activities alike.
 */

/** Templates that cannot load: one problem per mistake, each naming the file, its line and what is wrong. */
export class TemplateLoadError extends Error {
  constructor(readonly problems: string[]) {
    // A Handlebars problem spans lines (the excerpt and its caret): they stay under their problem.
    super(`invalid templates:\n${problems.map((p) => `  - ${p.replace(/\n/g, '\n    ')}`).join('\n')}`);
  }
}

/** A place in a template file: keys and list indexes, as YAML and zod name them. */
export type FilePath = readonly PropertyKey[];

/**
 * Names a place in a template file for a problem: `file:line: a.b.c`. With
 * `lineInString`, the line of the string there that Handlebars counts (from 1).
 */
export type Where = (path: FilePath, lineInString?: number) => string;

/** A template file's definition, and where its parts are, for problems (a JSON file's problems name no line). */
export interface TemplateSource {
  definition: unknown;
  where: Where;
}

export function readTemplateSource(file: string): TemplateSource {
  const text = readFileSync(file, 'utf8');
  if (extname(file) === '.json') return { definition: JSON.parse(text), where: placesIn(file) };
  const lineCounter = new LineCounter();
  const doc = parseDocument(text, { lineCounter });
  if (doc.errors.length > 0) throw new TemplateLoadError(doc.errors.map((e) => `${file}: ${e.message}`));
  return { definition: doc.toJS(), where: placesIn(file, (path, lineInString) => lineOf(doc, lineCounter, path, lineInString)) };
}

/** Without `line` (a JSON file, a definition built in code), problems name the file and the path only. */
export function placesIn(file: string, line?: (path: FilePath, lineInString?: number) => number | undefined): Where {
  return (path, lineInString) => {
    const at = line?.(path, lineInString);
    return `${file}${at === undefined ? '' : `:${at}`}${path.length > 0 ? `: ${path.map(String).join('.')}` : ''}`;
  };
}

function lineOf(doc: Document, counter: LineCounter, path: FilePath, lineInString?: number): number | undefined {
  const lineAt = (offset: number) => counter.linePos(offset).line;
  if (lineInString !== undefined) {
    const node = doc.getIn(path, true);
    if (!isScalar(node) || !node.range) return undefined;
    // A block scalar's text begins on the line after its `|` or `>`.
    const block = node.type === 'BLOCK_LITERAL' || node.type === 'BLOCK_FOLDED';
    return lineAt(node.range[0]) + lineInString - (block ? 0 : 1);
  }
  // The key itself where the path names one (a misspelt key, `card:`), else the nearest place there is.
  for (let n = path.length; n > 0; n--) {
    const parent = n === 1 ? doc.contents : doc.getIn(path.slice(0, n - 1), true);
    const key = path[n - 1];
    if (isMap(parent)) {
      const pair = parent.items.find((p) => isScalar(p.key) && String(p.key.value) === String(key));
      if (pair && isScalar(pair.key) && pair.key.range) return lineAt(pair.key.range[0]);
    }
    if (isSeq(parent)) {
      const item = parent.items[Number(key)] as { range?: [number, number, number] } | undefined;
      if (item?.range) return lineAt(item.range[0]);
    }
  }
  return undefined;
}

/** zod's problems with a file's places; an unknown key is one problem per key, at the key's line. */
export function schemaProblems(issues: readonly z.core.$ZodIssue[], where: Where): string[] {
  return issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `${where([...issue.path, key])}: ${issue.message}`)
      : [`${where(issue.path)}: ${issue.message}`],
  );
}

/** Handlebars' whole message: the line, the excerpt with its caret and what it expected. */
export function syntaxProblem(error: unknown, path: FilePath, where: Where): string {
  const message = (error as Error).message ?? String(error);
  // A parse error says "on line N"; a mismatched block carries its line.
  const line = Number(/^Parse error on line (\d+)/.exec(message)?.[1] ?? (error as { lineNumber?: number }).lineNumber ?? 1);
  return `${where(path, line)}: ${message}`;
}
