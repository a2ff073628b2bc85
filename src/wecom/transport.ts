import { FormData, request, type Dispatcher } from 'undici';
import { proxiedDispatcher, proxySecrets, type ProxySettings } from '../http/proxy';
import { classifyErrcode, GatewayErrcode } from './errcodes';
import type { RobotEndpoint } from './group-chat';
import type { NotFound, Outcome, Refusal } from './outcome';

/** A WeCom answer as JSON: errcode and errmsg, and the fields of the API. */
export interface WecomBody {
  errcode?: number;
  errmsg?: string;
  [key: string]: unknown;
}

/**
 * One WeCom API, described once (src/wecom/endpoints/): what to send, and how
 * to read the answer. The transport adds the credential, calls and classifies.
 * `Extra`: notFound, for an endpoint that reads it out of its refusals.
 */
export interface Endpoint<T, Extra extends NotFound = never> {
  /** Its path is /cgi-bin/<api>; also its name in metrics (the `api` label) and in errmsgs. */
  api: string;
  /** Query parameters after the credential (access_token or key). */
  query?: Record<string, string>;
  /** A JSON body, POSTed; with neither body nor upload the call is a GET. */
  json?: object;
  /** A file, POSTed as multipart form data. */
  upload?: { filename: string; content: Buffer };
  /** Reads an answer WeCom accepted (errcode 0). */
  read(body: WecomBody): Outcome<T>;
  /** Reads a refusal further (an errcode that means notFound, or done); without it the refusal is the outcome. */
  refused?(refusal: Refusal): Outcome<T> | Extra;
}

/** How a call is authorised: an app's access_token, a group robot's key, or nothing (gettoken carries its own). */
export type Credential = { token: string } | { robot: RobotEndpoint };

/** Called after every API answer, e.g. to count calls by api and errcode. */
export type CallObserver = (api: string, errcode: number, durationMs: number) => void;

export interface TransportOptions {
  apiBase: string;
  timeoutMs: number;
  onCall?: CallObserver;
  /** How long WeCom blocks the app after a retry errcode (45009), if it does. */
  throttleMs?: (errcode: number) => number | undefined;
  /** HTTP_PROXY / HTTPS_PROXY / NO_PROXY: every call (apps, gettoken, robots) leaves through it. */
  proxy?: ProxySettings;
}

const NETWORK_ERRCODE = GatewayErrcode.network;

/** An answer that lacks what the API promises: retried, or permanent where a retry could do it twice. */
export function answeredWithout(api: string, field: string, kind: 'retry' | 'permanent' = 'retry'): Refusal {
  return { kind, error: { errcode: NETWORK_ERRCODE, errmsg: `${api} answered without ${field}` } };
}

/** Reads an answer that carries nothing more than its acceptance. */
export const accepted = (): Outcome<true> => ({ kind: 'ok', value: true });

/** Redacts access_token / corpsecret / a robot's key / a web login's code (once, within 5 minutes) from anything logged. */
export function redactUrl(url: string): string {
  return url.replace(/\b(access_token|corpsecret|key|code)=[^&\s]*/g, '$1=***');
}

/** How one call differs from a plain WeCom API call: a robot's own API base, and credentials no errmsg may show. */
interface CallTarget {
  query: Record<string, string>;
  apiBase?: string;
  secrets?: string[];
}

