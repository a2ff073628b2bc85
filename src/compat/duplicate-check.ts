import { createHash, randomUUID } from 'node:crypto';
import { ApiError } from '../http/errors';
import { compareAndDelete } from '../redis/atomic';
import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import { canonicalJson } from '../messages/send-request';
import { CompatError } from '../wecom/compat/answers';

/**
 * message/send's `enable_duplicate_check` (reference §2.1): the same body from the
 * same caller within `duplicate_check_interval` is one message. The first send
 * claims the body's hash for the interval (SET NX EX) with a fresh idempotency key;
 * a repeat within it reads that key and sends with it, so the pipeline's own
 * idempotency answers the first message's id and sends nothing (even while the first
 * is still being accepted).
 */
/**
 * Whether a first send's failure frees its window: only a refusal (nothing was recorded).
 * A 503, Redis away or a timeout may leave the message recorded and sent: the claim stays, so
 * the caller's retry answers that message's id instead of sending twice.
 */
export function freesClaim(error: unknown): boolean {
  return error instanceof CompatError || (error instanceof ApiError && error.status < 500);
}

export class DuplicateCheck {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<RedisKeys, 'compatDuplicate'>,
  ) {}

  /** The idempotency key this body sends with: the first sender's while the window lasts, a new one otherwise. */
  async claim(
    callerId: string,
    body: unknown,
    seconds: number,
  ): Promise<{ idempotencyKey: string; failed(error: unknown): Promise<void> }> {
    const key = this.keys.compatDuplicate(callerId, createHash('sha256').update(canonicalJson(body)).digest('hex'));
    const fresh = `wecom-duplicate-check:${randomUUID()}`;
    const first = (await this.redis.set(key, fresh, 'EX', seconds, 'NX')) === 'OK';
    const idempotencyKey = first ? fresh : ((await this.redis.get(key)) ?? fresh);
    // A first send that was refused leaves the window to the next one (freesClaim).
    const failed = async (error: unknown) => void (first && freesClaim(error) && (await compareAndDelete(this.redis, key, fresh)));
    return { idempotencyKey, failed };
  }
}
