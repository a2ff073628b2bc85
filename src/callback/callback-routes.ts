import type { Request, Response } from 'express';
import type { Logger } from 'pino';
import { ApiError, type FieldProblem } from '../http/errors';
import type { Route } from '../http/route';
import { childrenOf, type Metrics } from '../ops/metrics';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import type { WecomApp } from '../wecom/app';
import { describe, type CallbackEvent } from '../wecom/callback/event';
import {
  isRefusal,
  openPush,
  sealReply,
  verifyUrl as verifyCallbackUrl,
  type CallbackRefusal,
  type CallbackSecrets,
  type SettingNames,
} from '../wecom/callback/protocol';
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
 * A push recorded is `done`; an inline rule's passive reply is kept with it, in the same
 * key, so that WeCom's repeat of the push gets the same reply without running the rule again.
 */
const DONE = 'done';
const doneWith = (reply: string | undefined) => (reply === undefined ? DONE : `${DONE}\n${reply}`);
const isDone = (value: string | null) => value === DONE || (value?.startsWith(`${DONE}\n`) ?? false);
const replyIn = (value: string) => (value.startsWith(`${DONE}\n`) ? value.slice(DONE.length + 1) : undefined);

/** The query string as sent, undecoded: wecom/callback/ reads it (a form decoder would spoil base64). */
const queryOf = (req: Request) => req.originalUrl.split('?')[1] ?? '';

/**
 * A refused callback. WeCom's admin console shows only "验证失败" and the caller
 * may be an attacker, so the answer stays short; the log line gets `diagnosis`:
 * what failed and which setting to check, never a token, key or plaintext.
 */
class CallbackRefused extends ApiError {
  readonly diagnosis: string;
  readonly details: Record<string, string>;
  constructor(
    status: number,
    code: string,
    message: string,
    diagnosis: string,
    extra: { fields?: FieldProblem[]; details?: Record<string, string> } = {},
  ) {
    super(status, code, message, extra.fields);
    this.diagnosis = diagnosis;
    this.details = extra.details ?? {};
  }
}

/** A refusal's HTTP status: a wrong signature is unauthenticated, a stale timestamp forbidden, the rest bad requests. */
const REFUSAL_STATUS: Record<string, number> = { bad_signature: 401, stale_timestamp: 403 };

function refused(refusal: CallbackRefusal): CallbackRefused {
  const { refusal: code, message, diagnosis, fields, details } = refusal;
  return new CallbackRefused(REFUSAL_STATUS[code] ?? 400, code, message, diagnosis, { fields, details });
}

/**
 * The settings an app's callback comes from, as an operator would look for them:
 * the environment for the default app, else its entry in the config file.
 */
function settingsOf(app: WecomApp): SettingNames {
  const maxSkew = 'CALLBACK_MAX_SKEW_SECONDS';
  if (app.name === 'default')
    return { token: 'WECOM_CALLBACK_TOKEN', aesKey: 'WECOM_CALLBACK_AES_KEY', receiveId: 'WECOM_CORP_ID', maxSkew };
  const entry = (field: string) => `${field} of app ${app.name} in GATEWAY_CONFIG`;
  return {
    token: entry('callback.token'),
    aesKey: entry('callback.aesKey'),
    receiveId: entry(app.callback?.receiveId ? 'callback.receiveId' : 'corpId'),
    maxSkew,
  };
}

/** What a refusal's warning says was refused. */
type Refused = 'URL verification' | 'push';

interface AppCallback {
  app: WecomApp;
  secrets: CallbackSecrets;
  names: SettingNames;
}

