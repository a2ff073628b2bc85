import { z } from 'zod';
import { ApiError } from '../http/errors';
import { limitParam, type Route } from '../http/route';
import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import type { Activities } from './activities';
import type { ContactWays } from './contact-ways';
import type { EmployeePool } from './employee-pool';

const contactWayRequest = z.object({ activity: z.string().min(1) }).strict();

export function welcomeRoutes(
  activities: Activities,
  pool: EmployeePool,
  contactWays: ContactWays,
  redis: RedisClient,
  keys: RedisKeys['welcome'],
): Route[] {
  return [
    {
      method: 'get',
      path: '/v1/welcome/activities',
      auth: 'read',
      handler: async (_req, res) => {
        res.json({
          activities: await Promise.all(
            activities.list.map(async (a) => ({
              activity: a.name,
              state: a.state,
              description: a.description,
              fallback: a.fallback,
              tags: a.tags,
              employees: a.employees,
              contactWays: await contactWays.list(a.name),
            })),
          ),
        });
      },
    },
    {
      method: 'get',
      path: '/v1/welcome/pool',
      auth: 'read',
      handler: async (_req, res) => {
        res.json({ day: pool.day(), employees: await pool.entries() });
      },
    },
    {
      method: 'get',
      path: '/v1/welcome/outcomes',
      auth: 'read',
      handler: async (req, res) => {
        const raw = await redis.lrange(keys.outcomes, 0, limitParam(req) - 1);
        res.json({ outcomes: raw.map((r) => JSON.parse(r) as unknown) });
      },
    },
    {
      method: 'post',
      path: '/v1/contact-ways',
      auth: 'send',
      handler: async (req, res) => {
        const parsed = contactWayRequest.safeParse(req.body);
        if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
        const way = await contactWays.forActivity(parsed.data.activity);
        res.status(way.reused ? 200 : 201).json(way);
      },
    },
  ];
}
