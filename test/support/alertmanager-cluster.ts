import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../../src/redis/embedded-redis';
import { eventually } from './harness';
import { binaryPath } from './prerequisites';

const ALERTMANAGER = binaryPath('alertmanager');

/**
 * The replica at position i in the cluster (peers sorted by name) waits i ×
 * this before it sends, and looks in the gossiped notification log first.
 */
export const PEER_TIMEOUT_SECONDS = 2;

/**
 * Gossip fast enough for a test on loopback:
 * - gossip every 50 ms (default 200 ms): notification log entries reach the other
 *   replicas well inside the peer timeout, and the settling (10 gossip intervals a
 *   poll, 4 polls) takes ~2 s instead of ~8 s;
 * - full state syncs every second (default 1 min), for a gossip message lost on the way;
 * - peers it could not reach retried every second (default 10 s): the first replica
 *   starts before the others listen (they join it as they start; this is the fallback);
 * - settling capped at 10 s (default 1 min): nothing is sent before it ends.
 */
const GOSSIP_FLAGS = [
  `--cluster.peer-timeout=${PEER_TIMEOUT_SECONDS}s`,
  '--cluster.gossip-interval=50ms',
  '--cluster.pushpull-interval=1s',
  '--cluster.reconnect-interval=1s',
  '--cluster.settle-timeout=10s',
];

/** How long a replica may take to leave the cluster and write its state on SIGTERM before it is killed. */
const STOP_GRACE_MS = 5_000;

export interface AlertmanagerSet {
  /** The replicas' web ports on 127.0.0.1, replica i at ports[i]. */
  ports: number[];
  /** Stops every replica, waits for each to exit, then removes their directories. */
  stop(): Promise<void>;
}

interface Replica {
  process: ChildProcess;
  exited: Promise<void>;
  dir: string;
  /** The end of what it logged, for an error that says why it did not start. */
  log(): string;
}

function spawnReplica(dir: string, args: string[]): Replica {
  const am = spawn(ALERTMANAGER, [`--config.file=${join(dir, 'alertmanager.yml')}`, `--storage.path=${join(dir, 'data')}`, ...args], {
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let tail = '';
  am.stderr!.on('data', (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4_000);
  });
  // A process that failed to spawn may never emit 'exit'.
  const exited = new Promise<void>((resolve) => am.once('exit', () => resolve()).once('error', () => resolve()));
  return { process: am, exited, dir, log: () => tail };
}

async function stopReplica(replica: Replica): Promise<void> {
  const am = replica.process;
  if (am.exitCode === null && am.signalCode === null) {
    am.kill('SIGTERM');
    // A clustered replica announces that it leaves; a peer that stopped answering could keep it waiting.
    const timer = setTimeout(() => am.kill('SIGKILL'), STOP_GRACE_MS);
    await replica.exited;
    clearTimeout(timer);
  }
  await replica.exited;
  rmSync(replica.dir, { recursive: true, force: true });
}

async function status(port: number): Promise<{ cluster: { status: string; peers?: { name: string; address: string }[] } }> {
  const res = await fetch(`http://127.0.0.1:${port}/api/v2/status`);
  if (!res.ok) throw new Error(`GET /api/v2/status: ${res.status}`);
  return (await res.json()) as { cluster: { status: string; peers?: { name: string; address: string }[] } };
}

/**
 * n real Alertmanagers with the same configuration, each in a directory and on a
 * web port of its own, and with an external URL of its own (http://am-<i>.example:9093),
 * as real replicas have.
 *
 * - clustered: they gossip on loopback (each names the others as peers) and share
 *   their notification log and silences; replica at position i in the cluster waits
 *   i × PEER_TIMEOUT_SECONDS before sending, and sends nothing another has sent.
 *   Started one after the other, so each later one joins those already running;
 *   ready once each sees all n and has settled.
 * - partitioned: no gossip at all (`--cluster.listen-address=`), each sends on its own.
 */
export async function startAlertmanagers(n: number, config: string, options: { clustered: boolean }): Promise<AlertmanagerSet> {
  const webPorts: number[] = [];
  const clusterPorts: number[] = [];
  for (let i = 0; i < n; i++) {
    webPorts.push(await freePort());
    if (options.clustered) clusterPorts.push(await freePort());
  }
  const replicas: Replica[] = [];
  const stop = async () => {
    // One after the other: a clustered replica leaves in a moment while its peers still
    // answer, but waits out its leave timeout when they all go at once.
    for (const replica of replicas) await stopReplica(replica);
  };
  try {
    for (let i = 0; i < n; i++) {
      const dir = mkdtempSync(join(tmpdir(), `wgw-am${i}-`));
      writeFileSync(join(dir, 'alertmanager.yml'), config);
      const cluster = options.clustered
        ? [
            `--cluster.listen-address=127.0.0.1:${clusterPorts[i]}`,
            `--cluster.advertise-address=127.0.0.1:${clusterPorts[i]}`,
            ...clusterPorts.filter((_, j) => j !== i).map((port) => `--cluster.peer=127.0.0.1:${port}`),
            ...GOSSIP_FLAGS,
          ]
        : ['--cluster.listen-address='];
      const replica = spawnReplica(dir, [
        `--web.listen-address=127.0.0.1:${webPorts[i]}`,
        `--web.external-url=http://am-${i}.example:9093`,
        ...cluster,
      ]);
      replicas.push(replica);
      const failed = new Promise<never>((_, reject) => {
        replica.process.once('error', (error) =>
          reject(new Error(`cannot start ${ALERTMANAGER} (ALERTMANAGER_PATH overrides it): ${error.message}`)),
        );
        replica.process.once('exit', (code, signal) =>
          reject(new Error(`alertmanager ${i} exited (${signal ?? code}) before it was ready:\n${replica.log()}`)),
        );
      });
      failed.catch(() => undefined);
      await Promise.race([
        failed,
        eventually(async () => (await fetch(`http://127.0.0.1:${webPorts[i]}/-/ready`)).ok || undefined, 20_000, 100),
      ]);
    }
    if (options.clustered) {
      for (const [i, port] of webPorts.entries()) {
        await eventually(
          async () => {
            const { cluster } = await status(port);
            if ((cluster.peers?.length ?? 0) !== n) throw new Error(`alertmanager ${i} sees ${cluster.peers?.length ?? 0} of ${n} peers`);
            if (cluster.status !== 'ready') throw new Error(`alertmanager ${i} is ${cluster.status}`);
            return true;
          },
          20_000,
          100,
        );
      }
    }
  } catch (error) {
    await stop();
    throw error;
  }
  return { ports: webPorts, stop };
}
