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
