import isSafeRegex from 'safe-regex2';
import { z } from 'zod';
import { PERMISSIONS, RESERVED_KEY_NAMES } from '../http/auth';
import { mentionsSchema } from '../messages/mentions';
import { escalationSchema, silenceDurationsSchema } from '../alerts/escalation-config';
import { aesKey, url } from './env-schema';

const fileAppSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/),
  corpId: z.string().min(1),
  agentId: z.coerce.number().int().positive(),
  secret: z.string().min(1),
  callback: z.object({ token: z.string().regex(/^[A-Za-z0-9]{1,32}$/), aesKey, receiveId: z.string().min(1).optional() }).strict().optional(),
}).strict();
const autoReplySchema = z
  .object({
    app: z.string().optional(),
    match: z.enum(['exact', 'keyword', 'regex']).default('keyword'),
    pattern: z.string().min(1),
    reply: z.string().min(1),
  })
  .superRefine((rule, ctx) => {
    const problem = rule.match === 'regex' ? regexProblem(rule.pattern) : undefined;
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['pattern'] });
  });

/** Why a regex auto-reply pattern is refused: it must compile, and not backtrack catastrophically (it runs on every member's message). */
function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
  } catch {
    return 'pattern is not a valid regular expression';
  }
  return isSafeRegex(pattern) ? undefined : 'pattern can backtrack catastrophically (nested or overlapping quantifiers): rewrite it';
}

const names = z.array(z.string().min(1)).min(1, 'list at least one, or leave the list out to allow all');
/**
 * A caller's key with a name (its id in records and logs) and, optionally, what it
 * may send. The value (`key`, or `keyFile` relative to this file) is checked in
 * load.ts, whose problems never quote it.
 */
const fileApiKeySchema = z
  .object({
    name: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, _ or -')
      .refine((name) => !RESERVED_KEY_NAMES.includes(name), `reserved (${RESERVED_KEY_NAMES.join(', ')})`),
    key: z.string().optional(),
    keyFile: z.string().min(1).optional(),
    permissions: z.array(z.enum(PERMISSIONS)).min(1).optional(),
    apps: names.optional(),
    events: names.optional(),
    allowAll: z.boolean().optional(),
    /** May ask for priority "high" (which goes before every other part); templates' own "high" needs nothing. */
    highPriority: z.boolean().optional(),
    robots: names.optional(),
    /** App group chats this key may use although another key registered them (an alert route's, a shared room). */
    chats: z.array(z.string().regex(/^[0-9A-Za-z]{1,32}$/, 'a chatid: 1-32 letters or digits')).min(1, 'list at least one, or leave the list out').optional(),
    /** Distinct users this key may name an hour (KEY_RECIPIENTS_PER_HOUR for the others); 0 = no cap. */
    recipientsPerHour: z.number().int().min(0).optional(),
    /** Keys naming the same alertOwner share alert groups (e.g. one key per Alertmanager replica). */
    alertOwner: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, _ or -').optional(),
  })
  .strict()
  .refine((k) => (k.key === undefined) !== (k.keyFile === undefined), { message: 'give key or keyFile (one of them)', path: ['key'] });

export const fileSchema = z.object({
  apiKeys: z.array(fileApiKeySchema).optional(),
  apps: z.array(fileAppSchema).optional(),
  autoReplies: z.array(autoReplySchema).optional(),
  alertRoutes: z
    .array(
      z.object({
        name: z.string().regex(/^[A-Za-z0-9_-]+$/),
        users: z.array(z.string()).optional(),
        parties: z.array(z.coerce.string()).optional(),
        tags: z.array(z.coerce.string()).optional(),
        robots: z.array(z.string()).optional(),
        chats: z.array(z.string()).optional(),
        mentions: mentionsSchema.optional(),
        msgtype: z.enum(['markdown', 'text', 'textcard']).optional(),
        event: z.string().optional(),
        match: z.object({ receiver: z.string().optional(), labels: z.record(z.string(), z.string()).optional() }).strict().optional(),
        fallback: z.boolean().optional(),
        alertmanager: url.optional(),
        escalation: escalationSchema.optional(),
        silencers: z.array(z.string().min(1)).min(1).optional(),
        silenceDurations: silenceDurationsSchema.optional(),
      }).strict(),
    )
    .optional(),
  wechatReaders: z.object({ users: z.array(z.string()).optional(), parties: z.array(z.coerce.string()).optional(), tags: z.array(z.coerce.string()).optional() }).optional(),
  contactSinks: z.array(z.object({ name: z.string().regex(/^[A-Za-z0-9_-]+$/), url, secret: z.string().min(16).optional() })).optional(),
  /** A robot name to its key or webhook URL, or to several (a pool); checked in robots.ts. */
  robots: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).optional(),
  defaultApp: z.string().optional(),
  extensions: z.array(z.string().min(1)).optional(),
}).strict(); // a misspelt key is a mistake to report, not a setting to ignore
