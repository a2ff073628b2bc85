import pino, { type Logger } from 'pino';
import pretty from 'pino-pretty';

/**
 * Structured JSON logs. Secrets and tokens are redacted by path wherever they
 * might appear (config, headers, WeCom URLs), as defense in depth: code never
 * logs them on purpose.
 */
export const REDACT_PATHS = [
  'secret',
  '*.secret',
  'apps[*].secret',
  'apiKeys',
  'accessToken',
  '*.accessToken',
  'access_token',
  '*.access_token',
  'token',
  '*.token',
  'aesKey',
  '*.aesKey',
  'req.headers.authorization',
  'req.headers.cookie',
];

const CENSOR = '[redacted]';

/**
 * A person's contact details, as WeCom names them in JSON (`biz_mail`), in XML
 * (`BizMail`) and as the gateway does (`bizMail`): compared without case and `_`.
 */
const PERSONAL_FIELDS = new Set(['mobile', 'email', 'bizmail', 'telephone', 'address', 'remarkmobiles']);
const isPersonal = (key: string) => PERSONAL_FIELDS.has(key.replace(/_/g, '').toLowerCase());

/** Below this depth a log line holds no data worth walking into; what is deeper is cut, not printed unredacted. */
const MAX_DEPTH = 32;

function isPlainData(value: object): boolean {
  if (Array.isArray(value)) return true;
  const proto = Object.getPrototypeOf(value) as unknown;
  return proto === Object.prototype || proto === null;
}

/**
 * The value with every personal field censored, at any depth (pino's redact paths
 * match fixed depths only, and a contact sits wherever the code put it). Copies
 * only what changes: the caller's objects are never touched. Class instances
 * (errors, requests) are left to their serializers. A cycle is cut here: left in,
 * it would lead pino's printer back to the uncensored original.
 */
export function withoutPersonalData(value: unknown, depth = 0, ancestors: object[] = []): unknown {
  if (typeof value !== 'object' || value === null || !isPlainData(value)) return value;
  if (ancestors.includes(value)) return '[Circular]';
  if (depth >= MAX_DEPTH) return '[too deep]';
  const inner = [...ancestors, value];
  if (Array.isArray(value)) {
    const items = value.map((item) => withoutPersonalData(item, depth + 1, inner));
    return items.some((item, i) => item !== value[i]) ? items : value;
  }
  let copy: Record<string, unknown> | undefined;
  for (const [key, field] of Object.entries(value)) {
    const cleaned = isPersonal(key) && field !== undefined ? CENSOR : withoutPersonalData(field, depth + 1, inner);
    if (cleaned !== field) (copy ??= { ...value })[key] = cleaned;
  }
  return copy ?? value;
}

export type LogFormat = 'auto' | 'json' | 'pretty';

/** auto: a person reads a terminal, a program reads a pipe or a file. */
export function resolveLogFormat(format: LogFormat, isTTY = process.stdout.isTTY === true): 'json' | 'pretty' {
  return format === 'auto' ? (isTTY ? 'pretty' : 'json') : format;
}

/**
 * Without a destination, logs go to stdout: JSON asynchronously (a busy API does not
 * wait for each line to be written, lines written meanwhile go out together, and
 * pino flushes what is left when the process exits; a kill -9 loses the last lines),
 * or pino-pretty's readable lines for a terminal. Redaction happens before either.
 */
export function createLogger(level = 'info', format: LogFormat | pino.DestinationStream = 'json'): Logger {
  const destination =
    typeof format !== 'string'
      ? format
      : resolveLogFormat(format) === 'pretty'
        ? pretty({ colorize: process.stdout.isTTY === true, translateTime: 'SYS:HH:MM:ss.l', ignore: 'pid,hostname,service', sync: true })
        : pino.destination({ dest: 1, sync: false });
  return pino(
    {
      level,
      base: { service: 'wecom-gateway' },
      redact: { paths: REDACT_PATHS, censor: CENSOR },
      formatters: { log: (object) => withoutPersonalData(object) as Record<string, unknown> },
      timestamp: pino.stdTimeFunctions.isoTime,
    },
    destination,
  );
}
