import type { Caller, Permission } from '../http/auth';
import type { ConsoleLocale, StringKey } from './locale';

/**
 * A page of the operators' console (`/dashboard/<id>`) about one flow (console/panels/), drawn
 * from what that flow exports, in the reader's language and the console's one time convention (`locale`).
 */
export interface DashboardPanel {
  id: string;
  /** Its name in the navigation and heading: a key of the console's strings (src/console/strings/). */
  title: StringKey;
  /** The page's HTML, escaped by the panel; `basePath` is where its actions are posted (`<basePath>/<action>`). */
  html(basePath: string, locale: ConsoleLocale): Promise<string>;
  /** Its buttons: each takes the form's fields and answers the notice shown on the page afterwards. */
  actions?: Record<string, PanelAction>;
  /** Asset files under public/console the page loads (helmet's CSP allows no inline script). */
  scripts?: string[];
  /**
   * Endpoints the page's script posts to: `POST <basePath>/<name>` takes a JSON body and
   * answers the JSON the function returns; an ApiError answers its status and fields.
   */
  json?: Record<string, PanelEndpoint>;
}

/**
 * A console button stands for an API route: it needs that route's permission (the
 * console itself needs only admin), checked against the caller before it runs, and
 * acts as the caller, within its key's scope.
 */
export interface PanelAction {
  permission: Permission;
  act(fields: Record<string, string>, caller: Caller, locale: ConsoleLocale): Promise<string>;
}

/** A panel's JSON endpoint, under the same rule as its buttons (PanelAction). */
export interface PanelEndpoint {
  permission: Permission;
  answer(body: unknown, caller: Caller, locale: ConsoleLocale): Promise<unknown>;
}
