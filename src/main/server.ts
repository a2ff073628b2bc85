import type { Server } from 'node:http';
import { ExtensionLoadError } from '../callback/extensions';
import type { Config } from '../config/config';
import { keylessProblem, loadConfigOrExit, startupWarnings } from '../config/load';
import { createGateway, type Gateway } from '../gateway';
import { createLimitedServer } from '../http/server-limits';
import { TemplateLoadError } from '../messages/template-source';
import { readCommandLine } from '../ops/cli';
import { createLogger } from '../ops/logger';
import { RedisServerMissingError, startEmbeddedRedis, type EmbeddedRedis } from '../redis/embedded-redis';
import { announceSandbox, sandboxReadyLine, startSandbox, type Sandbox } from './sandbox';

const HELP = {
  name: 'wecom-gateway',
  usage: 'node dist/src/main/server.js   (or: npm start)',
  text: `
The gateway: the REST API, the WeCom callback endpoint, the queues' workers and
the operator console, configured by environment variables (docs/configuration.md).
Without WeCom credentials it runs in sandbox mode against a built-in WeCom
simulator; without REDIS_URL it starts a private redis-server. With
NODE_ENV=production (the Docker image) it does neither unless SANDBOX=1:
missing credentials or Redis stop the start with a line naming them.

Main variables: PORT, HOST, REDIS_URL, WECOM_CORP_ID, WECOM_AGENT_ID,
WECOM_AGENT_SECRET, GATEWAY_API_KEYS, GATEWAY_CONFIG, WORKERS, LOG_LEVEL,
LOG_FORMAT (auto: readable in a terminal, JSON otherwise).

Stops gracefully on SIGTERM or SIGINT. SIGHUP reloads the templates
(TEMPLATES_DIR) without a restart; a broken edit keeps the previous ones.
Exit codes: 0 stopped, 1 could not start, 64 bad command line, 69 no
redis-server for the embedded Redis, 78 bad configuration.`,
};

/**
 * Process entry: configuration, sandbox pieces (simulator, embedded Redis),
 * the gateway, HTTP, and a graceful shutdown that loses nothing.
 */
