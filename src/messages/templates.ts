import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import Handlebars from 'handlebars';
import { z } from 'zod';
import { escalationSchema, type EscalationLevel } from '../alerts/escalation-config';
import type { Mentions } from '../wecom/group-chat';
import { applyMessageLimits, MessageLimitError } from '../wecom/limits';
import { mentionsSchema } from './mentions';
import { placesIn, readTemplateSource, schemaProblems, syntaxProblem, TemplateLoadError, type FilePath, type Where } from './template-source';
import { declares, variableProblems, type VariableCheck } from './template-variables';

/**
 * An event template: one business event key, the WeCom message types it can be
 * rendered as, and the data it needs. Every string in a message body is a
 * Handlebars template rendered in strict mode (a missing variable is an error).
 */
export const MSGTYPES = ['text', 'markdown', 'markdown_v2', 'textcard', 'news', 'image', 'file', 'voice', 'video', 'template_card'] as const;
export type Msgtype = (typeof MSGTYPES)[number];
export const MEDIA_MSGTYPES = new Set<string>(['image', 'file', 'voice', 'video']);

/** Fields whose text WeCom renders as (a subset of) HTML, so & < > in data are escaped there (escapeOnlyMarkup). */
const HTML_FIELDS = new Set(['textcard.description']);

/**
 * Unknown keys are refused, naming the ones there are: a misspelt key (`requried:`,
 * `exmaple:`) or a message type WeCom has not (`card:`) would otherwise be dropped
 * without a word, and the template would do something else than it says.
 */
export const unknownKeys = (what: string, known: readonly string[]) => (issue: { code?: string }) =>
  issue.code === 'unrecognized_keys' ? `not ${what}; use one of ${known.join(', ')}` : undefined;

const dataFieldShape = { required: z.boolean().default(true), description: z.string().optional() };
const dataFieldSchema = z.strictObject(dataFieldShape, { error: unknownKeys('a key of a data field', Object.keys(dataFieldShape)) });
const templateFileShape = {
  event: z.string().regex(/^[a-z0-9][a-z0-9._-]*$/i, 'letters, digits, . _ -'),
  description: z.string().optional(),
  defaultMsgtype: z.enum(MSGTYPES).optional(),
  priority: z.enum(['high', 'normal', 'bulk']).default('normal'),
  /** Where final statuses of this event's messages go when a request names none. */
  callbackUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048).optional(),
  data: z.record(z.string(), dataFieldSchema).default({}),
  /** Who this event's robot and chat messages @-mention when a request names nobody. */
  mentions: mentionsSchema.optional(),
  /** For alert events: whom a firing group goes to next when nobody acts on it (a route's own levels win). */
  escalation: escalationSchema.optional(),
  /** Named pieces the message types share (`{{> lasted}}`): one wording for one thing. */
  partials: z.record(z.string().regex(/^[A-Za-z][A-Za-z0-9_-]*$/, 'letters, digits, _ -'), z.string()).default({}),
  /** Realistic data the console's playground opens with (and a test renders every message type with). */
  example: z.record(z.string(), z.unknown()).optional(),
  msgtypes: z.partialRecord(z.enum(MSGTYPES), z.record(z.string(), z.unknown()), { error: unknownKeys('a message type', MSGTYPES) }),
};
const templateFileSchema = z.strictObject(templateFileShape, { error: unknownKeys('a key of a template file', Object.keys(templateFileShape)) });

export interface DataField {
  name: string;
  required: boolean;
  description?: string;
}

export type Priority = 'high' | 'normal' | 'bulk';

export interface EventTemplate {
  event: string;
  /** Alerts before ordinary messages before broadcasts; a request may override it. */
  priority: Priority;
  /** The default callbackUrl of this event's messages. */
  callbackUrl?: string;
  description?: string;
  defaultMsgtype: Msgtype;
  msgtypes: Msgtype[];
  data: DataField[];
  mentions?: Mentions;
  escalation?: EscalationLevel[];
  example?: Record<string, unknown>;
  /**
   * The body of one message type. `raw`: without WeCom's app-message limits, for
   * robots and chats, which cut and split by limits of their own.
   */
  render(msgtype: Msgtype, data: Record<string, unknown>, options?: { raw?: boolean }): Record<string, unknown>;
}

/** The event cannot be rendered with this data; `field` names the culprit (HTTP 422). */
export class RenderError extends Error {
  constructor(readonly field: string, message: string) {
    super(message);
  }
}

/**
 * A comparison usable both ways: as a block, `{{#eq a b}}yes{{else}}no{{/eq}}`
 * renders one branch; inline, `{{#if (eq a b)}}`, it is the boolean. (A plain
 * helper used as a block printed `true`/`false` into the markup.)
 */
