import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { parse } from 'yaml';
import { loadConfig } from '../../src/config/load';
import { binaryPath } from '../support/prerequisites';

/** The image and docker-compose.yml, checked without a Docker engine: as files, and with the tools they configure. */
const ROOT = join(__dirname, '..', '..');
const read = (path: string) => readFileSync(join(ROOT, path), 'utf8');

const dockerfile = read('Dockerfile');
type Service = { environment?: Record<string, string>; command?: string[]; entrypoint?: string[]; ports?: string[] };
const compose = parse(read('docker-compose.yml')) as { services: Record<string, Service> };

/** Compose's ${VAR:?message} and ${VAR:-default}, as `docker compose` fills them from .env: here with a stand-in value. */
const interpolate = (value: string) => value.replace(/\$\{(\w+)(?::[?-][^}]*)?\}/g, (_, name: string) => `stand-in-${name.toLowerCase()}`);

describe('the Dockerfile', () => {
  const nodeVersion = /^ARG NODE_VERSION=(\S+)$/m.exec(dockerfile)?.[1];

  it('when the image is built, then it runs the Node.js line the tests run on, one package.json allows', () => {
    const running = Number(process.versions.node.split('.')[0]);
    expect({ NODE_VERSION: nodeVersion?.split('.')[0] }).toEqual({ NODE_VERSION: String(running) });
    const engines = (JSON.parse(read('package.json')) as { engines: { node: string } }).engines.node;
    expect(Number(nodeVersion!.split('.')[0])).toBeGreaterThanOrEqual(Number(/^>=\s*(\d+)/.exec(engines)![1]));
    // Every stage on that line: a stage pinned elsewhere would build or run on another Node.
    const stages = [...dockerfile.matchAll(/^FROM (\S+)/gm)].map((m) => m[1]);
    expect(stages.length).toBeGreaterThanOrEqual(2);
    expect(stages.filter((image) => !image.startsWith('node:${NODE_VERSION}-'))).toEqual([]);
  });

  it('when the build context is sent, then it leaves out .env and the key files docker-compose.yml reads', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim());
    expect(ignored).toEqual(expect.arrayContaining(['.env', 'deploy/*.key']));
  });
});

describe('docker-compose.yml’s gateway', () => {
  const gateway = compose.services.gateway;
  const imageEnv = Object.fromEntries(
    [...(/^ENV ((?:.*\\\n)*.*)$/m.exec(dockerfile)?.[1] ?? '').matchAll(/(\w+)=(\S+)/g)].map((m) => [m[1], m[2]]),
  );

  it('when it starts as shipped (no WeCom credentials, the image’s NODE_ENV=production), then it runs the sandbox because SANDBOX=1 says so', () => {
    expect(imageEnv.NODE_ENV).toBe('production');
    expect(gateway.environment?.SANDBOX).toBe('1');
    // GATEWAY_CONFIG names a file inside the container (and its key file a Docker secret): left out here, it adds keys, not the sandbox.
    const { GATEWAY_CONFIG: _inContainer, ...environment } = gateway.environment ?? {};
    const env = { ...imageEnv, ...Object.fromEntries(Object.entries(environment).map(([k, v]) => [k, interpolate(v)])) };
    expect(loadConfig(env).sandbox).toBe(true);
    // Without it, production refuses to start on the simulator (naming what is missing).
    expect(() => loadConfig({ ...env, SANDBOX: undefined })).toThrow(/WECOM_CORP_ID/);
  });
});

describe('the example Alertmanager (deploy/alertmanager.yml)', () => {
  const config = parse(read('deploy/alertmanager.yml')) as {
    receivers: { name: string; webhook_configs?: { url: string }[]; wechat_configs?: { api_secret?: string }[] }[];
  };
  const rules = (
    parse(read('deploy/prometheus/wecom-gateway-rules.yml')) as {
      groups: { rules: { alert: string; labels?: Record<string, string> }[] }[];
    }
  ).groups.flatMap((g) => g.rules);
  /** amtool ships with Alertmanager (Debian's prometheus-alertmanager, Homebrew's alertmanager): beside it, or on PATH. */
  const amtool = () => {
    const beside = join(dirname(binaryPath('alertmanager')), 'amtool');
    return existsSync(beside) ? beside : 'amtool';
  };
  const receiverOf = (labels: Record<string, string>) =>
    execFileSync(
      amtool(),
      [
        'config',
        'routes',
        'test',
        `--config.file=${join(ROOT, 'deploy/alertmanager.yml')}`,
        ...Object.entries(labels).map(([k, v]) => `${k}=${v}`),
      ],
      { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] },
    ).trim();
  /** The compose gateway, as Alertmanager reaches it: the service name, or the port it is published on. */
  const throughGateway = (name: string) => {
    const receiver = config.receivers.find((r) => r.name === name)!;
    return (receiver.webhook_configs ?? []).some((w) => ['gateway', '127.0.0.1', 'localhost'].includes(new URL(w.url).hostname));
  };

  it('when amtool checks it, then it is valid', () => {
    expect(
      execFileSync(amtool(), ['check-config', join(ROOT, 'deploy/alertmanager.yml')], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'pipe'],
      }),
    ).toContain('SUCCESS');
  });

  it('when one of the gateway’s own alerts fires, then it goes to WeCom directly, not through the gateway it is about', () => {
    expect(rules.map((r) => r.alert)).toEqual(
      expect.arrayContaining(['WecomGatewayDown', 'WecomGatewayAbsent', 'WecomGatewayDeliveryStalled']),
    );
    for (const rule of rules) {
      const receiver = receiverOf({ alertname: rule.alert, ...rule.labels });
      expect([rule.alert, receiver, throughGateway(receiver)]).toEqual([rule.alert, receiver, false]);
      expect(config.receivers.find((r) => r.name === receiver)?.wechat_configs?.length).toBeGreaterThan(0);
    }
  });

  it('when any other alert fires, then the gateway delivers it', () => {
    expect(throughGateway(receiverOf({ alertname: 'DiskFull', severity: 'critical' }))).toBe(true);
  });

  it('when compose starts Alertmanager, then the WeCom app secret is filled in from .env, never written in the file', () => {
    const direct = config.receivers.flatMap((r) => r.wechat_configs ?? []);
    const placeholder = direct[0].api_secret!;
    expect(direct.map((w) => w.api_secret)).toEqual(direct.map(() => placeholder));
    const alertmanager = compose.services.alertmanager;
    const start = [...(alertmanager.entrypoint ?? []), ...(alertmanager.command ?? [])].join(' ');
    const variable = new RegExp(`s\\|${placeholder}\\|\\$\\$(\\w+)\\|`).exec(start)?.[1];
    expect(variable).toBeDefined();
    expect(alertmanager.environment?.[variable!]).toMatch(new RegExp(`^\\$\\{${variable}:\\?`));
  });
});
