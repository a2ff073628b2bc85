import type { RedisClient } from '../redis/connection';
import { luaScript } from '../redis/lua';

/** The message store's atomic steps (MessageStore); the scripts are in redis/lua/. */
const CREATE_MESSAGE = luaScript('createMessage');
const START_PART = luaScript('startPart');
const INDEX_MESSAGE = luaScript('indexMessage');
const UPDATE_OPEN_PART = luaScript('updateOpenPart');
const CARRY_PART = luaScript('carryPart');

/** A message's record and its parts, all queued, in one step. */
export async function createMessage(
  redis: RedisClient,
  keys: { record: string; parts: string },
  args: { ttlSeconds: number; parts: number; queuedPart: string; fields: Record<string, string | number> },
): Promise<void> {
  const fields = Object.entries(args.fields).flat();
  await CREATE_MESSAGE(redis, [keys.record, keys.parts], [args.ttlSeconds, args.parts, args.queuedPart, ...fields]);
}

/** A part's attempt begins: answers the state it had (null: gone), and sets `sending` where it may still be sent. */
export async function startPart(redis: RedisClient, partsKey: string, part: number, sending: string): Promise<string | null> {
  return (await START_PART(redis, [partsKey], [part, sending])) as string | null;
}

/** A part's new state unless it is sent or recalled (or gone); answers whether it was set. */
export async function updateOpenPart(redis: RedisClient, partsKey: string, part: number, state: string): Promise<boolean> {
  return (await UPDATE_OPEN_PART(redis, [partsKey], [part, state])) === 1;
}

/** A message joins the message indexes (all, the creator's), which keep `cap` entries, none older than `oldestKept`. */
export async function indexMessage(
  redis: RedisClient,
  keys: string[],
  args: { entry: string; oldestKept: string; cap: number; ttlSeconds: number },
): Promise<void> {
  await INDEX_MESSAGE(redis, keys, [args.entry, args.oldestKept, args.cap, args.ttlSeconds]);
}

/** A carrier takes a waiting part (marks it sending) or gives it back (carryPart-1.lua): whether it did, and the state it had. */
export async function carryPart(
  redis: RedisClient,
  partsKey: string,
  part: number,
  mode: 'take' | 'release',
  state: string,
): Promise<{ done: boolean; before?: string }> {
  const [done, before] = (await CARRY_PART(redis, [partsKey], [part, mode, state])) as [number, string?];
  return { done: done === 1, before };
}
