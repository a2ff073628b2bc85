import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from './config/config';
import type { WecomApp } from './wecom/app';
import type { Robot } from './wecom/group-chat';
import { WecomSimulator } from './wecom/simulator/simulator';

/**
 * Sandbox mode (no WeCom credentials): the built-in WeCom simulator stands in
 * for WeCom, with the one app it knows. `npm start` and `npm run doctor` set it
 * up the same way, so both report the same checks.
 */
const SANDBOX_APP = { name: 'default', corpId: 'wwsandbox000000001', agentId: 1000002, secret: 'sandbox-secret' };

const SANDBOX_ROBOT_KEY = '00000000-0000-4000-8000-00000000a11e';

const ALPHANUMERIC = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';
const randomAlphanumeric = (length: number) => Array.from({ length }, () => ALPHANUMERIC[randomInt(ALPHANUMERIC.length)]).join('');

export interface Sandbox {
  /** The configuration with the simulator as WeCom and the sandbox app as the default app. */
  config: Config;
  simulator: WecomSimulator;
  /** Once the gateway listens: the simulator pushes the sandbox app's events (a scanned QR code) to its /wecom/callback. */
  deliverCallbacksTo(gateway: { host: string; port: number }): void;
  stop(): Promise<void>;
}

/** How the simulator, on this machine, reaches a gateway listening on `host`. */
function localAddress(host: string): string {
  if (host === '' || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Starts the simulator on `port` (0 = any free port). The sandbox app gets a
 * callback Token and EncodingAESKey of its own, so that /wecom/callback works as
 * with a real app; callback-only settings keep the real corp id and callback keys.
 */
export async function startSandbox(config: Config, options: { port: number; logger?: Logger }): Promise<Sandbox> {
  const app: WecomApp = {
    ...SANDBOX_APP,
    callback: { token: randomAlphanumeric(32), aesKey: randomAlphanumeric(43) },
    ...config.callbackOnly,
  };
  const simulator = await WecomSimulator.start(
    {
      apps: [app],
      // WeCom shows markup it does not know as plain text; the sandbox delivers it too, and says so.
      onMarkupProblem: (problems) => options.logger?.warn({ problems }, `WeCom would show this markup as plain text: ${problems.join('; ')}`),
      // For a phone on the LAN to scan the contact-way QR codes; the simulator then listens on all interfaces.
      ...(config.simulatorPublicUrl ? { publicUrl: config.simulatorPublicUrl } : {}),
    },
    options.port,
  );
  return {
    config: { ...config, apps: [app], defaultApp: app.name, wecom: { ...config.wecom, apiBase: simulator.url }, robots: sandboxRobots(config, simulator.url) },
    simulator,
    deliverCallbacksTo: ({ host, port }) => {
      if (!app.callback) return; // the sandbox app always has one: its own keys, or callbackOnly's
      const { token, aesKey, receiveId } = app.callback;
      simulator.deliverCallbacksTo({ url: `http://${localAddress(host)}:${port}/wecom/callback`, token, aesKey, corpId: app.corpId, receiveId, agentId: SANDBOX_APP.agentId });
    },
    stop: () => simulator.stop(),
  };
}

/**
 * The simulator stands in for WeCom's robots too: configured robots are called
 * there, and without any, a robot named `ops` lets the README's examples run.
 */
function sandboxRobots(config: Config, simulatorUrl: string): Robot[] {
  const robots = config.robots.length > 0 ? config.robots : [{ name: 'ops', keys: [SANDBOX_ROBOT_KEY], apiBase: simulatorUrl }];
  return robots.map((robot) => ({ ...robot, apiBase: simulatorUrl }));
}

/** Why the gateway is in sandbox mode, naming only what is really missing. */
export function sandboxReason(config: Pick<Config, 'callbackOnly'>): string {
  return config.callbackOnly
    ? `no agent (WECOM_AGENT_ID, WECOM_AGENT_SECRET): callbacks answer WeCom for corp ${config.callbackOnly.corpId}, messages go to the built-in WeCom simulator`
    : 'no WeCom credentials (WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_AGENT_SECRET): messages go to the built-in WeCom simulator';
}

/** What sandbox mode says first, in plain words on stderr; a JSON log line follows for machines. */
export function announceSandbox(config: Config, simulatorUrl: string, logger: Logger): void {
  const why = sandboxReason(config);
  process.stderr.write(`sandbox: ${why} at ${simulatorUrl}\n         what it delivered: ${simulatorUrl}/__sim/messages · its controls: README "Sandbox"\n`);
  if (config.simulatorPublicUrl) {
    process.stderr.write(`sandbox: contact-way QR codes point to SIMULATOR_PUBLIC_URL ${config.simulatorPublicUrl}: the simulator listens on all interfaces, its /__sim controls are reachable from the LAN\n`);
  }
  logger.warn({ simulator: simulatorUrl, callbackOnly: Boolean(config.callbackOnly) }, `SANDBOX MODE: ${why}; see its messages at ${simulatorUrl}/__sim/messages`);
}
