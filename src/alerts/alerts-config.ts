import type { Mentions } from '../wecom/group-chat';
import type { Duration, EscalationLevel } from './escalation-config';

/** A named set of recipients for monitoring webhooks, chosen by `?route=` or by matching the payload. */
export interface AlertRoute {
  name: string;
  users?: string[];
  parties?: string[];
  tags?: string[];
  /** Group robots by name, and app group chats by chatid. */
  robots?: string[];
  chats?: string[];
  /** Who the robot and chat messages of this route @-mention. */
  mentions?: Mentions;
  msgtype?: 'markdown' | 'text' | 'textcard';
  /** Event template to render with (default alert.notification). */
  event?: string;
  match?: { receiver?: string; labels?: Record<string, string> };
  /** Notifications that no other route matches come here (at most one route says so). */
  fallback?: boolean;
  /** This route's silences go to this Alertmanager (overrides ALERTMANAGER_URL and GRAFANA_ALERTMANAGER_URL). */
  alertmanager?: string;
  /** Whom a firing group goes to next when nobody acts on it (the event template's own levels otherwise). */
  escalation?: EscalationLevel[];
  /** The members whose clicks may silence this route's alerts (default: whoever received the card). */
  silencers?: string[];
  /** The card's silence buttons (default ALERT_SILENCE_DURATIONS). */
  silenceDurations?: Duration[];
}

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
}
