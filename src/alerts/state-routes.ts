import { alertOwnerOf, callerOf, visibleTo, type Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import { limitParam, queryParam, type Route } from '../http/route';
import { describeRecipients, type AlertCard, type AlertGroup, type AlertGroups } from './alert-groups';
import { ALERT_STATUSES, type AlertStatus } from './alert-state';
import type { AlertTracking } from './alert-tracking';
import type { HeldAlert } from './held-alerts';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());

/** A group is its owner's (the key that opened it, or the keys sharing its alertOwner); an admin sees all. */
export const ownedBy = (group: Pick<AlertGroup, 'createdBy'>, caller: Caller) =>
  visibleTo(group, caller) || group.createdBy === alertOwnerOf(caller);

/** What GET /v1/alerts/{id} answers: the group's state, its escalation, and every card sent. */
export function alertView(group: AlertGroup, cards: AlertCard[], levels: number) {
  const { acked, silence, assigned } = group;
  return {
    id: group.id,
    source: group.source,
    groupKey: group.groupKey,
    title: group.title,
    severity: group.severity,
    status: group.status,
    ...(group.route ? { route: group.route } : {}),
    createdBy: group.createdBy,
    firingSince: iso(group.firingSince),
    updatedAt: iso(group.updatedAt),
    ...(group.resolvedAt ? { resolvedAt: iso(group.resolvedAt) } : {}),
    matchers: group.matchers,
    ...(acked ? { acked: { by: acked.by, ...(acked.name ? { name: acked.name } : {}), at: iso(acked.at), via: acked.via ?? 'card' } } : {}),
    ...(assigned
      ? { assigned: { to: assigned.to, ...(assigned.toName ? { toName: assigned.toName } : {}), by: assigned.by, at: iso(assigned.at) } }
      : {}),
    ...(silence
      ? {
          silence: {
            // Never "silenced" before Alertmanager said so: pending until it has an id.
            state: silence.id ? 'created' : silence.error ? 'failed' : 'pending',
            by: silence.by,
            ...(silence.name ? { name: silence.name } : {}),
            duration: silence.duration,
            at: iso(silence.at),
            ...(silence.id ? { id: silence.id, until: iso(silence.until) } : {}),
            ...(silence.error ? { error: silence.error } : {}),
          },
        }
      : {}),
    escalation: { level: group.level, levels },
    cards: cards.map((card) => ({
      ...(card.taskId ? { taskId: card.taskId } : {}),
      messageId: card.messageId,
      to: card.to,
      level: card.level,
      ...(card.from ? { escalatedFrom: describeRecipients(card.from) } : {}),
      sentAt: iso(card.sentAt),
      ...(card.sendCodeUsed ? { resolvedInPlace: Boolean(card.taskId) } : {}),
    })),
  };
}

export type AlertView = ReturnType<typeof alertView>;

/** What GET /v1/alerts' `held` lists: an alert quiet hours hold, and when it goes out. */
export const heldView = (held: HeldAlert) => ({
  route: held.route,
  status: held.status,
  alertname: held.alertname,
  severity: held.severity,
  labels: held.labels,
  since: iso(held.since) ?? null,
  heldAt: iso(held.heldAt),
  releaseAt: iso(held.releaseAt),
});

/** Alert groups as the gateway followed them (cards, acks, silences, escalation): GET /v1/alerts and /v1/alerts/{id}. */
export class AlertViews {
  constructor(
    private readonly groups: AlertGroups,
    private readonly tracking: AlertTracking,
    /** What quiet hours hold now. */
    private readonly held: { list(): Promise<HeldAlert[]> },
  ) {}

  async view(group: AlertGroup): Promise<AlertView> {
    return alertView(group, await this.groups.cards(group.id), this.tracking.levelsOf(group.route, group.event).length);
  }

  routes(): Route[] {
    return [
      {
        method: 'get',
        path: '/v1/alerts',
        auth: 'read',
        handler: async (req, res) => {
          const limit = limitParam(req, 50);
          const status = queryParam(req, 'status');
          if (status !== undefined && !ALERT_STATUSES.includes(status as AlertStatus))
            throw new ApiError(400, 'invalid_request', `status must be one of ${ALERT_STATUSES.join(', ')}`, [
              { field: 'query.status', message: ALERT_STATUSES.join(', ') },
            ]);
          const caller = callerOf(res);
          // Every group kept (at most 500), then what this caller may see.
          const groups = await this.groups.recent(500);
          const visible = groups.filter((g) => ownedBy(g, caller) && (!status || g.status === status)).slice(0, limit);
          // Held alerts as groups are: the caller's own (or its alertOwner's), all of them for an admin.
          const held = (await this.held.list()).filter((h) => ownedBy({ createdBy: h.owner }, caller)).map(heldView);
          res.json({ alerts: await Promise.all(visible.map((g) => this.view(g))), held });
        },
      },
      {
        method: 'get',
        path: '/v1/alerts/{id}',
        auth: 'read',
        handler: async (req, res) => {
          const id = String(req.params.id);
          const group = /^[0-9a-f]{20}$/.test(id) ? await this.groups.get(id) : undefined;
          // Another caller's group is answered as if it did not exist, as messages are.
          if (!group || !ownedBy(group, callerOf(res)))
            throw new ApiError(404, 'not_found', `no alert group ${id} (unknown or older than the retention)`);
          const timeline = await this.groups.timeline.of(group.id);
          res.json({ ...(await this.view(group)), timeline: timeline.map((entry) => ({ ...entry, at: iso(entry.at) })) });
        },
      },
    ];
  }
}
