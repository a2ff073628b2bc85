import type { ErrorRequestHandler, Request, RequestHandler, Response } from 'express';
import type { Logger } from 'pino';
import { ApiError } from '../http/errors';
import { RedisUnavailableError } from '../redis/unavailable';
import { CompatErrcode, CompatError, compatAnswer } from '../wecom/compat/answers';
import { unmatchedApi } from '../wecom/compat/paths';

/**
 * The HTTP side of answering in WeCom's protocol: every answer under /cgi-bin/ is
 * HTTP 200 with errcode and errmsg, errors included. The gateway's own refusals
 * (ApiError, from the pipeline /v1 shares) become the errcode WeCom gives for the
 * same mistake, in one table here.
 */

/** A successful answer: errcode 0 and the API's fields. */
export function answerOk(req: Request, res: Response, fields: Record<string, unknown> = {}): void {
  res.status(200).json(compatAnswer(CompatErrcode.ok, 'ok', req.id, fields));
}

const fieldOf = (error: ApiError) => error.fields?.[0]?.field ?? '';

/** The errcode WeCom answers for what the gateway refused in its own words. */
function errcodeOf(error: ApiError): number {
  if (error.status === 429 && error.code === 'rate_limited') return CompatErrcode.frequencyLimit;
  if (error.status >= 500) return CompatErrcode.busy;
  if (error.status === 403) {
    if (fieldOf(error) === 'app') return CompatErrcode.invalidAgentId;
    if (fieldOf(error).startsWith('to.robots')) return CompatErrcode.invalidWebhook;
    return CompatErrcode.noPermission;
  }
  const byCode: Record<string, number> = {
    unknown_chat: CompatErrcode.invalidChatId,
    unknown_robot: CompatErrcode.invalidWebhook,
    unknown_app: CompatErrcode.invalidAgentId,
  };
  return byCode[error.code] ?? CompatErrcode.invalidParameter;
}

/** What a body parser or anything else threw, as WeCom's errcode and a message for the caller. */
function compatErrorOf(error: unknown): CompatError | undefined {
  if (error instanceof CompatError) return error;
  if (error instanceof RedisUnavailableError) return new CompatError(CompatErrcode.busy, 'system busy: Redis is unavailable; retry later');
  if (error instanceof ApiError) return new CompatError(errcodeOf(error), error.message);
  const status = (error as { status?: unknown } | undefined)?.status;
  if (typeof status === 'number' && status >= 400 && status < 500) {
    const what = status === 413 ? 'the body is larger than the gateway takes' : 'Warning: wrong json format. the body could not be read';
    return new CompatError(CompatErrcode.invalidParameter, `invalid parameter: ${what}`);
  }
  return undefined;
}

/** The last word under /cgi-bin/: WeCom's body for every error, a bare "system busy" (logged) for ours. */
export function compatErrors(logger: Logger): ErrorRequestHandler {
  return (error, req, res, _next) => {
    const known = compatErrorOf(error);
    if (!known) (req as { log?: Logger }).log?.error({ err: error }, 'unhandled error') ?? logger.error({ err: error }, 'unhandled error');
    const answer = known ?? new CompatError(CompatErrcode.busy, 'system busy');
    // HTTP 200 like every answer here: the access log reads the errcode to log the refusal at warn, under the hint's id.
    res.locals.errcode = answer.errcode;
    res.status(200).json(compatAnswer(answer.errcode, answer.message, req.id));
  };
}

/** No route took the request: WeCom's answer for a wrong method or an API the gateway does not offer. */
export const compatUnmatched: RequestHandler = (req, _res, next) => next(unmatchedApi(req.method, req.originalUrl.split('?')[0]));
