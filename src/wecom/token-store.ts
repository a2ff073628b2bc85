import { createHash, randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import { compareAndDelete } from '../redis/atomic';
import type { WecomApp } from './app';
import { getToken } from './endpoints/token';
import { GatewayErrcode } from './errcodes';
import type { WecomError } from './outcome';
import type { WecomTransport } from './transport';

/** How long a process reuses the token it last read before it reads Redis again. */
const LOCAL_TOKEN_MS = 5_000;

/** gettoken failed: `transient` says whether a later attempt may succeed. */
export class TokenError extends Error {
  /** afterMs: gettoken itself was throttled (45009); the caller should wait that long. */
  constructor(
    readonly error: WecomError,
    readonly transient: boolean,
    readonly afterMs?: number,
  ) {
    super(`gettoken failed: ${error.errcode} ${error.errmsg}`);
  }
}

export interface TokenStoreOptions {
  keys: RedisKeys;
  /** Refresh this long before WeCom's expires_in so no call carries a token that dies in flight. */
  marginSeconds?: number;
  lockTtlMs?: number;
  pollMs?: number;
  waitMs?: number;
  /** Every gettoken this instance ran: its error when it failed. */
  onFetch?: (app: WecomApp, error?: WecomError) => void;
  /** The time (Core.clock): how long the token read is reused here, and how long to wait for another instance's gettoken. */
  clock?: () => number;
}

/**
 * One access_token per (corp, secret), shared by every instance through Redis
 * (reference §1): in-process single-flight, then a Redis lock (SET NX PX) so that
 * exactly one caller anywhere runs gettoken while the others poll the key.
 */
export class TokenStore {
  private readonly inflight = new Map<string, Promise<string>>();
  /**
   * The token as last read, for LOCAL_TOKEN_MS: a busy worker would otherwise GET
   * it from Redis for every send. A token that another instance has meanwhile
   * replaced costs one refused call, then invalidate() drops it here as well.
   */
  private readonly local = new Map<string, { token: string; until: number }>();
  private readonly keyOf = new Map<string, string>();
  private readonly now: () => number;

  constructor(
    private readonly redis: RedisClient,
    private readonly transport: WecomTransport,
    private readonly options: TokenStoreOptions,
  ) {
    this.now = options.clock ?? Date.now;
  }

  get(app: WecomApp): Promise<string> {
    const key = this.key(app);
    const known = this.local.get(key);
    if (known && this.now() < known.until) return Promise.resolve(known.token);
    let pending = this.inflight.get(key);
    if (!pending) {
      pending = this.fetchShared(app, key)
        .then((token) => (this.local.set(key, { token, until: this.now() + LOCAL_TOKEN_MS }), token))
        .finally(() => this.inflight.delete(key));
      this.inflight.set(key, pending);
    }
    return pending;
  }

  /** Drops `failedToken` unless another caller has already replaced it. */
  invalidate(app: WecomApp, failedToken: string): Promise<boolean> {
    const key = this.key(app);
    if (this.local.get(key)?.token === failedToken) this.local.delete(key);
    return compareAndDelete(this.redis, key, failedToken);
  }

  private key(app: WecomApp, what: 'token' | 'tokenLock' = 'token'): string {
    const id = `${what} ${app.corpId} ${app.secret}`;
    let key = this.keyOf.get(id);
    if (key === undefined) {
      // The secret identifies the token but must never appear in Redis keys.
      const secretId = createHash('sha256').update(app.secret).digest('hex').slice(0, 16);
      this.keyOf.set(id, (key = this.options.keys[what](app.corpId, secretId)));
    }
    return key;
  }

  private async fetchShared(app: WecomApp, key: string): Promise<string> {
    const { lockTtlMs = 10_000, pollMs = 25, waitMs = 15_000 } = this.options;
    const deadline = this.now() + waitMs;
    const lockKey = this.key(app, 'tokenLock');
    for (;;) {
      const cached = await this.redis.get(key);
      if (cached) return cached;
      const owner = randomUUID();
      if (await this.redis.set(lockKey, owner, 'PX', lockTtlMs, 'NX')) {
        try {
          return (await this.redis.get(key)) ?? (await this.fetchAndStore(app, key));
        } finally {
          await compareAndDelete(this.redis, lockKey, owner);
        }
      }
      const timedOut = { errcode: GatewayErrcode.network, errmsg: 'timed out waiting for another instance to fetch the access_token' };
      if (this.now() > deadline) throw new TokenError(timedOut, true);
      await sleep(pollMs);
    }
  }

  private async fetchAndStore(app: WecomApp, key: string): Promise<string> {
    const outcome = await this.transport.call(getToken(app.corpId, app.secret));
    this.options.onFetch?.(app, outcome.kind === 'ok' ? undefined : outcome.error);
    if (outcome.kind !== 'ok')
      throw new TokenError(outcome.error, outcome.kind === 'retry', outcome.kind === 'retry' ? outcome.afterMs : undefined);
    const { marginSeconds = 300 } = this.options;
    const ttl = Math.max(30, outcome.value.expiresInSeconds - marginSeconds);
    // Redis keeps the shared token for its TTL by Redis's own clock, as every instance sees it; each instance's reuse follows `clock`.
    await this.redis.set(key, outcome.value.accessToken, 'EX', ttl);
    return outcome.value.accessToken;
  }
}