/** Removes credentials from a text that leaves the transport (errmsgs end up in statuses and logs). */
function scrub(text: string, secrets: string[] = []): string {
  let out = redactUrl(text);
  for (const secret of secrets) {
    if (secret === '') continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}

function targetOf(credential: Credential | undefined): CallTarget {
  if (credential === undefined) return { query: {} };
  if ('token' in credential) return { query: { access_token: credential.token } };
  const { key, apiBase } = credential.robot;
  return { query: { key }, apiBase: apiBase.replace(/\/+$/, ''), secrets: [key] };
}

type RequestInit = { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string | FormData };

function requestOf(endpoint: Endpoint<unknown, NotFound>): RequestInit {
  if (endpoint.json) return { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(endpoint.json) };
  if (!endpoint.upload) return { method: 'GET' };
  const form = new FormData();
  // The part must be named "media"; its filename is what recipients of a file message see (§3).
  form.append('media', new Blob([endpoint.upload.content], { type: 'application/octet-stream' }), endpoint.upload.filename);
  return { method: 'POST', body: form };
}

/**
 * The HTTP call to WeCom: one keep-alive pool, timeouts, the answer classified
 * (reference §4), credentials scrubbed from every errmsg, each call observed.
 */
export class WecomTransport {
  private readonly dispatcher: Dispatcher;
  /** A proxy's password never reaches an errmsg (undici's messages may quote the proxy's URL). */
  private readonly secrets: string[];

  constructor(
    private readonly options: TransportOptions,
    dispatcher?: Dispatcher,
  ) {
    const { timeoutMs } = options;
    // Keep-alive pool: message/send is called thousands of times a minute.
    this.dispatcher =
      dispatcher ??
      proxiedDispatcher(options.proxy, {
        keepAliveTimeout: 30_000,
        connections: 64,
        headersTimeout: timeoutMs,
        bodyTimeout: timeoutMs,
        connectTimeout: Math.min(timeoutMs, 5_000),
      });
    this.secrets = proxySecrets(options.proxy);
  }

  /** Calls `endpoint` with `credential` and reads the answer as the endpoint says. */
  async call<T, Extra extends NotFound = never>(endpoint: Endpoint<T, Extra>, credential?: Credential): Promise<Outcome<T> | Extra> {
    const target = targetOf(credential);
    const query = new URLSearchParams({ ...target.query, ...endpoint.query });
    const secrets = [...(target.secrets ?? []), ...this.secrets];
    const outcome = await this.send(endpoint.api, `/cgi-bin/${endpoint.api}?${query}`, requestOf(endpoint), { ...target, secrets });
    if (outcome.kind === 'ok') return endpoint.read(outcome.value);
    return endpoint.refused ? endpoint.refused(outcome) : outcome;
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  private async send(api: string, path: string, init: RequestInit, target: CallTarget): Promise<Outcome<WecomBody>> {
    const started = performance.now();
    const apiBase = target.apiBase ?? this.options.apiBase;
    const observe = (errcode: number) => this.options.onCall?.(api, errcode, performance.now() - started);
    let statusCode: number;
    let body: WecomBody;
    try {
      const response = await request(`${apiBase}${path}`, { ...init, dispatcher: this.dispatcher });
      statusCode = response.statusCode;
      const text = await response.body.text();
      if (statusCode >= 500 || statusCode === 429) {
        observe(NETWORK_ERRCODE);
        return { kind: 'retry', error: { errcode: NETWORK_ERRCODE, errmsg: `HTTP ${statusCode} from WeCom ${api}` } };
      }
      if (statusCode >= 400) {
        observe(NETWORK_ERRCODE);
        return { kind: 'permanent', error: { errcode: NETWORK_ERRCODE, errmsg: `HTTP ${statusCode} from WeCom ${api}` } };
      }
      try {
        body = JSON.parse(text) as WecomBody;
      } catch {
        // Something else answers at WECOM_API_BASE (a dev server on the port, a proxy's error page): say so, not "Unexpected token".
        observe(NETWORK_ERRCODE);
        const type = String(response.headers['content-type'] ?? 'no content type');
        const errmsg = `${api}: ${apiBase} answered HTTP ${statusCode} (${type}), not JSON: is WECOM_API_BASE WeCom's API?`;
        return { kind: 'retry', error: { errcode: NETWORK_ERRCODE, errmsg } };
      }
    } catch (error) {
      // Timeouts, resets, refused connections and unparseable answers are transient (§4).
      observe(NETWORK_ERRCODE);
      // undici's messages may quote the URL, which carries the token or a robot's key.
      return {
        kind: 'retry',
        error: { errcode: NETWORK_ERRCODE, errmsg: `${api}: ${scrub(String((error as Error)?.message), target.secrets)}` },
      };
    }
    const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
    observe(errcode);
    const errclass = classifyErrcode(errcode);
    if (errclass === 'ok') return { kind: 'ok', value: body };
    // Only refusals carry an errmsg on: every message/send answer need not be scrubbed.
    const error = { errcode, errmsg: scrub(String(body.errmsg ?? ''), target.secrets) };
    switch (errclass) {
      case 'token':
        return { kind: 'refreshToken', error };
      case 'retry': {
        const afterMs = this.options.throttleMs?.(errcode);
        return afterMs ? { kind: 'retry', error, afterMs } : { kind: 'retry', error };
      }
      default:
        return { kind: 'permanent', error };
    }
  }
}
