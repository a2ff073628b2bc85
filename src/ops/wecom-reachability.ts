import type { Logger } from 'pino';
import type { WecomApp } from '../wecom/app';
import { getCallbackIps } from '../wecom/endpoints/agent';
import { errcodeHint } from '../wecom/errcodes';
import type { WecomError } from '../wecom/outcome';
import type { WecomApi } from '../wecom/wecom-api';
import type { Metrics } from './metrics';

/** What went wrong, in the operator's words: WeCom's (or the gateway's) message, then what to check. */
export function describeWecomError(error: WecomError): string {
  const hint = errcodeHint(error.errcode, error.errmsg);
  return `errcode ${error.errcode} ${error.errmsg}${hint ? ` (${hint})` : ''}`;
}

/**
 * Whether each app reaches WeCom, known from start-up on: a firewall, a missing
 * proxy or a wrong WECOM_API_BASE shows at once (an error line, /readyz details,
 * the `wecom_gateway_wecom_reachable` gauge) instead of per message a minute
 * later. The check is getcallbackip with the shared token, which needs the
 * network, a working secret and a trusted IP; every gettoken reports too. While
 * an app fails, the check repeats, so the gauge turns back by itself.
 */
export class WecomReachability {
  /** app name -> undefined (reachable) or what failed; absent until known. */
  private readonly problems = new Map<string, string | undefined>();
  private recheck: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly deps: { metrics: Metrics; logger: Logger; recheckMs: number }) {}

  /** Checks every app now and keeps checking the failing ones. */
  watch(apps: WecomApp[], api: WecomApi): void {
    const check = async (list: WecomApp[]) => {
      for (const app of list) {
        const outcome = await api.call(app, getCallbackIps());
        if (this.closed) return;
        this.record(app, outcome.kind === 'ok' ? undefined : outcome.error);
      }
      const failing = apps.filter((app) => this.problems.get(app.name) !== undefined);
      if (failing.length > 0 && !this.closed) this.recheck = setTimeout(() => void check(failing), this.deps.recheckMs).unref();
    };
    void check(apps).catch((err: Error) => this.deps.logger.warn({ err: err.message }, 'WeCom reachability check failed'));
  }

  /** A call's result for an app: logged when it changes (error once, info when it is back). */
  record(app: WecomApp, error: WecomError | undefined): void {
    const known = this.problems.has(app.name);
    const before = this.problems.get(app.name);
    const problem = error ? describeWecomError(error) : undefined;
    this.problems.set(app.name, problem);
    this.deps.metrics.wecomReachable.set({ app: app.name }, problem ? 0 : 1);
    if (problem && before === undefined)
      this.deps.logger.error(
        { app: app.name },
        `cannot reach WeCom for app ${app.name}: ${problem}; messages wait in ` +
          `their queue and are retried (npm run doctor checks the whole setup)`,
      );
    else if (!problem && known && before !== undefined)
      this.deps.logger.info({ app: app.name }, `WeCom reachable again for app ${app.name}`);
  }

  /** For /readyz: per app "ok" or "unreachable: …" (details only: accepting works without WeCom). */
  details(): Record<string, string> {
    return Object.fromEntries([...this.problems].map(([app, problem]) => [app, problem ? `unreachable: ${problem}` : 'ok']));
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.recheck);
  }
}
