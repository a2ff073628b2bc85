import type { RedisClient } from '../../redis/connection';
import type { RedisKeys } from '../../redis/keys';
import type { CallResult } from '../../wecom/endpoints/pstncc';

/** One callee's call of an escalation level. */
export interface PhoneCall {
  /** `<group>-<level>-<n>`: the webhook's `id` and its callback's path. */
  id: string;
  groupId: string;
  level: number;
  userid: string;
  /** WeCom's callid, for getstates. */
  callid?: string;
  placedAt: number;
}

const CALL_ID = /^([0-9a-f]{20})-(\d{1,2})-(\d{1,3})$/;

export function callIdOf(groupId: string, level: number, n: number): string {
  return `${groupId}-${level}-${n}`;
}

/** The group a call id belongs to; undefined for what is no call id. */
export function groupOfCall(id: string): string | undefined {
  return CALL_ID.exec(id)?.[1];
}

/** The calls of each group, beside it in Redis (same slot, same retention); a call's result is set once. */
export class CallStore {
  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keys: RedisKeys; retentionSeconds: number },
  ) {}

  async save(calls: PhoneCall[]): Promise<void> {
    if (calls.length === 0) return;
    const key = this.options.keys.alerts.calls(calls[0].groupId);
    const fields = calls.flatMap((c) => [c.id, JSON.stringify(c)]);
    await this.redis
      .multi()
      .hset(key, ...fields)
      .expire(key, this.options.retentionSeconds)
      .exec();
  }

  async get(id: string): Promise<PhoneCall | undefined> {
    const groupId = groupOfCall(id);
    const raw = groupId ? await this.redis.hget(this.options.keys.alerts.calls(groupId), id) : null;
    return raw ? (JSON.parse(raw) as PhoneCall) : undefined;
  }

  /** The level's calls already placed (a retried job places none twice). */
  async ofLevel(groupId: string, level: number): Promise<PhoneCall[]> {
    const all = await this.redis.hvals(this.options.keys.alerts.calls(groupId));
    return all.map((raw) => JSON.parse(raw) as PhoneCall).filter((c) => c.level === level);
  }

  /** True the first time: how the call ended is recorded once (a repeated answer changes nothing). */
  async settle(call: PhoneCall, result: CallResult): Promise<boolean> {
    const key = this.options.keys.alerts.callResult(call.groupId, call.id);
    return (await this.redis.set(key, result, 'EX', this.options.retentionSeconds, 'NX')) === 'OK';
  }

  async resultOf(call: PhoneCall): Promise<CallResult | undefined> {
    return ((await this.redis.get(this.options.keys.alerts.callResult(call.groupId, call.id))) ?? undefined) as CallResult | undefined;
  }
}
