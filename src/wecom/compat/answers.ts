/**
 * The gateway answering WeCom's own API (/cgi-bin/, the drop-in for tools that
 * already speak WeCom): the errcodes it answers, named once (reference §4, §13,
 * §14), and the body every answer has. Every answer is HTTP 200 with `errcode`
 * and `errmsg`, as WeCom's are: clients such as Alertmanager retry on other
 * statuses and drop their token only on a 200 with 42001.
 */
export const CompatErrcode = {
  ok: 0,
  /** System busy: the client retries (Redis away, an error of ours). */
  busy: -1,
  invalidSecret: 40001,
  invalidUser: 40003,
  invalidMediaType: 40005,
  invalidMediaSize: 40006,
  invalidMediaId: 40007,
  invalidMsgtype: 40008,
  invalidCorpId: 40013,
  invalidToken: 40014,
  invalidUserList: 40031,
  invalidAgentId: 40056,
  /** Invalid parameter: bad JSON, a field too long, GET for POST, a recall of a message that is not there. */
  invalidParameter: 40058,
  missingToken: 41001,
  missingSecret: 41004,
  missingAgentId: 41011,
  missingTitle: 41016,
  missingDescription: 41033,
  expiredToken: 42001,
  emptyMedia: 44001,
  emptyContent: 44004,
  contentTooLong: 45002,
  /** Only ever for a caller over its own per-key rate limit (RATE_LIMIT_PER_MINUTE). */
  frequencyLimit: 45009,
  /** An API the gateway does not offer (unknown, or not relayed on purpose). */
  apiForbidden: 48001,
  noPermission: 60011,
  /** The caller's address may not call: keyless mode serves loopback callers only. */
  untrustedIp: 60020,
  emptyRecipients: 82001,
  invalidChatId: 86001,
  invalidWebhook: 93000,
} as const;

export type CompatErrcodeValue = (typeof CompatErrcode)[keyof typeof CompatErrcode];

/** A request WeCom would refuse: its errcode and a message naming the field (never a credential). */
export class CompatError extends Error {
  constructor(
    readonly errcode: number,
    message: string,
  ) {
    super(message);
  }
}

/** WeCom's answer body: `errmsg` ends with `, hint: [<request id>]`, as WeCom's does, so a caller can quote it to the operator. */
export function compatAnswer(errcode: number, errmsg: string, requestId: string, extra: Record<string, unknown> = {}) {
  return { errcode, errmsg: errcode === CompatErrcode.ok ? 'ok' : `${errmsg}, hint: [${requestId}]`, ...extra };
}

/** The gateway's token lifetime, as WeCom's: clients refresh on 42001 or ahead of `expires_in`. */
export const COMPAT_TOKEN_SECONDS = 7_200;

/**
 * How long past `expires_in` a token is still taken. Alertmanager 0.25 renews its token
 * at exactly 2 h by its own clock and reads no errcode (a 42001 is taken for delivered):
 * without this margin a notification sent in the gap between the two clocks is lost.
 */
export const COMPAT_TOKEN_GRACE_SECONDS = 300;

/**
 * WeCom's refusals of an uploaded file itself (reference §3): the caller's to see. Any other
 * errcode of an upload is about the gateway's own call (its token, app secret, address, rate
 * limit) and reaches the caller as -1, so a 40014 or 45009 is never taken for the caller's own.
 */
export const MEDIA_FILE_ERRCODES: ReadonlySet<number> = new Set([40004, 40005, 40006, 40009, 40010, 40011, 44001, 45001, 45007]);
