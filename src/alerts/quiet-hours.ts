import type { Logger } from 'pino';
import type { MessageService } from '../messages/message-service';
import type { SendRequest } from '../messages/send-request';
import { alertTime, type Notification } from './payloads';
import { keyOf } from './alert-data';
import { AlertGroups } from './alert-groups';
import type { AlertContext } from './alert-context';
import { digestOf, SEPARATOR, type Fold } from './digest-lines';
import type { DigestDestination, HeldAlert, HeldAlerts } from './held-alerts';
import { quietMinutes, quietUntil, type QuietHours as QuietWindow } from './quiet-window';
import { recipientsKey, type StormControl } from './storm';

/** What a notification held (or taken out of the digest) by quiet hours is answered. */
export type QuietAnswer = { status: 'held'; releaseAt: string; removed?: number } | { status: 'unheld'; removed: number };

/** The release of one route's window: a delayed job of the digest queue, `quiet-<route>-<releaseMs>`. */
interface QuietRelease {
  route: string;
  releaseAt: number;
}

export interface QuietHoursDeps {
  held: HeldAlerts;
  groups: AlertGroups;
  /** Storm control's digest queue carries the releases. */
  storm: StormControl;
  messages: MessageService;
  settings: { timeZone: string; keyLabels: string[] };
  /** The digest's event (alert.digest, or alert.digest.en). */
  digestEvent: string;
  logger: Logger;
  clock: () => number;
}

/**
 * A notification passes when its severity (commonLabels', else any of its alerts')
 * is one of `except`: a group with a critical alert in it is never held.
 */
export function passesQuietHours(n: Pick<Notification, 'commonLabels' | 'alerts'>, except: string[]): boolean {
  const common = n.commonLabels.severity;
  return common !== undefined ? except.includes(common) : n.alerts.some((a) => except.includes(a.severity));
}

/**
 * Quiet hours (a route's `quietHours`): inside its window a notification whose
 * severity is not excepted is held in Redis instead of sent; a resolved alert takes
 * its held alert out instead; when the window ends, everything still held goes out
 * as one digest per recipient set (storm control's digest, saying which quiet time).
 */
export class QuietHours {
  private readonly releases: { schedule(data: QuietRelease, jobId: string, delay: number): Promise<void> };

  constructor(private readonly deps: QuietHoursDeps) {
    this.releases = deps.storm.handle<QuietRelease>('quiet', (job, jobId) => this.release(job, jobId));
  }

  /** When the quiet time the notification falls in ends (ms); undefined when it is not held (no quiet time now, or excepted). */
  releaseAtOf(ctx: Pick<AlertContext, 'route' | 'notification'>): number | undefined {
    const quiet: QuietWindow | undefined = ctx.route?.quietHours;
    if (!quiet || passesQuietHours(ctx.notification, quiet.except)) return undefined;
    return quietUntil(quiet, this.deps.settings.timeZone, this.deps.clock());
  }

  /** Holds the notification (or takes its resolved alerts out of the digest) when its route is quiet for it; undefined: it passes. */
  async hold(ctx: AlertContext, request: SendRequest): Promise<QuietAnswer | undefined> {
    const releaseAt = this.releaseAtOf(ctx);
    if (releaseAt === undefined || !ctx.route?.quietHours) return undefined;
    const removed = await this.withdraw(ctx);
    // A resolved alert that was held leaves the digest; one that was not (sent before the quiet time) is held as resolved.
    const rest = ctx.notification.alerts.filter((a) => !removed.has(a.fingerprint));
    if (rest.length === 0) return { status: 'unheld', removed: removed.size };
    const group = await this.openGroupOf(ctx);
    const { from, to } = ctx.route.quietHours;
    const destination: DigestDestination = {
      to: ctx.to,
      ...(request.app ? { app: request.app } : {}),
      ...(ctx.mentions ? { mentions: ctx.mentions } : {}),
      quiet: { from, to },
    };
    await this.deps.held.hold(
      ctx.route.name,
      releaseAt,
      recipientsKey(ctx.to),
      destination,
      rest.map((a) => ({
        fingerprint: a.fingerprint,
        owner: ctx.owner,
        status: a.status,
        alertname: a.name,
        severity: a.severity,
        labels: keyLabelOf(a.labels, this.deps.settings.keyLabels),
        ...(alertTime(a.startsAt) ? { since: alertTime(a.startsAt) } : {}),
        ...(group ? { group } : {}),
      })),
    );
    // Every instance adds the same job id: the first one schedules the release, the others are no-ops.
    const route = ctx.route.name;
    await this.releases.schedule({ route, releaseAt }, `quiet-${route}-${releaseAt}`, Math.max(0, releaseAt - this.deps.clock()));
    if (group) await this.deps.groups.timeline.note(group, { kind: 'held', detail: `until ${new Date(releaseAt).toISOString()}` });
    return { status: 'held', releaseAt: new Date(releaseAt).toISOString(), ...(removed.size > 0 ? { removed: removed.size } : {}) };
  }

