import { printTable, sampleRss, startBenchGateway } from './support';

export function notification(i: number) {
  return {
    version: '4',
    groupKey: `{}:{alertname="Storm${i}"}`,
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'wecom',
    groupLabels: { alertname: `Storm${i}` },
    commonLabels: { alertname: `Storm${i}`, severity: 'warning' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts: [
      {
        status: 'firing',
        labels: { alertname: `Storm${i}`, severity: 'warning', instance: `node${i % 100}:9100` },
        annotations: { summary: `storm alert ${i}` },
        startsAt: new Date().toISOString(),
        endsAt: '0001-01-01T00:00:00Z',
        generatorURL: 'http://prometheus.example/graph',
        fingerprint: `s${i}`,
      },
    ],
  };
}

/**
 * An alert storm: `count` different Alertmanager notifications, as fast as 50
 * connections post them, spread over `people` on-call recipients (one each).
 * Shows what reached each person and how many WeCom calls it took. Digests are
 * due at the end of the minute; the bench promotes them instead of waiting.
 */
export async function benchStorm(count = Number(process.env.BENCH_ALERTS ?? 10_000), people = 5): Promise<void> {
  // The per-key request limit is off: one load generator stands for many Alertmanagers here.
  const bench = await startBenchGateway({ API_RATE_LIMIT_PER_MINUTE: '0' });
  const { sim, gateway, url } = bench;
  const rss = sampleRss();
  try {
    const answers = new Map<string, number>();
    let next = 0;
    const started = performance.now();
    await Promise.all(
      Array.from({ length: 50 }, async () => {
        while (next < count) {
          const i = next++;
          const res = await fetch(`${url}/v1/integrations/alertmanager?users=oncall${i % people}`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify(notification(i)),
          });
          const status = res.status === 202 ? ((await res.json()) as { status: string }).status : `HTTP ${res.status}`;
          answers.set(status, (answers.get(status) ?? 0) + 1);
        }
      }),
    );
    const seconds = (performance.now() - started) / 1000;
    const queued = answers.get('queued') ?? 0;
    const digests = await gateway.queues.get('alert-digest')!.getDelayed();
    for (const job of digests) await job.promote();
    const expected = queued + digests.length;
    const deadline = Date.now() + 30_000;
    while (sim.sent.length < expected && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    rss.stop();
    const perPerson = Array.from({ length: people }, (_, p) => sim.sent.filter((m) => m.touser.includes(`oncall${p}`)).length);
    printTable(
      `Alert storm: ${count} different Alertmanager notifications to ${people} on-call ` +
        `people in ${seconds.toFixed(1)} s (peak RSS of the whole process: ${rss.peakMb()} MB)`,
      [
        {
          'notifications/s': Math.round(count / seconds),
          answers: [...answers].map(([status, n]) => `${n} ${status}`).join(', '),
          'messages per person': perPerson.join(' / '),
          'of which digests': digests.length,
          'WeCom send calls': sim.calls.filter((c) => c.api === 'message/send').length,
        },
      ],
    );
  } finally {
    rss.stop();
    await bench.stop();
  }
}
