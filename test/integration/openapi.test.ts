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
    const served = new Set([...h.gateway.routes.map((r) => `${r.method} ${r.path}`), 'get /docs', 'get /dashboard/']);
    const documented = Object.entries(spec.paths).flatMap(([path, ops]) => Object.keys(ops).filter((m) => METHODS.includes(m)).map((m) => `${m} ${path}`));
    expect(documented.filter((op) => !served.has(op))).toEqual([]);
  });

  it('when a route needs a key, then its operation documents 401, 403 and 429, and public ones declare no security', () => {
    for (const route of h.gateway.routes) {
      const op = spec.paths[route.path][route.method];
      if (route.auth !== 'none') expect(Object.keys(op.responses)).toEqual(expect.arrayContaining(['401', '403', '429']));
      else expect(op.security).toEqual([]);
    }
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
    await h.api.post('/v1/messages').send({ event: 'program.alert', msgtype: 'text', to: { users: ['zhangsan'] }, data: { title: 't', content: 'c', level: 'info' } });
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
      ...['inbound', 'welcome', 'welcome-tags', 'alert-digest', 'status-callbacks'].map((q) => `wecom_gateway_queue_jobs{queue="${q}",state="waiting"}`),
      'wecom_gateway_send_latency_seconds_bucket',
      'wecom_gateway_http_requests_total{method="POST",route="/v1/messages",status="202"} 1',
      'process_resident_memory_bytes',
    ]) expect(text).toContain(series);
  });
});
