import { createServer } from 'node:http';
import autocannon from 'autocannon';
import express from 'express';
import { CallbackCrypto } from '../src/wecom/callback-crypto';
import { BENCH_APP, close, listen, printTable, sampleRss, startBenchGateway } from './support';

const TOKEN = 'benchToken';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG';

/**
 * Encrypted WeCom pushes per second and p99 answer time, against a bare express
 * handler that reads the same body and answers 200, in the same run. Each push
 * is a distinct user message (distinct MsgId), so each is verified, decrypted,
 * deduplicated and queued.
 */
export async function benchCallback(durationSeconds = 5): Promise<void> {
  const bench = await startBenchGateway({ WECOM_CALLBACK_TOKEN: TOKEN, WECOM_CALLBACK_AES_KEY: AES_KEY, WORKERS: 'api' });
  const crypto = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: BENCH_APP.corpId });
  // Pre-encrypted pushes, so the load generator does not compete for CPU with crypto of its own;
  // signed now, well inside the gateway's timestamp window (300 s) for the whole run.
  const timestamp = String(Math.floor(Date.now() / 1000));
  const pushes = Array.from({ length: 20_000 }, (_, i) => {
    const xml = `<xml><ToUserName><![CDATA[${BENCH_APP.corpId}]]></ToUserName><FromUserName><![CDATA[zhangsan]]></FromUserName><CreateTime>${timestamp}</CreateTime><MsgType><![CDATA[text]]></MsgType><Content><![CDATA[hello ${i}]]></Content><MsgId>${7300000000000000000n + BigInt(i)}</MsgId><AgentID>1000002</AgentID></xml>`;
    const encrypt = crypto.encrypt(xml);
    const signature = crypto.signature(timestamp, String(i), encrypt);
    return { path: `/wecom/callback?msg_signature=${signature}&timestamp=${timestamp}&nonce=${i}`, body: `<xml><ToUserName><![CDATA[${BENCH_APP.corpId}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>` };
  });
  const bare = express();
  bare.post('/wecom/callback', express.text({ type: () => true }), (_req, res) => void res.status(200).send(''));
  const bareServer = createServer(bare);
  const bareUrl = await listen(bareServer);
  const run = async (url: string) => {
    let next = 0;
    const result = await autocannon({
      url,
      connections: 50,
      duration: durationSeconds,
      requests: [
        {
          method: 'POST',
          setupRequest: (req) => {
            const push = pushes[next++ % pushes.length];
            return { ...req, path: push.path, body: push.body, headers: { 'content-type': 'text/xml' } };
          },
        },
      ],
    });
    return { rps: result.requests.average, p99: result.latency.p99, bad: result.non2xx + result.errors };
  };
  const rss = sampleRss();
  try {
    const bareResult = await run(bareUrl);
    const gatewayResult = await run(bench.url);
    rss.stop();
    printTable(`Callback: encrypted POST /wecom/callback, 50 connections, ${durationSeconds}s each (peak RSS of the whole process: ${rss.peakMb()} MB)`, [
      { server: 'gateway', 'req/s': Math.round(gatewayResult.rps), 'vs bare express': (gatewayResult.rps / bareResult.rps).toFixed(2), 'p99 ms': gatewayResult.p99, 'errors+non2xx': gatewayResult.bad },
      { server: 'bare express', 'req/s': Math.round(bareResult.rps), 'vs bare express': '1.00', 'p99 ms': bareResult.p99, 'errors+non2xx': bareResult.bad },
    ]);
  } finally {
    rss.stop();
    await close(bareServer);
    await bench.stop();
  }
}
