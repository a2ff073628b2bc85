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
  /**
   * The page's HTML, escaped by the panel; `basePath` is where its actions are posted (`<basePath>/<action>`);
   * `query`: the page's query parameters given once (its filters).
   */
  html(basePath: string, locale: ConsoleLocale, query: Record<string, string>): Promise<string>;
  /** A page of one of its items (`<basePath>/<item>`): its title and HTML, or undefined when there is no such item (404). */
  item?(item: string, basePath: string, locale: ConsoleLocale): Promise<{ title: string; body: string } | undefined>;
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
  /** The notice, shown on the panel's page, or on the page `back` names (an item's, relative to the panel). */
  act(fields: Record<string, string>, caller: Caller, locale: ConsoleLocale): Promise<string | { notice: string; back: string }>;
}

/** A panel's JSON endpoint, under the same rule as its buttons (PanelAction). */
export interface PanelEndpoint {
  permission: Permission;
  answer(body: unknown, caller: Caller, locale: ConsoleLocale): Promise<unknown>;
}
