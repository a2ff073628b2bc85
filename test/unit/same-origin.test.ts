import express from 'express';
import pino from 'pino';
import request from 'supertest';
import { errorHandler } from '../../src/http/errors';
import { sameOriginOnly } from '../../src/http/same-origin';

/** An app whose every route answers 200 behind the check; `trustProxy` as TRUST_PROXY sets it. */
function appBehind(trustProxy: boolean | string = false) {
  const app = express();
  app.set('trust proxy', trustProxy);
  app.use(sameOriginOnly('from the console itself'));
  app.all('/{*any}', (_req, res) => void res.json({ ok: true }));
  app.use(errorHandler(pino({ level: 'silent' })));
  return app;
}

describe('sameOriginOnly', () => {
  const app = appBehind();
  it.each([
    ['curl: neither Origin nor Sec-Fetch-Site', 200, {}],
    ['the page itself over plain http', 200, { Host: 'gw.example', Origin: 'http://gw.example' }],
    ['the page over https through a TLS proxy that does not say so', 200, { Host: 'gw.example', Origin: 'https://gw.example' }],
    ['a default port written out in Host', 200, { Host: 'gw.example:443', Origin: 'https://gw.example' }],
    ['IPv6 loopback with a port', 200, { Host: '[::1]:8080', Origin: 'http://[::1]:8080' }],
    ['host names in another case', 200, { Host: 'GW.example', Origin: 'https://gw.EXAMPLE' }],
    ['Sec-Fetch-Site same-origin', 200, { 'Sec-Fetch-Site': 'same-origin' }],
    ['Sec-Fetch-Site none (typed by the user)', 200, { 'Sec-Fetch-Site': 'none' }],
    ['another site', 403, { Host: 'gw.example', Origin: 'https://evil.example' }],
    ['a name that only starts like ours', 403, { Host: 'gw.example', Origin: 'https://gw.example.evil.example' }],
    ['the same name on another port', 403, { Host: 'gw.example:8080', Origin: 'http://gw.example:9090' }],
    ['an opaque origin', 403, { Host: 'gw.example', Origin: 'null' }],
    ['Sec-Fetch-Site cross-site', 403, { 'Sec-Fetch-Site': 'cross-site' }],
    ['Sec-Fetch-Site same-site (a sibling subdomain)', 403, { 'Sec-Fetch-Site': 'same-site' }],
  ])('when a POST comes with %s, then %i', async (_what, status, headers) => {
    const res = await request(app)
      .post('/action')
      .set(headers as Record<string, string>);
    expect(res.status).toBe(status);
    if (status === 403) expect(res.body.error).toMatchObject({ code: 'cross_site', message: 'from the console itself' });
  });

  it.each(['put', 'patch', 'delete'] as const)('when another site sends %s, then 403 too; a GET from it is answered', async (method) => {
    expect((await request(app)[method]('/action').set('Origin', 'https://evil.example')).status).toBe(403);
    expect((await request(app).get('/action').set('Origin', 'https://evil.example')).status).toBe(200);
  });

  it('when a proxy TRUST_PROXY trusts names the host (X-Forwarded-Host), then that host is compared; an untrusted one is ignored', async () => {
    const post = (app: express.Express) =>
      request(app).post('/action').set('Host', '10.0.0.5:8080').set('X-Forwarded-Host', 'gw.example').set('Origin', 'https://gw.example');
    expect((await post(appBehind('loopback'))).status).toBe(200);
    expect((await post(appBehind(false))).status).toBe(403);
  });
});
