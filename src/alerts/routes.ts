import type { Request, Response } from 'express';
import { callerOf } from '../http/auth';
import { queryParam, type Route } from '../http/route';
import { receiveNotification, type Asked, type ReceiveDeps } from './receive-notification';

/** Monitoring webhooks: the notification in, its story (receive-notification.ts), 202 with what became of it. */
export function alertRoutes(deps: ReceiveDeps): Route[] {
  return [
    {
      method: 'post',
      path: '/v1/integrations/alertmanager',
      auth: 'send',
      handler: async (req, res) => {
        res.status(202).json(await receiveNotification('alertmanager', req.body, askedBy(req, res), deps));
      },
    },
    {
      method: 'post',
      path: '/v1/integrations/grafana',
      auth: 'send',
      handler: async (req, res) => {
        res.status(202).json(await receiveNotification('grafana', req.body, askedBy(req, res), deps));
      },
    },
  ];
}

/** The caller, the request's id and the URL's query parameters (each given once). */
function askedBy(req: Request, res: Response): Asked {
  return { caller: callerOf(res), requestId: String(req.id), query: (name) => queryParam(req, name) };
}
