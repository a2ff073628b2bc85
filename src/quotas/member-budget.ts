import type { RedisKeys } from '../redis/keys';
import { takeMemberBudget, type BudgetLimit, type RedisClient } from '../redis/scripts';

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
  ) {
    // The gateway counts a send when it decides, WeCom when the send arrives (after a token
    // fetch, a retry, network time): windows are kept 5 % (at least 250 ms) wider than WeCom's.
    this.widened = limits.map((l) => ({ count: l.count, windowMs: l.windowMs + Math.max(250, Math.round(l.windowMs * 0.05)) }));
  }

  /** Counted per app (corp and agent), as WeCom counts; a structural type keeps config/ out of this room's imports. */
  async split(app: { corpId: string; agentId: number }, users: string[], sendId: string, now = Date.now()): Promise<BudgetSplit> {
    const keys = users.map((u) => this.keys.memberBudget(app.corpId, app.agentId, u));
    const answers = await takeMemberBudget(this.redis, keys, now, sendId, this.widened);
    const allowed = users.filter((_, i) => answers[i] === 0);
    const blocked = users.map((u, i) => [u, answers[i]] as const).filter(([, at]) => at > 0);
    if (blocked.length === 0) return { allowed };
    return { allowed, deferred: { users: blocked.map(([u]) => u), until: Math.max(...blocked.map(([, at]) => at)) } };
  }
}

/** `30/60,1000/3600`: at most 30 per 60 s and 1000 per 3600 s; `off` for none. */
export function parseQuota(text: string): BudgetLimit[] | string {
  if (text === 'off' || text === '0') return [];
  const limits: BudgetLimit[] = [];
  for (const part of text.split(',')) {
    const match = /^\s*(\d+)\s*\/\s*(\d+(?:\.\d+)?)\s*$/.exec(part);
    if (!match || Number(match[1]) < 1) return `"${part}" is not count/seconds (e.g. 30/60)`;
    limits.push({ count: Number(match[1]), windowMs: Math.round(Number(match[2]) * 1000) });
  }
  return limits;
}
