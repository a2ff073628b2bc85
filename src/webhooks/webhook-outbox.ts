import { createHmac } from 'node:crypto';
import { UnrecoverableError, type Job, type Queue, type Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { EGRESS_REFUSED } from '../http/egress';
import { egressRequest } from '../http/egress-request';
import type { QueueSettings, QueueSpec } from '../queues/catalog';
import { defineQueue, type DefinedQueue, type QueueCore } from '../queues/define-queue';
import type { AttemptResult } from '../queues/settle';

/** One JSON document to deliver to a downstream URL. `id` lets the receiver dedupe. */
export interface WebhookJobData {
  id: string;
  body: unknown;
  createdAt: number;
  /**
   * Per delivery (status callbacks name their own URL); else the outbox's. A
   * per-delivery URL is the caller's, under the egress policy, unless `trusted`.
   */
  url?: string;
  /** The operator configured `url` (an event definition's callbackUrl): delivered as configured. */
  trusted?: boolean;
}

export interface WebhookOutboxOptions {
  url?: string;
  /** HMAC-SHA256 key for the X-Gateway-Signature header; unsigned when absent. */
  secret?: string;
  timeoutMs: number;
  /** The WORKERS roles this instance runs, and RETRY_BASE_DELAY_MS (the backoff's base). */
  roles: ReadonlySet<string>;
  settings: QueueSettings;
  /** For the outbox's own URL and trusted ones; absent, undici's global dispatcher. */
  dispatcher?: Dispatcher;
  /** The egress policy's agent, for a caller's URL; absent, such a delivery is refused. */
  egress?: Dispatcher;
}

export interface DeadLetter {
  id: string;
  attempts: number;
  error: string;
  failedAt?: string;
  body: unknown;
}

/**
 * The signature receivers check: hex HMAC-SHA256 over `${timestamp}.${body}`.
 * The timestamp inside the signed text stops an old delivery being replayed as new.
 */
export function signWebhook(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

export type DeliveryResult = { ok: true } | { ok: false; permanent: boolean; error: string };

/**
 * One signed POST of a JSON document, the same for every downstream (inbound
 * messages, contact sinks, status callbacks): `X-Gateway-Delivery` (the id to dedupe on),
 * `-Timestamp`, `-Attempt` and, with a secret, `-Signature`. 2xx is success; a 4xx
 * other than 408/429, a redirect or the egress policy's refusal is permanent;
 * anything else may pass (retry). The error is generic (timeout, unreachable, HTTP n).
 */
export async function postSignedJson(
  url: string,
  document: unknown,
  options: { id: string; attempt: number; secret?: string; timeoutMs: number; dispatcher?: Dispatcher; logger?: Logger },
): Promise<DeliveryResult> {
  const body = JSON.stringify(document);
  // The wall clock: a receiver checks the signed timestamp against its own clock (replays).
  const timestamp = String(Math.floor(Date.now() / 1000));
  const headers: Record<string, string> = {
    'content-type': 'application/json',
    'user-agent': 'wecom-gateway',
    'x-gateway-delivery': options.id,
    'x-gateway-timestamp': timestamp,
    'x-gateway-attempt': String(options.attempt),
  };
  if (options.secret) headers['x-gateway-signature'] = signWebhook(options.secret, timestamp, body);
  const answer = await egressRequest(url, {
    method: 'POST',
    headers,
    body,
    timeoutMs: options.timeoutMs,
    dispatcher: options.dispatcher,
    logger: options.logger,
  });
  if (answer.kind !== 'response') return { ok: false, permanent: answer.permanent, error: answer.reason };
  if (answer.statusCode >= 200 && answer.statusCode < 300) return { ok: true };
  const permanent = answer.statusCode >= 400 && answer.statusCode < 500 && answer.statusCode !== 408 && answer.statusCode !== 429;
  return { ok: false, permanent, error: `HTTP ${answer.statusCode}` };
}

/** A refusal will not get better by retrying. `downstream` names the target in a transient failure's reason. */
export function deliveryResult(result: DeliveryResult, downstream?: string): AttemptResult {
  if (result.ok) return { kind: 'ok' };
  if (result.permanent) return { kind: 'permanent', reason: result.error };
  return { kind: 'retry', reason: downstream ? `${downstream}: ${result.error}` : result.error };
}

/**
 * Durable, signed delivery of JSON documents to one downstream URL: a BullMQ
 * queue with retries and backoff; what exhausts its retries stays as a failed
 * job (the dead letters), listable and replayable.
 */
export class WebhookOutbox {
  private readonly defined: DefinedQueue<WebhookJobData>;
  private readonly logger: Logger;
  /** Queue name, e.g. `forward-inbound` (its catalog row); one queue per downstream. */
  readonly name: string;

  constructor(
    core: QueueCore,
    spec: QueueSpec,
    private readonly options: WebhookOutboxOptions,
  ) {
    this.name = spec.name;
    this.logger = core.logger;
    this.defined = defineQueue<WebhookJobData>(core, spec, (job) => this.deliver(job), {
      roles: options.roles,
      settings: options.settings,
      onFailed: (job, err) => {
        if (!job || job.attemptsMade < (job.opts.attempts ?? 1)) return;
        this.logger.warn({ outbox: this.name, id: job.id, err: err.message }, 'webhook delivery dead-lettered');
      },
    });
  }

  get queue(): Queue<WebhookJobData> {
    return this.defined.queue;
  }

  /** Present where this instance runs the flow feeding the outbox. */
  get worker(): Worker<WebhookJobData> | undefined {
    return this.defined.worker;
  }

  /** Adding the same id twice delivers once (the id is the BullMQ job id). */
  async add(data: WebhookJobData): Promise<void> {
    // The dead letters are the failed jobs: listable and replayable within the shared bound (why it is what it is: JOB_RETENTION).
    await this.queue.add('deliver', data, { jobId: data.id, ...this.defined.jobOptions() });
  }

  private async deliver(job: Job<WebhookJobData>): Promise<AttemptResult> {
    const url = job.data.url ?? this.options.url;
    if (!url) throw new UnrecoverableError('no URL to deliver to');
    const callers = job.data.url !== undefined && !job.data.trusted;
    if (callers && !this.options.egress) throw new UnrecoverableError(EGRESS_REFUSED);
    const dispatcher = callers ? this.options.egress : this.options.dispatcher;
    const attempt = job.attemptsMade + 1;
    const { secret, timeoutMs } = this.options;
    const options = { id: job.data.id, attempt, secret, timeoutMs, dispatcher, logger: this.logger };
    const result = await postSignedJson(url, job.data.body, options);
    return deliveryResult(result, this.name);
  }

  async deadLetters(limit = 100): Promise<DeadLetter[]> {
    const jobs = await this.queue.getFailed(0, limit - 1);
    return jobs.map((job) => ({
      id: String(job.id),
      attempts: job.attemptsMade,
      error: job.failedReason,
      failedAt: job.finishedOn ? new Date(job.finishedOn).toISOString() : undefined,
      body: job.data.body,
    }));
  }

  /** Puts one dead letter (or all of them) back in line; answers how many. */
  async replay(id?: string): Promise<number> {
    if (id !== undefined) {
      const job = await this.queue.getJob(id);
      if (!job || !(await job.isFailed())) return 0;
      await job.retry('failed');
      return 1;
    }
    const failed = await this.queue.getFailed(0, -1);
    await Promise.all(failed.map((job) => job.retry('failed')));
    return failed.length;
  }

  close(): Promise<void> {
    return this.defined.close();
  }
}
