import { createCipheriv, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import fc from 'fast-check';
import { parse } from 'yaml';
import { createLimitedServer, DEFAULT_SERVER_LIMITS } from '../../src/http/server-limits';
import { CallbackCrypto } from '../../src/wecom/callback/crypto';
import { amPayload } from '../support/alertmanager';
import { SIM_APP, startHarness, type Harness } from '../support/harness';
import { encryptedPush, eventXml } from '../support/wecom-push';

/**
 * Junk input on every route: whatever a caller (or a stranger posing as WeCom)
 * sends, the answer is a 4xx (or a 2xx when the junk happens to be valid), never
 * a 5xx, and the gateway keeps answering. The routes come from openapi.yaml, so a
 * route added there is fuzzed without touching this file. Each property first
 * tries the known-hostile cases (its `examples`), then random ones; a failure
 * names the seed, and FUZZ_SEED=<seed> replays the run.
 */

const TOKEN = 'fuzzToken123';
const AES_KEY = 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEF0';
const KEY = 'fuzz-admin-key-0123456789abcdef';
const wecom = new CallbackCrypto({ token: TOKEN, encodingAesKey: AES_KEY, receiveId: SIM_APP.corpId });

/** fast-check's own report quotes the whole counterexample (a 200 KB body): this one gives the seed, the cause and the start of it. */
function shortReport<Ts>(details: fc.RunDetails<Ts>): void {
  if (!details.failed) return;
  const example = fc.stringify(details.counterexample);
  const cause = details.errorInstance instanceof Error ? details.errorInstance.message : String(details.errorInstance);
  throw new Error(
    `property failed (replay: FUZZ_SEED=${details.seed}) at path "${details.counterexamplePath}"\n${cause.slice(0, 600)}\n` +
      `counterexample (${example.length} chars): ${example.slice(0, 600)}`,
  );
}

/** The known-hostile examples, then a few random runs: the whole file stays well under a minute on a loaded machine. */
async function check<Ts extends [unknown, ...unknown[]]>(property: fc.IAsyncProperty<Ts>, examples: Ts[] = [], numRuns = 5): Promise<void> {
  await fc.assert(property, {
    numRuns: examples.length + numRuns,
    examples,
    reporter: shortReport<Ts>,
    ...(process.env.FUZZ_SEED ? { seed: Number(process.env.FUZZ_SEED) } : {}),
  });
}

// ---------------------------------------------------------------- the routes, from openapi.yaml

type Spec = {
  paths: Record<
    string,
    Record<
      string,
      {
        parameters?: { in: string; name: string; schema?: { type?: string } }[];
        requestBody?: { content: Record<string, { example?: unknown }> };
      }
    >
  >;
};
const spec = parse(readFileSync(join(__dirname, '..', '..', 'openapi.yaml'), 'utf8')) as Spec;
const METHODS = ['get', 'post', 'put', 'patch', 'delete'];

interface Operation {
  method: string;
  path: string;
  /** The request headers the spec declares (Idempotency-Key). */
  headers: string[];
  /** The query parameters the spec declares, with their schema type. */
  query: { name: string; type?: string }[];
  /** A valid body to mutate: the spec's example, or one of SAMPLES. */
  sample?: unknown;
}

const alertmanagerSample = amPayload();
/** Bodies for the operations whose spec shows no example. */
const SAMPLES: Record<string, unknown> = {
  'post /v1/messages/preview': {
    event: 'program.alert',
    msgtype: 'text',
    to: { users: ['zhangsan'] },
    data: { title: 't', content: 'c', level: 'info' },
  },
  'post /v1/integrations/alertmanager': alertmanagerSample,
  'post /v1/integrations/grafana': {
    receiver: 'wecom',
    status: 'firing',
    orgId: 1,
    alerts: alertmanagerSample.alerts,
    commonLabels: { alertname: 'DiskFull' },
    externalURL: 'http://grafana.example',
  },
  'post /v1/contact-ways': { activity: 'expo2026' },
};

const OPERATIONS: Operation[] = Object.entries(spec.paths).flatMap(([path, ops]) =>
  Object.entries(ops)
    .filter(([method]) => METHODS.includes(method))
    .map(([method, op]) => ({
      method,
      path,
      query: (op.parameters ?? []).filter((p) => p.in === 'query').map((p) => ({ name: p.name, type: p.schema?.type })),
      headers: (op.parameters ?? []).filter((p) => p.in === 'header').map((p) => p.name),
      sample: Object.values(op.requestBody?.content ?? {})[0]?.example ?? SAMPLES[`${method} ${path}`],
    })),
);
const isCallback = (op: Operation) => op.path.startsWith('/wecom/callback');
const isCompat = (op: Operation) => op.path.startsWith('/cgi-bin/');
const hasBody = (op: Operation) => op.method !== 'get';

/** A fair value for each path parameter, and recipients for the alert webhooks, so junk elsewhere reaches the handler. */
const FAIR_SEGMENT: Record<string, string> = {
  id: '00000000-0000-4000-8000-000000000000',
  chatid: 'oncall',
  app: 'default',
  userId: 'zhangsan',
};
const fairQuery = (op: Operation) => (op.query.some((q) => q.name === 'users') ? 'users=zhangsan' : '');
function target(op: Operation, options: { segment?: string; query?: string } = {}): string {
  const path = op.path.replace(/\{([^}]+)\}/g, (_, name: string) => options.segment ?? FAIR_SEGMENT[name] ?? 'x');
  const query = options.query ?? fairQuery(op);
  return query ? `${path}?${query}` : path;
}

// ---------------------------------------------------------------- raw HTTP

let port = 0;

/** Every status line a connection carried back (a smuggled second request answers too). */
function raw(bytes: Buffer, endAfterWrite = false): Promise<number[]> {
  return new Promise((resolve) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      resolve(
        [
          ...Buffer.concat(chunks)
            .toString('latin1')
            .matchAll(/^HTTP\/1\.[01] (\d{3})/gm),
        ].map((m) => Number(m[1])),
      );
    };
    // Silence is not a 5xx: a request the server still waits for (a body it was promised) ends here.
    const timer = setTimeout(finish, 3_000);
    socket.on('data', (chunk) => chunks.push(chunk));
    socket.on('close', finish);
    socket.on('error', finish);
    socket.write(bytes, () => {
      if (endAfterWrite) socket.end();
    });
  });
}

interface RawRequest {
  method: string;
  target: string;
  /** In order, duplicates kept; Host, Connection and Content-Length are added unless `bare`. */
  headers: [string, string][];
  body?: Buffer | string;
  bare?: boolean;
  /** Half-close after writing: the server sees the end of a body shorter than promised. */
  endAfterWrite?: boolean;
}

