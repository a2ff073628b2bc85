import { redactUrl } from '../wecom/transport';
import { randomUUID } from 'node:crypto';
import type { Request, RequestHandler, Response } from 'express';
import type { Level, Logger } from 'pino';
import { childrenOf, type Metrics } from '../ops/metrics';
import { isPageAsset } from './route';

declare module 'http' {
  interface IncomingMessage {
    /** The request id: the caller's X-Request-Id when it is a plain token, else a fresh UUID. */
    id: string;
  }
}

/** How successful requests are logged (ACCESS_LOG, ACCESS_LOG_SAMPLE): 4xx lines and /cgi-bin/ refusals are always `warn`, 5xx `error`. */
export interface AccessLogOptions {
  /** The level of a successful request's line; `off` writes none. */
  level: 'info' | 'debug' | 'off';
  /** The share of successful requests that get a line (0–1): at thousands a second, one in ten still shows the traffic. */
  sample: number;
}

/** A protocol whose refusals are HTTP 200 (WeCom's, under /cgi-bin/) names its errcode here: such a line is `warn`. */
const refusedIn = (res: Response): number | undefined => {
  const errcode: unknown = res.locals.errcode;
  return typeof errcode === 'number' && errcode !== 0 ? errcode : undefined;
};

const REQUEST_ID = /^[A-Za-z0-9._:-]{1,128}$/;

/** Health checks and scrapes come every few seconds from machines: never a line. */
const UNLOGGED = new Set(['/healthz', '/metrics']);

/**
 * Request ids, one access-log line per request and the request counter, from one
 * listener per request. A line is built only when its level is enabled and the
 * request is sampled, so a busy API pays nothing for lines nobody keeps.
 */
export function accessLog(logger: Logger, metrics: Metrics, options: AccessLogOptions): RequestHandler {
  const requests = childrenOf(metrics.httpRequests);
  const levelOf = (req: Request, res: Response): Level | undefined => {
    if (res.statusCode >= 500) return 'error';
    if (res.statusCode >= 400 || refusedIn(res) !== undefined) return 'warn';
    if (options.level === 'off' || UNLOGGED.has(req.url) || (options.sample < 1 && Math.random() >= options.sample)) return undefined;
    // A dashboard left open refreshes every 5 s and bull-board and /docs fetch dozens of assets: that is noise at info.
    return isPageAsset(req.originalUrl) ? 'debug' : options.level;
  };
  return (req, res, next) => {
    const given = req.headers['x-request-id'];
    // A caller's X-Request-Id follows the message from the API to the worker and the WeCom call.
    req.id = typeof given === 'string' && REQUEST_ID.test(given) ? given : randomUUID();
    res.setHeader('X-Request-Id', req.id);
    const started = performance.now();
    res.once('close', () => {
      if (res.writableFinished)
        requests({
          method: req.method,
          route: (req.route as { path?: string } | undefined)?.path ?? 'unmatched',
          status: String(res.statusCode),
        }).inc();
      const level = res.writableFinished ? levelOf(req, res) : 'warn';
      if (level === undefined || !logger.isLevelEnabled(level)) return;
      // Only what an operator needs: headers (Authorization, cookies) are never logged.
      logger[level](
        {
          // A web login's code (the alert's member page) works once for 5 minutes: not something to leave in logs.
          req: { id: req.id, method: req.method, url: redactUrl(req.originalUrl), remoteAddress: req.socket.remoteAddress },
          res: { statusCode: res.statusCode },
          ...(refusedIn(res) !== undefined ? { errcode: refusedIn(res) } : {}),
          responseTime: Math.round(performance.now() - started),
        },
        res.writableFinished ? 'request completed' : 'request aborted',
      );
    });
    next();
  };
}
