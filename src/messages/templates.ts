import { readdirSync, statSync } from 'node:fs';
import { extname, join } from 'node:path';
import { z } from 'zod';
import { escalationSchema, type EscalationLevel } from '../alerts/escalation-config';
import { applyMessageLimits } from '../wecom/limits';
import { mentionsSchema, type MessageMentions } from './mentions';
import { compileBody, parseChecked, RenderError, toRenderError } from './template-body';
import { createHandlebars } from './template-helpers';
import { placesIn, readTemplateSource, schemaProblems, TemplateLoadError, type Where } from './template-source';
import type { VariableCheck } from './template-variables';

/**
 * An event template: one business event key, the WeCom message types it can be
 * rendered as, and the data it needs. Every string in a message body is a
 * Handlebars template rendered in strict mode (a missing variable is an error).
 */
export const MSGTYPES = [
  'text',
  'markdown',
  'markdown_v2',
  'textcard',
  'news',
  'image',
  'file',
  'voice',
  'video',
  'template_card',
] as const;
export type Msgtype = (typeof MSGTYPES)[number];
export const MEDIA_MSGTYPES = new Set<string>(['image', 'file', 'voice', 'video']);

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
  callbackUrl: z
    .url({ protocol: /^https?$/, error: 'must be an http(s) URL' })
    .max(2048)
    .optional(),
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
const templateFileSchema = z.strictObject(templateFileShape, {
  error: unknownKeys('a key of a template file', Object.keys(templateFileShape)),
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
  mentions?: MessageMentions;
  escalation?: EscalationLevel[];
  example?: Record<string, unknown>;
  /**
   * The body of one message type. `raw`: without WeCom's app-message limits, for
   * robots and chats, which cut and split by limits of their own.
   */
  render(msgtype: Msgtype, data: Record<string, unknown>, options?: { raw?: boolean }): Record<string, unknown>;
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
  const renderers = new Map(
    msgtypes.map((type) => [type, compileBody(def.msgtypes[type], type, ['msgtypes', type], { hb, where, problems, check })]),
  );
  if (problems.length > 0) throw new TemplateLoadError(problems);
  const data: DataField[] = Object.entries(def.data).map(([name, field]) => ({ name, ...field }));
  const defaultMsgtype = def.defaultMsgtype ?? msgtypes[0];
  if (!renderers.has(defaultMsgtype))
    throw new TemplateLoadError([`${where(['defaultMsgtype'])}: ${defaultMsgtype} has no template (msgtypes: ${msgtypes.join(', ')})`]);

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