/** The request byte for byte, as no HTTP client would send it. */
function serialize(r: RawRequest): Buffer {
  const body = r.body === undefined ? Buffer.alloc(0) : Buffer.from(r.body);
  const named = (name: string) => r.headers.some(([n]) => n.toLowerCase() === name);
  const length: [string, string][] =
    named('content-length') || named('transfer-encoding') || (r.body === undefined && r.method === 'GET')
      ? []
      : [['Content-Length', String(body.length)]];
  const headers = r.bare
    ? r.headers
    : [['Host', `127.0.0.1:${port}`] as [string, string], ['Connection', 'close'] as [string, string], ...r.headers, ...length];
  const head = `${r.method} ${r.target} HTTP/1.1\r\n${headers.map(([n, v]) => `${n}: ${v}\r\n`).join('')}\r\n`;
  return Buffer.concat([Buffer.from(head, 'latin1'), body]);
}

const send = (r: RawRequest) => raw(serialize(r), r.endAfterWrite);

async function expectNo5xx(request: RawRequest | Buffer, what: string): Promise<void> {
  const statuses = Buffer.isBuffer(request) ? await raw(request) : await send(request);
  const bad = statuses.filter((s) => s >= 500);
  if (bad.length > 0) throw new Error(`${what} answered ${bad.join(', ')}`);
}

// ---------------------------------------------------------------- junk

const PROTO_KEYS = ['__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty', '__defineGetter__'];
const JUNK_STRINGS = [
  '',
  ' ',
  '\u0000',
  '\uFFFF',
  '\uD800',
  '\u202E',
  '../../etc/passwd',
  '{{constructor.constructor}}',
  '{{#each this}}{{/each}}',
  '<script>alert(1)</script>',
  '@all',
  'a|b|c',
  'NaN',
  '-1',
  '1e309',
  '0x10',
  'true',
  'null',
  ...PROTO_KEYS,
];

/** A string a caller might send anywhere: short, odd, unicode, or huge. */
const junkString = fc.oneof(
  fc.string(),
  fc.string({ unit: 'binary', maxLength: 40 }),
  fc.constantFrom(...JUNK_STRINGS),
  fc.integer({ min: 1_000, max: 300_000 }).map((n) => 'x'.repeat(n)),
);

/** JSON nested `depth` deep, built as text: a deep object could not be JSON.stringify'd here either. */
const deep = (open: string, close: string, depth: number) => `${open.repeat(depth)}1${close.repeat(depth)}`;

/** Deeper than any recursive walk survives (Node's stack holds about 10,000 frames). */
const DEEP_ENOUGH = deep('[', ']', 20_000);

/** The JSON the first body field gets tried with: deep, huge, prototype keys, wrong types. */
const HOSTILE_JSON = [
  deep('[', ']', 100_000),
  deep('{"a":', '}', 50_000),
  '{"__proto__":{"polluted":1},"constructor":{"prototype":{"polluted":1}}}',
  JSON.stringify('x'.repeat(300_000)),
  `[${'"zhangsan",'.repeat(50_000)}"lisi"]`,
  '1e309',
  'null',
  '{}',
];

/** Any JSON value as text. */
const junkJson: fc.Arbitrary<string> = fc.oneof(
  fc.jsonValue({ maxDepth: 4 }).map((v) => JSON.stringify(v)),
  junkString.map((s) => JSON.stringify(s)),
  fc.dictionary(fc.constantFrom(...PROTO_KEYS), fc.jsonValue({ maxDepth: 2 })).map(
    (d) =>
      `{${Object.entries(d)
        .map(([k, v]) => `${JSON.stringify(k)}:${JSON.stringify(v)}`)
        .join(',')}}`,
  ),
  fc
    .tuple(fc.constantFrom(['[', ']'], ['{"a":', '}'], ['{"__proto__":', '}']), fc.integer({ min: 1_000, max: 100_000 }))
    .map(([[open, close], depth]) => deep(open, close, depth)),
  fc.constantFrom(...HOSTILE_JSON),
);

type Path = (string | number)[];

/** Every place in a JSON value, the root included. */
function pathsOf(value: unknown, prefix: Path = []): Path[] {
  if (Array.isArray(value)) return [prefix, ...value.flatMap((v, i) => pathsOf(v, [...prefix, i]))];
  if (value && typeof value === 'object') return [prefix, ...Object.entries(value).flatMap(([k, v]) => pathsOf(v, [...prefix, k]))];
  return [prefix];
}

const SENTINEL = '\u0000fuzz\u0000';

/** The sample with the value at `path` replaced by raw JSON text (which may be too deep to parse here). */
function replaceAt(sample: unknown, path: Path, text: string): string {
  if (path.length === 0) return text;
  const copy = structuredClone(sample) as Record<string | number, unknown>;
  let parent = copy;
  for (const step of path.slice(0, -1)) parent = parent[step] as Record<string | number, unknown>;
  parent[path.at(-1)!] = SENTINEL;
  return JSON.stringify(copy).replace(JSON.stringify(SENTINEL), text);
}

/** A JSON body: the operation's sample with one place made hostile, or junk on its own. */
function jsonBody(op: Operation): { arbitrary: fc.Arbitrary<string>; examples: [string][] } {
  const sample = op.sample ?? {};
  const paths = pathsOf(sample);
  // Each place once with the deepest nesting (a recursive walk anywhere overflows), the first field with everything.
  const examples = [
    ...paths.map((path) => replaceAt(sample, path, DEEP_ENOUGH)),
    ...HOSTILE_JSON.map((text) => replaceAt(sample, paths[1] ?? [], text)),
  ];
  const mutated = fc.tuple(fc.constantFrom(...paths), junkJson).map(([path, text]) => replaceAt(sample, path, text));
  return { arbitrary: fc.oneof({ weight: 3, arbitrary: mutated }, { weight: 1, arbitrary: junkJson }), examples: examples.map((e) => [e]) };
}

const CONTENT_TYPES = [
  'application/json',
  'application/json; charset=utf-8',
  'application/json; charset=utf-16',
  'application/json; charset=utf-16le',
  'application/json; charset=latin1',
  'application/json; charset=foo',
  'application/json; charset="utf-8"; charset=utf-16',
  'application/json;;;',
  'APPLICATION/JSON',
  'application/merge-patch+json',
  'text/plain',
  'text/xml',
  'text/xml; charset=gbk',
  'application/x-www-form-urlencoded',
  'multipart/form-data; boundary=x',
  'multipart/form-data',
  '',
  '*/*',
  'application/json, text/plain',
];

