import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Request, Response } from 'express';
import type { ReadinessCheck } from '../core';
import { presentedKey, sameSecret } from '../http/auth';
import { ApiError } from '../http/errors';
import type { Route } from '../http/route';
import type { Metrics } from './metrics';
import type { Finding } from './diagnose';
import { projectRoot } from './paths';

export const OPENAPI_PATH = join(projectRoot(), 'openapi.yaml');

/** METRICS_TOKEN given: /metrics answers only `Authorization: Bearer <token>`, compared as keys are (in constant time). */
function requireMetricsToken(req: Request, res: Response, token: string): void {
  const presented = presentedKey(req);
  if (presented !== undefined && sameSecret(presented, token)) return;
  res.setHeader('WWW-Authenticate', 'Bearer realm="metrics"');
  throw new ApiError(
    401,
    'unauthorized',
    presented === undefined ? 'missing token (Authorization: Bearer METRICS_TOKEN)' : 'wrong metrics token',
  );
}

/** What /readyz answers: the checks that make it ready, and details that inform without deciding (WeCom's reachability, sandbox mode). */
export interface Readiness {
  checks: ReadinessCheck[];
  details: () => Record<string, unknown>;
}

export function opsRoutes(metrics: Metrics, readiness: Readiness, doctor: () => Promise<Finding[]>, metricsToken?: string): Route[] {
  return [
    {
      method: 'get',
      path: '/v1/diagnostics',
      auth: 'admin',
      handler: async (_req, res) => {
        const findings = await doctor();
        res.json({ ok: findings.every((f) => f.ok), findings });
      },
    },
    { method: 'get', path: '/healthz', auth: 'none', handler: (_req, res) => void res.json({ status: 'ok' }) },
    {
      method: 'get',
      path: '/readyz',
      auth: 'none',
      handler: async (_req, res) => {
        const results = await Promise.all(readiness.checks.map(async (c) => [c.name, await c.check().catch(() => false)] as const));
        const ready = results.every(([, ok]) => ok);
        res
          .status(ready ? 200 : 503)
          .json({ status: ready ? 'ready' : 'not ready', checks: Object.fromEntries(results), ...readiness.details() });
      },
    },
    {
      method: 'get',
      path: '/metrics',
      auth: 'none',
      handler: async (req, res) => {
        if (metricsToken !== undefined) requireMetricsToken(req, res, metricsToken);
        res.type(metrics.registry.contentType).send(await metrics.registry.metrics());
      },
    },
    {
      method: 'get',
      path: '/openapi.yaml',
      auth: 'none',
      handler: (_req, res) => void res.type('application/yaml').send(readFileSync(OPENAPI_PATH, 'utf8')),
    },
  ];
}
