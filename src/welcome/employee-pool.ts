import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import type { Activities, Employee } from './activities';

export interface PoolEntry {
  userId: string;
  addsToday: number;
  totalCustomers: number;
  dailyLimit: number;
  totalLimit: number;
  inPool: boolean;
  reason?: string;
  activities: string[];
}

/**
 * Per-employee counters in Redis, as sets of external user ids so that a
 * repeated push or a re-add never counts twice: customers added today (per
 * calendar day in the configured time zone) and customers in total. An employee
 * is in the pool while under both of their limits.
 */
export class EmployeePool {
  private readonly dayFormat: Intl.DateTimeFormat;

  constructor(
    private readonly redis: RedisClient,
    private readonly activities: Activities,
    private readonly options: { keys: RedisKeys['welcome']; timeZone: string; now?: () => number },
  ) {
    this.dayFormat = new Intl.DateTimeFormat('en-CA', { timeZone: options.timeZone, year: 'numeric', month: '2-digit', day: '2-digit' });
  }

  /** The calendar day (YYYY-MM-DD) of `at` in the pool's time zone (Asia/Shanghai by default). */
  day(at = this.now()): string {
    return this.dayFormat.format(new Date(at));
  }

  /** The gateway's clock (core.clock); a test that builds the pool alone may leave it out (the wall clock). */
  private now(): number {
    return (this.options.now ?? Date.now)();
  }

  /** One hash tag per employee: their counters change in one MULTI, also on Redis Cluster. */
  private key(userId: string, what: string): string {
    return this.options.keys.employee(userId, what);
  }

  async countAdd(userId: string, externalUserId: string, at = this.now()): Promise<void> {
    const today = this.key(userId, `adds:${this.day(at)}`);
    await this.redis
      .multi()
      .sadd(today, externalUserId)
      .expire(today, 3 * 86_400)
      .sadd(this.key(userId, 'customers'), externalUserId)
      .exec();
  }

  /** del_external_contact / del_follow_user: the customer no longer counts toward the total. */
  async countRemoval(userId: string, externalUserId: string): Promise<void> {
    await this.redis.srem(this.key(userId, 'customers'), externalUserId);
  }

  async entry(employee: Employee): Promise<PoolEntry> {
    const [addsToday, totalCustomers] = await Promise.all([
      this.redis.scard(this.key(employee.userId, `adds:${this.day()}`)),
      this.redis.scard(this.key(employee.userId, 'customers')),
    ]);
    const reason =
      addsToday >= employee.dailyLimit
        ? `daily limit reached (${addsToday}/${employee.dailyLimit}) until tomorrow`
        : totalCustomers >= employee.totalLimit
          ? `near the customer cap (${totalCustomers}/${employee.totalLimit})`
          : undefined;
    return {
      userId: employee.userId,
      addsToday,
      totalCustomers,
      dailyLimit: employee.dailyLimit,
      totalLimit: employee.totalLimit,
      inPool: reason === undefined,
      ...(reason ? { reason } : {}),
      activities: this.activities.list.filter((a) => a.employees.some((e) => e.userId === employee.userId)).map((a) => a.name),
    };
  }

  async entries(): Promise<PoolEntry[]> {
    return Promise.all(this.activities.employees().map((e) => this.entry(e)));
  }

  /** The activity's eligible employees, least loaded first (fewest adds today, then fewest customers). */
  async eligible(activityName: string): Promise<PoolEntry[]> {
    const activity = this.activities.byName(activityName);
    if (!activity) return [];
    const entries = await Promise.all(activity.employees.map((e) => this.entry(e)));
    return entries.filter((e) => e.inPool).sort((a, b) => a.addsToday - b.addsToday || a.totalCustomers - b.totalCustomers);
  }
}