function comparison(test: (a: unknown, b: unknown) => boolean) {
  return function (this: unknown, a: unknown, b: unknown, options?: Handlebars.HelperOptions) {
    const result = test(a, b);
    if (typeof options?.fn !== 'function') return result;
    return result ? options.fn(this) : options.inverse(this);
  };
}

/**
 * WeCom's textcard description only needs `& < >` escaped (they are what can
 * start markup in HTML text, reference §2.2); it shows the entities Handlebars
 * also makes of `" ' \` =` as written (`instance&#x3D;db1`). Handlebars has no
 * per-instance escape function: there is no compile option for it
 * (handlebars.js#1746) and `hb.Utils` is the module every instance shares, so
 * overriding it would change escaping process-wide. HTML fields therefore use
 * the default escaping and these four are put back: exact on data, whose own
 * `&` is always escaped to `&amp;` (only a template writing these entities
 * itself gets the characters instead).
 */
const RESTORED_ENTITIES: Record<string, string> = { '&quot;': '"', '&#x27;': "'", '&#x60;': '`', '&#x3D;': '=' };
function escapeOnlyMarkup(html: string): string {
  return html.replace(/&quot;|&#x27;|&#x60;|&#x3D;/g, (entity) => RESTORED_ENTITIES[entity]);
}

/** A line break in an HTML field is mere whitespace to WeCom; a reader expects the break (content "may span several lines"). */
const asHtmlLines = (html: string) => html.replace(/\r?\n/g, '<br>');

function createHandlebars(): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper('eq', comparison((a, b) => a === b));
  hb.registerHelper('lt', comparison((a, b) => Number(a) < Number(b)));
  hb.registerHelper('default', (value: unknown, fallback: unknown) => (value === undefined || value === null || value === '' ? fallback : value));
  hb.registerHelper('upper', (value: unknown) => String(value ?? '').toUpperCase());
  hb.registerHelper('lower', (value: unknown) => String(value ?? '').toLowerCase());
  hb.registerHelper('join', (value: unknown, separator: unknown) => (Array.isArray(value) ? value.join(typeof separator === 'string' ? separator : ', ') : String(value ?? '')));
  hb.registerHelper('json', (value: unknown) => JSON.stringify(value));
  return hb;
}

type Compiled = (data: Record<string, unknown>) => unknown;

/** What `{ from: path }` renders when the data has nothing there: its field is left out of the body. */
const ABSENT = Symbol('absent');

/** `card.buttons` in the data: a dotted path, as Handlebars reads one. */
function lookup(data: Record<string, unknown>, path: string): unknown {
  return path.split('.').reduce<unknown>((node, key) => (node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined), data);
}

/** WeCom takes at most 8 news articles: a longer list keeps its first 8. */
const EACH_LIMITS: Record<string, number> = { 'news.articles': 8 };

/** What compiling a body needs besides the body: where problems are, the list of them, and the data's declaration. */
interface BodyContext {
  hb: typeof Handlebars;
  where: Where;
  problems: string[];
  /** Absent inside `each` items: their strings read the element's fields too, which no declaration lists. */
  check?: VariableCheck;
}

/** Parses one Handlebars string, saying what is wrong with it at its line in the file; undefined when it cannot parse. */
export function parseChecked(source: string, at: FilePath, context: Omit<BodyContext, 'hb'> & { hb: { parse: typeof Handlebars.parse } }): hbs.AST.Program | undefined {
  let ast: hbs.AST.Program;
  try {
    ast = context.hb.parse(source);
  } catch (error) {
    context.problems.push(syntaxProblem(error, at, context.where));
    return undefined;
  }
  for (const problem of context.check ? variableProblems(ast, context.check) : []) {
    const place = problem.partial ? `${context.where(['partials', problem.partial], problem.line)} (used by ${at.map(String).join('.')})` : context.where(at, problem.line);
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
function compileBody(node: unknown, path: string, at: FilePath, context: BodyContext): Compiled {
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
    const entries = Object.entries(record).map(([key, child]) => [key, compileBody(child, `${path}.${key}`, [...at, key], context)] as const);
    return (data) => Object.fromEntries(entries.map(([key, render]) => [key, render(data)] as const).filter(([, value]) => value !== ABSENT));
  }
  return () => node;
}

/** Handlebars strict mode says `"name" not defined in ...`; turn that into the missing field's name. */
function toRenderError(error: unknown): RenderError {
  if (error instanceof RenderError) return error;
  if (error instanceof MessageLimitError) return new RenderError(error.field, error.message);
  const message = (error as Error).message ?? String(error);
  const missing = /^"([^"]+)" not defined/.exec(message);
  if (missing) return new RenderError(`data.${missing[1]}`, `data.${missing[1]} is required by the template`);
  return new RenderError('data', message.split('\n')[0]);
}

/**
 * An event template from its definition. `source` is the file (or a name for a
 * template built in code); `where` names places in it, with their lines.
 */