async function main(): Promise<void> {
  readCommandLine(HELP);
  let config: Config = loadConfigOrExit();
  const keyless = keylessProblem(config);
  if (keyless) {
    process.stderr.write(`${keyless}\n`);
    process.exit(78); // EX_CONFIG, like every other configuration problem
  }
  const logger = createLogger(config.logLevel, config.logFormat);
  const cleanups: (() => Promise<void>)[] = [];

  let sandbox: Sandbox | undefined;
  if (config.sandbox) {
    try {
      sandbox = await startSandbox(config, { port: config.simulatorPort, logger });
    } catch (error) {
      process.stderr.write(`${listenProblem(error as NodeJS.ErrnoException, 'SIMULATOR_PORT', '127.0.0.1', config.simulatorPort)}\n`);
      process.exit(1);
    }
    cleanups.push(sandbox.stop);
    config = sandbox.config;
    announceSandbox(config, sandbox.simulator.url, logger);
  }
  if (!config.redis.url && !config.redis.clusterNodes && !config.redis.sentinels) {
    let redis: EmbeddedRedis;
    try {
      redis = await startEmbeddedRedis({ binary: config.redis.embeddedBinary });
    } catch (error) {
      if (error instanceof RedisServerMissingError) {
        process.stderr.write(`${error.message}\n`);
        process.exit(69);
      }
      throw error;
    }
    cleanups.unshift(() => redis.stop());
    config = { ...config, redis: { ...config.redis, url: redis.url } };
    logger.warn(
      { redis: redis.url, dir: redis.dir },
      'no REDIS_URL: started an embedded redis-server (stopped with the gateway; its data lives in a temporary folder)',
    );
  }
  if (config.apiKeys.length === 0)
    logger.warn(`no GATEWAY_API_KEYS: /v1 accepts only local callers (loopback, a local Host, no proxy), without a key, on ${config.host}`);
  for (const warning of startupWarnings(config)) logger.warn(warning);

  let gateway: Gateway;
  try {
    gateway = await createGateway(config, { logger });
  } catch (error) {
    if (error instanceof TemplateLoadError || error instanceof ExtensionLoadError) {
      process.stderr.write(`${error.message}\n`);
      await Promise.allSettled(cleanups.map((c) => c()));
      process.exit(78);
    }
    throw error;
  }
  const server: Server = createLimitedServer(gateway.app, gateway.serverLimits);
  server.listen(config.port, config.host, () => {
    const address = server.address();
    const port = typeof address === 'object' && address ? address.port : config.port;
    sandbox?.deliverCallbacksTo({ host: config.host, port }); // a scanned sandbox QR code pushes here
    logger.info(
      { port, sandbox: config.sandbox, apps: config.apps.map((a) => a.name), events: gateway.events },
      `wecom-gateway listening on http://localhost:${port} (API docs at /docs)`,
    );
    if (config.sandbox) process.stderr.write(`${sandboxReadyLine(config, port)}\n`);
  });
  server.on('error', (error: NodeJS.ErrnoException) => {
    process.stderr.write(`${listenProblem(error, 'PORT', config.host, config.port)}\n`);
    // What was started (the embedded Redis and its folder, the simulator) goes with it.
    setTimeout(() => process.exit(1), 8_000).unref();
    void (async () => {
      await gateway.close().catch(() => undefined);
      for (const cleanup of cleanups) await cleanup().catch(() => undefined);
      process.exit(1);
    })();
  });

  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, 'shutting down: no new requests, finishing in-flight sends');
    const force = setTimeout(() => process.exit(1), 30_000);
    force.unref();
    // Requests already inside finish (they need Redis) before the gateway closes its connections.
    const drained = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeIdleConnections();
    await Promise.race([drained, new Promise((r) => setTimeout(r, 10_000).unref())]);
    await gateway.close();
    for (const cleanup of cleanups) await cleanup().catch(() => undefined);
    logger.info('stopped');
    process.exit(0);
  };
  process.on('SIGTERM', () => void shutdown('SIGTERM'));
  process.on('SIGINT', () => void shutdown('SIGINT'));
  // SIGHUP re-reads TEMPLATES_DIR, as daemons re-read their configuration (every role renders: API, alert and welcome workers).
  process.on('SIGHUP', () => void gateway.reloadTemplates());
  if (process.env.npm_lifecycle_event) stopWithParent(() => void shutdown('parent exited'));
}

/** One line for a port the process cannot have, naming the variable that chooses it. */
function listenProblem(error: NodeJS.ErrnoException, variable: 'PORT' | 'SIMULATOR_PORT', host: string, port: number): string {
  if (error.code === 'EADDRINUSE') return `${variable}: port ${port} is taken (set ${variable} to a free port; 0 = any free port)`;
  if (error.code === 'EACCES') return `${variable}: port ${port} needs privileges this process lacks (set ${variable} above 1023)`;
  if (error.code === 'EADDRNOTAVAIL') return `HOST: ${host} is not an address of this machine (set HOST)`;
  return `${variable}: cannot listen on ${host}:${port}: ${error.message}`;
}

/**
 * Started by `npm start`, the gateway stops when npm goes, however npm went (a
 * kill -9 forwards no signal): stopping the process the user started stops
 * everything it started. Run directly (node, Docker, systemd, nohup), it does not
 * watch: a re-parented process may be meant to outlive its shell.
 */
function stopWithParent(stop: () => void): void {
  const parent = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid === parent) return;
    clearInterval(watch);
    stop();
  }, 500);
  watch.unref();
}

main().catch((error: unknown) => {
  process.stderr.write(`wecom-gateway failed to start: ${(error as Error).message}\n`);
  process.exit(1);
});
