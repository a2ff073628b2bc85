import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Raised when sandbox mode needs a local redis-server and none is installed. */
export class RedisServerMissingError extends Error {
  constructor() {
    super('redis-server is not installed and REDIS_URL is unset: install it (apt-get install -y redis-server / brew install redis) or set REDIS_URL=redis://host:6379');
  }
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export function redisServerInstalled(): boolean {
  return spawnSync('redis-server', ['--version'], { stdio: 'ignore' }).status === 0;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/**
 * Starts a private redis-server on a free loopback port, with AOF on so that a
 * restart of the same server (same dir) keeps every accepted message.
 */
export async function startEmbeddedRedis(opts: { port?: number; dir?: string; extraArgs?: string[] } = {}): Promise<EmbeddedRedis> {
  if (!redisServerInstalled()) throw new RedisServerMissingError();
  if (opts.port !== undefined) return startOn(opts.port, opts);
  // A port found free can be taken before redis-server binds it (another server, a
  // connection's source port, a cluster node's bus port at port + 10000, which must
  // also stay under 65536): try another.
  for (let attempt = 1; ; attempt++) {
    try {
      return await startOn(await freePort(), opts);
    } catch (error) {
      if (attempt >= 8 || !/Address already in use|port number too high/i.test((error as Error).message)) throw error;
    }
  }
}

async function startOn(port: number, opts: { dir?: string; extraArgs?: string[] }): Promise<EmbeddedRedis> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'wgw-redis-'));
  const ownsDir = !opts.dir;
  const child: ChildProcess = spawn(
    'redis-server',
    ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--appendonly', 'yes', '--appendfsync', 'everysec', '--save', '', '--protected-mode', 'yes', ...(opts.extraArgs ?? [])],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const started = new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output.slice(-500)}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (output.includes('Ready to accept connections')) {
        clearTimeout(timer);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with ${code}: ${output.slice(-500)}`));
    });
  });
  try {
    await started;
  } catch (error) {
    // A start that failed (port taken, timed out) leaves neither a process nor a folder behind.
    child.kill('SIGKILL');
    if (ownsDir) rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  child.stdout?.resume();
  child.stderr?.resume();
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    dir,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => {
          if (ownsDir) rmSync(dir, { recursive: true, force: true });
          resolve();
        });
        child.kill('SIGTERM');
      }),
  };
}
