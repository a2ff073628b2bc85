import { WecomSimulator } from './simulator';

/** Standalone simulator: `node dist/src/wecom/simulator/main.js` (SIM_PORT, default a free port). */
async function main(): Promise<void> {
  const simulator = await WecomSimulator.start({}, Number(process.env.SIM_PORT ?? 0));
  process.stdout.write(`${JSON.stringify({ level: 'info', msg: 'WeCom simulator listening', url: simulator.url })}\n`);
  const stop = () => void simulator.stop().then(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

void main();