export function buildTemplate(definition: unknown, source: string, where: Where = placesIn(source)): EventTemplate {
  const parsed = templateFileSchema.safeParse(definition);
  if (!parsed.success) throw new TemplateLoadError(schemaProblems(parsed.error.issues, where));
  const def = parsed.data;
  const msgtypes = Object.keys(def.msgtypes) as Msgtype[];
  if (msgtypes.length === 0) throw new TemplateLoadError([`${where(['msgtypes'])}: at least one message type is required`]);
  const hb = createHandlebars();
  const problems: string[] = [];
  const names = Object.keys(def.data);
  const declaredList = names.length > 0 ? `declared: ${names.join(', ')}` : 'nothing is declared';
  // Partials are parsed first: the check follows them from where they are used, in the caller's context.
  const partials = new Map<string, hbs.AST.Program>();
  for (const [name, partial] of Object.entries(def.partials)) {
    const ast = parseChecked(partial, ['partials', name], { hb, where, problems });
    if (ast) {
      partials.set(name, ast);
      hb.registerPartial(name, hb.compile(ast, { strict: true, noEscape: true }));
    }
  }
  const check: VariableCheck = {
    shape: Object.fromEntries(names.map((name) => [name, true])),
    undeclared: (reference) => `${reference} is not declared under data: (${declaredList})`,
    helpers: Object.keys(hb.helpers),
    partials,
  };
  const renderers = new Map(msgtypes.map((type) => [type, compileBody(def.msgtypes[type], type, ['msgtypes', type], { hb, where, problems, check })]));
  if (problems.length > 0) throw new TemplateLoadError(problems);
  const data: DataField[] = Object.entries(def.data).map(([name, field]) => ({ name, ...field }));
  const defaultMsgtype = def.defaultMsgtype ?? msgtypes[0];
  if (!renderers.has(defaultMsgtype)) throw new TemplateLoadError([`${where(['defaultMsgtype'])}: ${defaultMsgtype} has no template (msgtypes: ${msgtypes.join(', ')})`]);

  return {
    event: def.event,
    description: def.description,
    priority: def.priority,
    ...(def.callbackUrl ? { callbackUrl: def.callbackUrl } : {}),
    defaultMsgtype,
    msgtypes,
    data,
    ...(def.mentions ? { mentions: def.mentions } : {}),
    ...(def.escalation ? { escalation: def.escalation } : {}),
    ...(def.example ? { example: def.example } : {}),
    render(msgtype, input, options) {
      const render = renderers.get(msgtype);
      if (!render) throw new RenderError('msgtype', `event ${def.event} cannot be sent as ${msgtype} (it supports ${msgtypes.join(', ')})`);
      const missing = data.filter((f) => f.required && (input[f.name] === undefined || input[f.name] === null));
      if (missing.length > 0) throw new RenderError(`data.${missing[0].name}`, `missing data: ${missing.map((f) => f.name).join(', ')}`);
      // Declared optional fields default to null so strict mode accepts {{#if url}} and {{url}}.
      const context = { ...Object.fromEntries(data.map((f) => [f.name, null])), ...input };
      try {
        const body = render(context) as Record<string, unknown>;
        return options?.raw ? body : applyMessageLimits(msgtype, body);
      } catch (error) {
        throw toRenderError(error);
      }
    },
  };
}

/**
 * The template files at the top of `dir`, by name. A Kubernetes ConfigMap mounts
 * each file as a symlink into a hidden `..data` folder: symlinks are followed,
 * hidden names (`..data`, an editor's `.#x.yaml`) are not templates.
 */
export function templateFiles(dir: string): string[] {
  return readdirSync(dir)
    .filter((name) => !name.startsWith('.') && ['.yaml', '.yml', '.json'].includes(extname(name)))
    .filter((name) => statSync(join(dir, name), { throwIfNoEntry: false })?.isFile())
    .sort();
}

/** Loads every *.yaml, *.yml and *.json file at the top of `dir` (sub-folders hold other kinds of templates). */
export function loadTemplates(dir: string): Map<string, EventTemplate> {
  const templates = new Map<string, EventTemplate>();
  const problems: string[] = [];
  let files: string[];
  try {
    files = templateFiles(dir);
  } catch {
    throw new TemplateLoadError([`TEMPLATES_DIR: cannot read ${dir}`]);
  }
  for (const file of files) {
    const path = join(dir, file);
    try {
      const { definition, where } = readTemplateSource(path);
      const template = buildTemplate(definition, path, where);
      if (templates.has(template.event)) problems.push(`${where(['event'])}: event ${template.event} is defined twice`);
      templates.set(template.event, template);
    } catch (error) {
      if (error instanceof TemplateLoadError) problems.push(...error.problems);
      else problems.push(`${path}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new TemplateLoadError(problems);
  return templates;
}
