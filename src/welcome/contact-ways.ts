import type { Logger } from 'pino';
import type { WecomApp } from '../wecom/app';
import { ApiError } from '../http/errors';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import { addContactWay, deleteContactWay } from '../wecom/endpoints/externalcontact';
import type { WecomApi } from '../wecom/wecom-api';
import type { Activities } from './activities';
import type { EmployeePool } from './employee-pool';

export interface ContactWay {
  activity: string;
  state: string;
  employee: string;
  configId: string;
  qrCode: string;
  createdAt: string;
}

/**
 * 「联系我」 QR codes (reference §9.2), one per (activity, employee): handed out
 * for the least-loaded employee with room, reused while that employee stays in
 * the pool, and deleted at WeCom when they leave it so new customers go elsewhere.
 * WeCom does not list API-created codes in its console: their ids are kept here.
 */
export class ContactWays {
  constructor(
    private readonly redis: RedisClient,
    private readonly api: WecomApi,
    private readonly app: WecomApp,
    private readonly activities: Activities,
    private readonly pool: EmployeePool,
    private readonly options: {
      keys: RedisKeys['welcome'];
      logger: Logger;
      /** The gateway's clock (core.clock); a test that builds the codes alone may leave it out (the wall clock). */
      clock?: () => number;
    },
  ) {}

  private key(activity: string): string {
    return this.options.keys.contactWays(activity);
  }

  async forActivity(activityName: string): Promise<ContactWay & { reused: boolean }> {
    const activity = this.activities.byName(activityName);
    if (!activity) throw new ApiError(404, 'unknown_activity', `unknown activity ${activityName} (GET /v1/welcome/activities)`);
    const [chosen] = await this.pool.eligible(activity.name);
    if (!chosen)
      throw new ApiError(
        409,
        'no_employee_with_room',
        `no employee of ${activity.name} has room: every one is at their daily or total limit (GET /v1/welcome/pool)`,
      );
    const existing = await this.redis.hget(this.key(activity.name), chosen.userId);
    if (existing) return { ...(JSON.parse(existing) as ContactWay), reused: true };
    const request = { remark: activity.name, skipVerify: true, state: activity.state, users: [chosen.userId] };
    const outcome = await this.api.call(this.app, addContactWay(request));
    if (outcome.kind !== 'ok')
      throw new ApiError(502, 'wecom_error', `WeCom refused add_contact_way: ${outcome.error.errcode} ${outcome.error.errmsg}`);
    const way: ContactWay = {
      activity: activity.name,
      state: activity.state,
      employee: chosen.userId,
      configId: outcome.value.configId,
      qrCode: outcome.value.qrCode,
      createdAt: new Date((this.options.clock ?? Date.now)()).toISOString(),
    };
    // Two requests at once may both have created a code: the first stored wins, the other is deleted at WeCom.
    if (!(await this.redis.hsetnx(this.key(activity.name), chosen.userId, JSON.stringify(way)))) {
      const winner = await this.redis.hget(this.key(activity.name), chosen.userId);
      if (winner) {
        await this.api.call(this.app, deleteContactWay(way.configId));
        return { ...(JSON.parse(winner) as ContactWay), reused: true };
      }
      await this.redis.hset(this.key(activity.name), chosen.userId, JSON.stringify(way)); // the winner was retired meanwhile
    }
    return { ...way, reused: false };
  }

  /** Deletes, at WeCom and here, every code of an employee who left the pool. */
  async retire(userId: string): Promise<number> {
    let retired = 0;
    for (const activity of this.activities.list) {
      const stored = await this.redis.hget(this.key(activity.name), userId);
      if (!stored) continue;
      const way = JSON.parse(stored) as ContactWay;
      const outcome = await this.api.call(this.app, deleteContactWay(way.configId));
      const where = { activity: activity.name, employee: userId, configId: way.configId };
      // A code WeCom no longer knows is as good as deleted; anything else keeps the record and is tried again at the next add.
      if (outcome.kind === 'ok' || outcome.kind === 'notFound') {
        await this.redis.hdel(this.key(activity.name), userId);
        retired++;
        this.options.logger.info(where, 'contact-me code retired: employee left the pool');
      } else if (outcome.kind === 'permanent') {
        this.options.logger.warn(
          { ...where, errcode: outcome.error.errcode, errmsg: outcome.error.errmsg },
          'WeCom refused to delete a contact-me code: it stays live and is tried again at the next add',
        );
      }
    }
    return retired;
  }

  async list(activityName: string): Promise<ContactWay[]> {
    return Object.values(await this.redis.hgetall(this.key(activityName))).map((v) => JSON.parse(v) as ContactWay);
  }
}
