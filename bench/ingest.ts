import { createServer } from 'node:http';
import express from 'express';
import { close, listen, load, printTable, sampleRss, startBenchGateway, type LoadResult } from './support';

const BODY = JSON.stringify({
  event: 'program.alert',
  msgtype: 'text',
  to: { users: ['zhangsan'] },
  data: { title: 'Disk 95% on db1', content: '/var is almost full', level: 'critical' },
});

/**
 * POST /v1/messages against two baselines in the same run, alternated so that
 * machine noise hits all three alike: (a) bare express 5 + express.json()
 * answering 202, (b) a bare node:http JSON handler.
 */
export async function benchIngest(rounds = 2, durationSeconds = 5): Promise<void> {
  const bench = await startBenchGateway({
    WORKERS: 'api', // measures accepting; delivery has its own benchmark
    API_RATE_LIMIT_PER_MINUTE: '0', // one load generator would hit the per-caller limit
  });
  const bareExpress = express();
  bareExpress.post('/v1/messages', express.json(), (req, res) => void res.status(202).json({ id: 'x', status: 'queued', event: req.body.event }));
  const expressServer = createServer(bareExpress);
  const nodeServer = createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const parsed = JSON.parse(body) as { event: string };
      res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', status: 'queued', event: parsed.event }));
    });
  });
  const [expressUrl, nodeUrl] = await Promise.all([listen(expressServer), listen(nodeServer)]);

  const results: Record<string, LoadResult[]> = { gateway: [], express: [], node: [] };
  const rss = sampleRss();
  try {
    for (let round = 0; round < rounds; round++) {
      results.express.push(await load('express', `${expressUrl}/v1/messages`, { body: BODY, durationSeconds }));
      results.gateway.push(await load('gateway', `${bench.url}/v1/messages`, { body: BODY, durationSeconds }));
      results.node.push(await load('node', `${nodeUrl}/v1/messages`, { body: BODY, durationSeconds }));
    }
  } finally {
    rss.stop();
    await Promise.all([close(expressServer), close(nodeServer)]);
    await bench.stop();
  }
  const mean = (list: LoadResult[], key: 'requestsPerSecond' | 'p50' | 'p99') => list.reduce((sum, r) => sum + r[key], 0) / list.length;
  const expressRps = mean(results.express, 'requestsPerSecond');
  printTable(
    `Ingest: POST /v1/messages, 50 connections, ${rounds} x ${durationSeconds}s alternated (peak RSS of the whole process: ${rss.peakMb()} MB)`,
    Object.entries(results).map(([name, list]) => ({
      server: name,
      'req/s': Math.round(mean(list, 'requestsPerSecond')),
      'vs express': (mean(list, 'requestsPerSecond') / expressRps).toFixed(2),
      'p50 ms': mean(list, 'p50').toFixed(1),
      'p99 ms': mean(list, 'p99').toFixed(1),
      'errors+non2xx': list.reduce((sum, r) => sum + r.errors + r.non2xx, 0),
    })),
  );
}
