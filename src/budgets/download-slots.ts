import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import { luaScript } from '../redis/lua';

const TAKE_DOWNLOAD_SLOT = luaScript('takeDownloadSlot');

/**
 * Each caller's share of the file downloads, over every instance: at most `perOwner`
 * at a time, so one key's slow or numerous files wait behind each other and never
 * take every slot of the media workers from the other keys.
 */
export class DownloadSlots {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly settings: { perOwner: number; leaseMs: number },
    private readonly clock: () => number = Date.now,
  ) {}

  async take(owner: string, holder: string): Promise<boolean> {
    const args = [this.clock(), holder, this.settings.perOwner, this.settings.leaseMs];
    return (await TAKE_DOWNLOAD_SLOT(this.redis, [this.keys.mediaDownloads(owner)], args)) === 1;
  }

  async release(owner: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.mediaDownloads(owner), holder);
  }
}
