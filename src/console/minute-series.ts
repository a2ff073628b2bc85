import type { Metric } from 'prom-client';
import type { Metrics } from '../ops/metrics';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';

/** The console charts the last hour; two are kept so that an hour is whole at any minute. */
export const SERIES_MINUTES = 60;
const KEPT_SECONDS = 2 * 3_600;

type Sample = Map<string, number>;

/** A metric's values (its collect hook runs first: the queue gauges read Redis there). */
async function valuesOf(
  metric: Metric,
): Promise<{ value: number; labels: Record<string, string | number | undefined>; metricName?: string }[]> {
  return (await metric.get()).values as never;
}

/** Sums a counter's values into fields named by `field` (undefined: not charted). */
async function countsOf(metric: Metric, field: (labels: Record<string, string>) => string | undefined, into: Sample): Promise<void> {
  for (const v of await valuesOf(metric)) {
    const name = field(v.labels as Record<string, string>);
    if (name !== undefined) into.set(name, (into.get(name) ?? 0) + v.value);
  }
}

/**
 * The counts behind the console's charts, per minute, in Redis so that every
 * instance adds its own: each sample reads this process's counters, and what
 * grew since the last sample is added to the current minute's hash. Queue depths
 * are levels, not counts: the last reading of the minute stands.
 */
export class MinuteSeries {
  private last: Sample = new Map();
  private sampling: Promise<void> | undefined;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<RedisKeys, 'consoleMinute'>,
    private readonly metrics: Metrics,
    private readonly clock: () => number = Date.now,
  ) {}

  private async counts(): Promise<Sample> {
    const m = this.metrics;
    const sample: Sample = new Map();
    await countsOf(m.messagesAccepted, (l) => `accepted|${l.event}`, sample);
    await countsOf(m.messagesSent, (l) => `sent|${l.event}`, sample);
    await countsOf(m.messagesFailed, (l) => `failed|${l.event}`, sample);
    await countsOf(m.wecomCalls, (l) => (l.errcode === '0' ? undefined : `errcode|${l.errcode}`), sample);
    await countsOf(m.callbacks, (l) => `callback|${l.outcome}`, sample);
    await countsOf(m.contactSyncDelivered, (l) => `sync|${l.sink}|delivered`, sample);
    await countsOf(m.contactSyncRetries, (l) => `sync|${l.sink}|retried`, sample);
    await countsOf(m.contactSyncDeadLettered, (l) => `sync|${l.sink}|dead-lettered`, sample);
    // Welcome latency as histogram buckets: the page reads p50/p99 off the minute's bucket counts.
    for (const v of await valuesOf(m.welcomeLatency)) {
      if (v.metricName?.endsWith('_bucket')) sample.set(`welcome|le|${v.labels.le}`, v.value);
    }
    return sample;
  }

  private async levels(): Promise<Sample> {
    const levels: Sample = new Map();
    for (const v of await valuesOf(this.metrics.queueJobs)) {
      if (v.labels.state === 'failed') continue;
      const field = `queue|${v.labels.queue}`;
      levels.set(field, (levels.get(field) ?? 0) + v.value);
    }
    return levels;
  }

  /** Adds what this process counted since the last sample to the current minute (one sample at a time). */
  sample(): Promise<void> {
    this.sampling ??= this.write().finally(() => (this.sampling = undefined));
    return this.sampling;
  }

  private async write(): Promise<void> {
    const [counts, levels] = await Promise.all([this.counts(), this.levels()]);
    const key = this.keys.consoleMinute(Math.floor(this.clock() / 60_000));
    const batch = this.redis.multi();
    for (const [field, value] of counts) {
      const grown = value - (this.last.get(field) ?? 0);
      if (grown > 0) batch.hincrbyfloat(key, field, grown);
    }
    for (const [field, value] of levels) batch.hset(key, field, value);
    batch.expire(key, KEPT_SECONDS);
    await batch.exec();
    this.last = counts;
  }

  /** The last hour, oldest minute first: each minute's fields (absent = 0). */
  async lastHour(): Promise<{ minutes: number[]; values: Record<string, number>[] }> {
    const now = Math.floor(this.clock() / 60_000);
    const minutes = Array.from({ length: SERIES_MINUTES }, (_, i) => now - SERIES_MINUTES + 1 + i);
    const hashes = await Promise.all(minutes.map((minute) => this.redis.hgetall(this.keys.consoleMinute(minute))));
    return {
      minutes: minutes.map((m) => m * 60),
      values: hashes.map((h) => Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Number(v)]))),
    };
  }
}
