import type { RedisClient } from './connection';

/** How long a caller waits for replicas before the gateway gives up and answers 503. */
export const REPLICA_WAIT_MS = 1_000;

/** Fewer replicas than REDIS_WAIT_REPLICAS confirmed the writes in time: a failover now could lose them. */
export class ReplicasUnconfirmedError extends Error {
  constructor(
    readonly confirmed: number,
    readonly required: number,
  ) {
    super(`${confirmed} of ${required} Redis replicas confirmed the write within ${REPLICA_WAIT_MS} ms`);
  }
}

/**
 * WAIT on one connection, shared by the callers of the moment. WAIT blocks the whole
 * connection (every command queued behind it waits too), so one is on the wire at a
 * time: callers that come while it is out join the next one, which still covers their
 * writes because it is sent after them. After a WAIT comes back short (no replica
 * attached, a failover under way), callers get that answer at once for REPLICA_WAIT_MS
 * instead of each blocking the connection for a second.
 */
class ReplicaWait {
  private onWire: Promise<unknown> = Promise.resolve();
  private next?: Promise<number>;
  private short = { count: 0, until: 0 };

  constructor(
    private readonly connection: RedisClient,
    private readonly replicas: number,
    private readonly now: () => number,
  ) {}

  /** How many replicas hold every write this connection made before the call. */
  confirmed(): Promise<number> {
    if (this.now() < this.short.until) return Promise.resolve(this.short.count);
    this.next ??= this.send();
    return this.next;
  }

  private send(): Promise<number> {
    const wait = this.onWire
      .then(() => {
        this.next = undefined;
        // Those who joined while a WAIT came back short take its answer too.
        return this.now() < this.short.until ? this.short.count : this.connection.wait(this.replicas, REPLICA_WAIT_MS);
      })
      .then((count) => {
        if (count < this.replicas) this.short = { count, until: this.now() + REPLICA_WAIT_MS };
        return count;
      });
    this.onWire = wait.catch(() => undefined);
    return wait;
  }
}

/**
 * Redis replicates asynchronously: a write the master acknowledged is lost when a
 * replica that had not received it yet is promoted (a Sentinel failover). WAIT
 * returns once `replicas` replicas hold every earlier write of the connection it is
 * sent on, so waiting on each connection a caller wrote through makes what was
 * accepted survive the failover. With 0 replicas it costs nothing.
 */
export function replicationBarrier(connections: RedisClient[], replicas: number, now: () => number = Date.now): () => Promise<void> {
  if (replicas === 0) return async () => undefined;
  const waits = connections.map((connection) => new ReplicaWait(connection, replicas, now));
  return async () => {
    const fewest = Math.min(...(await Promise.all(waits.map((w) => w.confirmed()))));
    if (fewest < replicas) throw new ReplicasUnconfirmedError(fewest, replicas);
  };
}
