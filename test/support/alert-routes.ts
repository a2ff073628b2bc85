import type { AlertRoute } from '../../src/alerts/alerts-config';
import type { Config } from '../../src/config/config';

/** A config edit for a harness: the gateway's alert routes are these, and only these. */
export const withAlertRoutes =
  (...routes: AlertRoute[]) =>
  (c: Config): Config => ({ ...c, alerts: { ...c.alerts, routes } });
