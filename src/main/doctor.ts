import { redisKeys } from '../redis/keys';
import { Redis } from 'ioredis';
import { keylessProblem, loadConfigOrExit } from '../config/load';
import { readCommandLine } from '../ops/cli';
import { diagnose, formatFindings } from '../ops/diagnose';
import { startEmbeddedRedis } from '../redis/embedded-redis';
import { startSandbox } from './sandbox';
import { TokenStore } from '../wecom/token-store';
import { WecomTransport } from '../wecom/transport';
import { WecomApi } from '../wecom/wecom-api';

const HELP = {
  name: 'doctor',
  usage: 'npm run doctor   (or: node dist/src/main/doctor.js)',
  text: `
Checks the configuration against WeCom, one line per finding (gettoken,
agent/get, getcallbackip, keys), the same findings as GET /v1/diagnostics.
Reads the same environment variables as the gateway (docs/configuration.md);
without WeCom credentials it checks the sandbox's simulator and says so.

Exit codes: 0 all good, 1 something needs fixing (or doctor could not run),
64 bad command line, 78 bad configuration.`,
};

/**
 * `npm run doctor`: checks the configuration against WeCom and prints one line
 * per finding, the same findings as GET /v1/diagnostics; exits 1 when something
 * needs fixing. Without credentials it checks a sandbox of its own, as `npm start`
 * would run. Uses a private throwaway Redis for the token unless REDIS_URL is set.
 */
async function main(): Promise<void> {
  readCommandLine(HELP);
  let config = loadConfigOrExit();
  // Reported with the other findings (npm start refuses to run so): the WeCom checks are still worth seeing.
  const keyless = keylessProblem(config);
  // Port 0: a sandbox gateway already running keeps its simulator's port.
  const sandbox = config.sandbox ? await startSandbox(config, { port: 0 }) : undefined;
  if (sandbox) config = sandbox.config;
  const embedded = config.redis.url ? undefined : await startEmbeddedRedis({ binary: config.redis.embeddedBinary });
  const redis = new Redis(config.redis.url ?? embedded!.url);
  const transport = new WecomTransport(config.wecom);
  try {
    const tokens = new TokenStore(redis, transport, { keys: redisKeys(config.redis.prefix) });
    const findings = await diagnose(config, new WecomApi(transport, tokens));
    if (keyless) findings.unshift({ ok: false, app: 'all', check: 'keys', detail: keyless });
    process.stdout.write(`${formatFindings(findings)}\n`);
    process.exitCode = findings.every((f) => f.ok) ? 0 : 1;
  } finally {
    await transport.close();
    await redis.quit();
    await embedded?.stop();
    await sandbox?.stop();
  }
}

main().catch((error: unknown) => {
  // e.g. no redis-server for the throwaway token cache: one line saying what to do, no stack.
  process.stderr.write(`doctor could not run: ${(error as Error).message}\n`);
  process.exit(1);
});
