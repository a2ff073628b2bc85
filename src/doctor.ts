import { loadConfigOrExit } from './config/config';
import { diagnose, formatFindings } from './ops/doctor';
import { WecomClient } from './wecom/client';
import { WecomApi } from './wecom/wecom-api';
import { TokenStore } from './wecom/token-store';
import { Redis } from 'ioredis';
import { startEmbeddedRedis } from './redis/embedded-redis';

/**
 * `npm run doctor`: checks the configuration against WeCom and prints one line
 * per finding; exits 1 when something needs fixing. Uses a private throwaway
 * Redis for the token unless REDIS_URL is set.
 */
async function main(): Promise<void> {
  const config = loadConfigOrExit();
  if (config.apps.length === 0) {
    process.stdout.write('no WeCom app configured (WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_AGENT_SECRET): nothing to check; the gateway would run in sandbox mode\n');
    return;
  }
  const embedded = config.redis.url ? undefined : await startEmbeddedRedis();
  const redis = new Redis(config.redis.url ?? embedded!.url);
  const client = new WecomClient({ apiBase: config.wecom.apiBase, timeoutMs: config.wecom.timeoutMs });
  try {
    const findings = await diagnose(config.apps, new WecomApi(client, new TokenStore(redis, client, { prefix: config.redis.prefix })));
    process.stdout.write(`${formatFindings(findings)}\n`);
    process.exitCode = findings.every((f) => f.ok) ? 0 : 1;
  } finally {
    await client.close();
    await redis.quit();
    await embedded?.stop();
  }
}

main().catch((error: unknown) => {
  // e.g. no redis-server for the throwaway token cache: one line saying what to do, no stack.
  process.stderr.write(`doctor could not run: ${(error as Error).message}\n`);
  process.exit(1);
});
