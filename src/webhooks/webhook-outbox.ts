import { createHmac } from 'node:crypto';
import { Queue, UnrecoverableError, Worker, type ConnectionOptions, type Job } from 'bullmq';
import type { Logger } from 'pino';
import { request, type Dispatcher } from 'undici';
import { queuePrefix } from '../messages/send-queue';

/** One JSON document to deliver to a downstream URL. `id` lets the receiver dedupe. */
export interface WebhookJobData {
  id: string;
  body: unknown;
  createdAt: number;
}

export interface WebhookOutboxOptions {
  /** Queue name, e.g. `forward-inbound` (BullMQ refuses ':'); one queue per downstream. */
  name: string;
  url: string;
  /** HMAC-SHA256 key for the X-Gateway-Signature header; unsigned when absent. */
  secret?: string;
  prefix: string;
  attempts: number;
  retryBaseDelayMs: number;
  timeoutMs: number;
  concurrency: number;
  logger: Logger;
  dispatcher?: Dispatcher;
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

/**
 * Durable, signed delivery of JSON documents to one downstream URL: a BullMQ
 * queue with retries and backoff; what exhausts its retries stays as a failed
 * job (the dead letters), listable and replayable.
 */
export class WebhookOutbox {
  readonly queue: Queue<WebhookJobData>;
  private worker?: Worker<WebhookJobData>;

  constructor(
    connection: ConnectionOptions,
    private readonly options: WebhookOutboxOptions,
  ) {
    this.queue = new Queue<WebhookJobData>(options.name, { connection, prefix: queuePrefix(options.prefix) });
  }

  /** Adding the same id twice delivers once (the id is the BullMQ job id). */
  async add(data: WebhookJobData): Promise<void> {
    await this.queue.add('deliver', data, {
      jobId: data.id,
      attempts: this.options.attempts,
      backoff: { type: 'exponential', delay: this.options.retryBaseDelayMs, jitter: 0.5 },
      removeOnComplete: { age: 86_400, count: 10_000 },
      removeOnFail: false,
    });
  }

  startWorker(connection: ConnectionOptions): Worker<WebhookJobData> {
    this.worker = new Worker<WebhookJobData>(this.options.name, (job) => this.deliver(job), {
      connection,
      prefix: queuePrefix(this.options.prefix),
      concurrency: this.options.concurrency,
    });
    this.worker.on('failed', (job, err) => {
      if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) this.options.logger.warn({ outbox: this.options.name, id: job.id, err: err.message }, 'webhook delivery dead-lettered');
    });
    this.worker.on('error', (err) => this.options.logger.error({ err, outbox: this.options.name }, 'webhook worker error'));
    return this.worker;
  }

  private async deliver(job: Job<WebhookJobData>): Promise<void> {
    const body = JSON.stringify(job.data.body);
    const timestamp = String(Math.floor(Date.now() / 1000));
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'user-agent': 'wecom-gateway',
      'x-gateway-delivery': job.data.id,
      'x-gateway-timestamp': timestamp,
      'x-gateway-attempt': String(job.attemptsMade + 1),
    };
    if (this.options.secret) headers['x-gateway-signature'] = signWebhook(this.options.secret, timestamp, body);
    let status: number;
    try {
      const response = await request(this.options.url, {
        method: 'POST',
        headers,
        body,
        headersTimeout: this.options.timeoutMs,
        bodyTimeout: this.options.timeoutMs,
        dispatcher: this.options.dispatcher,
      });
      status = response.statusCode;
      await response.body.dump();
    } catch (error) {
      throw new Error(`${this.options.name}: ${(error as Error).message}`);
    }
    if (status >= 200 && status < 300) return;
    // 4xx other than 408/429 will not get better by retrying: dead-letter it now for an operator.
    if (status >= 400 && status < 500 && status !== 408 && status !== 429) throw new UnrecoverableError(`HTTP ${status}`);
    throw new Error(`HTTP ${status}`);
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

  async close(): Promise<void> {
    await this.worker?.close();
    await this.queue.close();
  }
}
