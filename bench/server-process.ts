import { fork } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { getHeapSpaceStatistics } from 'node:v8';
import express from 'express';
import { loadConfig } from '../src/config/load';
import { createGateway } from '../src/gateway';
import { createLimitedServer } from '../src/http/server-limits';
import { createLogger } from '../src/ops/logger';

/**
 * A benchmark's server in a process of its own, so that the load generator (in
 * the parent) neither takes its CPU nor counts in its memory. `gateway` is the
 * gateway as server.ts builds it, from the environment; the others are the
 * baselines it is compared with.
 */
export type ServerKind = 'gateway' | 'express-json' | 'node-json' | 'express-text';

export interface ServerProcess {
  url: string;
  pid: number;
  /** Stops it; answers its peak resident memory (the kernel's maxrss of that process alone). */
  stop(): Promise<{ peakRssMb: number }>;
}

type ChildMessage = { url: string } | { peakRssMb: number };

/**
 * Starts a server process. `BENCH_CPU_PROF=<dir>` writes a V8 CPU profile of
 * each gateway process there (open it in Chrome DevTools, or summarise it with
 * `node dist/bench/profile-summary.js <file>`).
 */
export function startServerProcess(kind: ServerKind, env: NodeJS.ProcessEnv = {}): Promise<ServerProcess> {
  const profileDir = process.env.BENCH_CPU_PROF;
  const child = fork(__filename, [kind], {
    env: { ...process.env, ...env },
    execArgv: kind === 'gateway' && profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir] : [],
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const next = () =>
    new Promise<ChildMessage>((resolve, reject) => {
      const onExit = (code: number | null) => reject(new Error(`${kind} server exited with ${code}`));
      child.once('exit', onExit);
      child.once('message', (message) => {
        child.off('exit', onExit);
        resolve(message as ChildMessage);
      });
    });
  return next().then((ready) => ({
    url: (ready as { url: string }).url,
    pid: child.pid!,
    stop: async () => {
      const exited = new Promise((resolve) => child.once('exit', resolve));
      const answer = next();
      child.send('stop');
      const { peakRssMb } = (await answer) as { peakRssMb: number };
      await exited;
      return { peakRssMb };
    },
  }));
}

function baseline(kind: Exclude<ServerKind, 'gateway'>): Server {
  if (kind === 'node-json') {
    return createServer((req, res) => {
      let body = '';
      req.on('data', (chunk) => (body += chunk));
      req.on('end', () => {
        const parsed = JSON.parse(body) as { event: string };
        res.writeHead(202, { 'content-type': 'application/json' }).end(JSON.stringify({ id: 'x', status: 'queued', event: parsed.event }));
      });
    });
  }
  const app = express();
  if (kind === 'express-json')
    app.post('/v1/messages', express.json(), (req, res) => void res.status(202).json({ id: 'x', status: 'queued', event: req.body.event }));
  else app.post('/wecom/callback', express.text({ type: () => true }), (_req, res) => void res.status(200).send(''));
  return createServer(app);
}

async function serve(kind: ServerKind): Promise<void> {
  let server: Server;
  let close = async () => undefined as void;
  if (kind === 'gateway') {
    const config = loadConfig(process.env);
    const gateway = await createGateway(config, { logger: createLogger(config.logLevel) });
    server = createLimitedServer(gateway.app, gateway.serverLimits);
    close = () => gateway.close();
  } else {
    server = baseline(kind);
  }
  server.listen(0, '127.0.0.1', () => {
    const address = server.address();
    process.send!({ url: `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}` });
  });
  // BENCH_MEMORY_TRACE=1: each second, the gateway's memory by V8 heap space (what grows, and what a GC gives back).
  if (process.env.BENCH_MEMORY_TRACE) {
    setInterval(() => {
      const m = process.memoryUsage();
      const spaces = getHeapSpaceStatistics()
        .map((s) => `${s.space_name.replace('_space', '')}=${Math.round(s.space_size / 1048576)}`)
        .join(' ');
      process.stderr.write(
        `rss=${Math.round(m.rss / 1048576)} heapTotal=${Math.round(m.heapTotal / 1048576)} ` +
          `used=${Math.round(m.heapUsed / 1048576)} external=${Math.round(m.external / 1048576)} ${spaces}\n`,
      );
    }, 1000).unref();
  }
  process.on('message', () => {
    server.closeAllConnections();
    server.close(
      () =>
        void close().then(() => {
          // maxRSS is in kilobytes: the highest resident set this process reached.
          process.send!({ peakRssMb: Math.round(process.resourceUsage().maxRSS / 1024) }, () => process.exit(0));
        }),
    );
  });
}

if (require.main === module) {
  serve(process.argv[2] as ServerKind).catch((error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  });
}
