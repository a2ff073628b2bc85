import type { RedisKeys } from '../redis/keys';
import { luaScript, type RedisClient } from '../redis/scripts';

/**
 * Takes one of an owner's download slots. KEYS[1]: the owner's downloads, a sorted
 * set of holders by the end of their lease (ms). ARGV: now, holder, slots, leaseMs.
 * Lapsed leases (an instance that died mid-download) are dropped first; a holder
 * asking again keeps its slot with a fresh lease. Answers 1 when taken, else 0.
 */
const TAKE_DOWNLOAD_SLOT = luaScript(`
local now, holder, slots, lease = tonumber(ARGV[1]), ARGV[2], tonumber(ARGV[3]), tonumber(ARGV[4])
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
if redis.call('ZSCORE', KEYS[1], holder) or redis.call('ZCARD', KEYS[1]) < slots then
  redis.call('ZADD', KEYS[1], now + lease, holder)
  redis.call('PEXPIRE', KEYS[1], lease)
  return 1
end
return 0`);

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
    return (await TAKE_DOWNLOAD_SLOT(this.redis, [this.keys.mediaDownloads(owner)], [Date.now(), holder, this.settings.perOwner, this.settings.leaseMs])) === 1;
  }

  async release(owner: string, holder: string): Promise<void> {
    await this.redis.zrem(this.keys.mediaDownloads(owner), holder);
  }
}
