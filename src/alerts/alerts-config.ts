import { z } from 'zod';
import { httpUrl } from '../http/url-schema';
import { mentionsSchema } from '../messages/mentions';
import type { BudgetLimit } from '../budgets/limit';
import type { AppChoice } from '../wecom/app';
import type { PhoneConfig } from './phone/phone-config';
import { escalationSchema, silenceDurationsSchema, type Duration } from './escalation-config';
import { quietHoursSchema } from './quiet-window';

/** A named set of recipients for monitoring webhooks, chosen by `?route=` or by matching the payload (the config file's `alertRoutes:`). */
export const alertRouteSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_-]+$/),
    users: z.array(z.string()).optional(),
    parties: z.array(z.coerce.string()).optional(),
    tags: z.array(z.coerce.string()).optional(),
    /** Whoever is on call on these schedules (`oncall:`) when each message is sent. */
    oncall: z.array(z.string()).optional(),
    /** Group robots by name, and app group chats by chatid. */
    robots: z.array(z.string()).optional(),
    chats: z.array(z.string()).optional(),
    /** Who the robot and chat messages of this route @-mention. */
    mentions: mentionsSchema.optional(),
    msgtype: z.enum(['markdown', 'text', 'textcard']).optional(),
    /** Event template to render with (default alert.notification). */
    event: z.string().optional(),
    match: z
      .object({ receiver: z.string().optional(), labels: z.record(z.string(), z.string()).optional() })
      .strict()
      .optional(),
    /** Notifications that no other route matches come here (at most one route says so). */
    fallback: z.boolean().optional(),
    /** This route's silences go to this Alertmanager (overrides ALERTMANAGER_URL and GRAFANA_ALERTMANAGER_URL). */
    alertmanager: httpUrl.optional(),
    /** Whom a firing group goes to next when nobody acts on it (the event template's own levels otherwise). */
    escalation: escalationSchema.optional(),
    /** The members whose clicks may silence this route's alerts (default: whoever received the card). */
    silencers: z.array(z.string().min(1)).min(1).optional(),
    /** The card's silence buttons (default ALERT_SILENCE_DURATIONS). */
    silenceDurations: silenceDurationsSchema.optional(),
    /** Notifications of other severities than `except` are held from `from` to `to` and go out as one digest at `to` (quiet-hours.ts). */
    quietHours: quietHoursSchema.optional(),
  })
  .strict();

export type AlertRoute = z.infer<typeof alertRouteSchema>;

export interface AlertsConfig {
  timeZone: string;
  /** Which shipped templates alerts use by default: zh (alert.notification, alert.digest) or en (….en). */
  language: 'zh' | 'en';
  /** The label that tells an alert apart (item keys on cards, hosts in digests): the first of these it carries. */
  keyLabels: string[];
  /** Alerts listed in one message; the rest become "+N more". */
  maxAlertsPerMessage: number;
  /** Identical notifications to the same recipients within this window are sent once. */
  dedupeSeconds: number;
  /** Notifications per recipient set per minute; beyond it they fold into one digest at the end of the minute. 0 = no limit. */
  perRecipientPerMinute: number;
  routes: AlertRoute[];
  /** Where Alertmanager alerts' silences are created. */
  alertmanagerUrl?: string;
  /** Where Grafana alerts' silences are created (never alertmanagerUrl). */
  grafanaAlertmanagerUrl?: string;
  silenceDurations: Duration[];
  /** PUBLIC_URL: robot and chat messages link to the alert's page (`pageUrl`, {publicUrl}/alerts/{id}). */
  publicUrl?: string;
  /** How a level's `call` rings (ALERT_PHONE). */
  phone: PhoneConfig;
}

/** What the alerts flow reads from the configuration (wire.ts). */
export interface AlertsSettings extends AppChoice {
  alerts: AlertsConfig;
  /** The robots' budget (storm control holds robot messages within it) and the retry delay of the alert jobs. */
  send: { robotQuota: BudgetLimit; retryBaseDelayMs: number };
  retentionSeconds: number;
  /** WORKERS: the worker roles this instance runs. */
  workers: Set<string>;
}
