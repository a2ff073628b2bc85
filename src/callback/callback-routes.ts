import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ApiError, type FieldProblem } from '../http/errors';
import type { Route } from '../http/route';
import { childrenOf, type Metrics } from '../ops/metrics';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import type { WecomApp } from '../wecom/app';
import { CallbackCrypto, CallbackCryptoError } from '../wecom/callback/crypto';
import { dedupeKeyFor, describe, eventHeader, type CallbackEvent } from '../wecom/callback/event';
import { buildPassiveTextReply, buildReplyEnvelope, envelopeEncrypt, parseCallbackXml, XmlError } from '../wecom/callback/xml';
import { AutoReplyTimeout, type AutoReplies } from './auto-reply';
import type { CallbackConfig } from './callback-config';
import type { EventRouter } from './event-router';
import type { InboundQueue } from './inbound-queue';
import type { CallbackIpAllowlist } from './ip-allowlist';

export interface CallbackDeps {
  apps: WecomApp[];
  defaultApp: string;
  settings: CallbackConfig;
  keys: RedisKeys;
  redis: RedisClient;
  inbound: InboundQueue;
  router: EventRouter;
  autoReplies: AutoReplies;
  allowlists: Map<string, CallbackIpAllowlist>;
  metrics: Metrics;
  logger: Logger;
  /** Resolves once Redis replicas hold what was written (Core.replicated): the push is acknowledged only then. */
  replicated?: () => Promise<void>;
  now?: () => number;
}

/** How long a push's dedupe key is kept at least: far beyond WeCom's retries (seconds apart). */
const DEDUPE_SECONDS = 86_400;
/**
 * While the first delivery of a push is being recorded its key says so, briefly: a
 * retry arriving meanwhile gets a 503 (WeCom tries again), never "duplicate" for a
 * push that may still fail; after a crash the mark lapses before WeCom's last retry.
 */
const PENDING_SECONDS = 8;

/**
 * The query exactly as WeCom sent it, percent-decoded once: echostr is base64,
 * and a form decoder would turn its literal `+` into a space (reference §5.3).
 */
function rawQuery(req: Request): Record<string, string> {
  const query = req.originalUrl.split('?')[1] ?? '';
  const out: Record<string, string> = {};
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    try {
      out[decodeURIComponent(key)] = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    } catch {
      throw new CallbackRefused(400, 'bad_query', 'query is not validly percent-encoded', 'the query is not validly percent-encoded: not a request from WeCom, or a proxy altered it');
    }
  }
  return out;
}

function requireParams(query: Record<string, string>, names: string[]): void {
  const missing = names.filter((n) => !query[n]);
  if (missing.length > 0) {
    throw new CallbackRefused(400, 'missing_parameters', `missing ${missing.join(', ')}`, `missing ${missing.join(', ')}: not a request from WeCom, or a proxy dropped the query string`, { fields: missing.map((n) => ({ field: n, message: 'required' })) });
  }
}

/**
 * A refused callback. WeCom's admin console shows only "验证失败" and the caller
 * may be an attacker, so the answer stays short; the log line gets `diagnosis`:
 * what failed and which setting to check, never a token, key or plaintext.
 */
class CallbackRefused extends ApiError {
  readonly diagnosis: string;
  readonly details: Record<string, string>;
  constructor(status: number, code: string, message: string, diagnosis: string, extra: { fields?: FieldProblem[]; details?: Record<string, string> } = {}) {
    super(status, code, message, extra.fields);
    this.diagnosis = diagnosis;
    this.details = extra.details ?? {};
  }
}

/** The settings an app's callback comes from, as an operator would look for them: the environment for the default app, else its entry in the config file. */
function settingsOf(app: WecomApp): { token: string; aesKey: string; receiveId: string } {
  if (app.name === 'default') return { token: 'WECOM_CALLBACK_TOKEN', aesKey: 'WECOM_CALLBACK_AES_KEY', receiveId: 'WECOM_CORP_ID' };
  const entry = (field: string) => `${field} of app ${app.name} in GATEWAY_CONFIG`;
  return { token: entry('callback.token'), aesKey: entry('callback.aesKey'), receiveId: entry(app.callback?.receiveId ? 'callback.receiveId' : 'corpId') };
}

