import type { Logger } from 'pino';
import type { MessageStatus } from '../messages/message-record';
import { field, type CallbackEvent } from '../wecom/callback/event';
import type { EventHandler, EventMatch, EventRule } from '../core';

/**
 * What a module named in the config file's `extensions:` receives: it registers
 * rules for callback events and may send messages as POST /v1/messages would.
 */
export interface ExtensionApi {
  /**
   * A rule run from the inbound queue, after WeCom got its answer; extension rules
   * are tried before the built-in forwarding, in the order the modules are listed.
   */
  on(name: string, match: EventMatch, handle: EventHandler): void;
  /** Accepts a message exactly like POST /v1/messages (same body, same validation); from rule handlers, once the gateway runs. */
  send(message: unknown): Promise<{ id: string; status: MessageStatus }>;
  /** A field of the event as WeCom sent it (`FromUserName`, `EventKey`…). */
  field(event: CallbackEvent, name: string): string | undefined;
  logger: Logger;
}

export type Extension = (api: ExtensionApi) => void | Promise<void>;

/** An extension that cannot be loaded stops start-up with one line naming it. */
export class ExtensionLoadError extends Error {}

/**
 * Loads each module (CommonJS: `module.exports = function (api) {…}` or an exported
 * `register`) and answers the rules it registered, for the gateway to put on its
 * router. Paths are absolute (config/ resolves them against the config file's folder).
 * Nothing here needs a connection, so the gateway loads extensions before it makes
 * any: a broken module stops start-up with nothing to clean up.
 */
export async function loadExtensions(paths: string[], deps: { send: ExtensionApi['send']; logger: Logger }): Promise<EventRule[]> {
  const rules: EventRule[] = [];
  for (const path of paths) {
    const logger = deps.logger.child({ extension: path });
    const api: ExtensionApi = { on: (name, match, handle) => void rules.push({ name, match, handle }), send: deps.send, field, logger };
    let register: unknown;
    try {
      const loaded = require(path) as { register?: unknown; default?: unknown } | ((api: ExtensionApi) => unknown);
      register = typeof loaded === 'function' ? loaded : (loaded.register ?? loaded.default);
    } catch (error) {
      throw new ExtensionLoadError(`extension ${path}: cannot load it: ${(error as Error).message.split('\n')[0]}`);
    }
    if (typeof register !== 'function')
      throw new ExtensionLoadError(`extension ${path}: exports no function (module.exports = function (api) {…}, or exports.register)`);
    try {
      await (register as Extension)(api);
    } catch (error) {
      throw new ExtensionLoadError(`extension ${path}: its register function failed: ${(error as Error).message.split('\n')[0]}`);
    }
    logger.info('extension loaded');
  }
  return rules;
}
