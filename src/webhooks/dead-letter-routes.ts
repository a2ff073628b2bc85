import { ApiError } from '../http/errors';
import { limitParam, type Route } from '../http/route';
import type { WebhookOutbox } from './webhook-outbox';

/**
 * `GET {base}` lists deliveries that exhausted their retries; `POST {base}/replay`
 * puts all of them back in line, `POST {base}/{id}/replay` one.
 */
export function deadLetterRoutes(base: string, outbox: () => WebhookOutbox | undefined, what: string): Route[] {
  const require = (): WebhookOutbox => {
    const found = outbox();
    if (!found) throw new ApiError(404, 'not_configured', `${what} is not configured`);
    return found;
  };
  return [
    {
      method: 'get',
      path: base,
      auth: 'admin',
      handler: async (req, res) => {
        res.json({ deadLetters: await require().deadLetters(limitParam(req)) });
      },
    },
    {
      method: 'post',
      path: `${base}/replay`,
      auth: 'admin',
      handler: async (_req, res) => {
        res.json({ replayed: await require().replay() });
      },
    },
    {
      method: 'post',
      path: `${base}/{id}/replay`,
      auth: 'admin',
      handler: async (req, res) => {
        const replayed = await require().replay(String(req.params.id));
        if (replayed === 0) throw new ApiError(404, 'not_found', `no dead letter ${String(req.params.id)}`);
        res.json({ replayed });
      },
    },
  ];
}
