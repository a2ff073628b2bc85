import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** The binary started when the caller names none: redis-server on PATH. */
export const DEFAULT_REDIS_SERVER = 'redis-server';

/** Raised when sandbox mode needs a local redis-server and none is installed. */
export class RedisServerMissingError extends Error {
  constructor(binary: string = DEFAULT_REDIS_SERVER) {
    // Name the binary tried when it is not the default: "not installed" would mislead about a wrong path.
    const what = binary === DEFAULT_REDIS_SERVER ? 'redis-server is not installed' : `redis-server could not be run from ${binary}`;
    super(
      `${what} and REDIS_URL is unset: install it (apt-get install -y ` +
        `redis-server / brew install redis) or set REDIS_URL=redis://host:6379`,
    );
  }
}

export interface EmbeddedRedisOptions {
  port?: number;
  dir?: string;
  extraArgs?: string[];
  /** The redis-server to run: a path, or a name looked up on PATH. */
  binary?: string;
  /** A config file read before the arguments: a redis-sentinel needs one, which it rewrites. */
  configFile?: string;
}

export interface EmbeddedRedis {
  url: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
}

export function redisServerInstalled(binary: string = DEFAULT_REDIS_SERVER): boolean {
  return spawnSync(binary, ['--version'], { stdio: 'ignore' }).status === 0;
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
export async function startEmbeddedRedis(opts: EmbeddedRedisOptions = {}): Promise<EmbeddedRedis> {
  if (!redisServerInstalled(opts.binary)) throw new RedisServerMissingError(opts.binary);
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

/**
 * redis-servers this process started and has not stopped. Each is stopped when the
 * process exits, however it exits (a forced exit after a stuck shutdown too), so none
 * outlives it; only a kill -9 of this process leaves one behind.
 */
const running = new Set<ChildProcess>();
let stopOnExit = false;

function track(child: ChildProcess): void {
  running.add(child);
  child.once('exit', () => running.delete(child));
  if (stopOnExit) return;
  stopOnExit = true;
  process.once('exit', () => {
    for (const server of running) server.kill('SIGTERM');
  });
}

async function startOn(port: number, opts: EmbeddedRedisOptions): Promise<EmbeddedRedis> {
  const dir = opts.dir ?? mkdtempSync(join(tmpdir(), 'wgw-redis-'));
  const ownsDir = !opts.dir;
  const child: ChildProcess = spawn(
    opts.binary ?? DEFAULT_REDIS_SERVER,
    [
      ...(opts.configFile ? [opts.configFile] : []),
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      dir,
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--save',
      '',
      '--protected-mode',
      'yes',
      ...(opts.extraArgs ?? []),
    ],
    // A process group of its own: a Ctrl-C in the terminal reaches the gateway, which
    // finishes its in-flight work and then stops Redis, instead of both at once.
    { stdio: ['ignore', 'pipe', 'pipe'], detached: true },
  );
  track(child);
  const started = new Promise<void>((resolve, reject) => {
    let output = '';
    const timer = setTimeout(() => reject(new Error(`redis-server did not start: ${output.slice(-500)}`)), 10_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      // A Sentinel does not say "Ready": its id comes once it listens.
      if (/Ready to accept connections|Sentinel ID is/.test(output)) {
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
