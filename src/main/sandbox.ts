import { randomInt } from 'node:crypto';
import type { Logger } from 'pino';
import type { Config } from '../config/config';
import type { WecomApp } from '../wecom/app';
import type { Robot } from '../wecom/group-chat';
import { WecomSimulator, type DirectoryOptions, type SimulatedDepartment, type SimulatedMember } from '../simulator/simulator';

/**
 * Sandbox mode (no WeCom credentials): the built-in WeCom simulator stands in
 * for WeCom, with the one app it knows. `npm start` and `npm run doctor` set it
 * up the same way, so both report the same checks.
 */
const SANDBOX_APP = { name: 'default', corpId: 'wwsandbox000000001', agentId: 1000002, secret: 'sandbox-secret' };

const SANDBOX_ROBOT_KEY = '00000000-0000-4000-8000-00000000a11e';

/**
 * The sandbox's corp, so that a message to a userid it does not have fails as it
 * would with WeCom (invaliduser, or 81013 when nobody is left, reference §2.3):
 * the members the README's examples and the shipped welcome activity name.
 */
export const SANDBOX_DEPARTMENTS: SimulatedDepartment[] = [
  { id: 1, name: '沙箱科技', parentid: 0 },
  { id: 2, name: '运维部', parentid: 1 },
  { id: 3, name: '研发部', parentid: 1 },
  { id: 4, name: '销售部', parentid: 1 },
];
export const SANDBOX_MEMBERS: SimulatedMember[] = [
  { userid: 'zhangsan', name: '张三', department: [2], position: 'SRE' },
  { userid: 'lisi', name: '李四', department: [2], position: 'SRE' },
  { userid: 'wangwu', name: '王五', department: [3], position: '开发' },
  { userid: 'boss', name: '赵总', department: [1], position: '总经理' },
  { userid: 'sales01', name: '孙七', department: [4], position: '销售顾问' },
  { userid: 'sales02', name: '周八', department: [4], position: '销售顾问' },
];

