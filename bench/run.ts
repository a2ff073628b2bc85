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
  const names = process.argv.slice(2).length > 0 ? process.argv.slice(2) : Object.keys(BENCHES);
  for (const name of names) {
    const bench = BENCHES[name];
    if (!bench) throw new Error(`unknown benchmark ${name}; known: ${Object.keys(BENCHES).join(', ')}`);
    await bench();
  }
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    process.stderr.write(`${(error as Error).stack}\n`);
    process.exit(1);
  },
);
