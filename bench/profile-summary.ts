import { readFileSync } from 'node:fs';
import { readCommandLine } from '../src/ops/cli';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  hitCount?: number;
}

/** Where a frame's code lives, coarsely: our code, a dependency by name, or V8/Node itself. */
function ownerOf(url: string): string {
  const dependency = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (dependency) return dependency[1];
  if (url.includes('/dist/src/')) return 'gateway';
  if (url.startsWith('node:')) return 'node';
  return url ? 'other' : '(native/V8)';
}

/**
 * `node dist/bench/profile-summary.js <file.cpuprofile> [top]`: the top frames
 * by self time and the share of samples per package, from a V8 CPU profile
 * (`BENCH_CPU_PROF=<dir> npm run bench -- ingest`).
 */
function main(): void {
  const [file, topArg] = readCommandLine(
    {
      name: 'profile-summary',
      usage: 'node dist/bench/profile-summary.js <file.cpuprofile> [top]',
      text: `The top frames by self time (default 25) and the share of samples per package,
from a V8 CPU profile (BENCH_CPU_PROF=<dir> npm run bench -- ingest).
Exit codes: 0 done, 1 unreadable profile, 64 bad command line.`,
    },
    {
      positionals: ([profile, top, ...rest]) => {
        if (!profile) return 'a .cpuprofile file is needed';
        if (top !== undefined && !/^\d+$/.test(top)) return `top must be a number, not ${top}`;
        if (rest.length > 0) return `unexpected argument ${rest[0]}`;
        return undefined;
      },
    },
  ) as [string, string | undefined];
  const profile = JSON.parse(readFileSync(file, 'utf8')) as { nodes: ProfileNode[]; samples: number[] };
  const total = profile.samples.length;
  const idle = new Set(profile.nodes.filter((n) => n.callFrame.functionName === '(idle)').map((n) => n.id));
  const busy = profile.samples.filter((id) => !idle.has(id)).length;
  const byFrame = new Map<string, number>();
  const byOwner = new Map<string, number>();
  for (const node of profile.nodes) {
    if (idle.has(node.id) || !node.hitCount) continue;
    const { functionName, url, lineNumber } = node.callFrame;
    const frame = `${functionName || '(anonymous)'} ${url.replace(/^.*node_modules\//, '').replace(/^.*\/dist\//, '')}:${lineNumber + 1}`;
    byFrame.set(frame, (byFrame.get(frame) ?? 0) + node.hitCount);
    byOwner.set(ownerOf(url), (byOwner.get(ownerOf(url)) ?? 0) + node.hitCount);
  }
  const pct = (n: number) => `${((100 * n) / busy).toFixed(1)} %`;
  const print = (title: string, map: Map<string, number>, top: number) => {
    process.stdout.write(`\n${title}\n`);
    for (const [name, hits] of [...map].sort((a, b) => b[1] - a[1]).slice(0, top))
      process.stdout.write(`${pct(hits).padStart(7)}  ${name}\n`);
  };
  process.stdout.write(
    `${file}: ${total} samples, ${busy} busy (${((100 * busy) / total).toFixed(0)} % of the time); shares below are of busy samples\n`,
  );
  print('By package (self time)', byOwner, 15);
  print('Top frames (self time)', byFrame, Number(topArg ?? 25));
}

main();
