import { WecomSimulator } from './simulator';

/**
 * Standalone simulator: `node dist/src/simulator/main.js`. SIM_PORT (default
 * a free port), SIM_LATENCY_MS (every answer waits this long), SIM_MEMBER_LIMITS=off
 * (no silent per-member drop, e.g. for throughput runs to one member).
 */
async function main(): Promise<void> {
  const simulator = await WecomSimulator.start(
    {
      latencyMs: Number(process.env.SIM_LATENCY_MS ?? 0),
      ...(process.env.SIM_MEMBER_LIMITS === 'off' ? { memberLimits: [] } : {}),
    },
    Number(process.env.SIM_PORT ?? 0),
  );
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'WeCom simulator listening', url: simulator.url })}\n`);
  const stop = () => void simulator.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
