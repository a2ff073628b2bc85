import { z } from 'zod';
import { isTimeZone } from '../config/env-schema';
import { minutesOfDay, TIME_OF_DAY } from './zoned-time';

const EVERY = /^([1-9][0-9]{0,2})([dw])$/;
const START = /^([0-9]{4})-([0-9]{2})-([0-9]{2})$/;

/**
 * One on-call schedule (the config file's `oncall:`, CONTRACT.md "On call"). Its
 * values are checked together, so that each problem names the schedule it is in:
 * "oncall.0.rotation.every: schedule sre: …". Layers are several schedules
 * (sre-primary, sre-secondary), not a list inside one.
 */
export const oncallScheduleSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a name of letters, digits, - and _ (it is part of URLs and job ids)'),
    /** IANA zone of `handoff` and `start`; default ALERT_TIMEZONE. */
    timezone: z.string().optional(),
    rotation: z
      .object({
        users: z.array(z.string().min(1)),
        /** Shift length: `Nd` days or `Nw` weeks, on the calendar (a daylight-saving day is 23 or 25 hours). */
        every: z.string(),
        /** The local time shifts change. */
        handoff: z.string(),
        /** The day the first user's shift begins, at `handoff`. */
        start: z.string(),
      })
      .strict(),
    /** Who is paged when nobody is on call (before `start`). */
    fallback: z.array(z.string().min(1)).optional(),
    /** Where each handoff is also posted: group robots by name, app group chats by chatid. */
    announce: z
      .object({ robots: z.array(z.string()).optional(), chats: z.array(z.string()).optional() })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((schedule, ctx) => {
    const problem = (path: (string | number)[], message: string) =>
      ctx.addIssue({ code: 'custom', path, message: `schedule ${schedule.name}: ${message}` });
    const { rotation } = schedule;
    if (schedule.timezone !== undefined && !isTimeZone(schedule.timezone))
      problem(['timezone'], `${JSON.stringify(schedule.timezone)} is not an IANA time zone (e.g. Asia/Shanghai)`);
    if (rotation.users.length === 0) problem(['rotation', 'users'], 'no users: name who takes the shifts, in order');
    if (!EVERY.test(rotation.every))
      problem(['rotation', 'every'], `${JSON.stringify(rotation.every)}: give Nd (days) or Nw (weeks), e.g. 1d, 1w, 2w`);
    if (!TIME_OF_DAY.test(rotation.handoff))
      problem(['rotation', 'handoff'], `${JSON.stringify(rotation.handoff)}: give a time HH:MM, e.g. "09:00"`);
    if (!validDate(rotation.start))
      problem(['rotation', 'start'], `${JSON.stringify(rotation.start)}: give a date YYYY-MM-DD, e.g. "2026-12-01"`);
  });

/** The section: schedules with distinct names. */
export const oncallSchema = z.array(oncallScheduleSchema).superRefine((schedules, ctx) => {
  const seen = new Set<string>();
  schedules.forEach((s, i) => {
    if (seen.has(s.name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `schedule ${s.name}: the name is used twice` });
    seen.add(s.name);
  });
});

export type OnCallScheduleConfig = z.infer<typeof oncallScheduleSchema>;

/** A schedule as the gateway runs it: its zone decided (ALERT_TIMEZONE when the file gives none). */
export type OnCallSchedule = Omit<OnCallScheduleConfig, 'timezone'> & { timezone: string };

/** `Config.oncall` from the file's section. */
export function oncallSection(schedules: OnCallScheduleConfig[], defaultTimeZone: string): OnCallSchedule[] {
  return schedules.map((s) => ({ ...s, timezone: s.timezone ?? defaultTimeZone }));
}

/** What the schema cannot see alone: the robots a schedule announces to must be configured. */
export function oncallProblems(schedules: OnCallScheduleConfig[], robotNames: Set<string>, filePath: string | undefined): string[] {
  return schedules.flatMap((s, i) =>
    (s.announce?.robots ?? [])
      .filter((robot) => !robotNames.has(robot))
      .map((robot) => `${filePath}: oncall.${i}.announce.robots: schedule ${s.name}: no robot is named ${robot}`),
  );
}

function validDate(text: string): boolean {
  const m = START.exec(text);
  if (!m) return false;
  const [year, month, day] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCFullYear() === year && d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

/** A checked schedule's rotation as numbers. */
export function rotationOf(schedule: OnCallSchedule) {
  const every = EVERY.exec(schedule.rotation.every)!;
  const handoff = minutesOfDay(schedule.rotation.handoff);
  const start = START.exec(schedule.rotation.start)!;
  return {
    users: schedule.rotation.users,
    days: Number(every[1]) * (every[2] === 'w' ? 7 : 1),
    hour: Math.floor(handoff / 60),
    minute: handoff % 60,
    start: { year: Number(start[1]), month: Number(start[2]), day: Number(start[3]) },
    timeZone: schedule.timezone,
  };
}

export type Rotation = ReturnType<typeof rotationOf>;