  /** A resolution in quiet time takes its resolved alerts out of the window's digest: the fingerprints that were held. */
  async withdraw(ctx: AlertContext): Promise<Set<string>> {
    const releaseAt = ctx.route?.quietHours ? quietUntil(ctx.route.quietHours, this.deps.settings.timeZone, this.deps.clock()) : undefined;
    const resolved = ctx.notification.alerts.filter((a) => a.status === 'resolved').map((a) => a.fingerprint);
    if (releaseAt === undefined || !ctx.route || resolved.length === 0) return new Set();
    return this.deps.held.withdraw(ctx.route.name, releaseAt, recipientsKey(ctx.to), ctx.owner, resolved);
  }

  /**
   * Everything the window still holds goes out, one digest per recipient set; its groups' timelines say so.
   * Only what went out is forgotten: an alert held meanwhile (an instance whose clock lags) has a job of its own.
   */
  async release({ route, releaseAt }: QuietRelease, jobId: string): Promise<void> {
    const window = await this.deps.held.window(route, releaseAt);
    for (const [rk, { destination, alerts }] of window) {
      const request: SendRequest = {
        event: this.deps.digestEvent,
        to: destination.to,
        ...(destination.app ? { app: destination.app } : {}),
        ...(destination.mentions ? { mentions: destination.mentions } : {}),
        // Accepted without a caller (the gateway's own namespace): a retried release is no second digest.
        idempotencyKey: `${jobId}-${rk}`,
        data: {
          ...digestOf(foldOf(alerts), destination.to, this.deps.settings.timeZone, this.deps.clock()),
          windowSeconds: quietMinutes(destination.quiet) * 60,
          quiet: destination.quiet,
        },
      };
      const { id } = await this.deps.messages.accept(request);
      const groups = new Set(alerts.flatMap((a) => (a.group ? [a.group] : [])));
      for (const group of groups) await this.deps.groups.timeline.note(group, { kind: 'released', messageId: id, to: route });
      this.deps.logger.info(
        { route, releaseAt, alerts: alerts.length, messageId: id },
        'quiet hours ended: held alerts sent as one digest',
      );
      await this.deps.held.forget(route, releaseAt, alerts);
    }
    // A window that holds nothing (every alert resolved in the night) is forgotten too.
    if (window.size === 0) await this.deps.held.forget(route, releaseAt, []);
  }

  /** The open group the notification's alerts belong to (sent before the quiet time), whose timeline notes the hold. */
  private async openGroupOf(ctx: AlertContext): Promise<string | undefined> {
    const scope = AlertGroups.scopeOf(ctx.notification.source, ctx.owner, ctx.notification.groupKey, ctx.to);
    const group = await this.deps.groups.latest(scope);
    return group && group.status !== 'resolved' ? group.id : undefined;
  }
}

/** The alert's key label and value, as GET /v1/alerts shows a held alert (`{ instance: "db1:9100" }`). */
function keyLabelOf(labels: Record<string, string>, keyLabels: string[]): Record<string, string> {
  const key = keyOf(labels, keyLabels);
  return key ? { [key.label]: key.value } : {};
}

/** Held alerts as a digest folds them (foldIntoDigest-3.lua's shape, in memory): per status and alertname, count, values, start. */
function foldOf(alerts: HeldAlert[]): Fold {
  const fold: Fold = { counts: { notifications: String(alerts.length) }, members: [], since: {} };
  const members = new Set<string>();
  for (const alert of alerts) {
    const field = `${alert.status}${SEPARATOR}${alert.alertname}`;
    fold.counts[field] = String(Number(fold.counts[field] ?? 0) + 1);
    const value = Object.values(alert.labels)[0];
    if (value) members.add(`${field}${SEPARATOR}${value}`);
    if (alert.since && (!fold.since[field] || alert.since < Number(fold.since[field]))) fold.since[field] = String(alert.since);
  }
  fold.members = [...members];
  return fold;
}
