import type { Express } from 'express';
import type { ApiHost, SimulatorApp } from './host';

/** The agentid a call names must be the token's app: another app's is 301002, an unknown one 40056. */
export function agentRejection(apps: SimulatorApp[], agentId: number, agentid: unknown): { errcode: number; errmsg: string } | undefined {
  if (agentid === undefined || agentid === '') return { errcode: 41011, errmsg: 'missing agentid' };
  if (Number(agentid) === agentId) return undefined;
  return apps.some((a) => a.agentId === Number(agentid))
    ? { errcode: 301002, errmsg: 'not allow operate another agent with this accesstoken' }
    : { errcode: 40056, errmsg: 'invalid agentid' };
}

/**
 * What an app may see of itself (agent/get: its visible members) and where WeCom
 * pushes from (getcallbackip): the calls `npm run doctor` makes.
 */
export function agentRoutes(app: Express, host: ApiHost, visibleUserids: () => string[]): void {
  app.get('/cgi-bin/agent/get', async (req, res) => {
    const auth = host.authorize(req);
    if ('errcode' in auth) return host.answer(res, 'agent/get', auth);
    if (Number(req.query.agentid) !== auth.agentId) {
      return host.answer(res, 'agent/get', { errcode: 301002, errmsg: 'not allow operate another agent with this accesstoken' });
    }
    return host.answer(res, 'agent/get', {
      errcode: 0,
      errmsg: 'ok',
      agentid: auth.agentId,
      name: 'Gateway (simulated)',
      allow_userinfos: {
        user: visibleUserids()
          .slice(0, 100)
          .map((userid) => ({ userid })),
      },
      allow_partys: { partyid: [1] },
      allow_tags: { tagid: [] },
      close: 0,
    });
  });

  app.get('/cgi-bin/getcallbackip', async (req, res) => {
    const auth = host.authorize(req);
    if ('errcode' in auth) return host.answer(res, 'getcallbackip', auth);
    // WeCom answers ranges (101.226.103.0/25) as well as addresses: the sandbox pushes from loopback, announced as a range.
    return host.answer(res, 'getcallbackip', { errcode: 0, errmsg: 'ok', ip_list: ['127.0.0.0/8', '::1'] });
  });
}
