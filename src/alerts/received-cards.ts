import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';

/** A member's index keeps the newest groups they got: enough for a text ack, bounded in a storm. */
const KEPT_PER_MEMBER = 100;

/**
 * Which alert groups each member received a card (or message) of, by userid, newest
 * first: a member's text `ack` finds its group here (text-ack.ts). Only named users are
 * indexed: the members of a party or tag, or `@all`, are expanded by WeCom, never by
 * the gateway, so they cannot ack by text (their card's button and the API still work).
 */
export class ReceivedCards {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keys: RedisKeys; retentionSeconds: number },
  ) {}

  /** A card of the group went to `users` at `sentAt`. */
  async note(groupId: string, users: string[] | undefined, sentAt: number): Promise<void> {
    for (const user of (users ?? []).filter((u) => u !== '@all')) {
      const key = this.options.keys.alerts.received(user);
      // One member's keys, not the group's slot: no transaction across them (Redis Cluster).
      await this.redis
        .multi()
        .zadd(key, sentAt, groupId)
        .zremrangebyrank(key, 0, -KEPT_PER_MEMBER - 1)
        .expire(key, this.options.retentionSeconds)
        .exec();
    }
  }

  /** The groups whose cards `user` received, newest first. */
  async of(user: string): Promise<string[]> {
    return this.redis.zrevrange(this.options.keys.alerts.received(user), 0, -1);
  }
}
