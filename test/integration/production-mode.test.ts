import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { WecomSimulator } from '../../src/simulator/simulator';
import { binaryPath } from '../support/prerequisites';
import { SIM_APP, uniquePrefix } from '../support/harness';

/**
 * The way to production (contract, "Production mode"): what a half-configured
 * production start does. Each case runs the built server as `docker run` does,
 * NODE_ENV=production, and reads its exit code and its lines.
 */
const ROOT = join(__dirname, '..', '..');
const KEY = 'prod-key-0123456789abcdef';

interface Run {
  status: number | null;
  stderr: string;
  stdout: string;
  ms: number;
}

/** Runs the server until it exits, or until `ready` matches its output (then stops it). */
function runServer(env: NodeJS.ProcessEnv, ready?: RegExp): Promise<Run> {
  const started = Date.now();
  const child = spawn(process.execPath, ['dist/src/main/server.js'], {
    cwd: ROOT,
    env: { PATH: process.env.PATH, HOME: process.env.HOME, REDIS_SERVER_PATH: binaryPath('redis-server'), LOG_FORMAT: 'json', ...env },
  });
  let stdout = '';
  let stderr = '';
  const seen = () => ready?.test(stdout + stderr) && child.kill('SIGTERM');
  child.stdout.on('data', (chunk) => ((stdout += chunk), seen()));
  child.stderr.on('data', (chunk) => ((stderr += chunk), seen()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr, ms: Date.now() - started });
    }),
  );
}

/** Something else on a port: a plain TCP server, as another program would be. */
async function occupiedPort(): Promise<{ port: number; server: Server }> {
  const server = createServer((socket) => socket.end('dev server\n'));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: (server.address() as { port: number }).port, server };
}

/** A port nobody listens on (taken and released). */
async function freePort(): Promise<number> {
  const { port, server } = await occupiedPort();
  await new Promise((resolve) => server.close(resolve));
  return port;
}

const errorLines = (run: Run) => run.stderr.split('\n').filter((line) => line.trim() !== '');

describe('NODE_ENV=production', () => {
  let simulator: WecomSimulator;
  beforeAll(async () => {
    simulator = await WecomSimulator.start({ apps: [SIM_APP] });
  });
  afterAll(() => simulator.stop());
  const redis = () => ({ REDIS_URL: process.env.TEST_REDIS_URL, REDIS_PREFIX: uniquePrefix() });

  it('when no WeCom credentials are set (the Kubernetes steps without the Secret), then it refuses to start with one line naming them and SANDBOX=1', async () => {
    const run = await runServer({ NODE_ENV: 'production', ...redis(), GATEWAY_API_KEYS: KEY, PORT: '0', SIMULATOR_PORT: '0' });
    expect(run.status).toBe(78);
    expect(errorLines(run)).toEqual([
      expect.stringMatching(
        new RegExp(
          /^invalid configuration: WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_AGENT_SECRET: /.source +
            /required in production \(NODE_ENV=production\).*SANDBOX=1/.source,
        ),
      ),
    ]);
    expect(run.stdout).not.toContain('listening');
  }, 40_000);

  it('when only the corp id and callback keys are set, then the missing agent variables are named', async () => {
    const run = await runServer({
      NODE_ENV: 'production',
      ...redis(),
      GATEWAY_API_KEYS: KEY,
      PORT: '0',
      WECOM_CORP_ID: SIM_APP.corpId,
      WECOM_CALLBACK_TOKEN: 'tok',
      WECOM_CALLBACK_AES_KEY: 'a'.repeat(43),
    });
    expect(run.status).toBe(78);
    expect(errorLines(run)).toEqual([
      expect.stringMatching(/^invalid configuration: WECOM_AGENT_ID, WECOM_AGENT_SECRET: required in production/),
    ]);
  }, 40_000);

  it('when SANDBOX=1 asks for the sandbox, then it starts on the simulator and its embedded Redis, and says so', async () => {
    const run = await runServer({ NODE_ENV: 'production', SANDBOX: '1', PORT: '0', SIMULATOR_PORT: '0' }, /"msg":"wecom-gateway listening/);
    expect(run.stdout).toContain('SANDBOX MODE');
    expect(run.stdout).toContain('embedded redis-server');
    expect(run.status).toBe(0);
  }, 40_000);

  it('when WeCom credentials are set but no Redis, then it refuses the throw-away embedded Redis with one line naming REDIS_URL', async () => {
    const run = await runServer({
      NODE_ENV: 'production',
      GATEWAY_API_KEYS: KEY,
      PORT: '0',
      WECOM_API_BASE: simulator.url,
      WECOM_CORP_ID: SIM_APP.corpId,
      WECOM_AGENT_ID: String(SIM_APP.agentId),
      WECOM_AGENT_SECRET: SIM_APP.secret,
    });
    expect(run.status).toBe(78);
    expect(errorLines(run)).toEqual([
      expect.stringMatching(/^invalid configuration: REDIS_URL: required in production \(NODE_ENV=production\)/),
    ]);
  }, 40_000);

  it('when SANDBOX is not 0 or 1, then the value is refused naming the variable', async () => {
    const run = await runServer({ NODE_ENV: 'production', SANDBOX: 'yes', PORT: '0' });
    expect(run.status).toBe(78);
    expect(run.stderr).toMatch(/^invalid configuration: SANDBOX: must be 1/);
  }, 40_000);
});

describe('a taken port', () => {
  let tmp: string;
  beforeEach(() => {
    tmp = mkdtempSync(join(tmpdir(), 'wgw-port-'));
  });
  afterEach(() => rmSync(tmp, { recursive: true, force: true }));

  it.each([
    { variable: 'PORT', env: (taken: number, free: number) => ({ PORT: String(taken), SIMULATOR_PORT: String(free) }) },
    { variable: 'SIMULATOR_PORT', env: (taken: number, free: number) => ({ PORT: String(free), SIMULATOR_PORT: String(taken) }) },
  ])(
    'when something already listens on $variable, then the sandbox exits non-zero within 10 s with one line naming $variable, and leaves no Redis or temp folder behind',
    async ({ variable, env }) => {
      const taken = await occupiedPort();
      try {
        const run = await runServer({ ...env(taken.port, await freePort()), TMPDIR: tmp });
        expect(run.status).not.toBe(0);
        expect(run.status).not.toBeNull();
        expect(run.ms).toBeLessThan(10_000);
        const lines = errorLines(run).filter((line) => !line.startsWith('sandbox:') && !line.startsWith(' '));
        expect(lines).toEqual([expect.stringContaining(`port ${taken.port} is taken (set ${variable}`)]);
        expect(run.stdout + run.stderr).not.toMatch(/the gateway is ready|listening on|FATAL|"level":60|\n\s+at /);
        // The embedded Redis (if it was started) is stopped and its folder removed.
        expect(readdirSync(tmp)).toEqual([]);
      } finally {
        taken.server.close();
      }
    },
    40_000,
  );
});
