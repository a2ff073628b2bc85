'use strict';
/**
 * The programs `npm test` needs besides node_modules, as data: where each is looked
 * for, what needs it and how to install it per platform. `npm test` runs this file
 * with plain node before tsc, jest's globalSetup calls it before starting anything,
 * and the tests take their binary paths from it: one list, read everywhere.
 *
 * Plain CommonJS with a hand-written prerequisites.d.ts beside it, not allowJs:
 * node runs it as is before anything is compiled, and tsconfig.json (which
 * tsconfig.build.json and the Docker build extend) stays untouched. The .d.ts only
 * declares the few exported shapes; the list itself lives here alone.
 *
 * CLI:
 *   node test/support/prerequisites.js                            exit 1 with one line per missing tool
 *   node test/support/prerequisites.js --missing-debian-packages  print the apt packages that would fix it (for .ci/run)
 */
const { accessSync, constants, readFileSync, statSync } = require('node:fs');
const { delimiter, join, resolve } = require('node:path');

/** A cask is written '--cask NAME'; brew's --cask applies to every name in a command, so casks get their own. */
function brewInstall(packages) {
  const casks = packages.filter((p) => p.startsWith('--cask ')).map((p) => p.slice('--cask '.length));
  const formulae = packages.filter((p) => !p.startsWith('--cask '));
  return [formulae.length > 0 && `brew install ${formulae.join(' ')}`, casks.length > 0 && `brew install --cask ${casks.join(' ')}`].filter(Boolean).join(' && ');
}

/** How each platform installs a list of packages; `detectPlatform` picks one. */
const PLATFORMS = {
  debian: { label: 'Debian/Ubuntu', install: (packages) => `sudo apt-get install -y ${packages.join(' ')}` },
  macos: { label: 'macOS', install: brewInstall },
  fedora: { label: 'Fedora/RHEL', install: (packages) => `sudo dnf install -y ${packages.join(' ')}` },
};

/**
 * To add a tool: one entry here. `candidates` are tried in order when `variable` is
 * unset: an absolute path must be an executable file, a bare name is looked up on PATH.
 * `packages` holds what to hand the platform's installer (a Homebrew cask with its flag).
 */