/** Bodies that are not (quite) what their content type says: truncated, utf-16, latin1, invalid UTF-8, random bytes. */
function oddBody(op: Operation): { arbitrary: fc.Arbitrary<[string, Buffer]>; examples: [string, Buffer][] } {
  const valid = JSON.stringify(op.sample ?? { a: 1 });
  const utf16 = Buffer.from(valid, 'utf16le');
  const latin1 = Buffer.from(valid.replace(/"([^"]*)"/, '"$1é"'), 'latin1');
  const invalidUtf8 = Buffer.from([0x7b, 0x22, 0xc3, 0x28, 0xed, 0xa0, 0x80, 0xff, 0x22, 0x3a, 0x31, 0x7d]);
  const truncated = Buffer.from(valid.slice(0, Math.floor(valid.length / 2)));
  const examples: [string, Buffer][] = [
    ['application/json; charset=utf-16', utf16],
    ['application/json; charset=utf-16le', utf16],
    ['application/json', utf16],
    ['application/json; charset=latin1', latin1],
    ['application/json; charset=foo', Buffer.from(valid)],
    ['application/json', invalidUtf8],
    ['application/json', truncated],
    ['application/json', Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from(valid)])],
    ['text/plain', Buffer.from(valid)],
    ['', Buffer.from(valid)],
    ['application/x-www-form-urlencoded', Buffer.from('a=1&a=2&__proto__[x]=1')],
    ['multipart/form-data; boundary=x', Buffer.from('--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n')],
  ];
  const bodies = fc.oneof(
    fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
    fc.nat({ max: valid.length }).map((n) => Buffer.from(valid.slice(0, n))),
    fc.constantFrom(utf16, latin1, invalidUtf8, Buffer.from(`${valid}${valid}`)),
  );
  return { arbitrary: fc.tuple(fc.constantFrom(...CONTENT_TYPES), bodies), examples };
}

