import { spawn } from 'node:child_process';
import { join } from 'node:path';
import pino from 'pino';
import request from 'supertest';
import { loadConfig } from '../../src/config/load';
import { createGateway } from '../../src/gateway';
import { startSandbox } from '../../src/main/sandbox';
import { SIM_APP, startHarness, TEMPLATES_DIR, uniquePrefix, type Harness } from '../support/harness';

function runDoctor(env: Record<string, string | undefined>): Promise<{ status: number | null; stdout: string }> {
  // Asynchronously: a simulator answering it may live in this process.
  const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'src', 'main', 'doctor.js')], {
    env: { PATH: process.env.PATH, ...env },
  });
  let stdout = '';
  child.stdout.on('data', (chunk) => (stdout += chunk));
  return new Promise((resolve) => child.once('exit', (status) => resolve({ status, stdout })));
}

describe('doctor', () => {
  let h: Harness;
  beforeAll(async () => {
    h = await startHarness();
  });
  afterAll(() => h.close());

  it('when the configuration is right, then GET /v1/diagnostics reports every check ok', async () => {
    const res = await h.api.get('/v1/diagnostics');
    expect(res.status).toBe(200);
    expect(res.body.ok).toBe(true);
    expect(res.body.findings.map((f: { check: string }) => f.check)).toEqual(['gettoken', 'agent/get', 'getcallbackip', 'egress']);
  });

  it('when the secret is wrong, then npm run doctor prints a line naming the variable and exits 1', async () => {
    const { status, stdout } = await runDoctor({
      REDIS_URL: process.env.TEST_REDIS_URL,
      WECOM_API_BASE: h.sim.url,
      WECOM_CORP_ID: SIM_APP.corpId,
      WECOM_AGENT_ID: String(SIM_APP.agentId),
      WECOM_AGENT_SECRET: 'wrong-secret',
    });
    expect(status).toBe(1);
    expect(stdout).toMatch(/^FAIL default gettoken \+ agent\/get: errcode 40001: invalid secret: check WECOM_AGENT_SECRET/m);
  });

  it('when there are no credentials, then npm run doctor and GET /v1/diagnostics of a sandbox gateway report the same checks, saying they ran against the simulator', async () => {
    const sandbox = await startSandbox(
      loadConfig({ REDIS_URL: process.env.TEST_REDIS_URL, REDIS_PREFIX: uniquePrefix(), TEMPLATES_DIR, LOG_LEVEL: 'silent' }),
      { port: 0 },
    );
    const gateway = await createGateway(sandbox.config, { logger: pino({ level: 'silent' }) });
    try {
      const res = await request(gateway.app).get('/v1/diagnostics');
      expect(res.status).toBe(200);
      const fromRoute = res.body.findings.map(
        (f: { ok: boolean; app: string; check: string }) => `${f.ok ? 'ok  ' : 'FAIL'} ${f.app} ${f.check}`,
      );
      // A developer's own proxy (nothing listens on port 9) is not used for the simulator on this machine.
      const { status, stdout } = await runDoctor({ REDIS_URL: process.env.TEST_REDIS_URL, HTTP_PROXY: 'http://127.0.0.1:9' });
      expect(status).toBe(0);
      const fromDoctor = stdout
        .trim()
        .split('\n')
        .map((line) => line.split(':')[0]);
      expect(fromDoctor).toEqual(fromRoute);
      // The sandbox's robot ops is listed by name, never called (a robot can only be checked by posting).
      expect(fromRoute).toEqual([
        'ok   default sandbox',
        'ok   default gettoken',
        'ok   default agent/get',
        'ok   default getcallbackip',
        // The sandbox's simulator is on this machine: its calls go direct whatever proxy is set.
        'ok   all egress',
        'ok   all robots',
      ]);
      const egress = stdout.split('\n').find((line) => line.includes(' egress: '));
      expect(egress).toMatch(
        /^ok {3}all egress: calls to http:\/\/127\.0\.0\.1:\d+ go direct \(the built-in simulator is on this machine\)$/,
      );
      expect(stdout).toMatch(/^ok {3}default sandbox: no WeCom credentials: the checks below ran against the built-in WeCom simulator/);
    } finally {
      await gateway.close();
      await sandbox.stop();
    }
  });
});
