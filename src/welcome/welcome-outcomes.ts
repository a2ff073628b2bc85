import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics';
import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';

/** Outcomes kept for GET /v1/welcome/outcomes: the latest first. */
const OUTCOMES_KEPT = 1_000;

/** What became of one add: ids and the outcome only, never the welcome's text. */
export interface WelcomeOutcome {
  at: string;
  changeType?: string;
  employee?: string;
  customer?: string;
  state?: string;
  activity?: string;
  outcome: 'sent' | 'already-delivered' | 'expired' | 'failed' | 'skipped';
  reason?: string;
  errcode?: number;
  latencyMs?: number;
}

export interface OutcomeDeps {
  redis: RedisClient;
  keys: RedisKeys;
  metrics: Metrics;
  logger: Logger;
}

/** Counts the outcome (and the welcome's latency), logs it and keeps it for the outcomes list. */
export async function recordOutcome(deps: OutcomeDeps, outcome: WelcomeOutcome): Promise<void> {
  deps.metrics.welcomeOutcomes.inc({ outcome: outcome.outcome });
  if (outcome.latencyMs !== undefined) deps.metrics.welcomeLatency.observe(outcome.latencyMs / 1000);
  // Ids and outcome only: the welcome text is not logged.
  deps.logger.info(outcome, 'new customer handled');
  const key = deps.keys.welcome.outcomes;
  await deps.redis
    .multi()
    .lpush(key, JSON.stringify(outcome))
    .ltrim(key, 0, OUTCOMES_KEPT - 1)
    .exec();
}
