import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import globalSetup from '../support/global-setup';
import { binaryPath, describeMissing, detectPlatform, missingPrerequisites, type Platform } from '../support/prerequisites';

const ROOT = join(__dirname, '..', '..');
const CHECKER = join(ROOT, 'test', 'support', 'prerequisites.js');
const NOWHERE = '/nonexistent/wgw-prerequisite';

/** The checker as `npm test` runs it: plain node, before anything is compiled. */
function runChecker(env: NodeJS.ProcessEnv, args: string[] = []) {
  const started = Date.now();
  const run = spawnSync(process.execPath, [CHECKER, ...args], { env, encoding: 'utf8', timeout: 10_000 });
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, ms: Date.now() - started };
}

/** What a developer on this machine is told to run for redis-server. */
const REDIS_INSTALL: Record<Platform, string> = {
  debian: 'sudo apt-get install -y redis-server',
  macos: 'brew install redis',
  fedora: 'sudo dnf install -y valkey-compat-redis',
};

describe('test prerequisites checker', () => {
  it('when PATH is empty and the path variables point to no file, then it exits non-zero at once, one line per tool with its variable and install line', () => {
    const run = runChecker({ PATH: '', CHROMIUM_PATH: NOWHERE, ALERTMANAGER_PATH: NOWHERE });
    expect(run.status).toBe(1);
    expect(run.ms).toBeLessThan(2_000);
    const lines = run.stderr.split('\n');
    for (const [tool, variable] of [
      ['redis-server', 'REDIS_SERVER_PATH'],
      ['redis-cli', 'REDIS_CLI_PATH'],
      ['redis-sentinel', 'REDIS_SENTINEL_PATH'],
      ['chromium', 'CHROMIUM_PATH'],
      ['alertmanager', 'ALERTMANAGER_PATH'],
      ['curl', 'CURL_PATH'],
      ['jq', 'JQ_PATH'],
    ]) {
      const line = lines.find((l) => l.trim().startsWith(`${tool}:`));
      expect(line).toContain(variable);
      expect(line).toContain('install: ');
    }
    expect(run.stderr).toContain(`CHROMIUM_PATH=${NOWHERE} is not an executable file`);
    expect(run.stderr).toContain('test/e2e/dashboard.test.ts');
    const platform = detectPlatform();
    if (platform) expect(run.stderr).toContain(`install: ${REDIS_INSTALL[platform]}`);
    expect(run.stderr).toContain('bash .ci/run');
  });

  it('when one variable points to no file, then only that tool is reported, though its default exists', () => {
    const run = runChecker({ ...process.env, ALERTMANAGER_PATH: NOWHERE });
    expect(run.status).toBe(1);
    expect(run.stderr).toContain(`alertmanager: needed by test/integration/alerts.test.ts`);
    expect(run.stderr).toContain(`ALERTMANAGER_PATH=${NOWHERE}`);
    expect(run.stderr).not.toMatch(/^\s+(redis-server|redis-cli|redis-sentinel|chromium|curl|jq):/m);
  });

  it('when everything is installed, as on this machine, then it exits 0 and says nothing', () => {
    const run = runChecker(process.env);
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toBe('');
  });

  it('when asked for the missing Debian packages, then it prints the apt names of just those (what .ci/run installs)', () => {
    expect(runChecker({ PATH: '', CHROMIUM_PATH: NOWHERE }, ['--missing-debian-packages']).stdout.trim().split(' ').sort()).toEqual([
      'chromium',
      'curl',
      'jq',
      'kubernetes-client',
      'prometheus',
      'redis-sentinel',
      'redis-server',
      'redis-tools',
    ]);
    const none = runChecker(process.env, ['--missing-debian-packages']);
    expect(none.status).toBe(0);
    expect(none.stdout.trim()).toBe('');
  });

  it('when the npm test script runs, then the checker comes before tsc', () => {
    const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: { test: string } };
    expect(pkg.scripts.test).toMatch(/^node test\/support\/prerequisites\.js && tsc /);
  });

  it('when jest starts with a tool missing, then globalSetup fails with the same message before starting Redis', async () => {
    const saved = process.env.REDIS_SERVER_PATH;
    // Run in band, this file shares globalThis with the run's own globalSetup: compare, don't expect undefined.
    const runRedis = (globalThis as { __testRedis?: unknown }).__testRedis;
    process.env.REDIS_SERVER_PATH = NOWHERE;
    try {
      await expect(globalSetup()).rejects.toThrow(`REDIS_SERVER_PATH=${NOWHERE} is not an executable file`);
      expect((globalThis as { __testRedis?: unknown }).__testRedis).toBe(runRedis);
    } finally {
      if (saved === undefined) delete process.env.REDIS_SERVER_PATH;
      else process.env.REDIS_SERVER_PATH = saved;
    }
  });
});

