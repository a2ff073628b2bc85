import { BlockList, isIP } from 'node:net';
import type { Logger } from 'pino';
import type { WecomApp } from '../wecom/app';
import { getCallbackIps } from '../wecom/endpoints/agent';
import type { WecomApi } from '../wecom/wecom-api';

const REFRESH_MS = 60 * 60 * 1000;

const familyOf = (address: string) => (isIP(address) === 6 ? 'ipv6' : 'ipv4');

/**
 * getcallbackip's entries as a BlockList: WeCom answers ranges (`101.226.103.0/25`)
 * as well as single addresses, so an exact string match refuses its real pushes.
 * BlockList also matches an IPv4-mapped caller (::ffff:a.b.c.d, a dual-stack
 * listener's view) against IPv4 entries. What cannot be read is returned apart.
 */
export function readCallbackIps(entries: string[]): { list: BlockList; count: number; unreadable: string[] } {
  const list = new BlockList();
  const unreadable: string[] = [];
  let count = 0;
  for (const entry of entries.map((e) => e.trim())) {
    const [network, prefix, ...rest] = entry.split('/');
    const max = isIP(network) === 6 ? 128 : 32;
    if (!isIP(network) || rest.length > 0 || (prefix !== undefined && !(/^\d{1,3}$/.test(prefix) && Number(prefix) <= max))) {
      unreadable.push(entry);
      continue;
    }
    if (prefix === undefined) list.addAddress(network, familyOf(network));
    else list.addSubnet(network, Number(prefix), familyOf(network));
    count++;
  }
  return { list, count, unreadable };
}

/**
 * Optional defense in depth (reference §10): callbacks only from WeCom's
 * published callback IPs. The signature remains the real authentication, and
 * community reports mention callbacks from unlisted IPs, so while no list could
 * be fetched the allowlist fails open and says so in the logs.
 */
export class CallbackIpAllowlist {
  private allowed = readCallbackIps([]);
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
    const outcome = await this.api.call(this.app, getCallbackIps());
    const read = outcome.kind === 'ok' ? readCallbackIps(outcome.value) : undefined;
    if (read && read.unreadable.length > 0)
      this.logger.warn({ unreadable: read.unreadable }, 'getcallbackip answered entries that are neither an address nor a range; skipped');
    if (read && read.count > 0) {
      this.allowed = read;
      this.logger.info({ count: read.count }, 'refreshed WeCom callback IP allowlist');
    } else {
      this.logger.warn(
        { error: outcome.kind === 'ok' ? 'no address or range in the list' : outcome.error },
        'could not refresh WeCom callback IPs; keeping the previous list',
      );
    }
  }

  allows(ip: string | undefined): boolean {
    if (this.allowed.count === 0) return true;
    if (ip === undefined || !isIP(ip)) return false;
    return this.allowed.list.check(ip, familyOf(ip));
  }
}