/** SIMULATOR_MEMBERS: its userids, or `*` for any (the directory then keeps no list); unset, the sample corp above. */
function sandboxDirectory(members: Config['simulatorMembers']): DirectoryOptions {
  return { users: members === '*' ? undefined : (members ?? SANDBOX_MEMBERS), parties: SANDBOX_DEPARTMENTS };
}

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
 * The sandbox's keys are new at each start and printed (announceSandbox): a fixed
 * pair, published in the docs, would let anyone who reaches the gateway forge card
 * clicks (silences in a real Alertmanager) or contact changes (to real sinks).
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
      directory: sandboxDirectory(config.simulatorMembers),
      // WeCom shows markup it does not know as plain text; the sandbox delivers it too, and says so.
      onMarkupProblem: (problems) =>
        options.logger?.warn({ problems }, `WeCom would show this markup as plain text: ${problems.join('; ')}`),
      // For a phone on the LAN to scan the contact-way QR codes; the simulator then listens on all interfaces.
      ...(config.simulatorPublicUrl ? { publicUrl: config.simulatorPublicUrl } : {}),
    },
    options.port,
  );
  return {
    config: {
      ...config,
      apps: [app],
      defaultApp: app.name,
      // The simulator is on this machine: a proxy set for the real WeCom (or the developer's own) is not for it.
      wecom: { ...config.wecom, apiBase: simulator.url, proxy: undefined },
      // The simulator's web login: a browser opens it, so its address for people.
      webLogin: { ...config.webLogin, oauthBase: config.simulatorPublicUrl ?? simulator.url },
      robots: sandboxRobots(config, simulator.url),
    },
    simulator,
    deliverCallbacksTo: ({ host, port }) => {
      if (!app.callback) return; // the sandbox app always has one: its own keys, or callbackOnly's
      const { token, aesKey, receiveId } = app.callback;
      simulator.deliverCallbacksTo({
        url: `http://${localAddress(host)}:${port}/wecom/callback`,
        token,
        aesKey,
        corpId: app.corpId,
        receiveId,
        agentId: SANDBOX_APP.agentId,
      });
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
    ? `no agent (WECOM_AGENT_ID, WECOM_AGENT_SECRET): callbacks answer WeCom for ` +
        `corp ${config.callbackOnly.corpId}, messages go to the built-in WeCom simulator`
    : 'no WeCom credentials (WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_AGENT_SECRET): messages go to the built-in WeCom simulator';
}

const isWildcard = (host: string) => ['', '0.0.0.0', '::', '[::]'].includes(host);

/**
 * Where a person opens the gateway. On every interface (HOST=0.0.0.0, as in its
 * Docker image) no address printed from inside can be right: localhost in a
 * container is the container's, so the line says where to look instead.
 */
function gatewayAddress(host: string, port: number): { base: string; where?: string } {
  if (isWildcard(host))
    return {
      base: `http://<this host>:${port}`,
      where:
        `on every interface (HOST=${host || '0.0.0.0'}), port ${port}: open this ` +
        `machine's address, or, in a container, the host port that ${port} is published on`,
    };
  const loopback = host === 'localhost' || host === '::1' || host.startsWith('127.');
  return { base: `http://${loopback ? 'localhost' : localAddress(host)}:${port}` };
}

/** What sandbox mode says once the gateway listens: the address to open (server.ts writes it to stderr). */
export function sandboxReadyLine(config: Pick<Config, 'host'>, port: number): string {
  const { base, where } = gatewayAddress(config.host, port);
  if (where) return `sandbox: the gateway is ready ${where} · API docs /docs · dashboard /dashboard/`;
  return `sandbox: the gateway is ready at ${base} · API docs ${base}/docs · dashboard ${base}/dashboard/`;
}

/**
 * The callback settings, as an app's 接收消息 page holds them, so that a user can
 * push events of their own: the sandbox's keys are made at each start, and are
 * printed; a real corp's (callback-only) are the user's secrets, and never are.
 */
function callbackSettingsLine(config: Config): string {
  const app = config.apps.find((a) => a.name === config.defaultApp);
  if (!app?.callback) return '';
  // On every interface the address is the reader's to fill in; the ready line says which.
  const which = config.port === 0 ? ' (PORT 0: the port on the ready line)' : '';
  const url = `URL ${gatewayAddress(config.host, config.port).base}/wecom/callback${which}`;
  const keys = config.callbackOnly
    ? 'Token: WECOM_CALLBACK_TOKEN · EncodingAESKey: WECOM_CALLBACK_AES_KEY (yours, not printed)'
    : `Token ${app.callback.token} · EncodingAESKey ${app.callback.aesKey} (new at each start)`;
  return (
    `sandbox: callback settings, as an app's 接收消息 page holds them (the simulator pushes ` +
    `with these): ${url} · ${keys} · corp id ${app.callback.receiveId ?? app.corpId}\n`
  );
}

/** Who the simulator's corp has: a message to anyone else comes back invalid, as from WeCom. */
function membersLine(config: Config): string {
  const members = config.simulatorMembers;
  if (members === '*') return '         its members: any userid (SIMULATOR_MEMBERS=*)\n';
  const userids = members ?? SANDBOX_MEMBERS.map((m) => m.userid);
  return (
    `         its members: ${userids.join(', ')} (SIMULATOR_MEMBERS); other ` +
    `userids come back invalid, as from WeCom (81013 when no recipient is left)\n`
  );
}

/** What sandbox mode says first, in plain words on stderr; a JSON log line follows for machines. */
export function announceSandbox(config: Config, simulatorUrl: string, logger: Logger): void {
  const why = sandboxReason(config);
  // The simulator listens on loopback: from outside a container (or this host) only SIMULATOR_PUBLIC_URL reaches it.
  const shown = config.simulatorPublicUrl ?? simulatorUrl;
  const reach =
    !config.simulatorPublicUrl && isWildcard(config.host)
      ? ' (on loopback: from outside this host or container, set SIMULATOR_PUBLIC_URL and publish SIMULATOR_PORT)'
      : '';
  process.stderr.write(
    `sandbox: ${why} at ${simulatorUrl}${reach}\n` +
      `         what it delivered: ${shown}/__sim/messages · its controls: docs/sandbox.md\n${membersLine(config)}`,
  );
  process.stderr.write(callbackSettingsLine(config));
  if (config.simulatorPublicUrl) {
    process.stderr.write(
      `sandbox: contact-way QR codes point to SIMULATOR_PUBLIC_URL ${config.simulatorPublicUrl}: ` +
        `the simulator listens on all interfaces, its /__sim controls are reachable from the LAN\n`,
    );
  }
  logger.warn(
    { simulator: simulatorUrl, callbackOnly: Boolean(config.callbackOnly) },
    `SANDBOX MODE: ${why}; see its messages at ${shown}/__sim/messages`,
  );
}
