import type { ErrorRequestHandler } from 'express';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { RedisUnavailableError } from '../redis/unavailable';

export interface FieldProblem {
  field: string;
  message: string;
}

/** An error a caller can act on: its status, a stable code, and the failing fields. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly fields?: FieldProblem[],
    /** What WeCom answered, when the error is WeCom's refusal. */
    readonly wecom?: { errcode: number; errmsg: string; hint?: string },
  ) {
    super(message);
  }

  static invalid(issues: z.core.$ZodIssue[], prefix = ''): ApiError {
    const fields = issues.flatMap(unwrapUnion).flatMap((issue) => {
      const path = issue.path.join('.');
      // An unknown key is named itself, not its parent object.
      if (issue.code === 'unrecognized_keys')
        return issue.keys.map((key) => ({ field: prefix + (path ? `${path}.${key}` : key), message: 'unknown field' }));
      return [{ field: prefix + (path || '(body)'), message: issue.message }];
    });
    // The message says what to do too: a caller reading only `message` (a log line, curl's output) learns the fix.
    return new ApiError(400, 'invalid_request', `invalid ${fields.map((f) => `${f.field}: ${f.message}`).join('; ')}`, fields);
  }
}

/**
 * A union's input that has one option's shape (`to` an object, not "@all") is
 * judged by that option: its issues name the inner field (`to.users`), where zod's
 * union issue says only `to`. An option whose type the input lacks fails at its
 * root (invalid_type, invalid_value).
 */
function unwrapUnion(issue: z.core.$ZodIssue): z.core.$ZodIssue[] {
  if (issue.code !== 'invalid_union') return [issue];
  const shaped = issue.errors.filter(
    (option) =>
      option.length > 0 &&
      !option.some((inner) => inner.path.length === 0 && (inner.code === 'invalid_type' || inner.code === 'invalid_value')),
  );
  if (shaped.length !== 1) return [issue];
  return shaped[0].flatMap((inner) => unwrapUnion({ ...inner, path: [...issue.path, ...inner.path] }));
}

/** A limit the caller can wait out: 429 with Retry-After (seconds), when waiting helps. */
export class RetryLaterError extends ApiError {
  constructor(
    code: string,
    message: string,
    fields: FieldProblem[],
    readonly retryAfterSeconds?: number,
  ) {
    super(429, code, message, fields);
  }
}

/**
 * Redis refused or did not answer (down, or a master without its replica
 * mid-failover): the caller should retry later (503), nothing was accepted.
 */
export class UnavailableError extends ApiError {
  constructor() {
    super(503, 'unavailable', 'Redis is unreachable or not taking writes; retry later');
  }
}

/**
 * The last middleware: callers get a 4xx with a reason for their mistakes, and a
 * bare 500 (no stack, no internals) for ours, which is logged.
 */
export function errorHandler(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    // Any route that meets a Redis outage answers what POST /v1/messages does: 503, retry later.
    // Known by its type (the command connections throw it), never by text: a WeCom ECONNREFUSED is not Redis'.
    if (error instanceof RedisUnavailableError) error = new UnavailableError();
    // The router could not percent-decode a path parameter (`/v1/messages/%zz`): the path is wrong, not the body.
    if (error instanceof URIError)
      error = new ApiError(400, 'invalid_request', 'the path is not validly percent-encoded', [
        { field: '(path)', message: 'not validly percent-encoded' },
      ]);
    if (error instanceof ApiError) {
      if (error.status >= 500) res.setHeader('Retry-After', '1');
      if (error instanceof RetryLaterError && error.retryAfterSeconds !== undefined)
        res.setHeader('Retry-After', String(error.retryAfterSeconds));
      res.status(error.status).json({
        error: {
          code: error.code,
          message: error.message,
          ...(error.fields ? { fields: error.fields } : {}),
          ...(error.wecom ? { wecom: error.wecom } : {}),
        },
      });
      return;
    }
    // body-parser errors carry a status: 400 malformed JSON, 413 too large, 415 bad charset.
    const status = typeof error?.status === 'number' && error.status >= 400 && error.status < 500 ? error.status : 500;
    if (status < 500) {
      const code = status === 413 ? 'payload_too_large' : 'invalid_request';
      const message =
        status === 413
          ? 'request body too large'
          : error.type === 'entity.parse.failed'
            ? 'body is not valid JSON'
            : String(error.message ?? 'bad request');
      res.status(status).json({ error: { code, message, ...(status === 400 ? { fields: [{ field: '(body)', message }] } : {}) } });
      return;
    }
    (req as { log?: Logger }).log?.error({ err: error }, 'unhandled error') ?? logger.error({ err: error }, 'unhandled error');
    res.status(500).json({ error: { code: 'internal', message: 'internal error' } });
  };
}
