import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/redis/embedded-redis';
import { eventually } from './harness';
import { binaryPath } from './prerequisites';

export interface Tinyproxy {
  port: number;
  /** The proxy's URL as HTTPS_PROXY takes it, with the credentials when it asks for some. */
  url: string;
  /** What it has logged so far: one CONNECT line per tunnel it opened (`CONNECT host:port`), never a path. */
  log(): string;
  stop(): Promise<void>;
}

/**
 * A real forward proxy (Debian's tinyproxy) of the test's own, on a free loopback port,
 * in the foreground with a config and log in a temporary folder. `bind`: the address
 * its outgoing connections leave from (127.0.0.2 on Linux's loopback), so that a
 * server sees a call that came through it from another address than a direct one.
 * `auth`: Basic credentials it asks of every client (407 without them).
 */
export async function startTinyproxy(options: { bind?: string; auth?: { user: string; password: string } } = {}): Promise<Tinyproxy> {
  const dir = mkdtempSync(join(tmpdir(), 'wgw-tinyproxy-'));
  const port = await freePort();
  const conf = [
    `Port ${port}`,
    'Listen 127.0.0.1',
    'Allow 127.0.0.1',
    `LogFile "${join(dir, 'tinyproxy.log')}"`,
    'LogLevel Info',
    'Timeout 30',
    'MaxClients 50',
    ...(options.bind ? [`Bind ${options.bind}`] : []),
    ...(options.auth ? [`BasicAuth ${options.auth.user} ${options.auth.password}`] : []),
  ];
  writeFileSync(join(dir, 'tinyproxy.conf'), `${conf.join('\n')}\n`);
  const child = spawn(binaryPath('tinyproxy'), ['-d', '-c', join(dir, 'tinyproxy.conf')], { stdio: 'ignore' });
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()).once('error', () => resolve()));
  const stop = async () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    await exited;
    rmSync(dir, { recursive: true, force: true });
  };
  const accepts = () =>
    new Promise<boolean>((resolve) => {
      const socket = connect(port, '127.0.0.1', () => resolve(socket.end() && true)).once('error', () => resolve(false));
    });
  try {
    await eventually(async () => (await accepts()) || undefined, 10_000, 50);
  } catch (error) {
    await stop();
    throw error;
  }
  const credentials = options.auth ? `${options.auth.user}:${encodeURIComponent(options.auth.password)}@` : '';
  return {
    port,
    url: `http://${credentials}127.0.0.1:${port}`,
    log: () => readFileSync(join(dir, 'tinyproxy.log'), 'utf8'),
    stop,
  };
}

/** The tunnels a proxy log shows opened to `port` (CONNECT 127.0.0.1:port lines). */
export function tunnelsTo(log: string, port: number): number {
  return log.split('\n').filter((line) => line.includes(`CONNECT 127.0.0.1:${port} `)).length;
}
