import { sandboxReason } from '../../src/main/sandbox';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig, startupWarnings } from '../../src/config/load';
import { problemsOf } from '../support/config-problems';

describe('configuration', () => {
  it('when nothing is set, then it is sandbox mode on port 8080 with every worker', () => {
    const config = loadConfig({});
    expect(config).toMatchObject({ port: 8080, sandbox: true, apps: [], apiKeys: [], templatesDir: './templates' });
    expect([...config.workers]).toEqual(['api', 'send', 'inbound', 'sync', 'welcome', 'digest', 'alerts']);
  });

  it('when the three WeCom variables are set, then the default app sends for real', () => {
    const config = loadConfig({ WECOM_CORP_ID: 'ww1', WECOM_AGENT_ID: '1000002', WECOM_AGENT_SECRET: 's3cret' });
    expect(config.sandbox).toBe(false);
    expect(config.apps).toEqual([{ name: 'default', corpId: 'ww1', agentId: 1000002, secret: 's3cret', callback: undefined }]);
  });

  it('when values are bad, then each problem is one line naming its variable, and no secret is repeated', () => {
    const problems = problemsOf({
      PORT: 'eighty',
      WECOM_CORP_ID: 'ww1',
      WECOM_AGENT_SECRET: 'do-not-print-me',
      WECOM_CALLBACK_TOKEN: 'tok',
      WECOM_CALLBACK_AES_KEY: 'short',
      REDIS_URL: 'http://not-redis',
      GATEWAY_API_KEYS: 'short,long-enough-key-1:fly',
    });
    expect(problems).toContain('PORT: must be a whole number from 0 to 65535');
    expect(problems.some((p) => p.startsWith('WECOM_CALLBACK_AES_KEY:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('REDIS_URL:'))).toBe(true);
    expect(problems.filter((p) => p.startsWith('GATEWAY_API_KEYS:'))).toHaveLength(2);
    expect(problems.every((p) => !p.includes('\n'))).toBe(true);
    expect(problems.join(' ')).not.toContain('do-not-print-me');
  });

  it('when the access log is set, then its level and sample are read, and bad values name their variable', () => {
    expect(loadConfig({}).accessLog).toEqual({ level: 'info', sample: 1 });
    expect(loadConfig({ ACCESS_LOG: 'off', ACCESS_LOG_SAMPLE: '0.1' }).accessLog).toEqual({ level: 'off', sample: 0.1 });
    const problems = problemsOf({ ACCESS_LOG: 'warn', ACCESS_LOG_SAMPLE: '2' });
    expect(problems.some((p) => p.startsWith('ACCESS_LOG:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('ACCESS_LOG_SAMPLE:'))).toBe(true);
  });

  it('when Redis is Sentinel, then the master name is required and REDIS_WAIT_REPLICAS is read; with Cluster, waiting for replicas is refused', () => {
    const sentinels = { REDIS_SENTINELS: '10.0.0.1:26379,10.0.0.2:26379', REDIS_SENTINEL_MASTER: 'main' };
    expect(loadConfig(sentinels).redis).toMatchObject({
      sentinels: [
        { host: '10.0.0.1', port: 26379 },
        { host: '10.0.0.2', port: 26379 },
      ],
      sentinelMaster: 'main',
      waitReplicas: 0,
    });
    expect(loadConfig({ ...sentinels, REDIS_WAIT_REPLICAS: '1' }).redis.waitReplicas).toBe(1);
    expect(problemsOf({ REDIS_SENTINELS: '10.0.0.1:26379' })).toContain('REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS');
    expect(problemsOf({ REDIS_WAIT_REPLICAS: '-1' }).some((p) => p.startsWith('REDIS_WAIT_REPLICAS:'))).toBe(true);
    expect(problemsOf({ REDIS_CLUSTER_NODES: '10.0.0.1:7000', REDIS_WAIT_REPLICAS: '1' })).toContain(
      'REDIS_WAIT_REPLICAS: not supported with REDIS_CLUSTER_NODES (use a standalone or Sentinel master)',
    );
  });

  it('when only the corp id and the callback keys are set, then the callback can be verified while sends stay in the sandbox', () => {
    const config = loadConfig({ WECOM_CORP_ID: 'ww1234567890', WECOM_CALLBACK_TOKEN: 'tok', WECOM_CALLBACK_AES_KEY: 'a'.repeat(43) });
    expect(config).toMatchObject({
      sandbox: true,
      apps: [],
      callbackOnly: { corpId: 'ww1234567890', callback: { token: 'tok', aesKey: 'a'.repeat(43) } },
    });
    // The sandbox line names what is really missing, not the corp id that is set.
    expect(sandboxReason(config)).toBe(
      'no agent (WECOM_AGENT_ID, WECOM_AGENT_SECRET): callbacks answer WeCom ' +
        'for corp ww1234567890, messages go to the built-in WeCom simulator',
    );
    expect(sandboxReason(loadConfig({}))).toContain('no WeCom credentials (WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_AGENT_SECRET)');
  });

  it('when PORT is set, then the sandbox simulator takes the next port unless SIMULATOR_PORT says otherwise', () => {
    expect(loadConfig({}).simulatorPort).toBe(8081);
    expect(loadConfig({ PORT: '9000' }).simulatorPort).toBe(9001);
    expect(loadConfig({ PORT: '9000', SIMULATOR_PORT: '0' }).simulatorPort).toBe(0);
    expect(loadConfig({ PORT: '0' }).simulatorPort).toBe(0);
  });

  it('when a downstream webhook has no secret, then start-up has a warning naming it', () => {
    const real = { WECOM_CORP_ID: 'ww1', WECOM_AGENT_ID: '1', WECOM_AGENT_SECRET: 's' };
    const warnings = startupWarnings(
      loadConfig({ ...real, INBOUND_WEBHOOK_URL: 'https://app.example/in', CONTACT_SYNC_WEBHOOK_URL: 'https://hr.example/sync' }),
    );
    expect(warnings).toEqual([
      expect.stringContaining('INBOUND_WEBHOOK_SECRET'),
      expect.stringContaining('contact sink default'),
      expect.stringContaining('STATUS_CALLBACK_SECRET'),
    ]);
    const secret = '0123456789abcdef';
    expect(
      startupWarnings(
        loadConfig({
          ...real,
          INBOUND_WEBHOOK_URL: 'https://app.example/in',
          INBOUND_WEBHOOK_SECRET: secret,
          CONTACT_SYNC_WEBHOOK_URL: 'https://hr.example/sync',
          CONTACT_SYNC_WEBHOOK_SECRET: secret,
          STATUS_CALLBACK_SECRET: secret,
        }),
      ),
    ).toEqual([]);
  });

  it('when only some WeCom variables are set, then the missing ones are named', () => {
    expect(problemsOf({ WECOM_CORP_ID: 'ww1' })).toEqual(
      expect.arrayContaining([expect.stringMatching(/^WECOM_AGENT_ID: required/), expect.stringMatching(/^WECOM_AGENT_SECRET: required/)]),
    );
  });

  it('when a secret comes from a file (NAME_FILE), then it is read from there', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-config-'));
    writeFileSync(join(dir, 'secret'), 'from-a-file\n');
    const config = loadConfig({ WECOM_CORP_ID: 'ww1', WECOM_AGENT_ID: '1', WECOM_AGENT_SECRET_FILE: join(dir, 'secret') });
    expect(config.apps[0].secret).toBe('from-a-file');
    expect(problemsOf({ WECOM_AGENT_SECRET_FILE: join(dir, 'missing') })).toEqual([
      expect.stringMatching(/^WECOM_AGENT_SECRET_FILE: cannot read/),
    ]);
  });

  it('when a config file lists several apps, routes and auto-replies, then they are parsed, and its mistakes name the file and path', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-config-'));
    const good = join(dir, 'gateway.yaml');
    writeFileSync(
      good,
      `defaultApp: ops
apps:
  - { name: ops, corpId: ww1, agentId: 1000002, secret: a }
  - { name: hr, corpId: ww1, agentId: 1000005, secret: b }
autoReplies:
  - { match: regex, pattern: "^ack \\\\d+$", reply: ok }
alertRoutes:
  - { name: dba, users: [dba01] }
`,
    );
    const config = loadConfig({ GATEWAY_CONFIG: good });
    expect(config.apps.map((a) => a.name)).toEqual(['ops', 'hr']);
    expect(config.defaultApp).toBe('ops');
    expect(config.callback.autoReplies).toHaveLength(1);
    expect(config.alerts.routes[0]).toMatchObject({ name: 'dba', users: ['dba01'] });
    const bad = join(dir, 'bad.yaml');
    writeFileSync(
      bad,
      'apps:\n  - { name: ops, corpId: ww1, agentId: nope, secret: a }\nautoReplies:\n' +
        '  - { match: regex, pattern: "(", reply: x }\nwechatReader: { users: [a] }\n',
    );
    const problems = problemsOf({ GATEWAY_CONFIG: bad });
    expect(problems).toEqual(
      expect.arrayContaining([expect.stringContaining(`${bad}: apps.0.agentId`), expect.stringContaining(`${bad}: autoReplies.0.pattern`)]),
    );
    // A misspelt key (wechatReaders) is reported, not silently ignored.
    expect(problems).toContain(`${bad}: wechatReader: unknown key`);
  });
});
