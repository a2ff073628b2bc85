import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';

/**
 * What happened to a group, as its page's timeline shows it: each driver notes its
 * own step (fired, each card or message and to whom, escalations, calls, ack, assign,
 * silence, held and released by quiet hours, resolved).
 */
export type TimelineKind =
  | 'fired'
  | 'notified'
  | 'escalated'
  | 'called'
  | 'callAnswered'
  | 'callFailed'
  | 'acked'
  | 'assigned'
  | 'silenced'
  | 'silenceFailed'
  | 'held'
  | 'released'
  | 'resolved';

export interface TimelineEntry {
  at: number;
  kind: TimelineKind;
  /** Who did it (a member's userid), when a member did. */
  by?: string;
  /** Whom it went to ("zhangsan, robot ops"), for notifications, escalations, calls and assignments. */
  to?: string;
  /** The message it sent (GET /v1/messages/{id} tells whether it was delivered). */
  messageId?: string;
  level?: number;
  /** A few words more: the silence's duration, why a call failed, the channel an ack came by (card, text, api, console, page). */
  detail?: string;
}

/** A group's timeline keeps its latest entries: a storm of repeats cannot grow it without end. */
const TIMELINE_KEPT = 200;

/** Each alert group's timeline, a Redis list beside the group (same slot), kept as long as the group. */
export class AlertTimeline {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keys: RedisKeys; retentionSeconds: number; clock: () => number },
  ) {}

  /** Notes a step of the group's life (now, unless `at` says when it happened). */
  async note(id: string, entry: Omit<TimelineEntry, 'at'> & { at?: number }): Promise<void> {
    const key = this.options.keys.alerts.timeline(id);
    await this.redis
      .multi()
      .rpush(key, JSON.stringify({ at: this.options.clock(), ...entry }))
      .ltrim(key, -TIMELINE_KEPT, -1)
      .expire(key, this.options.retentionSeconds)
      .exec();
  }

  /** The group's timeline, oldest first. */
  async of(id: string): Promise<TimelineEntry[]> {
    const raw = await this.redis.lrange(this.options.keys.alerts.timeline(id), 0, -1);
    return raw.map((value) => JSON.parse(value) as TimelineEntry);
  }
}
