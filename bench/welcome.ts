import { cpSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { CallbackCrypto } from '../src/wecom/callback/crypto';
import { BENCH_APP, printTable, sampleRss, startBenchGateway } from './support';

const TOKEN = 'benchToken';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';
const WELCOME_WINDOW_MS = 20_000;

function addEventXml(customer: string, welcomeCode: string, createTime: number): string {
  return (
    `<xml><ToUserName><![CDATA[${BENCH_APP.corpId}]]></ToUserName><FromUserName><![CDATA[sys]]></FromUserName>` +
    `<CreateTime>${createTime}</CreateTime><MsgType><![CDATA[event]]></MsgType><Event><![CDATA[change_external_contact]]></Event>` +
    `<ChangeType><![CDATA[add_external_contact]]></ChangeType><UserID><![CDATA[sales01]]></UserID><ExternalUserID>` +
    `<![CDATA[${customer}]]></ExternalUserID><State><![CDATA[expo2026]]></State><WelcomeCode>` +
    `<![CDATA[${welcomeCode}]]></WelcomeCode></xml>`
  );
}

const percentile = (sorted: number[], q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];

/**
 * Welcome: `adds` new customers arrive at `addsPerSecond` as encrypted callbacks
 * while `backlog` alert sends wait in the send queue (WeCom answering in 20 ms).
 * Latency is callback POST sent -> send_welcome_msg received by the simulator.
 */
export async function benchWelcome(adds = 200, addsPerSecond = 200, backlog = Number(process.env.BENCH_BACKLOG ?? 10_000)): Promise<void> {
  // The expo2026 demo is sandbox-only (templates/sandbox/welcome/); this
  // gateway has credentials, so it gets the demo as an activity of its own.
  const templatesDir = mkdtempSync(join(tmpdir(), 'wgw-bench-welcome-'));
  cpSync('templates', templatesDir, { recursive: true });
  cpSync(join('templates', 'sandbox', 'welcome'), join(templatesDir, 'welcome'), { recursive: true });
  const bench = await startBenchGateway(
    { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY, API_RATE_LIMIT_PER_MINUTE: '0', TEMPLATES_DIR: templatesDir },
    { latencyMs: 20 },
  );
  const { sim, gateway, url } = bench;
  const crypto = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: BENCH_APP.corpId });
  const rss = sampleRss();
  try {
    const sendWorker = gateway.workers.find((w) => w.name === 'send')!;
    await sendWorker.pause(); // the backlog builds up first, then drains while the adds arrive
    const alert = {
      event: 'program.alert',
      msgtype: 'text',
      to: { users: ['oncall01'] },
      data: { title: 'storm', content: 'c', level: 'info' },
    };
    for (let queued = 0; queued < backlog; queued += 200) {
      await Promise.all(
        Array.from({ length: Math.min(200, backlog - queued) }, (_, i) =>
          fetch(`${url}/v1/messages`, {
            method: 'POST',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ ...alert, data: { ...alert.data, title: `storm ${queued + i}` } }),
          }),
        ),
      );
    }
    const queuedBefore = (await gateway.queues.get('send')!.getJobCounts('waiting')).waiting;
    await sendWorker.resume();

    const postedAt = new Map<string, number>();
    const started = Date.now();
    const posts: Promise<Response>[] = [];
    for (let i = 0; i < adds; i++) {
      const due = started + (i * 1000) / addsPerSecond;
      if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
      const code = sim.issueWelcomeCode();
      const encrypt = crypto.encrypt(addEventXml(`wmBench${i}`, code, 1_700_000_000 + i));
      const timestamp = String(Math.floor(Date.now() / 1000));
      const query = `msg_signature=${crypto.signature(timestamp, String(i), encrypt)}&timestamp=${timestamp}&nonce=${i}`;
      postedAt.set(code, Date.now());
      posts.push(
        fetch(`${url}/wecom/callback?${query}`, {
          method: 'POST',
          headers: { 'content-type': 'text/xml' },
          body: `<xml><Encrypt><![CDATA[${encrypt}]]></Encrypt></xml>`,
        }),
      );
    }
    const answers = await Promise.all(posts);
    while (sim.welcomes.length < adds && Date.now() - started < WELCOME_WINDOW_MS + adds * 10) await new Promise((r) => setTimeout(r, 20));
    const latencies = sim.welcomes
      .filter((w) => postedAt.has(w.welcomeCode))
      .map((w) => w.at - postedAt.get(w.welcomeCode)!)
      .sort((a, b) => a - b);
    const stillWaiting = (await gateway.queues.get('send')!.getJobCounts('waiting')).waiting;
    rss.stop();
    printTable(
      `Welcome: ${adds} adds at ${addsPerSecond}/s while ${queuedBefore} alert sends ` +
        `are queued (WeCom at 20 ms; peak RSS of the whole process: ${rss.peakMb()} MB)`,
      [
        {
          'welcomes sent': `${latencies.length} of ${adds}`,
          'callback answers non-200': answers.filter((a) => a.status !== 200).length,
          'p50 ms': percentile(latencies, 0.5),
          'p99 ms': percentile(latencies, 0.99),
          'max ms': latencies.at(-1) ?? '-',
          'sends still queued at the end': stillWaiting,
          window: `${WELCOME_WINDOW_MS / 1000} s`,
        },
      ],
    );
  } finally {
    rss.stop();
    await bench.stop();
    rmSync(templatesDir, { recursive: true, force: true });
  }
}
