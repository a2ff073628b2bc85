import { z } from 'zod';
import { ApiError } from '../http/errors';
import type { MessageService } from '../messages/message-service';
import type { SendRequest } from '../messages/send-request';
import type { Recipients } from '../messages/recipients';
import { cardData, groupTemplateData } from './alert-card';
import { firstStart, lastEnd, notificationData, sharedLabels } from './alert-data';
import type { AlertGroup } from './alert-groups';
import type { SilenceTargets } from './alertmanager';
import type { AlertsConfig } from './alerts-config';
import type { Duration } from './escalation-config';
import { parseNotification } from './payloads';
import { alertEvent, matchRoute } from './alert-routing';

/**
 * What the console's alert playground posts: a payload as Alertmanager
 * or Grafana sends it, and a route (or none: the one that would match).
 */
export const alertTryoutSchema = z
  .object({
    source: z.enum(['alertmanager', 'grafana']),
    payload: z.unknown(),
    route: z.string().max(64).optional(),
  })
  .strict();

export interface AlertTryoutDeps {
  messages: MessageService;
  settings: AlertsConfig;
  silenceTargets: SilenceTargets;
  durationsOf(route: string | undefined): Duration[];
  /** Members get cards (AlertTracking's interactive): the card is the form they are sent. */
  interactive: boolean;
  /** The gateway's clock (core.clock): the group's times as a webhook now would get them. */
  clock: () => number;
}

/** One form the notification becomes, and whether the gateway sends that one (members get one form; the others are shown to compare). */
export interface TryoutForm {
  request: SendRequest;
  sent: boolean;
}

/**
 * What the forms shown differ in from what a webhook gets, for the console to word:
 * `unrouted`, no route matches, so the webhook answers 503 unless its URL names
 * recipients (the forms go to a stand-in member); `resolution`, cards the gateway
 * sent for the group are updated in place, and members without one get the resolved message.
 */
export type TryoutNote = 'unrouted' | 'resolution';

/** Who the playground shows the members' forms to when the route names none (a robot-only route, or no route). */
const TRY_MEMBER = 'playground';

/**
 * What a notification becomes on a route, form by form, with nothing stored or
 * sent: the card (as its first level would get it), the markdown, text and
 * textcard, and each robot's form. The console previews these requests exactly
 * as it previews any message (MessageService.preview).
 */
export function alertTryout(
  body: unknown,
  deps: AlertTryoutDeps,
): { route?: string; event: string; forms: TryoutForm[]; note?: TryoutNote } {
  const input = alertTryoutSchema.safeParse(body);
  if (!input.success) throw ApiError.invalid(input.error.issues);
  const { source, payload, route: routeName } = input.data;
  const n = parseNotification(source, payload, 'payload.');
  const routes = deps.settings.routes;
  const route = routeName ? routes.find((r) => r.name === routeName) : matchRoute(routes, n);
  if (routeName && !route)
    throw new ApiError(404, 'unknown_route', `no alert route named ${routeName}`, [
      { field: 'route', message: `configured: ${routes.map((r) => r.name).join(', ') || 'none'}` },
    ]);
  const event = route?.event ?? alertEvent(deps.settings, 'notification');
  const template = deps.messages.template(event);
  if (!template) throw new ApiError(404, 'unknown_event', `unknown event ${event}`);

  const now = deps.clock();
  const routeMembers = route
    ? Object.fromEntries((['users', 'parties', 'tags'] as const).filter((list) => route[list]?.length).map((list) => [list, route[list]]))
    : {};
  const members: Recipients = Object.keys(routeMembers).length > 0 ? routeMembers : { users: [TRY_MEMBER] };
  const silenceVia = deps.silenceTargets.for(n.source, route?.name);
  // The group the gateway would open (or resolve) for it, never stored.
  const group: AlertGroup = {
    id: 'preview00000000000000',
    scope: 'preview',
    source: n.source,
    groupKey: n.groupKey,
    title: n.title,
    severity: n.commonLabels.severity ?? n.alerts[0]?.severity ?? 'unknown',
    status: n.status,
    level: 0,
    createdBy: 'preview',
    ...(route ? { route: route.name } : {}),
    event,
    firingSince: firstStart(n.alerts, now),
    updatedAt: now,
    ...(n.status === 'resolved' ? { resolvedAt: lastEnd(n.alerts, now) } : {}),
    matchers: sharedLabels(n),
    ...(silenceVia ? { silenceVia } : {}),
    data: notificationData(n, deps.settings) as unknown as Record<string, unknown>,
    to: members,
  };
  const data = groupTemplateData(group, deps.settings, now);
  const card = cardData(group, { taskId: 'alert_preview_1' }, deps.durationsOf(route?.name));
  const memberForms = (['template_card', 'markdown', 'text', 'textcard'] as const).filter((m) => template.msgtypes.includes(m));
  // As AlertTracking.cardsFor decides: the card when members can click and no
  // other form is asked for, else the route's form or the event's default.
  const sentForm =
    deps.interactive && memberForms[0] === 'template_card' && !route?.msgtype
      ? 'template_card'
      : (route?.msgtype ?? template.defaultMsgtype);
  // Without a route the webhook is refused (503): nothing is sent.
  const membersTold = Object.keys(routeMembers).length > 0;
  const forms: TryoutForm[] = memberForms.map((msgtype) => ({
    request: deps.messages.parse({ event, msgtype, to: members, data: msgtype === 'template_card' ? { ...data, card } : data }),
    sent: membersTold && msgtype === sentForm,
  }));
  // Robots get the event's markdown; a chat's body is the same conversion (and a preview would ask the chat directory).
  if (route?.robots?.length)
    forms.push({
      request: deps.messages.parse({
        event,
        ...(route.msgtype ? { msgtype: route.msgtype } : {}),
        to: { robots: route.robots },
        data,
        ...(route.mentions ? { mentions: route.mentions } : {}),
      }),
      sent: true,
    });
  const note: TryoutNote | undefined = !route ? 'unrouted' : n.status === 'resolved' ? 'resolution' : undefined;
  return { ...(route ? { route: route.name } : {}), event, forms, ...(note ? { note } : {}) };
}
