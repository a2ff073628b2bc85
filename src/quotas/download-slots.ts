import type { RedisKeys } from '../redis/keys';
import { takeDownloadSlot, type RedisClient } from '../redis/scripts';

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
  ) {}

  async take(owner: string, holder: string): Promise<boolean> {
    return takeDownloadSlot(this.redis, this.keys.mediaDownloads(owner), { now: Date.now(), holder, slots: this.settings.perOwner, leaseMs: this.settings.leaseMs });
  }

  async release(owner: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.mediaDownloads(owner), holder);
  }
}
