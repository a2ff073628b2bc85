import { Agent, EnvHttpProxyAgent, type Dispatcher } from 'undici';

/**
 * The forward proxy outbound calls leave through (HTTP_PROXY, HTTPS_PROXY, NO_PROXY),
 * passed explicitly rather than read from process.env deep inside, so that each
 * gateway (and each test) has its own. NO_PROXY follows undici's reading of it.
 */
export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  /** Hosts (`host`, `.suffix`, `host:port`, `*`), comma- or space-separated, that are reached directly. */
  noProxy?: string;
}

const DEFAULT_PORTS: Record<string, number> = { 'http:': 80, 'https:': 443 };

function noProxyEntries(noProxy: string): { hostname: string; port: number }[] {
  return noProxy
    .split(/[,\s]/)
    .filter(Boolean)
    .map((entry) => {
      const parsed = /^(.+):(\d+)$/.exec(entry);
      return { hostname: (parsed ? parsed[1] : entry).replace(/^\*?\./, '').toLowerCase(), port: parsed ? Number(parsed[2]) : 0 };
    });
}

/** Whether NO_PROXY sends `url` direct, as undici's EnvHttpProxyAgent decides it (a host, its subdomains, an optional port). */
function bypasses(url: URL, noProxy = ''): boolean {
  if (noProxy.trim() === '*') return true;
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = Number(url.port) || DEFAULT_PORTS[url.protocol] || 0;
  return noProxyEntries(noProxy).some(
    (entry) => (!entry.port || entry.port === port) && (hostname === entry.hostname || hostname.endsWith(`.${entry.hostname}`)),
  );
}

/** The proxy a call to `url` goes through, or undefined (none set, or NO_PROXY covers it); HTTPS_PROXY unset, HTTP_PROXY serves https. */
export function proxyFor(url: URL, settings: ProxySettings | undefined): string | undefined {
  const proxy = url.protocol === 'https:' ? settings?.httpsProxy || settings?.httpProxy : settings?.httpProxy;
  return proxy && !bypasses(url, settings?.noProxy) ? proxy : undefined;
}

export function usesProxy(settings: ProxySettings | undefined): boolean {
  return Boolean(settings?.httpProxy || settings?.httpsProxy);
}

/** A proxy URL as it may be shown: scheme://host:port, never its user or password. */
export function describeProxy(proxy: string): string {
  const url = new URL(proxy);
  return `${url.protocol}//${url.hostname}:${url.port || DEFAULT_PORTS[url.protocol]}`;
}

/** The proxies' passwords (raw and as written in the URL), for scrubbing texts that could quote them. */
export function proxySecrets(settings: ProxySettings | undefined): string[] {
  return [settings?.httpProxy, settings?.httpsProxy]
    .filter((p): p is string => Boolean(p))
    .flatMap((p) => {
      const { password } = new URL(p);
      return password ? [password, decodeURIComponent(password)] : [];
    });
}

/**
 * A keep-alive dispatcher for `options`: through the proxy where one is set (NO_PROXY
 * honoured, the same pool and timeouts either way), undici's plain Agent otherwise.
 * Empty strings stop EnvHttpProxyAgent from falling back to process.env.
 */
export function proxiedDispatcher(settings: ProxySettings | undefined, options: Agent.Options): Dispatcher {
  if (!usesProxy(settings)) return new Agent(options);
  return new EnvHttpProxyAgent({
    ...options,
    httpProxy: settings?.httpProxy ?? '',
    httpsProxy: settings?.httpsProxy ?? '',
    noProxy: settings?.noProxy ?? '',
  });
}
