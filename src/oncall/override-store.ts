import { randomBytes } from 'node:crypto';
import type { RedisClient } from '../redis/connection';
import { luaScript } from '../redis/lua';
import type { RedisKeys } from '../redis/keys';
import type { Override } from './shifts';

const ADD_OVERRIDE = luaScript('addOverride');

export type OverrideAdded = { added: Override } | { overlaps: Override };

/** Each schedule's overrides, durable in Redis; an override is gone once its `until` has passed. */
export class OverrideStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: Pick<RedisKeys, 'oncallOverrides'>,
  ) {}

  /** Adds it, unless it overlaps another (checked and written in one step: addOverride-1.lua). */
  async add(schedule: string, wanted: Omit<Override, 'id'>, now: number): Promise<OverrideAdded> {
    const override: Override = { id: `ovr_${randomBytes(6).toString('hex')}`, ...wanted };
    const args = [override.id, JSON.stringify(override), override.from, override.until, now];
    const [result, other] = (await ADD_OVERRIDE(this.redis, [this.keys.oncallOverrides(schedule)], args)) as [string, string?];
    return result === 'ok' ? { added: override } : { overlaps: JSON.parse(other!) as Override };
  }

  /** The overrides not yet ended at `now`, earliest first. */
  async list(schedule: string, now: number): Promise<Override[]> {
    const all = Object.values(await this.redis.hgetall(this.keys.oncallOverrides(schedule))).map((json) => JSON.parse(json) as Override);
    return all.filter((o) => o.until > now).sort((a, b) => a.from - b.from);
  }

  /** Whether there was such an override. */
  async remove(schedule: string, id: string): Promise<boolean> {
    return (await this.redis.hdel(this.keys.oncallOverrides(schedule), id)) > 0;
  }
}
