import type { Logger } from 'pino';
import { isIP } from 'node:net';
import { buildConnector, request, type Dispatcher } from 'undici';
import { EGRESS_REFUSED, type EgressConfig, EgressRefusedError, type EgressPolicy, httpUrl, NO_REDIRECTS, NOT_HTTP } from './egress';
import { portOf, proxiedDispatcher } from './proxy';

/**
 * How a caller's URL is fetched once the policy (egress.ts) may allow it: an agent
 * that resolves once and connects only to the address it checked, and one request
 * with a whole-request timeout, a size cap, a slowest accepted rate, no redirects,
 * and failures reduced to a generic reason.
 */

/**
 * An undici dispatcher that connects only where the policy allows: its connector
 * resolves the name, checks the addresses and connects to the checked one (IP
 * literals, which net.connect would not look up, are checked the same way).
 * Where proxyFor sends a call through the proxy, see throughProxy: either way the
 * policy is checked, and proxyFor alone decides which way (proxiedDispatcher).
 */
export function egressAgent(policy: EgressPolicy, settings: Pick<EgressConfig, 'timeoutMs' | 'proxy'>): Dispatcher {
  const connect = buildConnector({ timeout: settings.timeoutMs });
  const pinned: buildConnector.connector = (options, callback) => {
    // `host` keeps the name, so TLS still sends it (SNI) and checks the certificate against it.
    policy.addressFor(options.hostname, portOf(options)).then(
      (address) => connect({ ...options, hostname: address }, callback),
      (error: Error) => callback(error, null),
    );
  };
  const timeouts = { connectTimeout: settings.timeoutMs, headersTimeout: settings.timeoutMs };
  return proxiedDispatcher(settings.proxy, { connect: pinned, ...timeouts }, throughProxy(policy));
}

/**
 * A caller's URL bound for the proxy: the proxy would resolve the name itself, so the
 * name is resolved and checked here and the request is addressed to the checked IP
 * (CONNECT ip:port), the name kept for TLS (SNI, the certificate) and the Host header.
 * What the proxy connects to is what was checked: no DNS rebinding in between.
 */
function throughProxy(policy: EgressPolicy): Dispatcher.DispatcherComposeInterceptor {
  return (dispatch) => (options, handler) => {
    const origin = new URL(String(options.origin));
    policy.addressFor(origin.hostname, portOf(origin)).then(
      (address) => {
        const pinned = new URL(origin);
        pinned.hostname = isIP(address) === 6 ? `[${address}]` : address;
        const headers = { ...(options.headers as Record<string, string> | undefined), host: origin.host };
        // servername: undici's Request takes it (its types do not list it), as its own dns interceptor passes it.
        dispatch({ ...options, origin: pinned.origin, headers, servername: origin.hostname } as Dispatcher.DispatchOptions, handler);
      },
      (error: Error) => handler.onResponseError?.(null as never, error),
    );
    return true;
  };
}

export type EgressResult =
  | { kind: 'response'; statusCode: number; body: Buffer }
  /** `refused`: the policy said no (or a redirect); `failed`: the transfer did not work. Reasons are generic, never a socket error. */
  | { kind: 'refused' | 'failed'; reason: string; permanent: boolean };

export interface EgressRequest {
  method?: 'GET' | 'POST';
  headers?: Record<string, string>;
  body?: string;
  /** Whole request, connect to last byte. */
  timeoutMs: number;
  /** Read the response body up to this; absent, the body is discarded. */
  maxBytes?: number;
  /** With maxBytes: a transfer slower than this is cut as `too slow`, permanently (a trickle holds a slot; another try trickles again). */
  minRate?: MinRate;
  /** The policy's agent for a caller's URL; absent (an operator's URL), undici's global one. */
  dispatcher?: Dispatcher;
  /** Where the real error goes (debug): it never reaches a stored status. */
  logger?: Logger;
}

/**
 * The slowest transfer accepted: by any moment t after the request began, at least
 * bytesPerSecond × (t − graceMs) bytes must have arrived. The grace is a head start
 * (connecting, a server preparing the file), so a late start that then keeps pace passes.
 */
