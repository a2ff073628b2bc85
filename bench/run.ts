import { readCommandLine } from '../src/ops/cli';
import { benchCallback } from './callback';
import { benchDelivery } from './delivery';
import { benchIngest } from './ingest';
import { benchGroupStorm } from './group-storm';
import { benchRedisMemory } from './redis-memory';
import { benchStorm } from './storm';
import { benchWelcome } from './welcome';

/** `npm run bench [name…]`: runs the named benchmarks (default: all) and prints a table each. */
const BENCHES: Record<string, () => Promise<void>> = {
  ingest: () => benchIngest(),
  delivery: () => benchDelivery(),
  callback: () => benchCallback(),
  welcome: () => benchWelcome(),
  storm: () => benchStorm(),
  'group-storm': () => benchGroupStorm(),
  'redis-memory': () => benchRedisMemory(),
};

async function main(): Promise<void> {
  const known = Object.keys(BENCHES);
  const chosen = readCommandLine(
    {
      name: 'bench',
      usage: 'npm run bench [-- name…]',
      text: `Runs the named benchmarks (default: all) and prints a table each, against a
baseline measured in the same run. Names: ${known.join(', ')}.
Variables: BENCH_ROUNDS (3), BENCH_CPU_PROF=<dir>, BENCH_MEMORY_TRACE=1,
BENCH_WAIT_REPLICAS=1 (ingest: a Redis replica, and a gateway with REDIS_WAIT_REPLICAS=1 beside).
Exit codes: 0 done, 1 a benchmark failed, 64 bad command line.`,
    },
    {
      positionals: (names) => {
        const unknown = names.find((n) => !known.includes(n));
        return unknown && `unknown benchmark ${unknown} (known: ${known.join(', ')})`;
      },
    },
  );
  const names = chosen.length > 0 ? chosen : known;
  for (const name of names) {
    await BENCHES[name]!();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  },
);
