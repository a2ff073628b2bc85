import { ApiError } from '../http/errors';
import { recipientsSchema, type Recipients } from '../messages/recipients';
import type { AlertRoute, AlertsConfig } from './alerts-config';
import type { Notification } from './payloads';

/** A query parameter of the webhook's URL (`?users=a,b`, `?route=`, `?msgtype=`); a repeated one throws (400 naming it). */
export type QueryParam = (name: string) => string | undefined;

const RECIPIENT_LISTS = ['users', 'parties', 'tags', 'oncall', 'robots', 'chats'] as const;

/** The first configured route whose receiver and labels all match the notification; else the fallback route. */
export function matchRoute(routes: AlertRoute[], n: Notification): AlertRoute | undefined {
  const matching = routes.find(({ match }) => {
    if (!match) return false;
    if (match.receiver !== undefined && match.receiver !== n.receiver) return false;
    return Object.entries(match.labels ?? {}).every(([k, v]) => n.commonLabels[k] === v);
  });
  return matching ?? routes.find((r) => r.fallback);
}

/**
 * Nothing names recipients for this notification. Answered 503, which Alertmanager
 * retries (it drops a 4xx for good) and logs as a failed notification, so the
 * alert keeps coming until a route takes it; the gateway logs it at error and counts it.
 */
export class UnroutedError extends ApiError {
  constructor(n: Notification) {
    super(
      503,
      'unrouted',
      `no alert route matches this notification (receiver ${n.receiver || '(none)'}, labels ${JSON.stringify(n.commonLabels)}) ` +
        'and it names no recipients: add a route with fallback: true, ' +
        'or give ?users=, ?parties=, ?tags=, ?oncall=, ?robots=, ?chats= or ?route=; the sender should retry it',
    );
  }
}

/** `?users=a,b`: a comma-separated list, given once. */
function listOf(query: QueryParam, name: string): string[] | undefined {
  const value = query(name);
  return value
    ? value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean)
    : undefined;
}

/**
 * Recipients from the query (`?users=a,b&parties=…&tags=…&oncall=…&robots=…&chats=…`), a named
 * route (`?route=`), or a matching (or the fallback) route; else UnroutedError.
 */
export function recipientsFor(query: QueryParam, routes: AlertRoute[], n: Notification): { to: Recipients; route?: AlertRoute } {
  const fromQuery = Object.fromEntries(RECIPIENT_LISTS.map((name) => [name, listOf(query, name)]));
  const queried = Object.values(fromQuery).some(Boolean);
  const routeName = query('route');
  const named = routeName === undefined ? undefined : routes.find((r) => r.name === routeName);
  if (routeName !== undefined && !named) throw new ApiError(404, 'unknown_route', `no alert route named ${routeName}`);
  const route = named ?? (queried ? undefined : matchRoute(routes, n));
  const candidate = queried ? fromQuery : route ? Object.fromEntries(RECIPIENT_LISTS.map((name) => [name, route[name]])) : undefined;
  if (!candidate) throw new UnroutedError(n);
  const parsed = recipientsSchema.safeParse(Object.fromEntries(Object.entries(candidate).filter(([, v]) => v !== undefined)));
  if (!parsed.success) throw ApiError.invalid(parsed.error.issues, 'query.');
  return { to: parsed.data, route };
}

/** The shipped notification event in the configured language; a route's `event:` wins. */
export function alertEvent(settings: Pick<AlertsConfig, 'language'>, kind: 'notification' | 'digest'): string {
  return `alert.${kind}${settings.language === 'en' ? '.en' : ''}`;
}
