import type { Request } from 'express';
import { callerOf, visibleTo, type Caller } from '../http/auth';
import { limitParam, queryParam, type Route } from '../http/route';
import { ApiError } from '../http/errors';
import type { MessageService } from './message-service';
import { isListCursor, type MessageListQuery } from './message-list';
import type { MessageStatus, MessageView } from './message-record';
import type { MessageStore } from './message-store';
import { recallMessage, type RecallDeps } from './recall';
import type { EventTemplate } from './templates';

const STATUSES: MessageStatus[] = ['queued', 'deferred', 'sending', 'sent', 'failed', 'recalled'];
const LIST_PARAMETERS = ['status', 'event', 'recipient', 'since', 'until', 'limit', 'cursor'];

const invalidQuery = (name: string, message: string) =>
  new ApiError(400, 'invalid_request', `invalid query.${name}: ${message}`, [{ field: `query.${name}`, message }]);

/**
 * `?since=` / `?until=`: an ISO 8601 date (midnight UTC) or time with its zone; a time
 * without one would be read in the server's zone. A query string decodes an unescaped
 * `+` to a space: `+08:00` arrives as ` 08:00`, and is read as meant.
 */
function timeParam(req: Request, name: string): number | undefined {
  const text = queryParam(req, name)?.replace(/ (\d{2}:\d{2})$/, '+$1');
  if (text === undefined || text === '') return undefined;
  const ms = /^\d{4}-\d{2}-\d{2}(T\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:\d{2}))?$/.test(text) ? Date.parse(text) : NaN;
  if (!Number.isFinite(ms)) throw invalidQuery(name, 'an ISO 8601 time, e.g. 2026-11-24T10:00:00Z');
  return ms;
}

/**
 * The names a record's `recipients` holds (`users zhangsan|lisi; parties 2`
 * -> zhangsan, lisi, 2), in lower case: WeCom's userids ignore case.
 */
function recipientNames(summary: string | undefined): string[] {
  if (!summary) return [];
  return summary
    .split('; ')
    .flatMap((kind) => kind.slice(kind.indexOf(' ') + 1).split('|'))
    .map((name) => name.toLowerCase());
}

/** GET /v1/messages' query, checked: a misspelt filter (`stauts`) is named, not ignored into a list of everything. */
function listQuery(req: Request, caller: Caller): MessageListQuery {
  const unknown = Object.keys(req.query).filter((name) => !LIST_PARAMETERS.includes(name));
  if (unknown.length > 0) throw invalidQuery(unknown[0], `unknown parameter; GET /v1/messages takes ${LIST_PARAMETERS.join(', ')}`);
  const statusText = queryParam(req, 'status');
  const statuses = statusText ? statusText.split(',') : [];
  if (statuses.some((status) => !STATUSES.includes(status as MessageStatus)))
    throw invalidQuery('status', `one of ${STATUSES.join(', ')}, or several comma-separated`);
  const event = queryParam(req, 'event') || undefined;
  const recipient = queryParam(req, 'recipient')?.toLowerCase() || undefined;
  const cursor = queryParam(req, 'cursor') || undefined;
  if (cursor !== undefined && !isListCursor(cursor)) throw invalidQuery('cursor', "a previous answer's next, as it was given");
  const since = timeParam(req, 'since');
  const until = timeParam(req, 'until');
  return {
    // Scoped as GET /v1/messages/{id}: an admin key lists every message, any other key its own.
    ...(caller.permissions.has('admin') ? {} : { createdBy: caller.id }),
    ...(since !== undefined ? { since } : {}),
    ...(until !== undefined ? { until } : {}),
    ...(cursor !== undefined ? { cursor } : {}),
    limit: limitParam(req, 50),
    matches: (view: MessageView) =>
      visibleTo(view, caller) &&
      (statuses.length === 0 || statuses.includes(view.status)) &&
      (event === undefined || view.event === event) &&
      (recipient === undefined || recipientNames(view.recipients).includes(recipient)),
  };
}

export function messageRoutes(
  service: MessageService,
  store: MessageStore,
  templates: Map<string, EventTemplate>,
  recall: RecallDeps,
): Route[] {
  return [
    {
      method: 'post',
      path: '/v1/messages',
      auth: 'send',
      handler: async (req, res) => {
        const request = service.parse(req.body, req.get('idempotency-key') || undefined);
        // The body's idempotencyKey wins over the header (parse): a 422 names the one that was used.
        const idempotencyField =
          (req.body as { idempotencyKey?: unknown }).idempotencyKey === undefined ? 'Idempotency-Key' : 'idempotencyKey';
        const { id, status } = await service.accept(request, { caller: callerOf(res), requestId: String(req.id), idempotencyField });
        res.status(202).location(`/v1/messages/${id}`).json({ id, status });
      },
    },
    {
      method: 'get',
      path: '/v1/messages',
      auth: 'read',
      handler: async (req, res) => {
        // Redis away: the error handler answers 503, as for every route.
        res.json(await store.list(listQuery(req, callerOf(res))));
      },
    },
    {
      method: 'post',
      path: '/v1/messages/preview',
      auth: 'send',
      handler: async (req, res) => {
        res.json(await service.preview(service.parse(req.body), callerOf(res)));
      },
    },
    {
      method: 'get',
      path: '/v1/messages/{id}',
      auth: 'read',
      handler: async (req, res) => {
        const id = String(req.params.id);
        if (!/^[0-9a-f-]{36}$/.test(id)) throw new ApiError(404, 'not_found', `no message ${id}`);
        // Redis away: the error handler answers 503 (RedisUnavailableError); any other failure is ours, a 500.
        const view = await store.get(id);
        // Another caller's message is answered as if it did not exist: ids are not secrets, records are.
        if (!view || !visibleTo(view, callerOf(res)))
          throw new ApiError(404, 'not_found', `no message ${id} (unknown or older than the retention)`);
        res.json(view);
      },
    },
    {
      method: 'delete',
      path: '/v1/messages/{id}',
      auth: 'send',
      handler: async (req, res) => {
        res.json(await recallMessage(String(req.params.id), recall, callerOf(res)));
      },
    },
    {
      method: 'get',
      path: '/v1/events',
      auth: 'read',
      handler: (_req, res) => {
        res.json({
          events: [...templates.values()].map((t) => ({
            event: t.event,
            description: t.description,
            msgtypes: t.msgtypes,
            priority: t.priority,
            defaultMsgtype: t.defaultMsgtype,
            data: t.data,
          })),
        });
      },
    },
  ];
}
