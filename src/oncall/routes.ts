import type { Request } from 'express';
import { z } from 'zod';
import { ApiError } from '../http/errors';
import type { Route } from '../http/route';
import type { OnCall } from './on-call';
import type { Shift } from './rotation';
import type { Override } from './shifts';

/** Shifts GET /v1/oncall/{name} lists after the current one. */
const NEXT_SHIFTS = 5;

const iso = (ms: number) => new Date(ms).toISOString();
const time = z.iso.datetime({ offset: true, error: 'an ISO 8601 time with its offset, e.g. 2026-12-08T09:00:00+08:00' });

const overrideSchema = z
  .object({
    user: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'a WeCom UserID'),
    from: time,
    until: time,
  })
  .strict();

const shiftView = (s: Shift) => ({
  user: s.user,
  since: iso(s.since),
  until: iso(s.until),
  ...(s.override ? { override: s.override } : {}),
});
const overrideView = (o: Override) => ({ id: o.id, user: o.user, from: iso(o.from), until: iso(o.until) });

export interface OnCallRouteDeps {
  onCall: OnCall;
  clock: () => number;
  /** An override added: its start is a handoff. */
  onOverride: (schedule: string, override: Override) => Promise<void>;
}

/** GET /v1/oncall…: who is on call; overrides (admin: an override re-routes a team's pages). */
export function oncallRoutes({ onCall, clock, onOverride }: OnCallRouteDeps): Route[] {
  const scheduleOf = (req: Request) => {
    const name = req.params.name as string;
    const schedule = onCall.schedule(name);
    if (!schedule) throw new ApiError(404, 'unknown_schedule', `no on-call schedule is named ${name} (oncall: in the config file)`);
    return schedule;
  };
  return [
    {
      method: 'get',
      path: '/v1/oncall',
      auth: 'read',
      handler: async (_req, res) => void res.json({ schedules: await everySchedule(onCall, clock()) }),
    },
    {
      method: 'get',
      path: '/v1/oncall/{name}',
      auth: 'read',
      handler: async (req, res) => {
        const { name, timezone } = scheduleOf(req);
        const { now, next } = (await onCall.shifts(name, NEXT_SHIFTS, clock()))!;
        res.json({ name, timezone, now: now ? shiftView(now) : null, next: next.map(shiftView) });
      },
    },
    {
      method: 'post',
      path: '/v1/oncall/{name}/overrides',
      auth: 'admin',
      handler: async (req, res) => {
        const { name } = scheduleOf(req);
        const added = await addOverride(name, req.body, { onCall, clock, onOverride });
        res.status(201).location(`/v1/oncall/${name}/overrides/${added.id}`).json(overrideView(added));
      },
    },
    {
      method: 'get',
      path: '/v1/oncall/{name}/overrides',
      auth: 'read',
      handler: async (req, res) => {
        const { name } = scheduleOf(req);
        res.json({ overrides: (await onCall.overrides.list(name, clock())).map(overrideView) });
      },
    },
    {
      method: 'delete',
      path: '/v1/oncall/{name}/overrides/{id}',
      auth: 'admin',
      handler: async (req, res) => {
        const { name } = scheduleOf(req);
        const id = req.params.id as string;
        if (!(await onCall.overrides.remove(name, id)))
          throw new ApiError(404, 'unknown_override', `schedule ${name} has no override ${id} (ended ones are gone)`);
        res.status(204).end();
      },
    },
  ];
}

/** GET /v1/oncall: each schedule, who is on call and who a page reaches at `at`. */
function everySchedule(onCall: OnCall, at: number) {
  return Promise.all(
    onCall.names().map(async (name) => {
      const now = await onCall.shiftAt(name, at);
      const { timezone } = onCall.schedule(name)!;
      return { name, timezone, now: now ? shiftView(now) : null, paged: await onCall.usersOnCall(name, at) };
    }),
  );
}

/** POST /v1/oncall/{name}/overrides: checked, added unless it overlaps another, its start planned as a handoff. */
async function addOverride(name: string, body: unknown, { onCall, clock, onOverride }: OnCallRouteDeps): Promise<Override> {
  const parsed = overrideSchema.safeParse(body);
  if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
  const [from, until, now] = [Date.parse(parsed.data.from), Date.parse(parsed.data.until), clock()];
  if (until <= from) throw fieldError('until', 'must be after from');
  if (until <= now) throw fieldError('until', 'is in the past: an override is for now or later');
  const outcome = await onCall.overrides.add(name, { user: parsed.data.user, from, until }, now);
  if ('overlaps' in outcome) {
    const other = outcome.overlaps;
    const times = `${other.user}, ${iso(other.from)} to ${iso(other.until)}`;
    const message = `overlaps override ${other.id} (${times}): delete it or choose other times`;
    throw new ApiError(409, 'override_overlap', message, [{ field: 'from', message: `overlaps override ${other.id}` }]);
  }
  await onOverride(name, outcome.added);
  return outcome.added;
}

function fieldError(field: string, message: string): ApiError {
  return new ApiError(400, 'invalid_request', `invalid ${field}: ${message}`, [{ field, message }]);
}