/** Percent-encodes the UTF-8 bytes (a lone surrogate becomes U+FFFD's): encodeURIComponent throws on those. */
const percent = (s: string) =>
  [...Buffer.from(s, 'utf8')]
    .map((b) => (/[A-Za-z0-9_.~-]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).padStart(2, '0')}`))
    .join('');

const PERCENT_GARBAGE = ['%', '%zz', '%C0%AF', '%ED%A0%80', '%00', '%FF%FE', '%2F', '%2e%2e'];
/** What a number-reading parameter (limit, since) may be given instead of a count. */
const NUMBERISH = [
  '1.5',
  '-1',
  '0',
  '1e3',
  'NaN',
  '99999999999999999999',
  '1-99999999999999999999',
  '18446744073709551615-18446744073709551615',
];

/** A query value as it is on the wire: percent-encoded junk, percent-garbage, huge. */
const queryValue = fc.oneof(
  junkString.map((s) => percent(s.slice(0, 3_000))),
  fc.constantFrom(...PERCENT_GARBAGE, ...NUMBERISH, '+', 'a,b,,c', ',,,', '%2C', '='),
  fc.integer({ min: 1_000, max: 14_000 }).map((n) => 'a'.repeat(n)),
);

/** Repeated names (express then gives an array), bracket forms (`x[a]=1`), names without a value. */
function junkQuery(op: Operation): { arbitrary: fc.Arbitrary<string>; examples: [string][] } {
  const declared = op.query.map((q) => q.name);
  const names = [...new Set([...declared, 'limit', '__proto__'])];
  const fair = fairQuery(op);
  const numeric = [...new Set(['limit', ...op.query.filter((q) => q.type === 'integer' || q.type === 'number').map((q) => q.name)])];
  const examples = [
    ...names.flatMap((q) => [`${q}=a&${q}=b`, `${q}[a]=1`, `${q}=%zz`]),
    ...numeric.flatMap((q) => NUMBERISH.map((n) => `${q}=${n}`)),
  ].map((q) => (fair ? `${fair}&${q}` : q));
  const pair = fc
    .tuple(
      fc.constantFrom(...names),
      fc.constantFrom('', '[]', '[a]', '[__proto__]', '[0]', '[a][b][c]'),
      fc.option(queryValue, { nil: undefined }),
    )
    .map(([name, suffix, value]) => `${name}${suffix}${value === undefined ? '' : `=${value}`}`);
  return { arbitrary: fc.array(pair, { minLength: 1, maxLength: 6 }).map((pairs) => pairs.join('&')), examples: examples.map((e) => [e]) };
}

/** A path segment in place of a {param}. */
const SEGMENTS = [
  ...PERCENT_GARBAGE,
  '..',
  '.',
  'a%20b',
  '__proto__',
  'constructor',
  'hasOwnProperty',
  '%5F%5Fproto%5F%5F',
  'a'.repeat(2_000),
  'a'.repeat(20_000),
];
const junkSegment = fc.oneof(
  junkString.map((s) => percent(s.slice(0, 20_000))),
  fc.constantFrom(...SEGMENTS),
);

// ---------------------------------------------------------------- header tricks

interface Trick {
  name: string;
  request: RawRequest | Buffer;
}

const AUTH: [string, string] = ['Authorization', `Bearer ${KEY}`];
/** A few KB that inflate to 50 MB, far beyond any body limit. */
const GZIP_BOMB = gzipSync(Buffer.alloc(50_000_000, 0x20));

/**
 * Header tricks that reach the route (express, body parsing, auth, the handler):
 * every route gets each one. `parser` ones are refused by Node's HTTP parser
 * before any route runs: they are spread over the routes instead.
 */
function tricks(op: Operation): { route: Trick[]; parser: Trick[] } {
  const method = op.method.toUpperCase();
  const path = target(op);
  const body = hasBody(op) ? JSON.stringify(op.sample ?? {}) : '';
  const length = String(Buffer.byteLength(body));
  const type: [string, string] = ['Content-Type', isCallback(op) ? 'text/xml' : 'application/json'];
  const r = (name: string, headers: [string, string][], more: Partial<RawRequest> = {}): Trick => ({
    name,
    request: { method, target: path, headers: [AUTH, type, ...headers], body, ...more },
  });
  const as = (name: string, authorization: string): Trick => ({
    name,
    request: { method, target: path, headers: [['Authorization', authorization], type], body },
  });
  const chunked = (text: string) => `${Buffer.byteLength(text).toString(16)}\r\n${text}\r\n0\r\n\r\n`;
  const wire = (name: string, text: string): Trick => ({ name, request: Buffer.from(text) });
  const idempotency = op.headers.includes('Idempotency-Key')
    ? [
        r('two Idempotency-Keys', [
          ['Idempotency-Key', 'a'],
          ['Idempotency-Key', 'b'],
        ]),
        r('an empty Idempotency-Key', [['Idempotency-Key', '']]),
        r('a 12 KB Idempotency-Key', [['Idempotency-Key', 'i'.repeat(12_000)]]),
        r('a UTF-8 Idempotency-Key', [['Idempotency-Key', Buffer.from('键-é-🙂', 'utf8').toString('latin1')]]),
      ]
    : [];
  return {
    route: [
      ...idempotency,
      r('two X-Request-Ids', [
        ['X-Request-Id', 'a'],
        ['X-Request-Id', 'b'],
      ]),
      r('a 12 KB X-Request-Id with log tricks', [['X-Request-Id', `"},{"level":60,"msg":"forged${'r'.repeat(12_000)}`]]),
      r('two Content-Types', [['Content-Type', 'text/plain; charset=utf-16']]),
      r('Authorization twice', [['Authorization', 'Basic !!!']]),
      as('Authorization: Basic junk', 'Basic !!!'),
      as('Authorization: Basic of ":key"', `Basic ${Buffer.from(`:${KEY}`).toString('base64')}`),
      as('Authorization: Bearer with two keys', `Bearer ${KEY} ${KEY}`),
      r('Content-Length larger than the body', [['Content-Length', String(Buffer.byteLength(body) + 100)]], { endAfterWrite: true }),
      r('Content-Length smaller than the body', [['Content-Length', String(Math.max(0, Buffer.byteLength(body) - 3))]]),
      r('chunked', [['Transfer-Encoding', 'chunked']], { body: chunked(body) }),
      r('a truncated chunked body', [['Transfer-Encoding', 'chunked']], { body: `ffff\r\n${body}`, endAfterWrite: true }),
      r('Content-Encoding: gzip, not gzipped', [['Content-Encoding', 'gzip']]),
      r('Content-Encoding: foo', [['Content-Encoding', 'foo']]),
      r('a gzip bomb', [['Content-Encoding', 'gzip']], { body: GZIP_BOMB }),
      r('Expect: 100-continue', [['Expect', '100-continue']]),
      r('X-Forwarded-For, Forwarded and X-HTTP-Method-Override', [
        ['X-Forwarded-For', '1.2.3.4, ::1, junk'],
        ['Forwarded', 'for="[::1]";proto=https;by=_x'],
        ['X-Forwarded-Host', 'evil.example'],
        ['X-HTTP-Method-Override', 'DELETE'],
      ]),
      {
        name: 'two Hosts',
        request: {
          method,
          target: path,
          headers: [['Host', 'a'], ['Host', 'b'], ['Connection', 'close'], AUTH, type, ['Content-Length', length]],
          body,
          bare: true,
        },
      },
      { name: 'an absolute-form target', request: { method, target: `http://evil.example${path}`, headers: [AUTH, type], body } },
      { name: 'HEAD', request: { method: 'HEAD', target: path, headers: [AUTH] } },
      { name: 'OPTIONS', request: { method: 'OPTIONS', target: path, headers: [AUTH] } },
      wire(
        'HTTP/1.0',
        `${method} ${path} HTTP/1.0\r\nAuthorization: Bearer ${KEY}\r\n` +
          `Content-Type: ${type[1]}\r\nContent-Length: ${length}\r\n\r\n${body}`,
      ),
      wire(
        'a pipelined second request',
        `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\nContent-Type: ${type[1]}\r\n` +
          `Content-Length: ${length}\r\n\r\n${body}GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
      ),
    ],
    parser: [
      r('two Content-Lengths', [
        ['Content-Length', length],
        ['Content-Length', '1'],
      ]),
      r('Content-Length -1', [['Content-Length', '-1']]),
      r('Content-Length 10 GB', [['Content-Length', '10000000000']], { endAfterWrite: true }),
      r(
        'chunked and Content-Length',
        [
          ['Transfer-Encoding', 'chunked'],
          ['Content-Length', '3'],
        ],
        { body: chunked(body) },
      ),
      r('a bad chunk size', [['Transfer-Encoding', 'chunked']], { body: `zz\r\n${body}\r\n0\r\n\r\n` }),
      r('Transfer-Encoding: gzip, chunked', [['Transfer-Encoding', 'gzip, chunked']], { body: chunked(body) }),
      r('Transfer-Encoding: identity', [['Transfer-Encoding', 'identity']]),
      r('Transfer-Encoding: chunked, gzip', [['Transfer-Encoding', 'chunked, gzip']], { body: chunked(body) }),
      r('Expect: nonsense', [['Expect', 'nonsense']]),
      r(
        '40 KB of headers',
        Array.from({ length: 400 }, (_, i) => [`X-Junk-${i}`, 'j'.repeat(100)] as [string, string]),
      ),
      {
        name: 'no Host',
        request: { method, target: path, headers: [['Connection', 'close'], AUTH, type, ['Content-Length', length]], body, bare: true },
      },
      { name: 'TRACE', request: { method: 'TRACE', target: path, headers: [AUTH] } },
      { name: 'an unknown method', request: { method: 'FOO', target: path, headers: [AUTH, type], body } },
      { name: 'a lower-case method', request: { method: op.method, target: path, headers: [AUTH, type], body } },
      wire(
        'an obs-fold header',
        `${method} ${path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${KEY}\r\n` +
          `X-Request-Id: a\r\n folded\r\nContent-Length: ${length}\r\n\r\n${body}`,
      ),
      wire('bare LF line ends', `${method} ${path} HTTP/1.1\nHost: x\nAuthorization: Bearer ${KEY}\nContent-Length: ${length}\n\n${body}`),
    ],
  };
}

/** Random header values in the headers that reach code: Idempotency-Key, X-Request-Id, Authorization. */
function randomTricks(op: Operation): fc.Arbitrary<Trick> {
  const body = hasBody(op) ? JSON.stringify(op.sample ?? {}) : '';
  const value = fc.oneof(
    junkString.map((s) =>
      Buffer.from(s.slice(0, 12_000), 'utf8')
        .toString('latin1')
        .replace(/[\r\n\u0000]/g, ''),
    ),
    fc.integer({ min: 4_000, max: 30_000 }).map((n) => 'k'.repeat(n)),
  );
  return fc
    .tuple(
      fc.constantFrom('Idempotency-Key', 'X-Request-Id', 'Authorization', 'Content-Type', 'Accept', 'Accept-Encoding', 'Cookie'),
      value,
    )
    .map(([name, v]) => ({
      name: `${name}: ${v.slice(0, 40)}`,
      request: {
        method: op.method.toUpperCase(),
        target: target(op),
        headers: name === 'Authorization' ? [[name, v]] : [AUTH, [name, v]],
        body,
      },
    }));
}

// ---------------------------------------------------------------- the gateway

let h: Harness;
let server: Server;
const PROTOTYPE_BEFORE = Object.getOwnPropertyNames(Object.prototype);

beforeAll(async () => {
  h = await startHarness({
    env: {
      WECOM_CALLBACK_TOKEN: TOKEN,
      WECOM_CALLBACK_AES_KEY: AES_KEY,
      GATEWAY_API_KEYS: KEY,
      API_RATE_LIMIT_PER_MINUTE: '0',
      AUTH_FAILURES_PER_MINUTE: '1000000',
      WECOM_ROBOTS: 'ops=fuzz-robot-key',
      // Configured sinks, so their dead-letter routes are live (nothing listens there: deliveries just fail).
      CONTACT_SYNC_WEBHOOK_URL: 'http://127.0.0.1:9/contacts',
      INBOUND_WEBHOOK_URL: 'http://127.0.0.1:9/inbound',
    },
    // A fallback route, as production has: junk that names no recipients is routed,
    // not answered 503 for Alertmanager to retry (alerts.test.ts covers that).
    config: (c) => ({ ...c, alerts: { ...c.alerts, routes: [{ name: 'fallback', users: ['oncall'], fallback: true }] } }),
  });
  // A listening server with the limits server.ts applies: raw requests need a socket, not supertest's.
  server = createLimitedServer(h.gateway.app, { ...DEFAULT_SERVER_LIMITS, maxConnections: 10_000, maxConnectionsPerAddress: 0 }).listen(
    0,
    '127.0.0.1',
  );
  await new Promise((resolve) => server.once('listening', resolve));
  port = (server.address() as AddressInfo).port;
});

afterAll(async () => {
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await h.close();
});

// After every property: the gateway still answers.
afterEach(async () => {
  expect(await send({ method: 'GET', target: '/healthz', headers: [] })).toEqual([200]);
});

it('when the spec is read, then it lists every route the gateway serves, the callback included', () => {
  const listed = new Set(OPERATIONS.map((op) => `${op.method} ${op.path}`));
  expect(h.gateway.routes.map((r) => `${r.method} ${r.path}`).filter((r) => !listed.has(r))).toEqual([]);
  expect(OPERATIONS.filter(isCallback).length).toBeGreaterThanOrEqual(4);
});

describe.each(OPERATIONS.map((op) => [`${op.method.toUpperCase()} ${op.path}`, op] as const))('%s with junk', (name, op) => {
  const method = op.method.toUpperCase();
  const json: [string, string] = ['Content-Type', 'application/json'];
  const sampleBody = hasBody(op) ? JSON.stringify(op.sample ?? {}) : undefined;

  if (hasBody(op) && !isCallback(op)) {
    it('when the JSON body is hostile (wrong types, huge, deep, prototype keys), then the answer is below 500', async () => {
      const { arbitrary, examples } = jsonBody(op);
      await check(
        fc.asyncProperty(arbitrary, (body) =>
          expectNo5xx({ method, target: target(op), headers: [AUTH, json], body }, `${name} with body ${body.slice(0, 120)}`),
        ),
        examples,
      );
    });
  }

  if (hasBody(op)) {
    it('when the body is not what its content type says (truncated, utf-16, latin1, invalid UTF-8, charset=foo), then the answer is below 500', async () => {
      const { arbitrary, examples } = oddBody(op);
      await check(
        fc.asyncProperty(arbitrary, ([type, body]) =>
          expectNo5xx(
            { method, target: target(op), headers: type ? [AUTH, ['Content-Type', type]] : [AUTH], body },
            `${name} as ${type || '(no type)'}`,
          ),
        ),
        examples.map((e) => [e]),
      );
    });
  }

  it('when query parameters repeat (?users=a&users=b), nest (x[a]=1) or are percent-garbage, then the answer is below 500', async () => {
    const { arbitrary, examples } = junkQuery(op);
    await check(
      fc.asyncProperty(arbitrary, (query) =>
        expectNo5xx({ method, target: target(op, { query }), headers: [AUTH, json], body: sampleBody }, `${name}?${query.slice(0, 200)}`),
      ),
      examples,
    );
  });

  if (op.path.includes('{')) {
    it('when a path parameter is huge or percent-garbage, then the answer is below 500', async () => {
      await check(
        fc.asyncProperty(junkSegment, (segment) =>
          expectNo5xx(
            { method, target: target(op, { segment }), headers: [AUTH, json], body: sampleBody },
            `${method} ${target(op, { segment: segment.slice(0, 200) })}`,
          ),
        ),
        SEGMENTS.map((s) => [s]),
      );
    });
  }

  it('when the headers are tricks (duplicates, Content-Length vs body, Transfer-Encoding, huge values, Idempotency-Key, X-Request-Id), then the answer is below 500', async () => {
    const fixed = tricks(op).route;
    await check(
      fc.asyncProperty(fc.oneof(randomTricks(op), fc.constantFrom(...fixed)), (trick) =>
        expectNo5xx(trick.request, `${name} with ${trick.name}`),
      ),
      fixed.map((t) => [t]),
      3,
    );
  });
});

it('when a request is malformed HTTP (two Content-Lengths, Transfer-Encoding tricks, obs-fold, bare LF, no Host, odd methods), then the answer is below 500 on any route', async () => {
  const all = OPERATIONS.flatMap((op) => tricks(op).parser.map((trick) => ({ op, trick })));
  const perRoute = tricks(OPERATIONS[0]).parser.length;
  // Each trick at least twice, on routes far apart; then random pairs.
  const examples = Array.from(
    { length: perRoute * 2 },
    (_, i) => [all[(i % perRoute) + perRoute * ((i * 7) % OPERATIONS.length)]] as [(typeof all)[number]],
  );
  await check(
    fc.asyncProperty(fc.constantFrom(...all), ({ op, trick }) =>
      expectNo5xx(trick.request, `${op.method.toUpperCase()} ${op.path} with ${trick.name}`),
    ),
    examples,
    20,
  );
});

// ---------------------------------------------------------------- what the fuzzing found, named

const fieldsOf = (res: { body: { error?: { fields?: { field: string }[] } } }) => (res.body.error?.fields ?? []).map((f) => f.field);
const call = (op: Operation, query: string) => {
  const req = h.api[op.method as 'get' | 'post'](target(op, { query: [fairQuery(op), query].filter(Boolean).join('&') })).set(...AUTH);
  return hasBody(op) ? req.send((op.sample ?? {}) as object) : req;
};

describe('query parameters, each said once and well', () => {
  const named = (ops: Operation[]) => ops.map((op) => [`${op.method.toUpperCase()} ${op.path}`, op] as const);

  it.each(named(OPERATIONS.filter((op) => op.query.some((q) => q.name === 'limit'))))(
    'when %s gets a limit that is not a whole number from 1 to 1000 (1.5 once answered 500), then 400 names query.limit',
    async (_name, op) => {
      for (const limit of ['1.5', '0', '-1', '1001', 'abc', '1e3', '99999999999999999999']) {
        const res = await call(op, `limit=${limit}`);
        expect({ limit, status: res.status, fields: fieldsOf(res) }).toEqual({ limit, status: 400, fields: ['query.limit'] });
      }
      expect((await call(op, 'limit=1000')).status).toBe(200);
      expect((await call(op, 'limit=')).status).toBe(200);
    },
  );

  // WeCom's own query (the callback) is read raw and signed: not a caller's parameters.
  it.each(named(OPERATIONS.filter((op) => op.query.length > 0 && !isCallback(op) && !isCompat(op))))(
    'when %s gets a parameter twice (?x=a&x=b), then 400 names it',
    async (_name, op) => {
      for (const { name } of op.query) {
        const res = await call(op, `${name}=a&${name}=b`);
        expect({ name, status: res.status, fields: fieldsOf(res) }).toEqual({ name, status: 400, fields: [`query.${name}`] });
      }
    },
  );

  // WeCom's own API answers every mistake as WeCom does: HTTP 200, its errcode, an errmsg naming the parameter.
  it.each(named(OPERATIONS.filter(isCompat)))(
    "when %s gets a parameter twice (?x=a&x=b), then WeCom's 40058 names it",
    async (_name, op) => {
      const token = (await h.api.get(`/cgi-bin/gettoken?corpid=${SIM_APP.corpId}&corpsecret=${KEY}`)).body.access_token as string;
      // Right credentials beside the doubled parameter, so the answer is about the parameter, not a missing token.
      const fair: Record<string, string> = {
        access_token: token,
        corpid: SIM_APP.corpId,
        corpsecret: KEY,
        key: KEY,
        robot: 'ops',
        type: 'file',
      };
      for (const { name } of op.query) {
        const others = op.query.filter((q) => q.name !== name && fair[q.name] !== undefined).map((q) => `${q.name}=${fair[q.name]}`);
        const res = await call(op, [...others, `${name}=a&${name}=b`].join('&'));
        expect({ name, status: res.status, errcode: res.body.errcode, named: String(res.body.errmsg).includes(name) }).toEqual({
          name,
          status: 200,
          errcode: 40058,
          named: true,
        });
      }
    },
  );

  it('when the contact feed gets a cursor past what a Redis stream id holds (once a 500), then 400 names query.since; the last possible id answers nothing after it', async () => {
    const feed = OPERATIONS.find((op) => op.path === '/v1/contacts/changes')!;
    for (const since of ['99999999999999999999', '1-99999999999999999999', '18446744073709551616-0', 'yesterday']) {
      const res = await call(feed, `since=${since}`);
      expect({ since, status: res.status, fields: fieldsOf(res) }).toEqual({ since, status: 400, fields: ['query.since'] });
    }
    const last = '18446744073709551615-18446744073709551615';
    const res = await call(feed, `since=${last}`);
    expect([res.status, res.body.changes, res.body.next]).toEqual([200, [], last]);
  });
});

it.each(OPERATIONS.filter((op) => op.path.includes('{')).map((op) => [`${op.method.toUpperCase()} ${op.path}`, op] as const))(
  'when %s gets a path parameter that is not validly percent-encoded, then 400 names (path), not (body)',
  async (_name, op) => {
    for (const segment of ['%zz', '%C0%AF', '%ED%A0%80']) {
      const res = await h.api[op.method as 'get'](target(op, { segment })).set(...AUTH);
      expect({ segment, status: res.status, fields: fieldsOf(res) }).toEqual({ segment, status: 400, fields: ['(path)'] });
    }
  },
);

it('when Idempotency-Key is longer than the 256 characters openapi.yaml allows, then 400 names it (the body field has the limit; the header had none)', async () => {
  const res = await h.api
    .post('/v1/messages')
    .set(...AUTH)
    .set('Idempotency-Key', 'i'.repeat(257))
    .send(OPERATIONS.find((op) => op.path === '/v1/messages' && op.method === 'post')!.sample as object);
  expect(res.status).toBe(400);
  expect(fieldsOf(res).join(' ')).toMatch(/idempotency/i);
});

// ---------------------------------------------------------------- the callback

const attributes = (count: number, value: string) => Array.from({ length: count }, (_, i) => `a${i}="${value}"`).join(' ');

/** Envelopes a stranger can post without any key: deep, huge, entity-laden, attribute-heavy, not <xml>, unterminated. */
const UNSIGNED_XML = [
  `<xml>${'<a>'.repeat(8_000)}x${'</a>'.repeat(8_000)}</xml>`,
  `<xml><Encrypt>${'<a>'.repeat(5_000)}</Encrypt></xml>`,
  `<xml><Encrypt><![CDATA[${'A'.repeat(40_000)}]]></Encrypt></xml>`,
  `<xml ${attributes(3_000, 'v'.repeat(10))}><Encrypt>x</Encrypt></xml>`,
  '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;">' +
    '<!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]><xml><Encrypt>&c;</Encrypt></xml>',
  '<!DOCTYPE x [<!ENTITY xxe SYSTEM "file:///etc/passwd">]><xml><Encrypt>&xxe;</Encrypt></xml>',
  '<xml>',
  '<xml><Encrypt><![CDATA[abc',
  '<root><Encrypt>x</Encrypt></root>',
  '<xml/>',
  '<xml><Encrypt/></xml>',
  '<xml><Encrypt>a</Encrypt><Encrypt>b</Encrypt></xml>',
  '<xml><Encrypt><a>b</a></Encrypt></xml>',
  '<xml><__proto__>x</__proto__><constructor>y</constructor><Encrypt>z</Encrypt></xml>',
  '<xml>&amp;&lt;&#0;&#xFFFF;</xml>',
  '{"Encrypt":"x"}',
  '<?xml version="1.0" encoding="UTF-16"?><xml/>',
];
const junkXml = fc.oneof(
  fc.constantFrom(...UNSIGNED_XML),
  fc.integer({ min: 101, max: 8_000 }).map((n) => `<xml>${'<a>'.repeat(n)}x${'</a>'.repeat(n)}</xml>`),
  fc.string({ maxLength: 500 }).map((s) => `<xml><Encrypt>${s}</Encrypt></xml>`),
  fc.string({ unit: 'binary', maxLength: 2_000 }),
);

function signedQuery(encrypt: string): string {
  const timestamp = String(Math.floor(Date.now() / 1000));
  const nonce = String(randomBytes(4).readUInt32BE());
  return `msg_signature=${wecom.signature(timestamp, nonce, encrypt)}&timestamp=${timestamp}&nonce=${nonce}`;
}

/** WeCom's encryption (§5.2) of raw bytes, so a plaintext can be invalid UTF-8. */
function encryptBytes(plain: Buffer): string {
  const key = Buffer.from(`${AES_KEY}=`, 'base64');
  const length = Buffer.alloc(4);
  length.writeUInt32BE(plain.length);
  const message = Buffer.concat([randomBytes(16), length, plain, Buffer.from(SIM_APP.corpId)]);
  const pad = 32 - (message.length % 32);
  const cipher = createCipheriv('aes-256-cbc', key, key.subarray(0, 16)).setAutoPadding(false);
  return Buffer.concat([cipher.update(Buffer.concat([message, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64');
}

const header = { ToUserName: SIM_APP.corpId, FromUserName: 'zhangsan', CreateTime: '1700000000', AgentID: '1000002' };
const MSG_TYPES = ['text', 'image', 'voice', 'video', 'location', 'link', 'event', 'EVENT', '', '__proto__', 'x'.repeat(5_000)];
const EVENTS = [
  'click',
  'view',
  'enter_agent',
  'LOCATION',
  'subscribe',
  'template_card_event',
  'change_contact',
  'change_external_contact',
  'batch_job_result',
  '',
  '__proto__',
  'constructor',
  'x'.repeat(5_000),
];
const CHANGE_TYPES = [
  'create_user',
  'update_user',
  'delete_user',
  'create_party',
  'update_party',
  'delete_party',
  'update_tag',
  'add_external_contact',
  'add_half_external_contact',
  'del_external_contact',
  'del_follow_user',
  '',
  '__proto__',
];
const FIELD_NAMES = [
  'Content',
  'MsgId',
  'EventKey',
  'TaskId',
  'CardType',
  'ResponseCode',
  'UserID',
  'NewUserID',
  'Name',
  'Department',
  'MainDepartment',
  'Mobile',
  'Email',
  'Id',
  'ParentId',
  'TagId',
  'AddUserItems',
  'DelUserItems',
  'ExternalUserID',
  'State',
  'WelcomeCode',
  'Source',
  'Latitude',
  'PicUrl',
];
const deepIn = (element: string, depth: number) => `<${element}>${'<a>'.repeat(depth)}x${'</a>'.repeat(depth)}</${element}>`;

/** Plaintexts only WeCom (or whoever holds the app's keys) can send: valid crypto, hostile content. */
const HOSTILE_PLAINTEXTS: Buffer[] = [
  `<xml><MsgType>event</MsgType><Event>change_contact</Event><ChangeType>update_user</ChangeType>${deepIn('UserID', 5_000)}</xml>`,
  `<xml><MsgType>text</MsgType>${deepIn('Content', 150)}<MsgId>1</MsgId></xml>`,
  `<xml>${'<a>'.repeat(50)}${'</a>'.repeat(50)}<MsgType>text</MsgType></xml>`,
  '<!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;">]>' +
    '<xml><MsgType>text</MsgType><Content>&b;</Content></xml>',
  '<xml><MsgType>text</MsgType><Content>&amp;&lt;&#0;&#xD800;&unknown;</Content></xml>',
  // ~45 KB of attributes: as much as fits the 64 KB body cap once encrypted and base64'd.
  `<xml ${attributes(3_000, 'v'.repeat(8))}><MsgType>text</MsgType><Content>hi</Content></xml>`,
  `<xml><MsgType ${attributes(3_000, 'v')}>text</MsgType></xml>`,
  '<xml><MsgType>text</MsgType><MsgType>event</MsgType><Content><a>1</a></Content>' +
    '<MsgId><x/></MsgId><FromUserName>a</FromUserName><FromUserName>b</FromUserName></xml>',
  '<xml><MsgType>event</MsgType><Event>change_contact</Event></xml>',
  '<xml><MsgType>event</MsgType><Event>change_external_contact</Event><ChangeType>add_external_contact</ChangeType></xml>',
  '<xml><MsgType>event</MsgType><Event>template_card_event</Event></xml>',
  // A MsgId that is not a number: it once became a BullMQ job id with a ':' (refused: 503).
  '<xml><MsgType>text</MsgType><Content>hi</Content><MsgId>:</MsgId></xml>',
  '<xml><MsgType>event</MsgType><Event>template_card_event</Event>' +
    '<TaskId>alert_0123456789abcdef0123_1</TaskId><EventKey>silence:1h</EventKey><AgentID>1000002</AgentID></xml>',
  '<xml><MsgType>event</MsgType></xml>',
  '<xml><Event>click</Event></xml>',
  '<xml><__proto__><polluted>1</polluted></__proto__><constructor>x</constructor><MsgType>text</MsgType></xml>',
  eventXml({ ...header, MsgType: '__proto__', Event: 'constructor', ChangeType: 'hasOwnProperty' }),
  eventXml({ ...header, MsgType: 'x'.repeat(5_000), Event: 'x'.repeat(5_000) }),
  eventXml({
    ...header,
    MsgType: 'event',
    Event: 'change_contact',
    ChangeType: 'update_user',
    UserID: 'x'.repeat(20_000),
    Department: '1,,x,-1,1e309',
  }),
  eventXml({ ...header, MsgType: 'text', Content: 'x'.repeat(30_000), MsgId: 'not-a-number' }),
  '<root><MsgType>text</MsgType></root>',
  '<xml>',
  '<xml/>',
  'plain text',
  '{"MsgType":"text"}',
  '',
  '<xml><MsgType>text</MsgType></xml><xml/>',
]
  .map((s) => Buffer.from(s))
  .concat([
    Buffer.from([
      ...Buffer.from('<xml><MsgType>text</MsgType><Content>'),
      0xc3,
      0x28,
      0xff,
      0xed,
      0xa0,
      0x80,
      ...Buffer.from('</Content><MsgId>9</MsgId></xml>'),
    ]),
    Buffer.from([0xff, 0xfe, 0x3c, 0x00, 0x78, 0x00]),
  ]);

const hostilePlaintext: fc.Arbitrary<Buffer> = fc.oneof(
  fc.constantFrom(...HOSTILE_PLAINTEXTS),
  // Plausible events, odd types, junk in their fields.
  fc
    .record({
      MsgType: fc.constantFrom(...MSG_TYPES),
      Event: fc.constantFrom(...EVENTS),
      ChangeType: fc.constantFrom(...CHANGE_TYPES),
      fields: fc.dictionary(
        fc.constantFrom(...FIELD_NAMES),
        junkString.map((s) => s.slice(0, 8_000)),
        { maxKeys: 5 },
      ),
    })
    .map(({ fields, ...kind }) => Buffer.from(eventXml({ ...header, ...kind, ...fields }))),
  // Missing fields: some of the header elements only.
  fc
    .subarray(Object.entries({ ...header, MsgType: 'event', Event: 'change_contact', ChangeType: 'update_user' }))
    .map((entries) => Buffer.from(eventXml(Object.fromEntries(entries)))),
  fc.uint8Array({ maxLength: 2_000 }).map((b) => Buffer.from(b)),
);

describe('the callback with hostile pushes', () => {
  const paths = ['/wecom/callback', '/wecom/callback/default'];
  const envelope = (encrypt: string) =>
    `<xml><ToUserName><![CDATA[${SIM_APP.corpId}]]></ToUserName><Encrypt>` +
    `<![CDATA[${encrypt}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>`;

  it('when an unsigned push carries deep, huge or entity-laden XML, then the answer is below 500', async () => {
    // A fresh, well-formed signature query for a different body: the body must be judged, not the query.
    const queries = fc.constantFrom('', 'msg_signature=a&timestamp=now&nonce=1', 'msg_signature=&timestamp=&nonce=', 'fresh');
    await check(
      fc.asyncProperty(fc.constantFrom(...paths), junkXml, queries, (path, xml, query) => {
        const q = query === 'fresh' ? signedQuery('x') : query;
        return expectNo5xx(
          { method: 'POST', target: q ? `${path}?${q}` : path, headers: [['Content-Type', 'text/xml']], body: xml },
          `unsigned POST ${path} with ${xml.slice(0, 100)}`,
        );
      }),
      UNSIGNED_XML.map((xml) => [paths[0], xml, 'fresh']),
      20,
    );
  });

  it('when an unsigned push nests more than 100 elements or names one __proto__ (the parser throws: once a 500), then 400', async () => {
    for (const xml of [
      `<xml>${'<a>'.repeat(101)}x${'</a>'.repeat(101)}<Encrypt>x</Encrypt></xml>`,
      '<xml><__proto__>x</__proto__><Encrypt>x</Encrypt></xml>',
      '<xml><constructor>x</constructor><Encrypt>x</Encrypt></xml>',
    ]) {
      expect([
        xml.slice(0, 30),
        await send({ method: 'POST', target: `/wecom/callback?${signedQuery('x')}`, headers: [['Content-Type', 'text/xml']], body: xml }),
      ]).toEqual([xml.slice(0, 30), [400]]);
    }
  });

  it('when a validly signed push decrypts to XML nested more than 100 deep or with a __proto__ element (once a 500), then 400', async () => {
    for (const plaintext of [
      `<xml><MsgType>text</MsgType>${deepIn('Content', 150)}</xml>`,
      '<xml><__proto__><polluted>1</polluted></__proto__><MsgType>text</MsgType></xml>',
    ]) {
      const encrypt = encryptBytes(Buffer.from(plaintext));
      expect([
        plaintext.slice(0, 40),
        await send({
          method: 'POST',
          target: `/wecom/callback?${signedQuery(encrypt)}`,
          headers: [['Content-Type', 'text/xml']],
          body: envelope(encrypt),
        }),
      ]).toEqual([plaintext.slice(0, 40), [400]]);
    }
  });

  it('when a validly signed push is over the body cap (60 KB of attributes), then 413', async () => {
    const plaintext = `<xml ${attributes(4_000, 'v'.repeat(8))}><MsgType>text</MsgType></xml>`;
    expect(plaintext.length).toBeGreaterThan(60_000);
    const push = encryptedPush(wecom, SIM_APP.corpId, plaintext);
    expect(
      await send({ method: 'POST', target: `/wecom/callback?${push.query}`, headers: [['Content-Type', 'text/xml']], body: push.body }),
    ).toEqual([413]);
  });

  it('when a validly signed and encrypted push has hostile plaintext (deep, entities, 45 KB of attributes, invalid UTF-8, not <xml>, missing fields, odd MsgType/Event), then the answer is below 500', async () => {
    await check(
      fc.asyncProperty(fc.constantFrom(...paths), hostilePlaintext, (path, plaintext) => {
        const encrypt = encryptBytes(plaintext);
        return expectNo5xx(
          { method: 'POST', target: `${path}?${signedQuery(encrypt)}`, headers: [['Content-Type', 'text/xml']], body: envelope(encrypt) },
          `signed POST ${path} with plaintext ${plaintext.toString('utf8').slice(0, 160)}`,
        );
      }),
      HOSTILE_PLAINTEXTS.map((p) => [paths[0], p]),
      30,
    );
  });

  it('when URL verification carries a validly signed hostile echostr, then the answer is below 500', async () => {
    await check(
      fc.asyncProperty(fc.constantFrom(...paths), hostilePlaintext, (path, plaintext) => {
        const echostr = encryptBytes(plaintext.subarray(0, 6_000));
        return expectNo5xx(
          { method: 'GET', target: `${path}?${signedQuery(echostr)}&echostr=${percent(echostr)}`, headers: [] },
          `GET ${path} with an echostr of ${plaintext.length} bytes`,
        );
      }),
      HOSTILE_PLAINTEXTS.map((p) => [paths[1], p]),
    );
  });
});

it('when the fuzzing is over, then the gateway counted no 5xx answer on any route, and no prototype was polluted', async () => {
  const metrics = await h.api.get('/metrics').set(...AUTH);
  expect(metrics.text.split('\n').filter((line) => /^wecom_gateway_http_requests_total\{.*status="5\d\d"/.test(line))).toEqual([]);
  // The gateway runs in this process: a __proto__ key that reached a merge would show here.
  expect(Object.getOwnPropertyNames(Object.prototype)).toEqual(PROTOTYPE_BEFORE);
  expect(({} as Record<string, unknown>).polluted).toBeUndefined();
});
