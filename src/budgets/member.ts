import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import { luaScript } from '../redis/lua';
import { widenedWindowMs, type BudgetLimit } from './limit';

const TAKE_MEMBER_BUDGET = luaScript('takeMemberBudget');

/** Per key: 0 when the member takes the send (counted now), else when the budget allows it (ms). */
export async function takeMemberBudget(
  redis: RedisClient,
  keys: string[],
  now: number,
  sendId: string,
  limits: BudgetLimit[],
): Promise<number[]> {
  const args = [String(now), sendId, ...limits.flatMap((l) => [String(l.count), String(l.windowMs)])];
  return (await TAKE_MEMBER_BUDGET(redis, keys, args)) as number[];
}

export interface BudgetSplit {
  /** Members who take this send now. */
  allowed: string[];
  /** Members over budget, and the earliest time the budget lets all of them receive it. */
  deferred?: { users: string[]; until: number };
}

/**
 * WeCom drops, without an error, app messages beyond 30 a minute and 1000 an hour
 * to one member (reference §2.5). The send worker asks this budget before each
 * message/send and defers the members over it instead of losing their messages.
 * One hash tag per app keeps each check one atomic script, also on Cluster.
 */
export class MemberBudget {
  private readonly widened: BudgetLimit[];

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    limits: BudgetLimit[],
    private readonly clock: () => number = Date.now,
  ) {
    this.widened = limits.map((l) => ({ count: l.count, windowMs: widenedWindowMs(l) }));
  }

  /** Counted per app (corp and agent), as WeCom counts; a structural type keeps config/ out of this room's imports. */
  async split(app: { corpId: string; agentId: number }, users: string[], sendId: string, now = this.clock()): Promise<BudgetSplit> {
    const keys = users.map((u) => this.keys.memberBudget(app.corpId, app.agentId, u));
    const answers = await takeMemberBudget(this.redis, keys, now, sendId, this.widened);
    const allowed = users.filter((_, i) => answers[i] === 0);
    const blocked = users.map((u, i) => [u, answers[i]] as const).filter(([, at]) => at > 0);
    if (blocked.length === 0) return { allowed };
    return { allowed, deferred: { users: blocked.map(([u]) => u), until: Math.max(...blocked.map(([, at]) => at)) } };
  }
}
