import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { SIM_APP, startHarness, type Harness } from '../support/harness';

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
    expect(res.body.findings.map((f: { check: string }) => f.check)).toEqual(['gettoken', 'agent/get', 'getcallbackip']);
  });

  it('when the secret is wrong, then npm run doctor prints a line naming the variable and exits 1', async () => {
    // Asynchronously: the simulator answering it lives in this process.
    const child = spawn(process.execPath, [join(__dirname, '..', '..', 'dist', 'src', 'doctor.js')], {
      env: { PATH: process.env.PATH, REDIS_URL: process.env.TEST_REDIS_URL, WECOM_API_BASE: h.sim.url, WECOM_CORP_ID: SIM_APP.corpId, WECOM_AGENT_ID: String(SIM_APP.agentId), WECOM_AGENT_SECRET: 'wrong-secret' },
    });
    let stdout = '';
    child.stdout.on('data', (chunk) => (stdout += chunk));
    const status = await new Promise<number | null>((resolve) => child.once('exit', resolve));
    expect(status).toBe(1);
    expect(stdout).toMatch(/^FAIL default gettoken \+ agent\/get: errcode 40001: invalid secret: check WECOM_AGENT_SECRET/m);
  });
});
