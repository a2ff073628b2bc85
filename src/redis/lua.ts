import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { projectRoot } from '../ops/paths';
import type { RedisClient } from './connection';

/**
 * The scripts' folder, read from the source tree also when running from dist/: tsc
 * does not copy .lua files, so the Dockerfile copies this folder into the image.
 */
export const LUA_DIR = join(projectRoot(), 'src', 'redis', 'lua');

export type LuaScript = (redis: RedisClient, keys: string[], args: (string | number)[]) => Promise<unknown>;

/**
 * The script `name`, from `redis/lua/<name>-<numkeys>.lua` (numkeys `n`: any
 * number of keys), read once. It is called by its SHA1 (EVALSHA: a few bytes on
 * the wire, nothing to hash on the server), sent whole (EVAL, which also caches
 * it) only to a server that does not know it yet: a new or restarted Redis, or
 * another Cluster node (ioredis routes both by the first key).
 */
export function luaScript(name: string): LuaScript {
  const file = readdirSync(LUA_DIR).find((f) => f.startsWith(`${name}-`) && /^-(\d+|n)\.lua$/.test(f.slice(name.length)));
  if (!file) throw new Error(`no Lua script ${name}-<numkeys>.lua in ${LUA_DIR}`);
  const numkeys = file.slice(name.length + 1, -'.lua'.length);
  const lua = readFileSync(join(LUA_DIR, file), 'utf8');
  const sha = createHash('sha1').update(lua).digest('hex');
  return async (redis, keys, args) => {
    if (numkeys !== 'n' && keys.length !== Number(numkeys)) throw new Error(`${file} takes ${numkeys} key(s), not ${keys.length}`);
    try {
      return await redis.evalsha(sha, keys.length, ...keys, ...args);
    } catch (error) {
      if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error;
      return redis.eval(lua, keys.length, ...keys, ...args);
    }
  };
}
