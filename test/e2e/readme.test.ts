import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { eventually, restartablePort } from '../support/harness';
import { binaryPath } from '../support/prerequisites';

/**
 * The README and the docs, run as a newcomer runs them: `npm start` in an environment
 * with no configuration (sandbox, embedded Redis), then every ```sh block of the README
 * and then of each docs file in the README's "Documentation" order, in one bash
 * session, so a variable one block captures is there for the next (`KEY`, from
 * docs/api.md, is used by alerts.md and operations.md). Each `# => ` line is what the
 * command before it prints (`…` stands for what varies); blocks marked ```shell are
 * shown, not run (the start itself, settings). Last, the npm process is killed, and
 * nothing it started may be left running. The English files and the Chinese ones
 * (README.zh-CN.md, docs/zh-CN/) each run so, against a gateway of their own.
 */
const ROOT = join(__dirname, '..', '..');
const EXPECTED = /^# => ?(.*)$/;

/** The docs in reading order: README.md's "Documentation" list. */
const DOCS = ['sandbox', 'configuration', 'api', 'alerts', 'drop-in', 'oncall', 'callbacks', 'operations', 'security', 'performance'];
const LANGUAGES = [
  { language: 'English', files: ['README.md', ...DOCS.map((name) => `docs/${name}.md`)] },
  { language: 'Chinese', files: ['README.zh-CN.md', ...DOCS.map((name) => `docs/zh-CN/${name}.md`)] },
];

interface Step {
  file: string;
  section: string;
  code: string;
  expected: string[];
}

