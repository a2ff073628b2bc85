import { existsSync } from 'node:fs';
import { join } from 'node:path';
import Handlebars from 'handlebars';
import { z } from 'zod';
import { placesIn, readTemplateSource, schemaProblems, TemplateLoadError, type FilePath, type Where } from '../messages/template-source';
import type { DataShape } from '../messages/template-variables';
import { parseChecked } from '../messages/template-body';
import { templateFiles, unknownKeys } from '../messages/templates';
import type { WelcomeAttachment, WelcomeMessage } from '../wecom/endpoints/externalcontact';
import { CUSTOMERS_PER_EMPLOYEE } from '../wecom/limits';

/**
 * A welcome activity (a campaign): the 「联系我」 `state` that identifies it, the
 * welcome message (text + up to 9 attachments, reference §8) as Handlebars
 * templates, the corp tags to mark, and the employees who serve it.
 */
const employeeShape = {
  userId: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/),
  /** Adds per day before the employee leaves the pool (WeCom throttles busy adders; no official number). */
  dailyLimit: z.number().int().positive().default(100),
  /** Customers in total before the employee leaves the pool: a little below WeCom's cap. */
  totalLimit: z
    .number()
    .int()
    .positive()
    .default(CUSTOMERS_PER_EMPLOYEE - 200),
};
const employeeSchema = z.strictObject(employeeShape, { error: unknownKeys('a key of an employee', Object.keys(employeeShape)) });

const ATTACHMENT_TYPES = ['image', 'link', 'miniprogram', 'video', 'file'];
const attachmentSchema: z.ZodType<WelcomeAttachment> = z.discriminatedUnion(
  'msgtype',
  [
    z.object({ msgtype: z.literal('image'), image: z.object({ media_id: z.string().optional(), pic_url: z.string().optional() }) }),
    z.object({
      msgtype: z.literal('link'),
      link: z.object({ title: z.string(), url: z.string(), picurl: z.string().optional(), desc: z.string().optional() }),
    }),
    z.object({
      msgtype: z.literal('miniprogram'),
      miniprogram: z.object({ title: z.string(), pic_media_id: z.string(), appid: z.string(), page: z.string() }),
    }),
    z.object({ msgtype: z.literal('video'), video: z.object({ media_id: z.string() }) }),
    z.object({ msgtype: z.literal('file'), file: z.object({ media_id: z.string() }) }),
  ],
  { error: (issue) => (issue.code === 'invalid_union' ? `use one of ${ATTACHMENT_TYPES.join(', ')}` : undefined) },
);

const activityShape = {
  activity: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  description: z.string().optional(),
  /** Echoed by WeCom as `State` in add events; at most 30 characters (reference §9.2). */
  state: z
    .string()
    .min(1)
    .refine((s) => [...s].length <= 30, 'at most 30 characters'),
  /** Used for customers whose State is none of the activities'. */
  fallback: z.boolean().default(false),
  welcome: z
    .object({ text: z.string().optional(), attachments: z.array(attachmentSchema).max(9, 'WeCom takes at most 9 attachments').default([]) })
    .refine((w) => Boolean(w.text) || w.attachments.length > 0, 'text or attachments are required'),
  tags: z.array(z.string().min(1)).default([]),
  employees: z.array(employeeSchema).default([]),
};
const activitySchema = z.strictObject(activityShape, { error: unknownKeys('a key of a welcome activity', Object.keys(activityShape)) });

export type Employee = z.infer<typeof employeeSchema>;

/** What a welcome template can use. */
export interface WelcomeContext {
  customer: { externalUserId: string };
  employee: { userId: string };
  activity: { name: string; state: string };
}

export interface Activity {
  name: string;
  description?: string;
  state: string;
  fallback: boolean;
  tags: string[];
  employees: Employee[];
  /** The welcome for one customer; throws with the failing field when it cannot render. */
  render(context: WelcomeContext): WelcomeMessage;
}

/** What a welcome can read: the customer, the employee they added and the activity. */
const WELCOME_SHAPE: DataShape = { customer: { externalUserId: true }, employee: { userId: true }, activity: { name: true, state: true } };
const WELCOME_SEES = 'customer.externalUserId, employee.userId, activity.name, activity.state';

/**
 * Compiles every string of a welcome body; data is inserted as written (welcome
 * text is not HTML). A string that cannot parse, or reads what a welcome does not
 * see, is a problem at its place in the file: found at load, not by a customer.
 */
