import { Agent, Dispatcher, Pool, ProxyAgent } from 'undici';

/**
 * The forward proxy outbound calls leave through (HTTP_PROXY, HTTPS_PROXY, NO_PROXY),
 * passed explicitly rather than read from process.env deep inside, so that each
 * gateway (and each test) has its own. NO_PROXY is read as undici reads it; proxyFor
 * alone decides where a call goes (proxiedDispatcher asks it, nothing decides again).
 */
export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  /** Hosts (`host`, `.suffix`, `host:port`, `*`), comma- or space-separated, that are reached directly; trimmed where read. */
  noProxy?: string;
}

/** A URL's port, its scheme's default where it names none (443 for https, 80 otherwise). */
export function portOf(url: { port?: string | number | null; protocol?: string }): number {
  return Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
}

function noProxyEntries(noProxy: string): { hostname: string; port: number }[] {
  return noProxy
    .split(/[,\s]/)
    .filter(Boolean)
    .map((entry) => {
      const parsed = /^(.+):(\d+)$/.exec(entry);
      return { hostname: (parsed ? parsed[1] : entry).replace(/^\*?\./, '').toLowerCase(), port: parsed ? Number(parsed[2]) : 0 };
    });
}

/** Whether NO_PROXY sends `url` direct: an entry `*` (all), or a host, its subdomains, an optional port. */
function bypasses(url: URL, noProxy = ''): boolean {
  const hostname = url.host.replace(/:\d*$/, '').toLowerCase();
  const port = portOf(url);
  return noProxyEntries(noProxy).some(
    (entry) =>
      entry.hostname === '*' ||
      ((!entry.port || entry.port === port) && (hostname === entry.hostname || hostname.endsWith(`.${entry.hostname}`))),
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
  return `${url.protocol}//${url.hostname}:${portOf(url)}`;
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
 * Each call's way out, decided once by proxyFor: the direct agent, or the agent of the
 * proxy proxyFor names. Nothing behind it decides again (an EnvHttpProxyAgent would,
 * by its own copy of the NO_PROXY rule).
 */
class ProxyRouter extends Dispatcher {
  constructor(
    private readonly settings: ProxySettings | undefined,
    private readonly direct: Dispatcher,
    private readonly proxies: Map<string, Dispatcher>,
  ) {
    super();
  }

  override dispatch(options: Dispatcher.DispatchOptions, handler: Dispatcher.DispatchHandler): boolean {
    const proxy = proxyFor(new URL(String(options.origin)), this.settings);
    return (proxy ? this.proxies.get(proxy)! : this.direct).dispatch(options, handler);
  }

  override close(): Promise<void>;
  override close(callback: () => void): void;
  override close(callback?: () => void): Promise<void> | void {
    return this.settle(Promise.all(this.all().map((d) => d.close())), callback);
  }

  override destroy(): Promise<void>;
  override destroy(err: Error | null): Promise<void>;
  override destroy(callback: () => void): void;
  override destroy(err: Error | null, callback: () => void): void;
  override destroy(err?: Error | null | (() => void), callback?: () => void): Promise<void> | void {
    if (typeof err === 'function') [callback, err] = [err, null];
    return this.settle(Promise.all(this.all().map((d) => d.destroy(err ?? null))), callback);
  }

  private all(): Dispatcher[] {
    return [this.direct, ...this.proxies.values()];
  }

  private settle(done: Promise<unknown>, callback?: () => void): Promise<void> | void {
    const settled = done.then(() => undefined);
    if (!callback) return settled;
    void settled.then(callback);
  }
}

/**
 * A keep-alive dispatcher for `options`: through the proxy where proxyFor says so, with
 * the same pool and timeouts either way (`connect` is the direct agent's only), undici's
 * plain Agent otherwise. The proxy's own client gets the connect and headers timeouts
 * too: undici's defaults (10 s, 5 minutes) would hold a call to a proxy that accepts and
 * never answers CONNECT. `through` goes in front of each proxy's agent.
 */
export function proxiedDispatcher(
  settings: ProxySettings | undefined,
  options: Agent.Options,
  through?: Dispatcher.DispatcherComposeInterceptor,
): Dispatcher {
  const direct = new Agent(options);
  if (!usesProxy(settings)) return direct;
  const { connect: _direct, ...pool } = options;
  const uris = new Set([settings?.httpProxy, settings?.httpsProxy].filter((p): p is string => Boolean(p)));
  const proxies = new Map<string, Dispatcher>();
  for (const uri of uris) {
    const agent = new ProxyAgent({
      ...pool,
      uri,
      proxyTls: { timeout: options.connectTimeout },
      clientFactory: (origin, client) => new Pool(origin, { ...client, headersTimeout: options.headersTimeout }),
    });
    proxies.set(uri, through ? agent.compose(through) : agent);
  }
  return new ProxyRouter(settings, direct, proxies);
}