export function callbackRoutes(deps: CallbackDeps): Route[] {
  const now = deps.now ?? Date.now;
  const skew = deps.settings.maxSkewSeconds;
  // A push signed at t passes the window from t - skew to t + skew: its dedupe key must
  // outlive that whole span, whatever the window is set to, so that a captured push
  // replayed inside the window is a duplicate, never handled twice.
  const dedupeSeconds = Math.max(DEDUPE_SECONDS, 2 * skew + 60);
  const callbacks = new Map<string, AppCallback>();
  for (const app of deps.apps) {
    if (!app.callback) continue;
    const secrets = { token: app.callback.token, aesKey: app.callback.aesKey, receiveId: app.callback.receiveId ?? app.corpId };
    callbacks.set(app.name, { app, secrets, names: settingsOf(app) });
  }
  const optionsFor = (entry: AppCallback) => ({ nowMs: now(), maxSkewSeconds: skew, names: entry.names });

  function appFor(req: Request, started: number, what: Refused): AppCallback {
    const name = typeof req.params.app === 'string' ? req.params.app : deps.defaultApp;
    const entry = callbacks.get(name);
    if (!entry) {
      count('(unknown)', 'rejected-no_callback', started); // a caller's path is not a label
      const error = new CallbackRefused(
        404,
        'no_callback',
        `no callback is configured for app ${name}`,
        `no callback is configured for app ${name.slice(0, 64)}: correct the app name in the URL in WeCom's console, ` +
          'or give that app a callback (WECOM_CALLBACK_TOKEN and WECOM_CALLBACK_AES_KEY, or callback: in GATEWAY_CONFIG)',
      );
      explain(what, '(unknown)', req, error);
      throw error;
    }
    const allowlist = deps.allowlists.get(name);
    if (allowlist && !allowlist.allows(req.ip)) {
      count(name, 'rejected-ip_not_allowed', started);
      const error = new CallbackRefused(
        403,
        'ip_not_allowed',
        'caller is not a WeCom callback IP',
        `caller ${req.ip} is not one of WeCom's callback IPs (CALLBACK_IP_ALLOWLIST=wecom): ` +
          "behind a proxy or load balancer, set TRUST_PROXY so that the caller's address is read from X-Forwarded-For",
      );
      explain(what, name, req, error);
      throw error;
    }
    return entry;
  }

  /** One warning per refused callback, saying what failed and what to check; reqId ties it to the access log's line. */
  function explain(what: Refused, app: string, req: Request, error: unknown): void {
    if (!(error instanceof CallbackRefused)) return;
    deps.logger.warn(
      { app, reason: error.code, reqId: req.id, ...error.details },
      `WeCom callback ${what} refused (${error.status} ${error.code}): ${error.diagnosis}`,
    );
  }

  /** `rejected-<code>`: which bad input it was (bad_signature, xml_dtd, stale_timestamp…), a bounded set. */
  const rejection = (error: unknown) => (error instanceof ApiError ? `rejected-${error.code}` : 'error');

  const callbackCount = childrenOf(deps.metrics.callbacks);
  const callbackSeconds = childrenOf(deps.metrics.callbackSeconds);
  function count(app: string, outcome: string, started: number): void {
    callbackCount({ app, outcome }).inc();
    callbackSeconds({ app }).observe((performance.now() - started) / 1000);
  }

  async function verifyUrl(req: Request, res: Response): Promise<void> {
    const started = performance.now();
    const entry = appFor(req, started, 'URL verification');
    const { app } = entry;
    try {
      const verified = verifyCallbackUrl(queryOf(req), entry.secrets, optionsFor(entry));
      if (isRefusal(verified)) throw refused(verified);
      count(app.name, 'verified', started);
      // The bare plaintext: no quotes, BOM or newline (§5.3).
      res.status(200).type('text/plain').send(verified.echo);
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
    const entry = appFor(req, started, 'push');
    const { app } = entry;
    let outcome = 'rejected';
    try {
      const opened = openPush(queryOf(req), typeof req.body === 'string' ? req.body : '', entry.secrets, {
        ...optionsFor(entry),
        app: app.name,
      });
      if (isRefusal(opened)) throw refused(opened);
      const { event } = opened;
      const dedupeKey = deps.keys.callbackSeen(event.dedupeKey);
      const unavailable = () => new ApiError(503, 'unavailable', 'cannot record the push; WeCom will retry');
      const first = await deps.redis.set(dedupeKey, 'pending', 'EX', PENDING_SECONDS, 'NX').catch(() => {
        throw unavailable();
      });
      let ruleReply: string | undefined;
      if (first) {
        const inline = deps.router.findInline(event);
        try {
          if (inline) ruleReply = (await inline.handle(event))?.reply;
          else await deps.inbound.add(event);
          await deps.redis.set(dedupeKey, doneWith(ruleReply), 'EX', dedupeSeconds);
          await deps.replicated?.();
        } catch (error) {
          await deps.redis.del(dedupeKey).catch(() => undefined);
          deps.logger.warn(
            { ...describe(event), err: (error as Error).message },
            'callback push not recorded; answering 503 so WeCom retries',
          );
          throw unavailable();
        }
        outcome = 'accepted';
      } else {
        const seen = await deps.redis.get(dedupeKey).catch(() => null);
        if (!isDone(seen)) {
          outcome = 'in-progress';
          throw new ApiError(503, 'in_progress', 'the first delivery of this push is still being recorded; WeCom will retry');
        }
        outcome = 'duplicate';
        ruleReply = replyIn(seen!);
        deps.logger.info(describe(event), 'callback push repeated by WeCom; handled once');
      }
      // A repeated push still gets its reply: WeCom retried because it did not see the first answer. A rule's reply comes first.
      const replyText = ruleReply ?? autoReply(event);
      if (replyText === undefined) {
        res.status(200).type('text/plain').send('');
        return;
      }
      res
        .status(200)
        .type('application/xml')
        .send(sealReply({ text: replyText, push: opened, corpId: app.corpId, nowMs: now() }, entry.secrets));
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
