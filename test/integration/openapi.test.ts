import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { startHarness, type Harness } from '../support/harness';

type Spec = { paths: Record<string, Record<string, { security?: unknown[]; responses: Record<string, unknown> }>> };
const spec = parse(readFileSync(join(__dirname, '..', '..', 'openapi.yaml'), 'utf8')) as Spec;
const METHODS = ['get', 'post', 'put', 'delete', 'patch'];

describe('openapi.yaml', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('when the gateway lists its routes, then each one is described in openapi.yaml', () => {
    const missing = h.gateway.routes.filter((r) => !spec.paths[r.path]?.[r.method]).map((r) => `${r.method.toUpperCase()} ${r.path}`);
    expect(missing).toEqual([]);
  });

  it('when openapi.yaml describes an operation, then the gateway serves it', () => {
    const served = new Set([...h.gateway.routes.map((r) => `${r.method} ${r.path}`), 'get /docs', 'get /dashboard/', 'get /']);
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.keys(ops)
        .filter((m) => METHODS.includes(m))
        .map((m) => `${m} ${path}`),
    );
    expect(documented.filter((op) => !served.has(op))).toEqual([]);
  });

  it('when a route needs a key, then its operation documents 401, 403 and 429, and public ones declare no security', () => {
    for (const route of h.gateway.routes) {
      const op = spec.paths[route.path][route.method];
      if (route.auth !== 'none') expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403', '429']));
      else expect(op.security).toEqual([]);
    }
  });

  it('when a response is described, then it holds only OpenAPI keys (an unquoted comma in a flow mapping would add some)', () => {
    const allowed = new Set(['description', 'content', 'headers', 'links', '$ref']);
    const stray = Object.entries(spec.paths).flatMap(([path, ops]) =>
      Object.entries(ops)
        .filter(([m]) => METHODS.includes(m))
        .flatMap(([m, op]) =>
          Object.entries(op.responses).flatMap(([code, r]) =>
            Object.keys(r as object)
              .filter((k) => !allowed.has(k))
              .map((k) => `${m} ${path} ${code}: ${k}`),
          ),
        ),
    );
    expect(stray).toEqual([]);
  });

  it('when a known path is asked with a method it does not take, then 405 with Allow listing the methods openapi.yaml gives it, as JSON', async () => {
    for (const [method, path, target] of [
      ['put', '/v1/messages/{id}', '/v1/messages/00000000-0000-4000-8000-000000000000'],
      ['patch', '/v1/messages', '/v1/messages'],
      ['delete', '/v1/events', '/v1/events'],
      ['put', '/v1/messages/preview', '/v1/messages/preview'],
      ['post', '/healthz', '/healthz'],
    ] as const) {
      const res = await h.api[method](target);
      const documented = Object.keys(spec.paths[path])
        .filter((m) => METHODS.includes(m))
        .map((m) => m.toUpperCase());
      expect({ target, status: res.status, type: res.type }).toEqual({ target, status: 405, type: 'application/json' });
      const allowed = String(res.headers.allow).split(', ');
      expect(allowed.filter((m) => m !== 'HEAD').sort()).toEqual(documented.sort());
      expect(res.body.error).toMatchObject({ code: 'method_not_allowed', message: expect.stringContaining(res.headers.allow) });
    }
  });

  it('when an unknown path is asked, then a JSON 404 as before, whatever the method', async () => {
    for (const res of [await h.api.get('/v1/nosuch'), await h.api.put('/v1/nosuch'), await h.api.get('/nosuch')]) {
      expect([res.status, res.type, res.body.error.code]).toEqual([404, 'application/json', 'not_found']);
    }
  });

  it('when a browser opens /, then a page links the console, the API docs and health; an API client gets the links as JSON', async () => {
    const page = await h.api.get('/').set('Accept', 'text/html,application/xhtml+xml,*/*;q=0.8');
    expect([page.status, page.type]).toEqual([200, 'text/html']);
    for (const href of ['/dashboard/', '/docs', '/healthz']) expect(page.text).toContain(`href="${href}"`);
    const json = await h.api.get('/');
    expect(json.status).toBe(200);
    expect(json.body.links).toMatchObject({ console: '/dashboard/', docs: '/docs', health: '/healthz' });
    for (const href of ['/docs', '/healthz', '/openapi.yaml', '/dashboard/'])
      expect([href, (await h.api.get(href).redirects(1)).status]).toEqual([href, 200]);
  });

  it('when /openapi.yaml and /docs are fetched, then the document and its UI are served', async () => {
    const yaml = await h.api.get('/openapi.yaml');
    expect(yaml.status).toBe(200);
    expect(parse(yaml.text).paths['/v1/messages']).toBeDefined();
    const docs = await h.api.get('/docs/');
    expect(docs.status).toBe(200);
    expect(docs.text).toContain('swagger-ui');
  });
});

describe('GET /metrics', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('when Prometheus scrapes after a send, then the message, WeCom call, token, queue and HTTP series are there', async () => {
    await h.api
      .post('/v1/messages')
      .send({ event: 'program.alert', msgtype: 'text', to: { users: ['zhangsan'] }, data: { title: 't', content: 'c', level: 'info' } });
    const text = await (async () => {
      for (let i = 0; i < 100; i++) {
        const res = await h.api.get('/metrics');
        if (res.text.includes('wecom_gateway_messages_sent_total{')) return res.text;
        await new Promise((r) => setTimeout(r, 50));
      }
      throw new Error('no sent message in the metrics');
    })();
    for (const series of [
      'wecom_gateway_messages_accepted_total{event="program.alert",msgtype="text"} 1',
      'wecom_gateway_wecom_calls_total{api="message/send",errcode="0"}',
      'wecom_gateway_token_fetches_total{app="default",result="ok"} 1',
      'wecom_gateway_queue_jobs{queue="send",state="waiting"}',
      'wecom_gateway_queue_oldest_waiting_seconds{queue="send"}',
      // every queue, not only the send queue
      ...['inbound', 'welcome', 'welcome-tags', 'alert-digest', 'status-callbacks'].map(
        (q) => `wecom_gateway_queue_jobs{queue="${q}",state="waiting"}`,
      ),
      'wecom_gateway_send_latency_seconds_bucket',
      'wecom_gateway_http_requests_total{method="POST",route="/v1/messages",status="202"} 1',
      'process_resident_memory_bytes',
    ])
      expect(text).toContain(series);
  });
});
