import type { WecomApp } from './app';
import type { RobotEndpoint } from './group-chat';
import type { NotFound, Outcome } from './outcome';
import { TokenError, type TokenStore } from './token-store';
import type { Endpoint, WecomTransport } from './transport';

/**
 * WeCom's API with tokens handled: `call(app, sendMessage(payload))` fetches the
 * shared token, and on a token error drops it (compare-and-delete) and tries once
 * more with a fresh one (reference §1). Still answers a classified outcome;
 * retries belong to the queues.
 */
export class WecomApi {
  constructor(
    private readonly transport: WecomTransport,
    private readonly tokens: TokenStore,
  ) {}

  async call<T, Extra extends NotFound = never>(app: WecomApp, endpoint: Endpoint<T, Extra>): Promise<Outcome<T> | Extra> {
    for (let attempt = 1; ; attempt++) {
      let token: string;
      try {
        token = await this.tokens.get(app);
      } catch (error) {
        if (!(error instanceof TokenError)) throw error;
        return error.transient ? { kind: 'retry', error: error.error, afterMs: error.afterMs } : { kind: 'permanent', error: error.error };
      }
      const outcome = await this.transport.call(endpoint, { token });
      if (outcome.kind !== 'refreshToken') return outcome;
      await this.tokens.invalidate(app, token);
      // A token refused twice in a row is WeCom having a moment, not our token: back off.
      if (attempt >= 2) return { kind: 'retry', error: outcome.error };
    }
  }

  /** Group robots need no token: the endpoint's key is the credential. */
  robot<T, Extra extends NotFound = never>(robot: RobotEndpoint, endpoint: Endpoint<T, Extra>): Promise<Outcome<T> | Extra> {
    return this.transport.call(endpoint, { robot });
  }
}
