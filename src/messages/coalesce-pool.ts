import { randomUUID } from 'node:crypto';
import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import { luaScript } from '../redis/lua';

const CLAIM = luaScript('coalesceClaim');
const SETTLE = luaScript('coalesceSettle');
const JOIN = luaScript('coalesceJoin');

/** A claim not settled within its lease (its carrier died) is released: its parts wait again. The shortest lease. */
export const CLAIM_LEASE_MS = 120_000;

/** A lease outlasting any send call: a slow carrier's parts must never go twice (WECOM_TIMEOUT_MS may be long). */
export function claimLeaseMs(wecomTimeoutMs: number): number {
  return Math.max(CLAIM_LEASE_MS, 6 * wecomTimeoutMs);
}
/** A pool nobody touched for this long is gone (its parts' own jobs still send them). */
const POOL_TTL_MS = 48 * 3_600_000;

/** What a waiting part keeps in its pool: its content, and whether its message wants a final status. */
export interface PooledBody {
  c: string;
  n?: 1;
}

/** One recipient set and msgtype's pool: its keys share a slot with the budget they wait for. */
export interface PoolAddress {
  tag: string;
  pool: string;
  /** A robot's line, whose order a robot's carrier follows. */
  line?: string;
}

/** The bytes a merged message may hold, and its separator's. */
type Limit = { bytes: number; separatorBytes: number };

export type Claim =
  /** The carrier was carried already by another message. */
  | { kind: 'done' }
  /** Another carrier holds it until then. */
  | { kind: 'carried'; until: number }
  /** Nothing waits for these recipients: the carrier goes as it is. */
  | { kind: 'alone' }
  | { kind: 'claimed'; id: string; parts: { sendId: string; body: PooledBody }[] };

/**
 * Waiting parts of one recipient set, in Redis: a part that waits for its budget
 * joins; a carrier with budget claims the ones it sends as one message (a lease),
 * then settles the claim: done, or released to wait again. Each step is one script
 * on keys of one hash tag, so also on Cluster.
 */
export class CoalescePool {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly leaseMs = CLAIM_LEASE_MS,
  ) {}

  private keysOf(at: PoolAddress): string[] {
    return (['order', 'leases', 'owners', 'bodies', 'done'] as const).map((what) => this.keys.coalesce(at.tag, at.pool, what));
  }

  /** A waiting part joins (keeping its first place; a robot's part its highest); false: it was carried lately. */
  async join(at: PoolAddress, sendId: string, place: number, body: PooledBody): Promise<boolean> {
    const [order, , , bodies, done] = this.keysOf(at);
    const keep = at.line ? 'highest' : 'first';
    return (await JOIN(this.redis, [order, bodies, done], [sendId, place, JSON.stringify(body), POOL_TTL_MS, keep])) === 1;
  }

  /** Members: claims the earliest waiting parts within `limit`, the carrier joining the pool at its place (acceptance). */
  claimWaiting(at: PoolAddress, carrier: { sendId: string; place: number; body: PooledBody }, limit: Limit, now: number): Promise<Claim> {
    return this.claim(this.keysOf(at), carrier.sendId, [carrier.place, JSON.stringify(carrier.body)], limit, now);
  }

  /**
   * Robots (`at.line`): claims the parts right behind the carrier in its line, when this send used up the robot's
   * budget (`usedUp`) or the carrier had found it used up; `bytes`: the carrier's own content's.
   */
  claimBehind(at: PoolAddress & { line: string }, carrier: { sendId: string; bytes: number; usedUp: boolean }, limit: Limit, now: number) {
    return this.claim([...this.keysOf(at), at.line], carrier.sendId, [carrier.bytes, carrier.usedUp ? 1 : 0], limit, now);
  }

  /** One claim (coalesceClaim-n.lua: its last two arguments are the members' or the robots' by the keys' count). */
  private async claim(keys: string[], sendId: string, extra: (string | number)[], limit: Limit, now: number): Promise<Claim> {
    const id = randomUUID();
    const args = [now, this.leaseMs, id, sendId, limit.bytes, limit.separatorBytes, POOL_TTL_MS, ...extra];
    const answer = (await CLAIM(this.redis, keys, args)) as string[];
    if (answer[0] === 'done') return { kind: 'done' };
    if (answer[0] === 'alone') return { kind: 'alone' };
    if (answer[0] === 'carried') return { kind: 'carried', until: Number(answer[1]) };
    const parts: { sendId: string; body: PooledBody }[] = [];
    for (let i = 2; i < answer.length; i += 2) parts.push({ sendId: answer[i], body: JSON.parse(answer[i + 1]) as PooledBody });
    return { kind: 'claimed', id, parts };
  }

  /**
   * A claim's end: `done` takes its parts out (noted as carried), `release` lets them wait again;
   * `forget` takes out parts that went on their own (a robot's part that waited, then sent itself).
   */
  async settle(at: PoolAddress, claimId: string, sendIds: string[], mode: 'done' | 'release' | 'forget', now: number): Promise<void> {
    if (sendIds.length === 0) return;
    await SETTLE(this.redis, this.keysOf(at), [claimId, mode, now, ...sendIds]);
  }
}
