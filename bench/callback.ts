import { startEmbeddedRedis } from '../src/redis/embedded-redis';
import { CallbackCrypto } from '../src/wecom/callback/crypto';
import { startServerProcess } from './server-process';
import { benchEnv, load, printTable, SANDBOX_APP, startSimulatorProcess, summarise, type LoadResult } from './support';

const TOKEN = 'benchToken';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

/**
 * Encrypted WeCom pushes per second and p99 answer time, against a bare express
 * handler that reads the same body and answers 200, each in a process of its
 * own, alternated. Each push is a distinct user message (distinct MsgId), so
 * each is verified, decrypted, deduplicated and queued.
 */
export async function benchCallback(rounds = Number(process.env.BENCH_ROUNDS ?? 3), durationSeconds = 5): Promise<void> {
  const crypto = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SANDBOX_APP.corpId });
  // Pre-encrypted pushes, so the load generator does not compete for CPU with crypto of its own;
  // signed now, well inside the gateway's timestamp window (300 s) for the whole run.
  const timestamp = String(Math.floor(Date.now() / 1000));
  const pushes = Array.from({ length: 80_000 }, (_, i) => {
    const xml =
      `<xml><ToUserName><![CDATA[${SANDBOX_APP.corpId}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName>` +
      `<CreateTime>${timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello ${i}]]></Content>` +
      `<MsgId>${7300000000000000000n + BigInt(i)}</MsgId><AgentID>${SANDBOX_APP.agentId}</AgentID></xml>`;
    const encrypt = crypto.encrypt(xml);
    const signature = crypto.signature(timestamp, String(i), encrypt);
    return {
      path: `/wecom/callback?msg_signature=${signature}&timestamp=${timestamp}&nonce=${i}`,
      body:
        `<xml><ToUserName><![CDATA[${SANDBOX_APP.corpId}]]></ToUserName><Encrypt>` +
        `<![CDATA[${encrypt}]]></Encrypt><AgentID><![CDATA[${SANDBOX_APP.agentId}]]></AgentID></xml>`,
    };
  });
  const redis = await startEmbeddedRedis();
  const sim = await startSimulatorProcess(0);
  const servers = {
    gateway: await startServerProcess(
      'gateway',
      benchEnv(redis.url, sim.url, { WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY, WORKERS: 'api' }, SANDBOX_APP),
    ),
    'bare express': await startServerProcess('express-text'),
  };
  const results: Record<keyof typeof servers, LoadResult[]> = { gateway: [], 'bare express': [] };
  const peak: Partial<Record<keyof typeof servers, number>> = {};
  // Each server has its own count, so that the gateway meets each push once (up to pushes.length).
  const sent = { gateway: 0, 'bare express': 0 };
  try {
    for (let round = 0; round < rounds; round++) {
      for (const name of ['bare express', 'gateway'] as const) {
        results[name].push(
          await load(name, `${servers[name].url}/wecom/callback`, {
            next: () => pushes[sent[name]++ % pushes.length],
            headers: { 'content-type': 'text/xml' },
            durationSeconds,
          }),
        );
      }
    }
  } finally {
    for (const name of Object.keys(servers) as (keyof typeof servers)[]) peak[name] = (await servers[name].stop()).peakRssMb;
    await sim.stop();
    await redis.stop();
  }
  printTable(
    `Callback: encrypted POST /wecom/callback, 50 connections, ${rounds} x ${durationSeconds}s ` +
      `alternated (a push seen before is answered as a repeat: ${pushes.length} distinct)`,
    summarise(results, 'bare express').map((row) => ({ ...row, 'peak RSS MB': peak[row.server as keyof typeof servers] ?? '-' })),
  );
}