export interface MinRate {
  bytesPerSecond: number;
  graceMs: number;
}

export const TOO_SLOW = 'too slow';

/**
 * Aborts once a transfer falls behind `rate`. One timer, set for the moment the bytes
 * received so far stop covering it, then moved on: no polling, nothing per chunk.
 */
function watchRate(rate: MinRate, received: () => number): { signal: AbortSignal; stop: () => void } {
  const controller = new AbortController();
  // The wall clock, not core.clock: the deadline is kept by setTimeout, which only real time moves.
  const started = Date.now();
  let timer: NodeJS.Timeout;
  const check = () => {
    const coveredUntil = started + rate.graceMs + (received() / rate.bytesPerSecond) * 1_000;
    if (Date.now() >= coveredUntil) return controller.abort(new Error(TOO_SLOW));
    timer = setTimeout(check, coveredUntil - Date.now() + 1);
  };
  timer = setTimeout(check, rate.graceMs);
  return { signal: controller.signal, stop: () => clearTimeout(timer) };
}

function sizeLabel(bytes: number): string {
  if (bytes >= 1_048_576) return `${Math.round((bytes / 1_048_576) * 10) / 10} MB`;
  return bytes >= 1_024 ? `${Math.round(bytes / 1_024)} KB` : `${bytes} bytes`;
}

/** Drops a response body unread; undici reports a body destroyed early as an error, which is the point here. */
function discard(response: Dispatcher.ResponseData): void {
  response.body.on('error', () => undefined).destroy();
}

function isTimeout(error: Error & { code?: string }): boolean {
  return (
    error.name === 'TimeoutError' ||
    ['UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT'].includes(error.code ?? '')
  );
}

/**
 * One outbound request the way every caller-steered URL is fetched: a whole-request
 * timeout, a size cap on what is read, no redirects followed (a 3xx is a failure),
 * and failures reduced to a generic reason.
 */
export async function egressRequest(url: string, options: EgressRequest): Promise<EgressResult> {
  const parsed = httpUrl(url);
  if (!parsed) return { kind: 'refused', reason: NOT_HTTP, permanent: true };
  let size = 0;
  const slow = options.minRate && options.maxBytes !== undefined ? watchRate(options.minRate, () => size) : undefined;
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = slow ? AbortSignal.any([timeout, slow.signal]) : timeout;
  let response: Dispatcher.ResponseData | undefined;
  try {
    response = await request(parsed, {
      method: options.method ?? 'GET',
      headers: options.headers,
      body: options.body,
      signal,
      dispatcher: options.dispatcher,
    });
    if (response.statusCode >= 300 && response.statusCode < 400) {
      discard(response);
      return { kind: 'refused', reason: NO_REDIRECTS, permanent: true };
    }
    if (options.maxBytes === undefined) {
      await response.body.dump();
      return { kind: 'response', statusCode: response.statusCode, body: Buffer.alloc(0) };
    }
    const chunks: Buffer[] = [];
    for await (const chunk of response.body) {
      size += (chunk as Buffer).length;
      if (size > options.maxBytes) {
        discard(response);
        return { kind: 'failed', reason: `larger than ${sizeLabel(options.maxBytes)}`, permanent: true };
      }
      chunks.push(chunk as Buffer);
    }
    return { kind: 'response', statusCode: response.statusCode, body: Buffer.concat(chunks) };
  } catch (error) {
    if (response) discard(response);
    options.logger?.debug({ err: error, host: parsed.host }, 'outbound request failed');
    if (error instanceof EgressRefusedError) return { kind: 'refused', reason: EGRESS_REFUSED, permanent: true };
    if (slow?.signal.aborted) return { kind: 'failed', reason: TOO_SLOW, permanent: true };
    return { kind: 'failed', reason: isTimeout(error as Error) ? 'timeout' : 'unreachable', permanent: false };
  } finally {
    slow?.stop();
  }
}
