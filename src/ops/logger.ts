import pino, { type Logger } from 'pino';

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
  'mobile',
  '*.mobile',
  'email',
  '*.email',
];

export function createLogger(level = 'info', destination?: pino.DestinationStream): Logger {
  return pino({ level, base: { service: 'wecom-gateway' }, redact: { paths: REDACT_PATHS, censor: '[redacted]' }, timestamp: pino.stdTimeFunctions.isoTime }, destination);
}
