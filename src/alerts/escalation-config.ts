import { z } from 'zod';

/**
 * Durations as Alertmanager writes them (`90s`, `10m`, `4h`, `1h30m`, `1d`), for
 * silences and escalation levels. A bad one stops start-up with a line naming it.
 */
const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000 };
const DURATION = /^(\d+[smhdw])+$/;

export interface Duration {
  /** As written in the configuration (`1h`): shown on buttons and in silence keys. */
  text: string;
  ms: number;
}

export function parseDuration(text: string): Duration | undefined {
  if (!DURATION.test(text)) return undefined;
  const ms = [...text.matchAll(/(\d+)([smhdw])/g)].reduce((sum, [, n, unit]) => sum + Number(n) * UNIT_MS[unit], 0);
  return ms > 0 ? { text, ms } : undefined;
}

export const durationSchema = z.string().transform((text, ctx) => {
  const parsed = parseDuration(text.trim());
  if (!parsed) ctx.addIssue({ code: 'custom', message: `"${text}" is not a duration (e.g. 90s, 10m, 4h, 1h30m)` });
  return parsed as Duration;
});

/** A silence lasts at least a minute and at most 30 days (Alertmanager keeps expired silences for days, not forever). */
export const silenceDurationSchema = durationSchema.refine(
  (d) => !d || (d.ms >= 60_000 && d.ms <= 30 * 86_400_000),
  'a silence lasts from 1m to 30d',
);
export const silenceDurationsSchema = z.array(silenceDurationSchema).min(1).max(3, 'at most 3 silence buttons fit a card with its links');

const ids = z.array(z.coerce.string().min(1)).min(1);
/** Whom a level rings (ALERT_PHONE): userids, or `oncall:<schedule>` (whoever is on call when the call is placed). */
const callees = z.array(z.string().regex(/^(oncall:)?[^\s:]+$/, 'a userid or oncall:<schedule>')).min(1);
/**
 * One escalation level: whom a firing group goes to when nobody acknowledged,
 * silenced or resolved it within `after` of the previous level's notification.
 */
export const escalationLevelSchema = z
  .object({
    after: durationSchema,
    to: z
      .object({
        ...{ users: ids.optional(), parties: ids.optional(), tags: ids.optional(), robots: ids.optional(), chats: ids.optional() },
        /** Whoever is on call on these schedules when the level is reached (nobody: the next level, at once). */
        oncall: ids.optional(),
        call: callees.optional(),
      })
      .strict()
      .refine((to) => Object.values(to).some(Boolean), 'name users, parties, tags, oncall, robots, chats or call'),
  })
  .strict();
export const escalationSchema = z.array(escalationLevelSchema).min(1).max(5, 'at most 5 levels');

export type EscalationLevel = z.infer<typeof escalationLevelSchema>;
