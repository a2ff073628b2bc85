import { callerOf, visibleTo } from '../http/auth';
import type { Route } from '../http/route';
import { ApiError, UnavailableError } from '../http/errors';
import type { MessageService } from './message-service';
import type { MessageStore } from './message-store';
import { recallMessage, type RecallDeps } from './recall';
import type { EventTemplate } from './templates';

export function messageRoutes(service: MessageService, store: MessageStore, templates: Map<string, EventTemplate>, recall: RecallDeps): Route[] {
  return [
    {
      method: 'post',
      path: '/v1/messages',
      auth: 'send',
      handler: async (req, res) => {
        const request = service.parse(req.body, req.get('idempotency-key') || undefined);
        const { id, status } = await service.accept(request, { caller: callerOf(res), requestId: String(req.id) });
        res.status(202).location(`/v1/messages/${id}`).json({ id, status });
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
        const view = await store.get(id).catch(() => {
          throw new UnavailableError();
        });
        // Another caller's message is answered as if it did not exist: ids are not secrets, records are.
        if (!view || !visibleTo(view, callerOf(res))) throw new ApiError(404, 'not_found', `no message ${id} (unknown or older than the retention)`);
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
