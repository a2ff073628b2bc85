import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfig } from '../../src/config/load';

const KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a001';
const KEY2 = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a002';

function problemsOf(env: Record<string, string>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
}

describe('robots from WECOM_ROBOTS and the config file', () => {
  it('takes a key or the whole webhook URL, as users paste either', () => {
    const config = loadConfig({ WECOM_ROBOTS: `ops=${KEY}, dev=https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY2}` });
    expect(config.robots).toEqual([
      { name: 'ops', keys: [KEY], apiBase: 'https://qyapi.weixin.qq.com' },
      { name: 'dev', keys: [KEY2], apiBase: 'https://qyapi.weixin.qq.com' },
    ]);
  });

  it('calls a bare key at WECOM_API_BASE, and accepts URLs of it', () => {
    const config = loadConfig({
      WECOM_API_BASE: 'https://wecom-proxy.internal/wx/',
      WECOM_ROBOTS: `ops=${KEY},dev=https://wecom-proxy.internal/wx/cgi-bin/webhook/send?key=${KEY2}`,
    });
    expect(config.robots.map((r) => r.apiBase)).toEqual(['https://wecom-proxy.internal/wx', 'https://wecom-proxy.internal/wx']);
  });

  it('stops start-up for a URL elsewhere, naming the variable and the robot but never the key', () => {
    const problems = problemsOf({ WECOM_ROBOTS: `ops=https://evil.example/cgi-bin/webhook/send?key=${KEY}` });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/^WECOM_ROBOTS: robot ops must be a webhook URL of https:\/\/qyapi\.weixin\.qq\.com/);
    expect(problems.join('\n')).not.toContain(KEY);
  });

  it('names each malformed entry without quoting it', () => {
    const secretish = 'not a key but a secret!';
    const problems = problemsOf({ WECOM_ROBOTS: `ops=${secretish},=${KEY},ops2=https://qyapi.weixin.qq.com/cgi-bin/webhook/send` });
    expect(problems).toEqual([
      'WECOM_ROBOTS: robot ops is neither a robot key nor a webhook URL',
      'WECOM_ROBOTS: expected name=KEY or name=URL, comma-separated',
      'WECOM_ROBOTS: robot ops2 has no valid key= in its URL',
    ]);
    expect(problems.join('\n')).not.toContain(secretish);
  });

  it('reads pools from the config file, and refuses a name used twice', () => {
    const dir = mkdtempSync(join(tmpdir(), 'robots-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, `robots:\n  busy: [${KEY}, https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=${KEY2}]\n  ops: ${KEY2}\n`);
    expect(loadConfig({ GATEWAY_CONFIG: file }).robots).toEqual([
      { name: 'busy', keys: [KEY, KEY2], apiBase: 'https://qyapi.weixin.qq.com' },
      { name: 'ops', keys: [KEY2], apiBase: 'https://qyapi.weixin.qq.com' },
    ]);
    expect(problemsOf({ GATEWAY_CONFIG: file, WECOM_ROBOTS: `ops=${KEY}` })).toEqual([`${file}: robots.ops: robot ops is named twice`]);
  });

  it('checks that alert routes name configured robots', () => {
    const dir = mkdtempSync(join(tmpdir(), 'robots-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, `alertRoutes:\n  - name: oncall\n    robots: [ops, nosuch]\n`);
    expect(problemsOf({ GATEWAY_CONFIG: file, WECOM_ROBOTS: `ops=${KEY}` })).toEqual([
      `${file}: alertRoutes.0.robots: no robot is named nosuch`,
    ]);
  });
});
