import { z } from 'zod';
import { callerOf, type Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import type { Route } from '../http/route';
import { userId } from '../messages/recipients';
import type { AlertCommands, CommandResult } from './alert-commands';
import type { AlertGroups } from './alert-groups';
import { ownedBy, type AlertViews } from './state-routes';

const ackBody = z.object({ by: userId }).strict();
const assignBody = z.object({ to: userId, by: userId.optional() }).strict();
const silenceBody = z.object({ by: userId, duration: z.string().min(1) }).strict();

type Run<T> = (id: string, body: T, caller: Caller) => Promise<CommandResult>;

/**
 * POST /v1/alerts/{id}/ack, /assign and /silence: the API's way to the one path every
 * channel takes (AlertCommands). The group must be the caller's, as for GET: another
 * key's group is answered 404. 200 with the outcome and the group as it stands, also
 * when the action changed nothing (`repeat`: acked already, resolved), so a script may
 * send it again safely; 403 when the member may not (a route's silencers).
 */
export function commandRoutes(groups: AlertGroups, commands: AlertCommands, views: AlertViews): Route[] {
  function post<T>(action: string, schema: z.ZodType<T>, run: Run<T>): Route {
    return {
      method: 'post',
      path: `/v1/alerts/{id}/${action}`,
      auth: 'send',
      handler: async (req, res) => {
        const id = String(req.params.id);
        const caller = callerOf(res);
        const group = /^[0-9a-f]{20}$/.test(id) ? await groups.get(id) : undefined;
        if (!group || !ownedBy(group, caller))
          throw new ApiError(404, 'not_found', `no alert group ${id} (unknown or older than the retention)`);
        const parsed = schema.safeParse(req.body ?? {});
        if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
        const result = await run(id, parsed.data, caller);
        if (!result.group) throw new ApiError(404, 'not_found', `no alert group ${id} (unknown or older than the retention)`);
        if (result.outcome === 'not_allowed') {
          const message = result.reason ?? 'this member may not';
          throw new ApiError(403, 'forbidden', message, [{ field: 'by', message }]);
        }
        res.json({ outcome: result.outcome, alert: await views.view(result.group) });
      },
    };
  }
  return [
    post('ack', ackBody, (id, body) => commands.ack(id, { by: body.by, via: 'api' })),
    // Without `by`, the assignment is the key's: its name says who handed it over.
    post('assign', assignBody, (id, body, caller) => commands.assign(id, { to: body.to, by: body.by ?? caller.id, via: 'api' })),
    post('silence', silenceBody, (id, body) => commands.silence(id, { by: body.by, duration: body.duration, via: 'api' })),
  ];
}