/** Every ```sh block of a markdown file, cut after each group of `# =>` lines. */
function readmeSteps(file: string, markdown: string): Step[] {
  const steps: Step[] = [];
  let section = '';
  let inBlock: 'sh' | 'other' | undefined;
  let code: string[] = [];
  let expected: string[] = [];
  const flush = () => {
    if (code.some((line) => line.trim() !== '' && !line.startsWith('#'))) steps.push({ file, section, code: code.join('\n'), expected });
    code = [];
    expected = [];
  };
  for (const line of markdown.split('\n')) {
    if (inBlock === undefined) {
      if (line.startsWith('#')) section = line.replace(/^#+\s*/, '');
      const fence = /^```(\S*)/.exec(line);
      if (fence) inBlock = fence[1] === 'sh' ? 'sh' : 'other';
      continue;
    }
    if (line.startsWith('```')) {
      if (inBlock === 'sh') flush();
      inBlock = undefined;
      continue;
    }
    if (inBlock !== 'sh') continue;
    const output = EXPECTED.exec(line);
    if (output) expected.push(output[1]);
    else {
      if (expected.length > 0) flush();
      code.push(line);
    }
  }
  return steps;
}

/** `…` matches anything; the rest of the line is literal, and the whole line must match. */
const linePattern = (expected: string) =>
  new RegExp(
    `^${expected
      .split('…')
      .map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );

/** The expected lines in order, each matching a later output line than the one before (output may have more lines). */
function unmatched(expected: string[], output: string): string | undefined {
  const lines = output.split('\n').map((l) => l.replace(/\r$/, ''));
  let at = 0;
  for (const line of expected) {
    const pattern = linePattern(line);
    while (at < lines.length && !pattern.test(lines[at])) at++;
    if (at === lines.length) return line;
    at++;
  }
  return undefined;
}

/** One bash for all the files of a language; each step runs from a file (so no command can read the next from stdin). */
class Shell {
  private readonly bash: ChildProcessWithoutNullStreams;
  private readonly dir = mkdtempSync(join(tmpdir(), 'wgw-readme-'));
  private stdout = '';
  private stderr = '';
  private count = 0;

  constructor(env: NodeJS.ProcessEnv) {
    this.bash = spawn('bash', ['--noprofile', '--norc'], { cwd: ROOT, env });
    this.bash.stdout.on('data', (chunk: Buffer) => (this.stdout += chunk.toString()));
    this.bash.stderr.on('data', (chunk: Buffer) => (this.stderr += chunk.toString()));
  }

  async run(code: string, timeoutMs: number): Promise<{ output: string; errors: string; status: number }> {
    const file = join(this.dir, `step${++this.count}.sh`);
    writeFileSync(file, `${code}\n`);
    const marker = `__step_${this.count}_done__`;
    this.stdout = '';
    this.stderr = '';
    this.bash.stdin.write(`source ${file} </dev/null; printf '\\n${marker} %s\\n' $?\n`);
    const done = await eventually(() => new RegExp(`\\n${marker} (\\d+)\\n`).exec(this.stdout) ?? undefined, timeoutMs, 50);
    return { output: this.stdout.slice(0, done.index), errors: this.stderr, status: Number(done[1]) };
  }

  close(): void {
    this.bash.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

function portIsClosed(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    socket.once('connect', () => (socket.destroy(), resolve(false)));
    socket.once('error', () => resolve(true));
  });
}

describe.each(LANGUAGES)('the $language README and docs, top to bottom, in the sandbox', ({ language, files }) => {
  let gateway: ChildProcessWithoutNullStreams;
  let logs = '';
  let shell: Shell;
  let port: number;
  let redisPort: number;
  // Only what a fresh machine has: no WeCom credentials, no REDIS_URL, no keys.
  const env = () => ({ PATH: process.env.PATH, HOME: process.env.HOME, REDIS_SERVER_PATH: binaryPath('redis-server') });

  beforeAll(async () => {
    // The simulator takes the next port (SIMULATOR_PORT's default); both outside the ephemeral range.
    do port = await restartablePort();
    while (!(await portIsClosed(port + 1)));
    // `npm test` has just built dist/, so npm start's own build is a no-op here.
    gateway = spawn('npm', ['start'], { cwd: ROOT, env: { ...env(), PORT: String(port) } });
    gateway.stdout.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    gateway.stderr.on('data', (chunk: Buffer) => (logs += chunk.toString()));
    await eventually(() => logs.includes('sandbox: the gateway is ready'), 60_000, 100).catch((error: Error) => {
      throw new Error(`npm start did not get ready: ${error.message}\n${logs.slice(-3000)}`);
    });
    redisPort = Number(/"redis":"redis:\/\/127\.0\.0\.1:(\d+)"/.exec(logs)?.[1]);
    shell = new Shell(env());
  }, 90_000);
  afterAll(() => {
    shell?.close();
    if (gateway?.exitCode === null) gateway.kill('SIGKILL');
  });

  it(`when a newcomer copies every sh block of the ${language} files in order, then each prints what they say`, async () => {
    const unwritten = files.filter((file) => !existsSync(join(ROOT, file)));
    if (unwritten.length > 0)
      throw new Error(`not written yet: ${unwritten.join(', ')} (the ${language} files run in this order: ${files.join(', ')})`);
    const steps = files.flatMap((file) => readmeSteps(file, readFileSync(join(ROOT, file), 'utf8')));
    expect(steps.length).toBeGreaterThan(10);
    for (const step of steps) {
      const code = step.code.replace(/\b8080\b/g, String(port)).replace(/\b8081\b/g, String(port + 1));
      const { output, errors, status } = await shell.run(code, 60_000);
      const missing = unmatched(step.expected, output);
      if (missing !== undefined || status !== 0) {
        throw new Error(
          `${step.file}, section "${step.section}":\n${step.code}\n\n` +
            (missing !== undefined ? `expected a line like:\n  ${missing}` : `exit status ${status}`) +
            `\nbut it printed:\n${output}${errors ? `\nstderr:\n${errors}` : ''}`,
        );
      }
    }
  }, 300_000);

  it('when the process the newcomer started (npm) is killed, then the gateway, its simulator and its Redis stop too', async () => {
    expect(redisPort).toBeGreaterThan(0);
    expect(await portIsClosed(redisPort)).toBe(false);
    // Its output is read to the end (the last line is written just before it exits, after Redis has stopped).
    const outputRead = new Promise((resolve) => gateway.on('close', resolve));
    gateway.kill('SIGTERM');
    await eventually(
      async () => (await portIsClosed(port)) && (await portIsClosed(port + 1)) && (await portIsClosed(redisPort)),
      30_000,
      100,
    );
    await outputRead;
    expect(logs).toContain('"msg":"stopped"');
  }, 40_000);
});
