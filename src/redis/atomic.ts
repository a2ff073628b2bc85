import type { RedisClient } from './connection';
import { luaScript } from './lua';

/**
 * Conditional writes any room may use: the one step that several instances may
 * race on. The scripts are in redis/lua/.
 */
const COMPARE_AND_DELETE = luaScript('compareAndDelete');
const SET_FIELDS_IF = luaScript('setFieldsIf');

/** Deletes `key` only while it still holds `expected` (a token that failed, a lock by its owner). */
export async function compareAndDelete(redis: RedisClient, key: string, expected: string): Promise<boolean> {
  return (await COMPARE_AND_DELETE(redis, [key], [expected])) === 1;
}

/** Sets `fields` only while each field of `conditions` holds one of its allowed values; false when one does not (or the hash is gone). */
export async function setFieldsIf(
  redis: RedisClient,
  key: string,
  conditions: Record<string, string[]>,
  fields: Record<string, string>,
): Promise<boolean> {
  const when = Object.entries(conditions).flatMap(([field, allowed]) => [field, allowed.join('|')]);
  const set = Object.entries(fields).flat();
  return (await SET_FIELDS_IF(redis, [key], [Object.keys(conditions).length, ...when, ...set])) === 1;
}
