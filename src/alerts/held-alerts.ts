import type { Recipients } from '../messages/recipients';
import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import { luaScript } from '../redis/lua';
import type { MessageMentions as Mentions } from '../messages/mentions';
import { SEPARATOR } from './digest-lines';

const HOLD_ALERTS = luaScript('holdAlerts');

/** An alert held by a route's quiet hours until its window ends. */
export interface HeldAlert {
  route: string;
  /** Whose it is (alertOwnerOf the caller that posted it): who may see it. */
  owner: string;
  status: 'firing' | 'resolved';
  alertname: string;
  severity: string;
  /** Its key label and value (`{ instance: "db1:9100" }`); empty when it carries none of ALERT_KEY_LABELS. */
  labels: Record<string, string>;
  /** Its startsAt (ms), when it said. */
  since?: number;
  /** When it was first held (its repeats keep it). */
  heldAt: number;
  releaseAt: number;
  /** The alert group it belongs to, when one was open: its timeline notes held and released. */
  group?: string;
}

/** Where one recipient set's digest goes, and the quiet time it was held in. */
export interface DigestDestination {
  to: Recipients;
  app?: string;
  mentions?: Mentions;
  quiet: { from: string; to: string };
}

export type NewHeld = Omit<HeldAlert, 'heldAt' | 'releaseAt' | 'route'> & { fingerprint: string };

/** One window's held alerts, by recipient set, with where each set's digest goes. */
export type HeldWindow = Map<string, { destination: DigestDestination; alerts: (HeldAlert & { field: string })[] }>;

/**
 * Alerts held by quiet hours, in Redis so every instance and a restart see them:
 * per route and window (its release time), per recipient set, owner and alert
 * (fingerprint). Kept past the release by the retention, so nothing expires before
 * it goes out; deleted once its digest is accepted.
 */
export class HeldAlerts {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keys: RedisKeys; retentionSeconds: number; clock: () => number },
  ) {}

  private get keys() {
    return this.options.keys.quiet;
  }

  /** Holds `alerts` for `rk` until `releaseAt`; how many were not held before (a repeat updates its alert). */
  async hold(route: string, releaseAt: number, rk: string, destination: DigestDestination, alerts: NewHeld[]): Promise<number> {
    const now = this.options.clock();
    const ttl = Math.ceil(Math.max(0, releaseAt - now) / 1000) + this.options.retentionSeconds;
    const pairs = alerts.flatMap(({ fingerprint, ...alert }) => [
      [rk, alert.owner, fingerprint].join(SEPARATOR),
      JSON.stringify({ ...alert, route, releaseAt }),
    ]);
    const keys = [this.keys.held(route, releaseAt), this.keys.to(route, releaseAt)];
    const added = Number(await HOLD_ALERTS(this.redis, keys, [ttl, rk, JSON.stringify(destination), now, ...pairs]));
    await this.redis.zadd(this.keys.windows, releaseAt, `${route}${SEPARATOR}${releaseAt}`);
    return added;
  }

  /** Takes the alerts of `fingerprints` out of the window (a resolve during quiet time): the fingerprints that were held. */
  async withdraw(route: string, releaseAt: number, rk: string, owner: string, fingerprints: string[]): Promise<Set<string>> {
    const key = this.keys.held(route, releaseAt);
    const multi = this.redis.multi();
    for (const fingerprint of fingerprints) multi.hdel(key, [rk, owner, fingerprint].join(SEPARATOR));
    const results = (await multi.exec()) ?? [];
    return new Set(fingerprints.filter((_, i) => results[i]?.[1] === 1));
  }

  /** What one window holds, by recipient set. */
  async window(route: string, releaseAt: number): Promise<HeldWindow> {
    const [held, destinations] = await Promise.all([
      this.redis.hgetall(this.keys.held(route, releaseAt)),
      this.redis.hgetall(this.keys.to(route, releaseAt)),
    ]);
    const window: HeldWindow = new Map();
    for (const [field, value] of Object.entries(held)) {
      const rk = field.split(SEPARATOR)[0];
      const destination = destinations[rk];
      if (!destination) continue;
      const entry = window.get(rk) ?? { destination: JSON.parse(destination) as DigestDestination, alerts: [] };
      entry.alerts.push({ ...parsed(value), field });
      window.set(rk, entry);
    }
    return window;
  }

  /**
   * Forgets alerts whose digest was accepted (Redis drops the hash with its last field); the window's listing once
   * it holds no more. Its destinations expire with their TTL: an alert held meanwhile still finds its own.
   */
  async forget(route: string, releaseAt: number, alerts: { field: string }[]): Promise<void> {
    const held = this.keys.held(route, releaseAt);
    if (alerts.length > 0) await this.redis.hdel(held, ...alerts.map((a) => a.field));
    if ((await this.redis.hlen(held)) > 0) return;
    await this.redis.zrem(this.keys.windows, `${route}${SEPARATOR}${releaseAt}`);
  }

  /** Every alert held now, the soonest released first (at most `limit`). */
  async list(limit = 500): Promise<HeldAlert[]> {
    const windows = await this.redis.zrange(this.keys.windows, 0, -1);
    const all: HeldAlert[] = [];
    for (const member of windows) {
      const [route, releaseAt] = member.split(SEPARATOR);
      const held = await this.redis.hvals(this.keys.held(route, Number(releaseAt)));
      all.push(...held.map(parsed).sort((a, b) => a.heldAt - b.heldAt));
      if (all.length >= limit) break;
    }
    return all.slice(0, limit);
  }
}

/** `<heldAt>|<alert JSON>` (holdAlerts-2.lua). */
function parsed(value: string): HeldAlert {
  const bar = value.indexOf('|');
  return { ...(JSON.parse(value.slice(bar + 1)) as Omit<HeldAlert, 'heldAt'>), heldAt: Number(value.slice(0, bar)) };
}