/** A corp or suite id looks like this; anything else came out of a wrong key, and is not worth printing. */
const PRINTABLE_ID = /^[A-Za-z0-9_.@-]{0,64}$/;

/**
 * Crypto and XML errors as refusals: in the order they are checked (signature,
 * decryption, ReceiveId, XML) each one clears the settings checked before it,
 * so the diagnosis can name the one setting that is wrong (reference §5.2, §5.6).
 */
function cryptoRefusal(error: unknown, app: WecomApp): never {
  const settings = settingsOf(app);
  const cannotDecrypt = (code: string) =>
    new CallbackRefused(400, code, 'cannot decrypt the message', `the signature matches (the Token is right) but the message does not decrypt: check ${settings.aesKey} (the EncodingAESKey in the app's 接收消息 settings)`);
  if (error instanceof CallbackCryptoError) {
    switch (error.code) {
      case 'signature_mismatch':
        throw new CallbackRefused(401, 'bad_signature', 'msg_signature does not match', `msg_signature does not match: check ${settings.token} (the Token in the app's 接收消息 settings)`);
      case 'receive_id_mismatch': {
        const received = error.receivedId ?? '';
        if (!PRINTABLE_ID.test(received)) throw cannotDecrypt('bad_padding');
        const expected = app.callback?.receiveId ?? app.corpId;
        throw new CallbackRefused(400, 'receive_id_mismatch', 'cannot accept the message', `decrypted, but for corp id ${received || '(empty)'}, not ${settings.receiveId} (${expected}): the Token and EncodingAESKey are right; set ${settings.receiveId} to the corp id of the app whose 接收消息 settings point here`, {
          details: { receivedCorpId: received },
        });
      }
      case 'bad_base64':
      case 'bad_ciphertext':
        throw new CallbackRefused(400, error.code, 'cannot decrypt the message', `the signature matches but the ciphertext is not valid (${error.message}): something between WeCom and the gateway altered the request (a proxy re-encoding the query or the body?)`);
      default:
        throw cannotDecrypt(error.code);
    }
  }
  if (error instanceof XmlError) {
    const diagnosis = error.code === 'missing_encrypt' ? 'the body has no <Encrypt> element: not an encrypted WeCom push' : `decrypted, but the event is not acceptable XML (${error.message}): refused unparsed`;
    throw new CallbackRefused(400, `xml_${error.code}`, 'malformed callback XML', diagnosis);
  }
  throw error;
}

/** What a refusal's warning says was refused. */
type Refused = 'URL verification' | 'push';

/** What WeCom sends as timestamp: Unix seconds. */
const UNIX_SECONDS = /^\d{1,12}$/;
/** WeCom's echostr decrypts to a short random number-like string (§5.3, e.g. 1616140317555161061). */
const ECHO_PLAINTEXT = /^[0-9A-Za-z]{1,64}$/;

