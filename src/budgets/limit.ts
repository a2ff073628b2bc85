/** A budget: at most `count` in any `windowMs`. */
export interface BudgetLimit {
  count: number;
  windowMs: number;
}

/**
 * The gateway counts a send when it decides, WeCom when the send arrives (after a token
 * fetch, a retry, network time): windows are kept 5 % (at least 250 ms) wider than WeCom's.
 */
export function widenedWindowMs(limit: BudgetLimit): number {
  return limit.windowMs + Math.max(250, Math.round(limit.windowMs * 0.05));
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
