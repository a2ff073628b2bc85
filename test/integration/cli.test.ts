import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { resolveLogFormat } from '../../src/ops/logger';

const ROOT = join(__dirname, '..', '..');
/** The operator commands as `npm start`, `npm run doctor` and `npm run bench` run them (npm test builds dist/ first). */
const COMMANDS = [
  { name: 'wecom-gateway', file: 'dist/src/main/server.js', usage: 'npm start' },
  { name: 'doctor', file: 'dist/src/main/doctor.js', usage: 'npm run doctor' },
  { name: 'bench', file: 'dist/bench/run.js', usage: 'npm run bench' },
  { name: 'profile-summary', file: 'dist/bench/profile-summary.js', usage: 'profile-summary.js <file.cpuprofile>' },
] as const;

function run(
  command: string,
  args: string[],
  env: NodeJS.ProcessEnv = {},
  untilLine?: RegExp,
): Promise<{ status: number | null; stdout: string; stderr: string }> {
  const child = spawn(command, args, { cwd: ROOT, env: { PATH: process.env.PATH, HOME: process.env.HOME, ...env } });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk) => {
    stdout += chunk;
    if (untilLine?.test(stdout)) child.kill('SIGTERM');
  });
  child.stderr.on('data', (chunk) => (stderr += chunk));
  const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
  return new Promise((resolve) =>
    child.once('close', (status) => {
      clearTimeout(timer);
      resolve({ status, stdout, stderr });
    }),
  );
}

describe('the command line of every operator command', () => {
  it.each(COMMANDS)(
    'when $name is given --help, then it prints its usage and exit codes and exits 0, starting nothing',
    async ({ file, usage }) => {
      const { status, stdout, stderr } = await run(process.execPath, [file, '--help']);
      expect(status).toBe(0);
      expect(stdout).toContain(`usage: `);
      expect(stdout).toContain(usage);
      expect(stdout).toMatch(/Exit codes: 0 /);
      expect(stderr).toBe('');
    },
  );

  it.each(COMMANDS)('when $name is given an option it does not know, then it says so in one line and exits 64', async ({ name, file }) => {
    const { status, stdout, stderr } = await run(process.execPath, [file, '--frobnicate']);
    expect(status).toBe(64);
    expect(stdout).toBe('');
    expect(stderr).toBe(`${name}: unknown option --frobnicate (see --help)\n`);
  });

  it('when a command that takes no arguments gets one, or bench an unknown benchmark, then one line names it', async () => {
    const server = await run(process.execPath, ['dist/src/main/server.js', 'extra']);
    expect([server.status, server.stderr]).toEqual([64, 'wecom-gateway: unexpected argument extra (see --help)\n']);
    const bench = await run(process.execPath, ['dist/bench/run.js', 'ingest', 'nosuch']);
    expect(bench.status).toBe(64);
    expect(bench.stderr).toMatch(/^bench: unknown benchmark nosuch \(known: ingest, delivery, .*\) \(see --help\)\n$/);
  });
});

describe('log format', () => {
  it('auto is readable in a terminal and JSON in a pipe; an explicit LOG_FORMAT wins', () => {
    expect(resolveLogFormat('auto', true)).toBe('pretty');
    expect(resolveLogFormat('auto', false)).toBe('json');
    expect(resolveLogFormat('json', true)).toBe('json');
    expect(resolveLogFormat('pretty', false)).toBe('pretty');
  });

  const logOneLine =
    `require('./dist/src/ops/logger').createLogger('info', process.env.LOG_FORMAT).info({ token: 'tok-s3cret', ` +
    `apps: [{ secret: 'app-s3cret' }], user: { mobile: '13800000000' } }, 'hello from the logger')`;

  it('when the logger writes to a terminal (script(1) gives it one), then lines are readable, not JSON, and secrets and personal data are still redacted', async () => {
    const { status, stdout } = await run('script', ['-qec', `${process.execPath} -e "${logOneLine}"`, '/dev/null'], {
      LOG_FORMAT: 'auto',
      TERM: 'dumb',
    });
    expect(status).toBe(0);
    expect(stdout).toContain('hello from the logger');
    expect(stdout).toContain('INFO');
    expect(stdout.trimStart().startsWith('{')).toBe(false);
    expect(stdout).not.toMatch(/s3cret|13800000000/);
    expect(stdout).toContain('[redacted]');
  });

  it('when the gateway runs in a pipe, then its lines are JSON; with LOG_FORMAT=pretty they are readable lines', async () => {
    const env = {
      REDIS_URL: process.env.TEST_REDIS_URL,
      REDIS_PREFIX: `wgw-cli-${process.pid}`,
      PORT: '0',
      SIMULATOR_PORT: '0',
      TEMPLATES_DIR: join(ROOT, 'templates'),
    };
    const json = await run(process.execPath, ['dist/src/main/server.js'], env, /listening on/);
    const lines = json.stdout.trim().split('\n');
    expect(lines.length).toBeGreaterThan(1);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(lines.map((l) => JSON.parse(l).msg)).toContainEqual(expect.stringMatching(/^wecom-gateway listening on/));
    const pretty = await run(process.execPath, ['dist/src/main/server.js'], { ...env, LOG_FORMAT: 'pretty' }, /listening on/);
    const line = pretty.stdout.split('\n').find((l) => l.includes('wecom-gateway listening on'));
    expect(line).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] INFO/);
  }, 45_000);

  it('when LOG_FORMAT has a value it does not know, then start-up stops naming the variable', async () => {
    const { status, stderr } = await run(process.execPath, ['dist/src/main/server.js'], { LOG_FORMAT: 'xml' });
    expect(status).toBe(78);
    expect(stderr).toContain('LOG_FORMAT');
  });
});
