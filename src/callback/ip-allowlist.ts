import type { Logger } from 'pino';
import type { WecomApp } from '../wecom/app';
import type { WecomApi } from '../wecom/wecom-api';

const REFRESH_MS = 60 * 60 * 1000;

function normalize(ip: string): string {
  return ip.startsWith('::ffff:') ? ip.slice(7) : ip;
}

/**
 * Optional defense in depth (reference §10): callbacks only from WeCom's
 * published callback IPs. The signature remains the real authentication, and
 * community reports mention callbacks from unlisted IPs, so while no list could
 * be fetched the allowlist fails open and says so in the logs.
 */
export class CallbackIpAllowlist {
  private allowed = new Set<string>();
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly api: WecomApi,
    private readonly app: WecomApp,
    private readonly logger: Logger,
  ) {}

  async start(): Promise<void> {
    await this.refresh();
    this.timer = setInterval(() => void this.refresh(), REFRESH_MS);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async refresh(): Promise<void> {
    const outcome = await this.api.getCallbackIps(this.app);
    if (outcome.kind === 'ok' && outcome.value.length > 0) {
      this.allowed = new Set(outcome.value.map(normalize));
      this.logger.info({ count: this.allowed.size }, 'refreshed WeCom callback IP allowlist');
    } else {
      this.logger.warn({ error: outcome.kind === 'ok' ? 'empty list' : outcome.error }, 'could not refresh WeCom callback IPs; keeping the previous list');
    }
  }

  allows(ip: string | undefined): boolean {
    if (this.allowed.size === 0) return true;
    return ip !== undefined && this.allowed.has(normalize(ip));
  }
}