describe('platform detection', () => {
  it.each([
    { distro: 'Debian', osRelease: 'ID=debian\n', platform: 'debian' },
    { distro: 'Ubuntu', osRelease: 'ID=ubuntu\nID_LIKE=debian\n', platform: 'debian' },
    { distro: 'Fedora', osRelease: 'ID=fedora\n', platform: 'fedora' },
    { distro: 'Rocky Linux', osRelease: 'ID="rocky"\nID_LIKE="rhel centos fedora"\n', platform: 'fedora' },
    { distro: 'Arch', osRelease: 'ID=arch\n', platform: undefined },
  ])("when /etc/os-release is $distro's, then the platform is $platform", ({ osRelease, platform }) => {
    expect(detectPlatform('linux', osRelease)).toBe(platform);
  });

  it('when on macOS, then Homebrew lines are given, a cask in a command of its own', () => {
    expect(detectPlatform('darwin')).toBe('macos');
    // Debian's /usr/bin/tinyproxy is an absolute candidate: pointed nowhere, like Chromium, so that it is missing here too.
    const text = describeMissing(missingPrerequisites({ PATH: '', CHROMIUM_PATH: NOWHERE, TINYPROXY_PATH: NOWHERE }), 'macos');
    expect(text).toContain('redis-server: needed by');
    expect(text).toContain('install: brew install redis\n');
    expect(text).toContain('install: brew install --cask google-chrome');
    const formulae = 'redis curl jq prometheus kubectl tinyproxy';
    expect(text).toContain(`Install them all: brew install ${formulae} && brew install --cask google-chrome`);
  });

  it('when the platform is unknown, then each line gives every platform its install command', () => {
    const text = describeMissing(missingPrerequisites({ PATH: '', CHROMIUM_PATH: NOWHERE, ALERTMANAGER_PATH: NOWHERE }), undefined);
    const line = text.split('\n').find((l) => l.trim().startsWith('alertmanager:'));
    expect(line).toContain('Debian/Ubuntu: sudo apt-get install -y prometheus-alertmanager');
    expect(line).toContain('macOS: brew install alertmanager');
    expect(line).toContain('Fedora/RHEL: sudo dnf install -y golang-github-prometheus-alertmanager');
  });
});

describe('binary paths for the tests', () => {
  it('when a test asks for a tool, then it gets an absolute path, the variable winning over the defaults', () => {
    expect(binaryPath('redis-server')).toMatch(/^\/.*redis-server$/);
    expect(binaryPath('alertmanager', { ...process.env, ALERTMANAGER_PATH: process.execPath })).toBe(process.execPath);
  });

  it('when a tool is missing or unknown, then asking for it throws what to do', () => {
    expect(() => binaryPath('jq', { PATH: '' })).toThrow(/jq: needed by .*JQ_PATH/);
    expect(() => binaryPath('nosuch-tool')).toThrow('nosuch-tool is not a test prerequisite: add it to test/support/prerequisites.js');
  });
});
