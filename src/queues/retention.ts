import type { JobsOptions } from 'bullmq';

/**
 * Failed jobs (a webhook outbox's dead letters among them) and contact-sync dead
 * letters kept per queue or sink. 10,000 is a day of one failure every ~9 s,
 * enough to see and replay an outage, while a queue's failures stay a few tens of
 * MB of Redis however long a downstream stays broken (bench/redis-memory.ts
 * measures the bytes each one costs). Beyond it the oldest go first.
 */
export const DEAD_LETTERS_KEPT = 10_000;

/**
 * What every BullMQ queue keeps of finished jobs, one bound for all of them so
 * Redis memory has a ceiling whatever fails. Outcomes live in the message records
 * (MESSAGE_RETENTION_DAYS); jobs are for operators: completed ones for an hour's
 * view on the dashboard, failed ones a week (MESSAGE_RETENTION_DAYS' default), so
 * a failure on a Friday evening can still be listed and replayed on Monday.
 * No dedupe rests on a finished job alone: callbacks, idempotency keys and welcomes have keys of their own.
 */
export const JOB_RETENTION = {
  removeOnComplete: { age: 3_600, count: 10_000 },
  removeOnFail: { age: 7 * 86_400, count: DEAD_LETTERS_KEPT },
} as const satisfies Pick<JobsOptions, 'removeOnComplete' | 'removeOnFail'>;