const PREREQUISITES = [
  {
    name: 'redis-server',
    variable: 'REDIS_SERVER_PATH',
    candidates: ['redis-server'],
    neededFor: 'every test that uses Redis (test/support/global-setup.ts starts one)',
    // Fedora 41+ ships Valkey in place of Redis; this package adds the redis-* names.
    packages: { debian: 'redis-server', macos: 'redis', fedora: 'valkey-compat-redis' },
  },
  {
    name: 'redis-cli',
    variable: 'REDIS_CLI_PATH',
    candidates: ['redis-cli'],
    neededFor: 'test/integration/cluster.test.ts (redis-cli --cluster create)',
    packages: { debian: 'redis-tools', macos: 'redis', fedora: 'valkey-compat-redis' },
  },
  {
    name: 'redis-sentinel',
    variable: 'REDIS_SENTINEL_PATH',
    candidates: ['redis-sentinel'],
    neededFor: 'test/integration/sentinel.test.ts (three Sentinels and a forced failover)',
    // Homebrew's redis and Fedora's valkey-compat-redis carry redis-sentinel beside redis-server.
    packages: { debian: 'redis-sentinel', macos: 'redis', fedora: 'valkey-compat-redis' },
  },
  {
    name: 'chromium',
    variable: 'CHROMIUM_PATH',
    // Debian's binary; Fedora's and Ubuntu's snap are named differently; on macOS Google Chrome does the job.
    candidates: ['/usr/bin/chromium', 'chromium', 'chromium-browser', '/Applications/Google Chrome.app/Contents/MacOS/Google Chrome'],
    neededFor: 'test/e2e/dashboard.test.ts (a real headless browser; playwright-core downloads none)',
    packages: { debian: 'chromium', macos: '--cask google-chrome', fedora: 'chromium' },
  },
  {
    name: 'alertmanager',
    variable: 'ALERTMANAGER_PATH',
    candidates: ['/usr/bin/prometheus-alertmanager', 'alertmanager', 'prometheus-alertmanager'],
    neededFor: 'test/integration/alerts.test.ts (a real Prometheus Alertmanager)',
    packages: { debian: 'prometheus-alertmanager', macos: 'alertmanager', fedora: 'golang-github-prometheus-alertmanager' },
  },
  {
    name: 'curl',
    variable: 'CURL_PATH',
    candidates: ['curl'],
    neededFor: "test/e2e/readme.test.ts (the README's examples)",
    packages: { debian: 'curl', macos: 'curl', fedora: 'curl' },
  },
  {
    name: 'jq',
    variable: 'JQ_PATH',
    candidates: ['jq'],
    neededFor: "test/e2e/readme.test.ts (the README's examples)",
    packages: { debian: 'jq', macos: 'jq', fedora: 'jq' },
  },
  {
    name: 'promtool',
    variable: 'PROMTOOL_PATH',
    candidates: ['promtool'],
    neededFor: 'test/integration/observability.test.ts (promtool check rules / test rules on deploy/prometheus/)',
    packages: { debian: 'prometheus', macos: 'prometheus', fedora: 'golang-github-prometheus' },
  },
  {
    name: 'kubectl',
    variable: 'KUBECTL_PATH',
    candidates: ['kubectl'],
    // The ServiceMonitor is a kustomize Component and the base uses `labels:`: kubectl 1.22+ (kustomize 4.1+); Debian 12's kubernetes-client is 1.20, Kubernetes' own apt repository has current ones.
    neededFor: 'test/integration/kubernetes.test.ts (kubectl kustomize on deploy/kubernetes/)',
    packages: { debian: 'kubernetes-client', macos: 'kubectl', fedora: 'kubernetes-client' },
  },
  {
    name: 'tinyproxy',
    variable: 'TINYPROXY_PATH',
    // Debian installs it in /usr/bin, Homebrew in its prefix's bin (on PATH).
    candidates: ['/usr/bin/tinyproxy', 'tinyproxy'],
    // The test binds the proxy's way out to 127.0.0.2, which Linux's loopback has and macOS's lacks.
    neededFor: 'test/integration/proxy.test.ts (a real forward proxy; Linux only: it binds 127.0.0.2)',
    packages: { debian: 'tinyproxy', macos: 'tinyproxy', fedora: 'tinyproxy' },
  },
];

