import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { extname, join } from 'node:path';
import Handlebars from 'handlebars';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import { TemplateLoadError } from '../messages/templates';
import type { WelcomeAttachment, WelcomeMessage } from '../wecom/client';

/**
 * A welcome activity (a campaign): the 「联系我」 `state` that identifies it, the
 * welcome message (text + up to 9 attachments, reference §8) as Handlebars
 * templates, the corp tags to mark, and the employees who serve it.
 */
const employeeSchema = z.object({
  userId: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/),
  /** Adds per day before the employee leaves the pool (WeCom throttles busy adders; no official number). */
  dailyLimit: z.number().int().positive().default(100),
  /** Customers in total before the employee leaves the pool (WeCom's cap is 5000 unless expanded). */
  totalLimit: z.number().int().positive().default(4800),
});

const attachmentSchema: z.ZodType<WelcomeAttachment> = z.discriminatedUnion('msgtype', [
  z.object({ msgtype: z.literal('image'), image: z.object({ media_id: z.string().optional(), pic_url: z.string().optional() }) }),
  z.object({ msgtype: z.literal('link'), link: z.object({ title: z.string(), url: z.string(), picurl: z.string().optional(), desc: z.string().optional() }) }),
  z.object({ msgtype: z.literal('miniprogram'), miniprogram: z.object({ title: z.string(), pic_media_id: z.string(), appid: z.string(), page: z.string() }) }),
  z.object({ msgtype: z.literal('video'), video: z.object({ media_id: z.string() }) }),
  z.object({ msgtype: z.literal('file'), file: z.object({ media_id: z.string() }) }),
]);

const activitySchema = z.object({
  activity: z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/),
  description: z.string().optional(),
  /** Echoed by WeCom as `State` in add events; at most 30 characters (reference §9.2). */
  state: z.string().min(1).refine((s) => [...s].length <= 30, 'at most 30 characters'),
  /** Used for customers whose State is none of the activities'. */
  fallback: z.boolean().default(false),
  welcome: z
    .object({ text: z.string().optional(), attachments: z.array(attachmentSchema).max(9, 'WeCom takes at most 9 attachments').default([]) })
    .refine((w) => Boolean(w.text) || w.attachments.length > 0, 'text or attachments are required'),
  tags: z.array(z.string().min(1)).default([]),
  employees: z.array(employeeSchema).default([]),
});

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

/** Compiles every string of a welcome body; data is inserted as written (welcome text is not HTML). */
function compileStrings(hb: typeof Handlebars, node: unknown): (context: WelcomeContext) => unknown {
  if (typeof node === 'string') {
    const template = hb.compile(node, { strict: true, noEscape: true });
    return (context) => template(context);
  }
  if (Array.isArray(node)) {
    const items = node.map((child) => compileStrings(hb, child));
    return (context) => items.map((render) => render(context));
  }
  if (node && typeof node === 'object') {
    const entries = Object.entries(node).map(([key, child]) => [key, compileStrings(hb, child)] as const);
    return (context) => Object.fromEntries(entries.map(([key, render]) => [key, render(context)]));
  }
  return () => node;
}

export function buildActivity(definition: unknown, source: string): Activity {
  const parsed = activitySchema.safeParse(definition);
  if (!parsed.success) throw new TemplateLoadError(parsed.error.issues.map((i) => `${source}: ${i.path.join('.')}: ${i.message}`));
  const def = parsed.data;
  const hb = Handlebars.create();
  try {
    hb.parse(def.welcome.text ?? '');
    for (const a of def.welcome.attachments) hb.parse(JSON.stringify(a));
  } catch (error) {
    throw new TemplateLoadError([`${source}: welcome: ${(error as Error).message.split('\n')[0]}`]);
  }
  const text = def.welcome.text === undefined ? undefined : compileStrings(hb, def.welcome.text);
  const attachments = compileStrings(hb, def.welcome.attachments);
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

export class Activities {
  constructor(readonly list: Activity[]) {}

  byName(name: string): Activity | undefined {
    return this.list.find((a) => a.name === name);
  }

  byState(state: string | undefined): Activity | undefined {
    return state === undefined ? undefined : this.list.find((a) => a.state === state);
  }

  get fallback(): Activity | undefined {
    return this.list.find((a) => a.fallback);
  }

  /** Every employee of any activity, with the strictest limits any activity gives them. */
  employees(): Employee[] {
    const byId = new Map<string, Employee>();
    for (const employee of this.list.flatMap((a) => a.employees)) {
      const known = byId.get(employee.userId);
      byId.set(employee.userId, known ? { userId: employee.userId, dailyLimit: Math.min(known.dailyLimit, employee.dailyLimit), totalLimit: Math.min(known.totalLimit, employee.totalLimit) } : employee);
    }
    return [...byId.values()];
  }
}

/** Loads `<templatesDir>/welcome/*.yaml|yml|json` (no folder = no activities). */
export function loadActivities(templatesDir: string): Activities {
  const dir = join(templatesDir, 'welcome');
  if (!existsSync(dir)) return new Activities([]);
  const problems: string[] = [];
  const list: Activity[] = [];
  for (const file of readdirSync(dir).filter((f) => ['.yaml', '.yml', '.json'].includes(extname(f))).sort()) {
    const path = join(dir, file);
    try {
      const text = readFileSync(path, 'utf8');
      list.push(buildActivity(extname(file) === '.json' ? JSON.parse(text) : parseYaml(text), path));
    } catch (error) {
      if (error instanceof TemplateLoadError) problems.push(...error.problems);
      else problems.push(`${path}: ${(error as Error).message.split('\n')[0]}`);
    }
  }
  const states = new Set<string>();
  for (const activity of list) {
    if (states.has(activity.state)) problems.push(`welcome activity ${activity.name}: state ${activity.state} is used twice`);
    states.add(activity.state);
  }
  if (list.filter((a) => a.fallback).length > 1) problems.push('welcome activities: only one may be the fallback');
  if (problems.length > 0) throw new TemplateLoadError(problems);
  return new Activities(list);
}