export function callbackRoutes(deps: CallbackDeps): Route[] {
  const now = deps.now ?? Date.now;
  const skew = deps.settings.maxSkewSeconds;
  // A push signed at t passes the window from t - skew to t + skew: its dedupe key must
  // outlive that whole span, whatever the window is set to, so that a captured push
  // replayed inside the window is a duplicate, never handled twice.
  const dedupeSeconds = Math.max(DEDUPE_SECONDS, 2 * skew + 60);
  const cryptos = new Map<string, { app: WecomApp; crypto: CallbackCrypto }>();
  for (const app of deps.apps) {
    if (app.callback) cryptos.set(app.name, { app, crypto: new CallbackCrypto({ token: app.callback.token, encodingAesKey: app.callback.aesKey, receiveId: app.callback.receiveId ?? app.corpId }) });
  }

  function appFor(req: Request, started: number, what: Refused): { app: WecomApp; crypto: CallbackCrypto } {
    const name = typeof req.params.app === 'string' ? req.params.app : deps.defaultApp;
    const entry = cryptos.get(name);
    if (!entry) {
      count('(unknown)', 'rejected-no_callback', started); // a caller's path is not a label
      const error = new CallbackRefused(404, 'no_callback', `no callback is configured for app ${name}`, `no callback is configured for app ${name.slice(0, 64)}: correct the app name in the URL in WeCom's console, or give that app a callback (WECOM_CALLBACK_TOKEN and WECOM_CALLBACK_AES_KEY, or callback: in GATEWAY_CONFIG)`);
      explain(what, '(unknown)', req, error);
      throw error;
    }
    const allowlist = deps.allowlists.get(name);
    if (allowlist && !allowlist.allows(req.ip)) {
      count(name, 'rejected-ip_not_allowed', started);
      const error = new CallbackRefused(403, 'ip_not_allowed', 'caller is not a WeCom callback IP', `caller ${req.ip} is not one of WeCom's callback IPs (CALLBACK_IP_ALLOWLIST=wecom): behind a proxy or load balancer, set TRUST_PROXY so that the caller's address is read from X-Forwarded-For`);
      explain(what, name, req, error);
      throw error;
    }
    return entry;
  }

  /** Both GET and POST: a timestamp is Unix seconds, and inside the replay window unless it is off (0). */
  function checkTimestamp(timestamp: string): void {
    if (!UNIX_SECONDS.test(timestamp)) {
      throw new CallbackRefused(400, 'bad_timestamp', 'timestamp must be Unix seconds', 'the timestamp is not Unix seconds: not a request from WeCom', { fields: [{ field: 'timestamp', message: 'must be Unix seconds' }] });
    }
    const offBy = Number(timestamp) - now() / 1000;
    if (skew > 0 && Math.abs(offBy) > skew) {
      throw new CallbackRefused(403, 'stale_timestamp', `timestamp is more than ${skew}s from now`, `the timestamp is ${Math.round(Math.abs(offBy))} s ${offBy < 0 ? 'behind' : 'ahead of'} this host's clock, beyond CALLBACK_MAX_SKEW_SECONDS (${skew}): check this host's clock (NTP), or the request was replayed`, {
        fields: [{ field: 'timestamp', message: `more than ${skew}s from now` }],
      });
    }
  }

  /** One warning per refused callback, saying what failed and what to check; reqId ties it to the access log's line. */
  function explain(what: Refused, app: string, req: Request, error: unknown): void {
    if (!(error instanceof CallbackRefused)) return;
    deps.logger.warn({ app, reason: error.code, reqId: req.id, ...error.details }, `WeCom callback ${what} refused (${error.status} ${error.code}): ${error.diagnosis}`);
  }

  /** `rejected-<code>`: which bad input it was (bad_signature, xml_dtd, stale_timestamp…), a bounded set. */
  const rejection = (error: unknown) => (error instanceof ApiError ? `rejected-${error.code}` : 'error');

  const callbacks = childrenOf(deps.metrics.callbacks);
  const callbackSeconds = childrenOf(deps.metrics.callbackSeconds);
  function count(app: string, outcome: string, started: number): void {
    callbacks({ app, outcome }).inc();
    callbackSeconds({ app }).observe((performance.now() - started) / 1000);
  }

  async function verifyUrl(req: Request, res: Response): Promise<void> {
    const started = performance.now();
    const { app, crypto } = appFor(req, started, 'URL verification');
    try {
      const query = rawQuery(req);
      requireParams(query, ['msg_signature', 'timestamp', 'nonce', 'echostr']);
      checkTimestamp(query.timestamp);
      let plaintext: string;
      try {
        plaintext = crypto.verifyAndDecrypt({ msgSignature: query.msg_signature, timestamp: query.timestamp, nonce: query.nonce, encrypted: query.echostr });
      } catch (error) {
        cryptoRefusal(error, app);
      }
      // GET signs and encrypts exactly as a push does: without this, a captured push's
      // Encrypt sent back as echostr would be answered decrypted.
      if (!ECHO_PLAINTEXT.test(plaintext)) {
        throw new CallbackRefused(400, 'bad_echostr', 'echostr is not a URL verification string', "decrypted, but the echostr is not a URL verification string (a push's ciphertext replayed as echostr?)", {
          fields: [{ field: 'echostr', message: 'not a URL verification string' }],
        });
      }
      count(app.name, 'verified', started);
      // The bare plaintext: no quotes, BOM or newline (§5.3).
      res.status(200).type('text/plain').send(plaintext);
    } catch (error) {
      count(app.name, rejection(error), started);
      explain('URL verification', app.name, req, error);
      throw error;
    }
  }

  /** A rule whose pattern ran out of time answers nothing: the push is recorded, the member just gets no passive reply. */
  function autoReply(event: CallbackEvent): string | undefined {
    try {
      return deps.autoReplies.replyFor(event);
    } catch (error) {
      if (!(error instanceof AutoReplyTimeout)) throw error;
      deps.logger.warn({ ...describe(event), rule: error.rule }, 'auto-reply pattern ran out of time; no reply sent (rewrite the pattern)');
      return undefined;
    }
  }

  async function receive(req: Request, res: Response): Promise<void> {
    const started = performance.now();
    const { app, crypto } = appFor(req, started, 'push');
    let outcome = 'rejected';
    try {
      const query = rawQuery(req);
      requireParams(query, ['msg_signature', 'timestamp', 'nonce']);
      checkTimestamp(query.timestamp);
      if (typeof req.body !== 'string' || req.body === '') throw new CallbackRefused(400, 'empty_body', 'empty body', 'the push has an empty body: not from WeCom, or a proxy dropped it');
      let plaintext: string;
      let fields: Record<string, unknown>;
      try {
        // Signature first, then one decryption, then the only XML parse: a stranger's body never reaches the parser.
        plaintext = crypto.verifyAndDecrypt({ msgSignature: query.msg_signature, timestamp: query.timestamp, nonce: query.nonce, encrypted: envelopeEncrypt(req.body) });
        fields = parseCallbackXml(plaintext);
      } catch (error) {
        cryptoRefusal(error, app);
      }
      const event: CallbackEvent = { app: app.name, receivedAt: now(), dedupeKey: dedupeKeyFor(app.name, fields, plaintext), fields };
      const dedupeKey = deps.keys.callbackSeen(event.dedupeKey);
      const unavailable = () => new ApiError(503, 'unavailable', 'cannot record the push; WeCom will retry');
      const first = await deps.redis.set(dedupeKey, 'pending', 'EX', PENDING_SECONDS, 'NX').catch(() => {
        throw unavailable();
      });
      if (first) {
        const inline = deps.router.findInline(event);
        try {
          if (inline) await inline.handle(event);
          else await deps.inbound.add(event);
          await deps.redis.set(dedupeKey, 'done', 'EX', dedupeSeconds);
          await deps.replicated?.();
        } catch (error) {
          await deps.redis.del(dedupeKey).catch(() => undefined);
          deps.logger.warn({ ...describe(event), err: (error as Error).message }, 'callback push not recorded; answering 503 so WeCom retries');
          throw unavailable();
        }
        outcome = 'accepted';
      } else if ((await deps.redis.get(dedupeKey).catch(() => null)) !== 'done') {
        outcome = 'in-progress';
        throw new ApiError(503, 'in_progress', 'the first delivery of this push is still being recorded; WeCom will retry');
      } else {
        outcome = 'duplicate';
        deps.logger.info(describe(event), 'callback push repeated by WeCom; handled once');
      }
      // A repeated push still gets its reply: WeCom retried because it did not see the first answer.
      const replyText = autoReply(event);
      if (replyText === undefined) {
        res.status(200).type('text/plain').send('');
        return;
      }
      const timestamp = String(Math.floor(now() / 1000));
      const reply = buildPassiveTextReply({ toUser: eventHeader(event).fromUser ?? '', fromUser: app.corpId, createTime: Number(timestamp), content: replyText });
      res.status(200).type('application/xml').send(buildReplyEnvelope(crypto.encryptReply(reply, timestamp, query.nonce)));
      outcome = `${outcome}-replied`;
    } catch (error) {
      if (outcome === 'rejected') outcome = rejection(error);
      explain('push', app.name, req, error);
      throw error;
    } finally {
      count(app.name, outcome, started);
    }
  }

  return [
    { method: 'get', path: '/wecom/callback', auth: 'none', handler: verifyUrl },
    { method: 'get', path: '/wecom/callback/{app}', auth: 'none', handler: verifyUrl },
    { method: 'post', path: '/wecom/callback', auth: 'none', body: 'text', handler: receive },
    { method: 'post', path: '/wecom/callback/{app}', auth: 'none', body: 'text', handler: receive },
  ];
}
