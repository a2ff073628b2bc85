import { readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import Handlebars from 'handlebars';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { escalationSchema, type EscalationLevel } from '../alerts/escalation-config';
import type { Mentions } from '../wecom/group-chat';
import { applyMessageLimits, MessageLimitError } from '../wecom/message-limits';
import { mentionsSchema } from './mentions';

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

const dataFieldSchema = z.object({ required: z.boolean().default(true), description: z.string().optional() });
const templateFileSchema = z.object({
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
  msgtypes: z.partialRecord(z.enum(MSGTYPES), z.record(z.string(), z.unknown())),
});

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

export class TemplateLoadError extends Error {
  constructor(readonly problems: string[]) {
    super(`invalid templates:\n${problems.map((p) => `  - ${p}`).join('\n')}`);
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

/**
 * Compiles every string of a message body into a function of the data. A list
 * may say `{ each: items, item: {...} }` to render one element per element of
 * the `items` array (a dotted path), with the element's fields (and `item`, the
 * element itself) beside the data. Anywhere, `{ from: card.taskId }` puts the
 * data's value there as it is (a number, a list), which a string cannot; without
 * a value the field is left out.
 */
function compileBody(hb: typeof Handlebars, node: unknown, path: string, problems: string[]): Compiled {
  if (typeof node === 'string') {
    try {
      hb.parse(node);
    } catch (error) {
      problems.push(`${path}: ${(error as Error).message.split('\n')[0]}`);
    }
    const html = HTML_FIELDS.has(path);
    const template = hb.compile(node, { strict: true, noEscape: !html });
    return html ? (data) => asHtmlLines(escapeOnlyMarkup(template(data))) : (data) => template(data);
  }
  if (Array.isArray(node)) {
    const items = node.map((child) => compileBody(hb, child, path, problems));
    return (data) => items.map((render) => render(data)).filter((value) => value !== ABSENT);
  }
  if (node && typeof node === 'object') {
    const record = node as Record<string, unknown>;
    const keys = Object.keys(record);
    if (keys.length === 1 && typeof record.from === 'string') {
      const source = record.from;
      return (data) => lookup(data, source) ?? ABSENT;
    }
    if (keys.length === 2 && typeof record.each === 'string' && 'item' in record) {
      const listPath = record.each;
      const item = compileBody(hb, record.item, path, problems);
      const limit = EACH_LIMITS[path] ?? Infinity;
      return (data) => {
        const list = lookup(data, listPath);
        if (!Array.isArray(list)) throw new RenderError(listPath, `data.${listPath} must be an array`);
        return list.slice(0, limit).map((element) => item({ ...data, ...(element as object), item: element }));
      };
    }
    const entries = Object.entries(record).map(([key, child]) => [key, compileBody(hb, child, `${path}.${key}`, problems)] as const);
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

export function buildTemplate(definition: unknown, source: string): EventTemplate {
  const parsed = templateFileSchema.safeParse(definition);
  if (!parsed.success) throw new TemplateLoadError(parsed.error.issues.map((i) => `${source}: ${i.path.join('.')}: ${i.message}`));
  const def = parsed.data;
  const msgtypes = Object.keys(def.msgtypes) as Msgtype[];
  if (msgtypes.length === 0) throw new TemplateLoadError([`${source}: msgtypes: at least one message type is required`]);
  const hb = createHandlebars();
  const problems: string[] = [];
  for (const [name, partial] of Object.entries(def.partials)) {
    try {
      hb.registerPartial(name, hb.compile(partial, { strict: true, noEscape: true }));
    } catch (error) {
      problems.push(`partials.${name}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const renderers = new Map(msgtypes.map((type) => [type, compileBody(hb, def.msgtypes[type], type, problems)]));
  if (problems.length > 0) throw new TemplateLoadError(problems.map((p) => `${source}: ${p}`));
  const data: DataField[] = Object.entries(def.data).map(([name, field]) => ({ name, ...field }));
  const defaultMsgtype = def.defaultMsgtype ?? msgtypes[0];
  if (!renderers.has(defaultMsgtype)) throw new TemplateLoadError([`${source}: defaultMsgtype ${defaultMsgtype} has no template`]);

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

/** Loads every *.yaml, *.yml and *.json file at the top of `dir` (sub-folders hold other kinds of templates). */
export function loadTemplates(dir: string): Map<string, EventTemplate> {
  const templates = new Map<string, EventTemplate>();
  const problems: string[] = [];
  let files: string[];
  try {
    files = readdirSync(dir, { withFileTypes: true })
      .filter((entry) => entry.isFile() && ['.yaml', '.yml', '.json'].includes(extname(entry.name)))
      .map((entry) => entry.name)
      .sort();
  } catch {
    throw new TemplateLoadError([`TEMPLATES_DIR: cannot read ${dir}`]);
  }
  for (const file of files) {
    const path = join(dir, file);
    try {
      const text = readFileSync(path, 'utf8');
      const template = buildTemplate(extname(file) === '.json' ? JSON.parse(text) : parseYaml(text), path);
      if (templates.has(template.event)) problems.push(`${path}: event ${template.event} is defined twice`);
      templates.set(template.event, template);
    } catch (error) {
      if (error instanceof TemplateLoadError) problems.push(...error.problems);
      else problems.push(`${path}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  if (problems.length > 0) throw new TemplateLoadError(problems);
  return templates;
}
