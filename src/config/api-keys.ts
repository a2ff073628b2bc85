import { readFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { z } from 'zod';
import { keyProblem, PERMISSIONS, RESERVED_KEY_NAMES, type ApiKey } from '../http/auth';

const names = z.array(z.string().min(1)).min(1, 'list at least one, or leave the list out to allow all');
/**
 * A caller's key with a name (its id in records and logs) and, optionally, what it
 * may send. The value (`key`, or `keyFile` relative to this file) is checked in
 * loadApiKeys, whose problems never quote it.
 */
export const fileApiKeySchema = z
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
    chats: z
      .array(z.string().regex(/^[0-9A-Za-z]{1,32}$/, 'a chatid: 1-32 letters or digits'))
      .min(1, 'list at least one, or leave the list out')
      .optional(),
    /** Distinct users this key may name an hour (KEY_RECIPIENTS_PER_HOUR for the others); 0 = no cap. */
    recipientsPerHour: z.number().int().min(0).optional(),
    /** false: this key's messages are never coalesced (merged while they wait for a member's or robot's budget). */
    coalesce: z.boolean().optional(),
    /** Keys naming the same alertOwner share alert groups (e.g. one key per Alertmanager replica). */
    alertOwner: z
      .string()
      .regex(/^[A-Za-z0-9_-]{1,64}$/, '1-64 letters, digits, _ or -')
      .optional(),
  })
  .strict()
  .refine((k) => (k.key === undefined) !== (k.keyFile === undefined), { message: 'give key or keyFile (one of them)', path: ['key'] });

type FileApiKey = z.infer<typeof fileApiKeySchema>;
type Listed = { key: ApiKey; where: string };

/**
 * The config file's keys, each with its name as id and what it may send, after
 * GATEWAY_API_KEYS (unrestricted). Problems name the entry, never a key's value.
 */
export function loadApiKeys(
  envKeys: ApiKey[],
  entries: FileApiKey[],
  filePath: string | undefined,
  known: { apps: string[]; robots: string[] },
  problems: string[],
): ApiKey[] {
  const keys: Listed[] = envKeys.map((key, n) => ({ key, where: `GATEWAY_API_KEYS: key ${n + 1}` }));
  entries.forEach((entry, i) => {
    const at = (field?: string) => `${filePath}: apiKeys.${i}${field ? `.${field}` : ''}`;
    const key = fileKey(entry, filePath, at, problems);
    if (key !== undefined) keys.push({ key: describedKey(entry, key, known, at, problems), where: at() });
  });
  problems.push(...repeatedKeys(keys));
  return keys.map(({ key }) => key);
}

/** An entry's key value (read from its keyFile, relative to the config file), if it is a valid key. */
function fileKey(entry: FileApiKey, filePath: string | undefined, at: (field?: string) => string, problems: string[]): string | undefined {
  let key = entry.key;
  if (entry.keyFile !== undefined) {
    const path = resolve(dirname(filePath!), entry.keyFile);
    try {
      key = readFileSync(path, 'utf8').trim();
    } catch {
      problems.push(`${at('keyFile')}: cannot read ${path}`);
      return undefined;
    }
  }
  const problem = keyProblem(key!);
  if (!problem) return key;
  problems.push(`${at(entry.keyFile === undefined ? 'key' : 'keyFile')}: ${problem}`);
  return undefined;
}

/** The key an entry describes: its scope names only the apps and robots configured (the sandbox's app is "default"). */
function describedKey(
  entry: FileApiKey,
  key: string,
  known: { apps: string[]; robots: string[] },
  at: (field?: string) => string,
  problems: string[],
): ApiKey {
  const apps = known.apps.length > 0 ? known.apps : ['default'];
  entry.apps?.filter((app) => !apps.includes(app)).forEach((app) => problems.push(`${at('apps')}: no app is named ${app}`));
  entry.robots
    ?.filter((robot) => !known.robots.includes(robot))
    .forEach((robot) => problems.push(`${at('robots')}: no robot is named ${robot}`));
  const permissions = new Set(entry.permissions ?? PERMISSIONS);
  // "@all" reaches everyone: a key described here must be given it explicitly.
  const scope = {
    allowAll: entry.allowAll ?? false,
    apps: entry.apps,
    events: entry.events,
    robots: entry.robots,
    chats: entry.chats,
    recipientsPerHour: entry.recipientsPerHour,
    highPriority: entry.highPriority,
    ...(entry.coalesce === false ? { coalesce: false as const } : {}),
  };
  return { id: entry.name, key, permissions, scope, ...(entry.alertOwner ? { alertOwner: entry.alertOwner } : {}) };
}

/** A name may not pass for another key's id (records and idempotency keys are filed under it), nor two callers share a value. */
function repeatedKeys(keys: Listed[]): string[] {
  const problems: string[] = [];
  const ids = new Set<string>();
  const values = new Set<string>();
  for (const { key, where } of keys) {
    if (ids.has(key.id)) problems.push(`${where}: the id ${key.id} is used twice`);
    if (values.has(key.key)) problems.push(`${where}: the same key is listed twice (give each caller a key of its own)`);
    ids.add(key.id);
    values.add(key.key);
  }
  return problems;
}
