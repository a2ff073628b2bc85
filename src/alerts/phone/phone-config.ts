import type { EscalationLevel } from '../escalation-config';

/** How escalation levels' calls ring (ALERT_PHONE and its companions). */
export interface PhoneConfig {
  /** Unset: no calls, and a level with `call` stops start-up. */
  mode?: 'wecom' | 'webhook';
  /** ALERT_PHONE_WEBHOOK_URL and ALERT_PHONE_WEBHOOK_SECRET, both required with webhook. */
  webhook?: { url: string; secret: string };
  /**
   * When a WeCom call's state is asked, each after the previous (ms): a call rings for
   * up to a minute or so, and getstates only says it ended; after the last, unanswered.
   */
  followMs: number[];
}

export const FOLLOW_MS = [30_000, 60_000, 120_000, 300_000];

/** `oncall:<schedule>` names a schedule; anything else is a userid. */
export const ONCALL_PREFIX = 'oncall:';

export function schedulesIn(levels: EscalationLevel[]): string[] {
  const named = levels.flatMap((l) => l.to.call ?? []).filter((c) => c.startsWith(ONCALL_PREFIX));
  return [...new Set(named.map((c) => c.slice(ONCALL_PREFIX.length)))];
}

/** What start-up refuses: a `call` that would never ring, a webhook mode missing its URL, key or callback base. */
export function phoneProblems(
  phone: PhoneConfig,
  env: { url?: string; secret?: string; publicUrl?: string },
  levels: [string, EscalationLevel[]][],
): string[] {
  const problems: string[] = [];
  if (phone.mode === 'webhook') {
    if (!env.url) problems.push('ALERT_PHONE_WEBHOOK_URL: required with ALERT_PHONE=webhook');
    if (!env.secret)
      problems.push('ALERT_PHONE_WEBHOOK_SECRET: required with ALERT_PHONE=webhook (the calls and their answers are signed)');
    if (!env.publicUrl)
      problems.push('PUBLIC_URL: required with ALERT_PHONE=webhook (the adapter answers to PUBLIC_URL/v1/phone/calls/{id})');
  }
  if (phone.mode) return problems;
  for (const [where, list] of levels) {
    const l = list.findIndex((level) => level.to.call);
    // Calls that are silently never placed are the failure an on-call team cannot see.
    if (l >= 0)
      problems.push(`${where}.${l}.to.call: ALERT_PHONE is not set, so nobody would be called (set ALERT_PHONE=wecom or webhook)`);
  }
  return problems;
}
