import type Handlebars from 'handlebars';
import { MessageLimitError } from '../wecom/limits';
import { asHtmlLines, escapeOnlyMarkup } from './template-helpers';
import { syntaxProblem, type FilePath, type Where } from './template-source';
import { declares, variableProblems, type VariableCheck } from './template-variables';

/**
 * A template's message body compiled into a function of the data: every string
 * a strict Handlebars template, checked against the declared data at load; lists
 * rendered per element (`each`), values put in as they are (`from`); and the
 * error that says which field of the data a render failed on.
 */

/** Fields whose text WeCom renders as (a subset of) HTML, so & < > in data are escaped there (escapeOnlyMarkup). */
const HTML_FIELDS = new Set(['textcard.description']);

/** The event cannot be rendered with this data; `field` names the culprit (HTTP 422). */
export class RenderError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(message);
  }
}

export type Compiled = (data: Record<string, unknown>) => unknown;

/** What `{ from: path }` renders when the data has nothing there: its field is left out of the body. */
const ABSENT = Symbol('absent');

/** `card.buttons` in the data: a dotted path, as Handlebars reads one. */
function lookup(data: Record<string, unknown>, path: string): unknown {
  return path
    .split('.')
    .reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), data);
}

/** WeCom takes at most 8 news articles: a longer list keeps its first 8. */
const EACH_LIMITS: Record<string, number> = { 'news.articles': 8 };

/** What compiling a body needs besides the body: where problems are, the list of them, and the data's declaration. */
export interface BodyContext {
  hb: typeof Handlebars;
  where: Where;
  problems: string[];
  /** Absent inside `each` items: their strings read the element's fields too, which no declaration lists. */
  check?: VariableCheck;
}

/** Parses one Handlebars string, saying what is wrong with it at its line in the file; undefined when it cannot parse. */
export function parseChecked(
  source: string,
  at: FilePath,
  context: Omit<BodyContext, 'hb'> & { hb: { parse: typeof Handlebars.parse } },
): hbs.AST.Program | undefined {
  let ast: hbs.AST.Program;
  try {
    ast = context.hb.parse(source);
  } catch (error) {
    context.problems.push(syntaxProblem(error, at, context.where));
    return undefined;
  }
  for (const problem of context.check ? variableProblems(ast, context.check) : []) {
    const place = problem.partial
      ? `${context.where(['partials', problem.partial], problem.line)} (used by ${at.map(String).join('.')})`
      : context.where(at, problem.line);
    context.problems.push(`${place}: ${problem.message}`);
  }
  return ast;
}

/**
 * Compiles every string of a message body into a function of the data. A list
 * may say `{ each: items, item: {...} }` to render one element per element of
 * the `items` array (a dotted path), with the element's fields (and `item`, the
 * element itself) beside the data. Anywhere, `{ from: card.taskId }` puts the
 * data's value there as it is (a number, a list), which a string cannot; without
 * a value the field is left out. `path` names the field as WeCom's body does
 * (`textcard.description`); `at` is its place in the file.
 */
export function compileBody(node: unknown, path: string, at: FilePath, context: BodyContext): Compiled {
  const { hb, where, problems, check } = context;
  const declared = (dotted: string, key: string) => {
    if (check && !declares(check.shape, dotted.split('.'))) problems.push(`${where([...at, key])}: ${check.undeclared(dotted)}`);
  };
  if (typeof node === 'string') {
    const ast = parseChecked(node, at, context);
    if (!ast) return () => node; // refused at load: never rendered
    const html = HTML_FIELDS.has(path);
    const template = hb.compile(ast, { strict: true, noEscape: !html });
    return html ? (data) => asHtmlLines(escapeOnlyMarkup(template(data))) : (data) => template(data);
  }
  if (Array.isArray(node)) {
    const items = node.map((child, i) => compileBody(child, path, [...at, i], context));
    return (data) => items.map((render) => render(data)).filter((value) => value !== ABSENT);
  }
  if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && typeof record.from === 'string') {
      const source = record.from;
      declared(source, 'from');
      return (data) => lookup(data, source) ?? ABSENT;
    }
    if (keys.length === 2 && typeof record.each === 'string' && 'item' in record) {
      const listPath = record.each;
      declared(listPath, 'each');
      const item = compileBody(record.item, path, [...at, 'item'], { hb, where, problems });
      const limit = EACH_LIMITS[path] ?? Infinity;
      return (data) => {
        const list = lookup(data, listPath);
        if (!Array.isArray(list)) throw new RenderError(listPath, `data.${listPath} must be an array`);
        return list.slice(0, limit).map((element) => item({ ...data, ...(element as object), item: element }));
      };
    }
    const entries = Object.entries(record).map(
      ([key, child]) => [key, compileBody(child, `${path}.${key}`, [...at, key], context)] as const,
    );
    return (data) =>
      Object.fromEntries(entries.map(([key, render]) => [key, render(data)] as const).filter(([, value]) => value !== ABSENT));
  }
  return () => node;
}

/** Handlebars strict mode says `"name" not defined in ...`; turn that into the missing field's name. */
export function toRenderError(error: unknown): RenderError {
  if (error instanceof RenderError) return error;
  if (error instanceof MessageLimitError) return new RenderError(error.field, error.message);
  const message = (error as Error).message ?? String(error);
  const missing = /^"([^"]+)" not defined/.exec(message);
  if (missing) return new RenderError(`data.${missing[1]}`, `data.${missing[1]} is required by the template`);
  return new RenderError('data', message.split('\n')[0]);
}