function isExecutableFile(file) {
  try {
    if (!statSync(file).isFile()) return false;
    accessSync(file, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}

/** An absolute path for `command` (a path, or a name looked up on PATH), or undefined. */
function locate(command, env) {
  if (command.includes('/')) {
    const file = resolve(command);
    return isExecutableFile(file) ? file : undefined;
  }
  for (const dir of (env.PATH ?? '').split(delimiter)) {
    if (dir && isExecutableFile(join(dir, command))) return join(dir, command);
  }
  return undefined;
}

/**
 * Where the tool is: the variable when set (and then only there: an override that
 * points nowhere is a mistake to report, not a reason to pick another binary), else
 * the first candidate found.
 */
function resolvePrerequisite(prerequisite, env = process.env) {
  const override = env[prerequisite.variable];
  if (override) {
    const path = locate(override, env);
    return path ? { prerequisite, path } : { prerequisite, problem: `${prerequisite.variable}=${override} is not an executable file` };
  }
  for (const candidate of prerequisite.candidates) {
    const path = locate(candidate, env);
    if (path) return { prerequisite, path };
  }
  const places = prerequisite.candidates.map((c) => (c.includes('/') ? c : `${c} on PATH`));
  return { prerequisite, problem: `not found (looked for ${places.join(', ')}; set ${prerequisite.variable} to its path)` };
}

function resolveAll(env = process.env) {
  return PREREQUISITES.map((prerequisite) => resolvePrerequisite(prerequisite, env));
}

function missingPrerequisites(env = process.env) {
  return resolveAll(env).filter((resolution) => !resolution.path);
}

function parseOsRelease(text) {
  const fields = {};
  for (const line of text.split('\n')) {
    const match = /^([A-Z_]+)=("?)(.*)\2$/.exec(line.trim());
    if (match) fields[match[1]] = match[3];
  }
  return fields;
}

function readOsRelease() {
  try {
    return readFileSync('/etc/os-release', 'utf8');
  } catch {
    return '';
  }
}

/** 'debian' | 'macos' | 'fedora', or undefined where none of their installers applies. */
function detectPlatform(platform = process.platform, osRelease = platform === 'linux' ? readOsRelease() : '') {
  if (platform === 'darwin') return 'macos';
  if (platform !== 'linux') return undefined;
  const fields = parseOsRelease(osRelease);
  // ID_LIKE names the family a derivative follows (Ubuntu: debian; Rocky: "rhel centos fedora").
  const family = [fields.ID, ...(fields.ID_LIKE ?? '').split(/\s+/)].filter(Boolean);
  if (family.some((id) => id === 'debian' || id === 'ubuntu')) return 'debian';
  if (family.some((id) => id === 'fedora' || id === 'rhel' || id === 'centos')) return 'fedora';
  return undefined;
}

/** One command for the platform, or each platform's when it is not known. */
function installCommand(prerequisites, platform) {
  const on = (id) => PLATFORMS[id].install([...new Set(prerequisites.map((p) => p.packages[id]))]);
  if (platform) return on(platform);
  return Object.keys(PLATFORMS)
    .map((id) => `${PLATFORMS[id].label}: ${on(id)}`)
    .join('; ');
}

/** The text to stop on: one line per missing tool, then one install line for all of them. */
function describeMissing(missing, platform) {
  const needed = missing.map((resolution) => resolution.prerequisite);
  return [
    `The tests need ${missing.length === 1 ? 'a program that is' : 'programs that are'} missing:`,
    ...missing.map(({ prerequisite, problem }) => `  ${prerequisite.name}: needed by ${prerequisite.neededFor}; ${problem}; install: ${installCommand([prerequisite], platform)}`),
    ...(missing.length > 1 ? [`Install them all: ${installCommand(needed, platform)}`] : []),
    'On Debian/Ubuntu, `bash .ci/run` installs them all (then runs the tests).',
  ].join('\n');
}

/** Throws the message above when anything is missing; jest's globalSetup calls this first. */
function assertPrerequisites(env = process.env) {
  const missing = missingPrerequisites(env);
  if (missing.length === 0) return;
  const error = new Error(describeMissing(missing, detectPlatform()));
  // Jest prints the stack after the message: a trace through jest's internals that only hides what to install.
  error.stack = error.message;
  throw error;
}

/** The path of one tool, by name, for a test to spawn; throws the same message when it is missing. */
function binaryPath(name, env = process.env) {
  const prerequisite = PREREQUISITES.find((p) => p.name === name);
  if (!prerequisite) throw new Error(`${name} is not a test prerequisite: add it to test/support/prerequisites.js`);
  const resolution = resolvePrerequisite(prerequisite, env);
  if (!resolution.path) throw new Error(describeMissing([resolution], detectPlatform()));
  return resolution.path;
}

module.exports = { PREREQUISITES, PLATFORMS, resolvePrerequisite, resolveAll, missingPrerequisites, detectPlatform, describeMissing, assertPrerequisites, binaryPath };

if (require.main === module) {
  const missing = missingPrerequisites();
  if (process.argv.includes('--missing-debian-packages')) {
    process.stdout.write([...new Set(missing.map((r) => r.prerequisite.packages.debian))].join(' ') + '\n');
  } else if (missing.length > 0) {
    process.stderr.write(describeMissing(missing, detectPlatform()) + '\n');
    process.exitCode = 1;
  }
}
