import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/redis/embedded-redis';
import { eventually, listen, SIM_APP, startHarness } from './harness';
import { binaryPath } from './prerequisites';

const ALERTMANAGER = binaryPath('alertmanager');
/** The app's callback keys in the alert card tests: clicks reach the gateway through them. */
export const CARD_TOKEN = 'cardToken0001';
export const CARD_AES_KEY = 'CardKey0123456789abcdefghijklmnopqrstuvwxyz';

/** Alertmanager webhook payloads (version 4) as Alertmanager sends them, for the alert tests. */
export function amAlert(overrides: Record<string, unknown> = {}) {
  return {
    status: 'firing',
    labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db1:9100', job: 'node' },
    annotations: { summary: 'Disk 95% on db1', description: '/var has 2 GB left' },
    startsAt: '2026-11-24T02:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example/graph?g0.expr=disk',
    fingerprint: 'f1',
    ...overrides,
  };
}

export function amPayload(overrides: Record<string, unknown> = {}) {
  return {
    version: '4',
    groupKey: '{}:{alertname="DiskFull"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'wecom',
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts: [amAlert()],
    ...overrides,
  };
}

export interface Silence {
  id: string;
  matchers: { name: string; value: string; isRegex: boolean; isEqual: boolean }[];
  createdBy: string;
  comment: string;
  status: { state: string };
  endsAt: string;
}

export interface Alertmanager {
  port: number;
  /** Writes a new configuration and reloads it (POST /-/reload), as an operator does: receivers start afresh. */
  reconfigure(config: string): Promise<void>;
  /** Stops it and waits for it to exit before removing its directory: it writes its state on the way out. */
  stop(): Promise<void>;
}

const NO_RECEIVER = 'route:\n  receiver: none\nreceivers:\n  - name: none\n';

/**
 * A real Alertmanager of the test's own, in a directory and on a port of its
 * own (`port`: one chosen before, e.g. for a gateway's ALERTMANAGER_URL).
 */
export async function startAlertmanager(config = NO_RECEIVER, port?: number): Promise<Alertmanager> {
  const dir = mkdtempSync(join(tmpdir(), 'wgw-am-'));
  port ??= await freePort();
  writeFileSync(join(dir, 'alertmanager.yml'), config);
  const am = spawn(
    ALERTMANAGER,
    [
      `--config.file=${join(dir, 'alertmanager.yml')}`,
      `--storage.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
      '--cluster.listen-address=',
      ...(process.env.AM_DEBUG ? ['--log.level=debug'] : []),
    ],
    { stdio: process.env.AM_DEBUG ? 'inherit' : 'ignore' },
  );
  // A process that failed to spawn may never emit 'exit'.
  const exited = new Promise<void>((resolve) => am.once('exit', () => resolve()).once('error', () => resolve()));
  const failed = new Promise<never>((_, reject) =>
    am.once('error', (error) => reject(new Error(`cannot start ${ALERTMANAGER} (ALERTMANAGER_PATH overrides it): ${error.message}`))),
  );
  const stop = async () => {
    if (am.exitCode === null && am.signalCode === null) am.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  try {
    await Promise.race([failed, eventually(async () => (await fetch(`http://127.0.0.1:${port}/-/ready`)).ok || undefined, 20_000, 100)]);
  } catch (error) {
    await stop();
    throw error;
  }
  const reconfigure = async (next: string) => {
    writeFileSync(join(dir, 'alertmanager.yml'), next);
    const res = await fetch(`http://127.0.0.1:${port}/-/reload`, { method: 'POST' });
    if (!res.ok) throw new Error(`Alertmanager refused the configuration: ${res.status} ${await res.text()}`);
  };
  return { port, reconfigure, stop };
}

export async function silences(port: number): Promise<Silence[]> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v2/silences`);
  return ((await res.json()) as Silence[]).filter((s) => s.status.state === 'active');
}

/**
 * Alerts as Prometheus posts them to Alertmanager (POST /api/v2/alerts): each with
 * its labels, annotations, startsAt and, once resolved, endsAt.
 */
export async function postAlerts(
  port: number,
  alerts: { labels: Record<string, string>; annotations?: Record<string, string>; startsAt?: string; endsAt?: string }[],
): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v2/alerts`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(alerts.map((a) => ({ generatorURL: 'http://prometheus.example:9090/graph', ...a }))),
  });
  if (res.status !== 200) throw new Error(`Alertmanager refused the alerts: ${res.status} ${await res.text()}`);
}

/** An Alertmanager configuration whose one receiver posts to `url` (resolutions too), grouping by `groupBy`. */
export function webhookConfig(url: string, options: { groupBy?: string[]; groupInterval?: string } = {}): string {
  return `route:
  receiver: wecom
  group_by: [${(options.groupBy ?? ['alertname', 'instance']).join(', ')}]
  group_wait: 1s
  group_interval: ${options.groupInterval ?? '1s'}
  repeat_interval: 1h
receivers:
  - name: wecom
    webhook_configs:
      - url: ${url}
        send_resolved: true
`;
}

/** A gateway whose callback the simulator pushes to, with ALERTMANAGER_URL set. */
export async function startCardGateway(
  amPort: number,
  env: Record<string, string> = {},
  options: Omit<Parameters<typeof startHarness>[0] & object, 'env'> = {},
) {
  const h = await startHarness({
    ...options,
    env: { WECOM_CALLBACK_TOKEN: CARD_TOKEN, WECOM_CALLBACK_AES_KEY: CARD_AES_KEY, ALERTMANAGER_URL: `http://127.0.0.1:${amPort}`, ...env },
  });
  const served = await listen(h.gateway.app);
  h.sim.deliverCallbacksTo({ url: `${served.base}/wecom/callback`, token: CARD_TOKEN, aesKey: CARD_AES_KEY, corpId: SIM_APP.corpId });
  return {
    h,
    /** Where the gateway listens (for an Alertmanager's webhook_configs, a browser). */
    base: served.base,
    async close() {
      await served.close();
      await h.close();
    },
  };
}