function compileStrings(
  hb: typeof Handlebars,
  node: unknown,
  at: FilePath,
  context: { where: Where; problems: string[] },
): (context: WelcomeContext) => unknown {
  if (typeof node === 'string') {
    const check = {
      shape: WELCOME_SHAPE,
      undeclared: (reference: string) => `${reference} is not declared (a welcome sees ${WELCOME_SEES})`,
      helpers: Object.keys(hb.helpers),
      partials: new Map(),
    };
    const ast = parseChecked(node, at, { ...context, hb, check });
    if (!ast) return () => node; // refused at load: never rendered
    const template = hb.compile(ast, { strict: true, noEscape: true });
    return (welcomeContext) => template(welcomeContext);
  }
  if (Array.isArray(node)) {
    const items = node.map((child, i) => compileStrings(hb, child, [...at, i], context));
    return (welcomeContext) => items.map((render) => render(welcomeContext));
  }
  if (node && typeof node === 'object') {
    const entries = Object.entries(node).map(([key, child]) => [key, compileStrings(hb, child, [...at, key], context)] as const);
    return (welcomeContext) => Object.fromEntries(entries.map(([key, render]) => [key, render(welcomeContext)]));
  }
  return () => node;
}

export function buildActivity(definition: unknown, source: string, where: Where = placesIn(source)): Activity {
  const parsed = activitySchema.safeParse(definition);
  if (!parsed.success) throw new TemplateLoadError(schemaProblems(parsed.error.issues, where));
  const def = parsed.data;
  const hb = Handlebars.create();
  const problems: string[] = [];
  const text = def.welcome.text === undefined ? undefined : compileStrings(hb, def.welcome.text, ['welcome', 'text'], { where, problems });
  const attachments = compileStrings(hb, def.welcome.attachments, ['welcome', 'attachments'], { where, problems });
  if (problems.length > 0) throw new TemplateLoadError(problems);
  return {
    name: def.activity,
    description: def.description,
    state: def.state,
    fallback: def.fallback,
    tags: def.tags,
    employees: def.employees,
    render(context) {
      const content = text?.(context) as string | undefined;
      return { ...(content ? { text: content } : {}), attachments: attachments(context) as WelcomeAttachment[] };
    },
  };
}

/** The activities in use; a reload (SIGHUP) replaces them at once for every reader (routes, pool, workers). */
export class Activities {
  constructor(private current: Activity[]) {}

  get list(): readonly Activity[] {
    return this.current;
  }

  replaceWith(next: Activities): void {
    this.current = next.current;
  }

  byName(name: string): Activity | undefined {
    return this.current.find((a) => a.name === name);
  }

  byState(state: string | undefined): Activity | undefined {
    return state === undefined ? undefined : this.current.find((a) => a.state === state);
  }

  get fallback(): Activity | undefined {
    return this.current.find((a) => a.fallback);
  }

  /** Every employee of any activity, with the strictest limits any activity gives them. */
  employees(): Employee[] {
    const byId = new Map<string, Employee>();
    for (const employee of this.current.flatMap((a) => a.employees)) {
      const known = byId.get(employee.userId);
      byId.set(
        employee.userId,
        known
          ? {
              userId: employee.userId,
              dailyLimit: Math.min(known.dailyLimit, employee.dailyLimit),
              totalLimit: Math.min(known.totalLimit, employee.totalLimit),
            }
          : employee,
      );
    }
    return [...byId.values()];
  }
}

/**
 * Loads `<templatesDir>/welcome/*.yaml|yml|json` (no folder = no activities), and
 * in the sandbox also `<templatesDir>/sandbox/welcome/`: the shipped demo (expo2026,
 * a coupon on shop.example.com) is for the simulator's customers only; a gateway
 * with WeCom credentials would greet real customers with it.
 */
export function loadActivities(templatesDir: string, options: { sandbox: boolean }): Activities {
  const dirs = [join(templatesDir, 'welcome'), ...(options.sandbox ? [join(templatesDir, 'sandbox', 'welcome')] : [])].filter((dir) =>
    existsSync(dir),
  );
  const problems: string[] = [];
  const list: Activity[] = [];
  const files: string[] = [];
  for (const dir of dirs) {
    try {
      files.push(...templateFiles(dir).map((file) => join(dir, file)));
    } catch (error) {
      problems.push(`${dir}: cannot read (${(error as Error).message})`);
    }
  }
  for (const path of files) {
    try {
      const { definition, where } = readTemplateSource(path);
      list.push(buildActivity(definition, path, where));
    } catch (error) {
      if (error instanceof TemplateLoadError) problems.push(...error.problems);
      else problems.push(`${path}: ${(error as Error).message}`);
    }
  }
  const names = new Set<string>();
  const states = new Set<string>();
  for (const activity of list) {
    if (names.has(activity.name)) problems.push(`welcome activity ${activity.name} is defined twice`);
    if (states.has(activity.state)) problems.push(`welcome activity ${activity.name}: state ${activity.state} is used twice`);
    names.add(activity.name);
    states.add(activity.state);
  }
  if (list.filter((a) => a.fallback).length > 1) problems.push('welcome activities: only one may be the fallback');
  if (problems.length > 0) throw new TemplateLoadError(problems);
  return new Activities(list);
}
