import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { EmbeddedRedis } from '../../src/redis/embedded-redis';
import { WecomSimulator } from '../../src/simulator/simulator';
import { eventually, restartablePort, SIM_APP, TEMPLATES_DIR, uniquePrefix, startTestRedis, UNLIMITED_SIM } from '../support/harness';

const SERVER = join(__dirname, '..', '..', 'dist', 'src', 'main', 'server.js');
const MESSAGES = 5000;
/** A real deployment has credentials, so it must have keys (keyless start-up is refused). */
const KEY = 'crash-test-key-0123456789';
const AUTH = { authorization: `Bearer ${KEY}` };

/** The gateway as an operator runs it: its own process (`npm test` compiles dist/ first). */
function startGateway(port: number, redisUrl: string, simUrl: string, prefix: string): ChildProcess {
  return spawn(process.execPath, [SERVER], {
    env: {
      PATH: process.env.PATH,
      PORT: String(port),
      HOST: '127.0.0.1',
      REDIS_URL: redisUrl,
      REDIS_PREFIX: prefix,
      WECOM_API_BASE: simUrl,
      WECOM_CORP_ID: SIM_APP.corpId,
      WECOM_AGENT_ID: String(SIM_APP.agentId),
      WECOM_AGENT_SECRET: SIM_APP.secret,
      GATEWAY_API_KEYS: KEY,
      TEMPLATES_DIR,
      SEND_CONCURRENCY: '20',
      JOB_LOCK_MS: '2000',
      RETRY_BASE_DELAY_MS: '50',
      API_RATE_LIMIT_PER_MINUTE: '0',
      MEMBER_QUOTA: 'off',
      LOG_LEVEL: 'error',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
}

/** Peak resident memory of a process, from Linux's /proc (VmHWM), in MB. */
function peakRssMb(pid: number | undefined): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+) kB/.exec(status)?.[1] ?? 0) / 1024);
}

async function ready(base: string): Promise<void> {
  await eventually(async () => (await fetch(`${base}/readyz`)).ok || undefined, 20_000, 100);
}

describe('kill -9 and a Redis restart while 5000 accepted messages are being delivered', () => {
  let redis: EmbeddedRedis;
  let dir: string;
  let sim: WecomSimulator;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (!existsSync(SERVER)) throw new Error(`${SERVER} is missing: run the tests with npm test (it compiles first)`);
    dir = mkdtempSync(join(tmpdir(), 'wgw-crash-'));
    redis = await startTestRedis({ dir, port: await restartablePort() });
    sim = await WecomSimulator.start({ ...UNLIMITED_SIM, latencyMs: 20 });
  });
  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await sim.stop();
    await redis.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('when the gateway is killed mid-delivery and Redis restarts, then after a restart every accepted message is delivered', async () => {
    const prefix = uniquePrefix();
    const port = await restartablePort(); // the second gateway takes the same port
    const base = `http://127.0.0.1:${port}`;
    const first = startGateway(port, redis.url, sim.url, prefix);
    children.push(first);
    await ready(base);

    const ids: string[] = [];
    for (let batch = 0; batch < MESSAGES / 100; batch++) {
      const answers = await Promise.all(
        Array.from({ length: 100 }, (_, i) =>
          fetch(`${base}/v1/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json', ...AUTH },
            body: JSON.stringify({
              event: 'program.alert',
              msgtype: 'text',
              to: { users: ['zhangsan'] },
              data: { title: `crash ${batch * 100 + i}`, content: 'c', level: 'info' },
            }),
          }).then(async (r) => ({ status: r.status, body: (await r.json()) as { id: string } })),
        ),
      );
      for (const answer of answers) {
        expect(answer.status).toBe(202);
        ids.push(answer.body.id);
      }
    }
    const deliveredAtKill = sim.sent.length;
    const firstPeakMb = peakRssMb(first.pid);
    first.kill('SIGKILL');
    await new Promise((r) => first.once('exit', r));
    expect(deliveredAtKill).toBeLessThan(MESSAGES); // the kill really happened mid-delivery

    // Redis restarts too (AOF on, same folder): what it acknowledged must come back.
    await redis.stop();
    redis = await startTestRedis({ port: redis.port, dir });

    const second = startGateway(port, redis.url, sim.url, prefix);
    children.push(second);
    await ready(base);
    const title = (m: { body: Record<string, unknown> }) => (m.body.text as { content: string }).content.split('\n')[0];
    await eventually(() => new Set(sim.sent.map(title)).size >= MESSAGES || undefined, 90_000, 200);
    // Jobs that were in flight at the kill are taken up again once their lock lapses (JOB_LOCK_MS).
    const unfinished = async () => {
      const statuses: string[] = [];
      for (let i = 0; i < ids.length; i += 200) {
        const views = await Promise.all(
          ids
            .slice(i, i + 200)
            .map((id) => fetch(`${base}/v1/messages/${id}`, { headers: AUTH }).then((r) => r.json() as Promise<{ status: string }>)),
        );
        statuses.push(...views.map((v) => v.status));
      }
      return statuses.filter((s) => s !== 'sent');
    };
    await eventually(async () => (await unfinished()).length === 0 || undefined, 30_000, 500);
    const unique = new Set(sim.sent.map(title)).size;
    expect(unique).toBe(MESSAGES);
    expect(await unfinished()).toEqual([]);
    const secondPeakMb = peakRssMb(second.pid);
    expect(Math.max(firstPeakMb, secondPeakMb)).toBeLessThan(400);
    process.stdout.write(
      `crash: peak RSS of the gateway process ${firstPeakMb} MB while accepting ${MESSAGES} ` +
        `messages, ${secondPeakMb} MB while delivering them after the restart\n` +
        `crash: ${MESSAGES} accepted, ${deliveredAtKill} delivered before kill -9, all ${unique} delivered after restart; ` +
        `${sim.sent.length - unique} duplicates reached users, ${sim.duplicatesAbsorbed} ` +
        `retried sends absorbed by WeCom's duplicate check\n`,
    );
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
  }, 180_000);
});
