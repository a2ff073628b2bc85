import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { eventually, listen, startHarness, type Harness } from '../support/harness';

const FIXTURES = join(__dirname, '..', 'fixtures', 'tools');
const KEY = 'replay-key-0123456789abcdef';
const ROBOT_KEY = 'replay-robot-0001';

interface Replay {
  name: string;
  tool: string;
  method: 'POST';
  target: 'robot';
  headers: Record<string, string>;
  /** The body byte for byte as the tool writes it. */
  body: Buffer;
}

/** Every replay under test/fixtures/tools (see its README for where each request comes from). */
const replays: Replay[] = readdirSync(FIXTURES)
  .filter((file) => file.endsWith('.json'))
  .map((file) => {
    const name = file.slice(0, -'.json'.length);
    const manifest = JSON.parse(readFileSync(join(FIXTURES, file), 'utf8')) as Omit<Replay, 'name' | 'body'>;
    return { ...manifest, name, body: readFileSync(join(FIXTURES, `${name}.body`)) };
  });

/** What the tool meant the group to read: the markdown (or text) content of its body. */
function contentOf(body: Buffer): string {
  const parsed = JSON.parse(body.toString('utf8')) as { msgtype: string } & Record<string, { content: string }>;
  return parsed[parsed.msgtype].content;
}

describe('replays of the requests real tools send to a WeCom robot, pointed at the gateway', () => {
  let h: Harness;
  let served: Awaited<ReturnType<typeof listen>>;
  /** The request on the wire, as the tool sends it: its method, headers and bytes (no client re-encoding the body). */
  const replay = async (r: Replay, key = KEY) => {
    const res = await fetch(`${served.base}/cgi-bin/webhook/send?key=${key}&robot=ops`, {
      method: r.method,
      headers: r.headers,
      body: r.body,
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  };
  beforeAll(async () => {
    h = await startHarness({ env: { GATEWAY_API_KEYS: KEY, WECOM_ROBOTS: `ops=${ROBOT_KEY}` } });
    served = await listen(h.gateway.app);
  });
  afterAll(async () => {
    await served?.close();
    await h?.close();
  });

  it('covers the tools the issue names', () => {
    expect(replays.map((r) => r.name).sort()).toEqual([
      'gitea-push',
      'grafana-robot',
      'jenkins-build-begin',
      'nightingale',
      'prometheusalert',
    ]);
  });

  it.each(replays.map((r) => [r.name, r] as const))(
    'when %s posts its body to /cgi-bin/webhook/send, then WeCom-style ok and the robot shows its content',
    async (_, r) => {
      const before = h.sim.robotDeliveriesTo(ROBOT_KEY).length;
      const res = await replay(r);
      expect(res.status).toBe(200);
      expect(res.body).toEqual({ errcode: 0, errmsg: 'ok' });
      const delivered = await eventually(() =>
        h.sim
          .robotDeliveriesTo(ROBOT_KEY)
          .slice(before)
          .find((m) => m.msgtype === 'markdown'),
      );
      expect(delivered.body.content).toBe(contentOf(r.body));
    },
  );

  it('when a tool posts with a wrong key, then 93000 in a WeCom body and the robot gets nothing', async () => {
    const before = h.sim.robotDeliveriesTo(ROBOT_KEY).length;
    const replay = replays.find((r) => r.name === 'nightingale')!;
    const res = await h.api
      .post('/cgi-bin/webhook/send')
      .query({ key: 'not-a-key-0123456789', robot: 'ops' })
      .set(replay.headers)
      .send(replay.body);
    expect(res.status).toBe(200);
    expect(res.body.errcode).toBe(93000);
    expect(JSON.stringify(res.body)).not.toContain(ROBOT_KEY);
    expect(h.sim.robotDeliveriesTo(ROBOT_KEY)).toHaveLength(before);
  });
});
