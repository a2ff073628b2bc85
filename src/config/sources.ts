import { readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';
import type { z } from 'zod';
import { envSchema, type Env } from './env-schema';
import { fileSchema, type ConfigFile } from './file-schema';

/** The environment's settings, or undefined with the problems pushed (one line each). */
export function parseEnv(env: NodeJS.ProcessEnv, problems: string[]): Env | undefined {
  const parsed = envSchema.safeParse(readEnv(env, problems));
  if (!parsed.success) problems.push(...describeIssues('', parsed.error.issues));
  return parsed.success && problems.length === 0 ? parsed.data : undefined;
}

/**
 * Reads `NAME` or, for secrets kept in files (Docker/Kubernetes secrets), `NAME_FILE`.
 * An empty value counts as unset so `FOO=` in a .env file does not trip validation.
 */
function readEnv(env: NodeJS.ProcessEnv, problems: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [key, value] of Object.entries({ ...env, ...proxyAliases(env) })) {
    if (value === undefined || value === '') continue;
    if (key.endsWith('_FILE') && !(key in envSchema.shape) && key.slice(0, -5) in envSchema.shape) {
      try {
        out[key.slice(0, -5)] = readFileSync(value, 'utf8').trim();
      } catch {
        problems.push(`${key}: cannot read file ${value}`);
      }
    } else if (key in envSchema.shape) {
      out[key] = value;
    }
  }
  return out;
}

/** http_proxy, https_proxy and no_proxy, the lower-case names curl and undici read first, stand for the upper-case ones. */
function proxyAliases(env: NodeJS.ProcessEnv): Record<string, string> {
  const names = ['HTTP_PROXY', 'HTTPS_PROXY', 'NO_PROXY'].filter((name) => env[name.toLowerCase()]);
  return Object.fromEntries(names.map((name) => [name, env[name.toLowerCase()]!]));
}

function describeIssues(source: string, issues: z.core.$ZodIssue[]): string[] {
  return issues.flatMap((issue) =>
    // A misspelt key is named itself ("wechatReader: unknown key"), not its parent.
    issue.code === 'unrecognized_keys'
      ? issue.keys.map((key) => `${source}${[...issue.path, key].join('.')}: unknown key`)
      : [`${source}${issue.path.join('.')}: ${issue.message}`],
  );
}

/** The config file (GATEWAY_CONFIG), YAML or JSON; empty, with the problems pushed, when it cannot be read or is wrong. */
export function loadFile(path: string, problems: string[]): ConfigFile {
  let raw: unknown;
  try {
    const text = readFileSync(path, 'utf8');
    raw = path.endsWith('.json') ? JSON.parse(text) : parseYaml(text);
  } catch (error) {
    problems.push(`GATEWAY_CONFIG: cannot read ${path} (${(error as Error).message.split('\n')[0]})`);
    return {};
  }
  const parsed = fileSchema.safeParse(raw ?? {});
  if (!parsed.success) {
    problems.push(...describeIssues(`${path}: `, parsed.error.issues));
    return {};
  }
  return parsed.data;
}
