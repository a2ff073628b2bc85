import { notification } from './storm';
import { printTable, sampleRss, startBenchGateway } from './support';

const KEY = '00000000-0000-4000-8000-0000000b0b01';

/**
 * An alert storm into one group: `count` different Alertmanager notifications
 * posted at once to `?robots=ops`, with WeCom's real robot limit (20 a minute, at
 * the gateway and the simulator). Waits in real time for everything to arrive:
 * what the group saw, how many were digests, any 45009, and the time to the last.
 */
export async function benchGroupStorm(count = Number(process.env.BENCH_ALERTS ?? 300)): Promise<void> {
  const bench = await startBenchGateway({ API_RATE_LIMIT_PER_MINUTE: '0', WECOM_ROBOTS: `ops=${KEY}` }, { robotKeys: [KEY] });
  const { sim, url } = bench;
  const rss = sampleRss();
  try {
    const answers = new Map<string, number>();
    const started = performance.now();
    const startedAt = Date.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 20 }, async () => {
        while (next < count) {
          const i = next++;
          const res = await fetch(`${url}/v1/integrations/alertmanager?robots=ops`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(notification(i)),
          });
          const status = res.status === 202 ? ((await res.json()) as { status: string }).status : `HTTP ${res.status}`;
          answers.set(status, (answers.get(status) ?? 0) + 1);
        }
      }),
    );
    const posted = (performance.now() - started) / 1000;
    const queued = answers.get('queued') ?? 0;
    const digests = () => sim.robotSent.filter((m) => String(m.body.content ?? '').includes('告警风暴'));
    // The digest goes when the minute ends; the robot's window may hold it a little longer.
    const deadline = Date.now() + 150_000;
    while ((sim.robotSent.length < queued || (answers.get('folded') && digests().length === 0)) && Date.now() < deadline)
      await new Promise((r) => setTimeout(r, 200));
    await new Promise((r) => setTimeout(r, 2_000));
    rss.stop();
    const last = Math.max(...sim.robotSent.map((m) => m.at));
    printTable(
      `Alert storm into one group: ${count} different notifications to one ` +
        `robot, posted in ${posted.toFixed(1)} s (peak RSS ${rss.peakMb()} MB)`,
      [
        {
          answers: [...answers].map(([status, n]) => `${n} ${status}`).join(', '),
          'messages the group got': sim.robotSent.length,
          'of which digests': digests().length,
          '45009 answers': sim.calls.filter((c) => c.errcode === 45009).length,
          'time to the last (s)': ((last - startedAt) / 1000).toFixed(1),
        },
      ],
    );
  } finally {
    rss.stop();
    await bench.stop();
  }
}
