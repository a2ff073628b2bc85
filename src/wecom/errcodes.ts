/**
 * What the gateway does with each WeCom errcode (reference §4). The queues act
 * on the class; nothing outside src/wecom reads an errcode.
 *
 * - token:     drop the cached token (if it is still the one that failed), fetch, retry once
 * - retry:     transient, back off and try again
 * - permanent: the request, the recipients or the setup is wrong; retrying cannot help
 */
export type ErrcodeClass = 'ok' | 'token' | 'retry' | 'permanent';

const TOKEN_ERRCODES = new Set([40014, 42001, 41001, 40001]);
const RETRY_ERRCODES = new Set([-1, 6000, 45009, 45033]);

/** Short operator hints; the errmsg from WeCom is always kept verbatim next to them. */
const HINTS: Record<number, string> = {
  [-1]: 'WeCom is busy; retried with backoff',
  40001: 'invalid secret: check WECOM_AGENT_SECRET (reset in the admin console?) or whether the app is disabled',
  40003: 'invalid UserID: the user does not exist or is outside the app',
  40007: 'invalid media_id (expired after 3 days or of another type)',
  40008: 'invalid msgtype',
  40013: 'invalid corp id: check WECOM_CORP_ID',
  40014: 'invalid access_token',
  40056: 'invalid agentid: check WECOM_AGENT_ID',
  40058: 'WeCom rejected a parameter (length, array size or format)',
  41001: 'access_token missing',
  42001: 'access_token expired',
  44004: 'text content is empty',
  45002: 'content too long',
  45009: 'WeCom API frequency limit reached',
  45033: 'WeCom concurrency limit reached',
  48002: "API not permitted for this secret: customer-contact APIs need the 客户联系 secret (WECOM_CUSTOMER_CONTACT_SECRET) or the app listed in 「可调用接口的应用」; miniprogram_notice needs a mini-program app",
  60011: 'no permission on this member, department or tag',
  60020: "the gateway's IP is not in the app's trusted IPs (WeCom admin -> app -> 企业可信IP)",
  81013: 'no recipient is valid (unknown users, parties or tags, or outside the visible range)',
  82001: 'touser, toparty and totag are all empty',
  301002: 'the secret belongs to another app than WECOM_AGENT_ID',
};

export function classifyErrcode(errcode: number): ErrcodeClass {
  if (errcode === 0) return 'ok';
  if (TOKEN_ERRCODES.has(errcode)) return 'token';
  if (RETRY_ERRCODES.has(errcode)) return 'retry';
  return 'permanent';
}

/**
 * 45009 (frequency limit) blocks the app for the rest of the window, a minute at
 * least (reference §2.5): the whole app should wait that long, not each job.
 */
export function throttleFor(errcode: number, blockedWindowMs: number): number | undefined {
  return errcode === 45009 ? blockedWindowMs : undefined;
}

/** The caller's address as WeCom reports it in errmsg ("…, from ip: 203.0.113.7, more info at …"). */
export function ipFromErrmsg(errmsg: string): string | undefined {
  return /from ip:\s*([0-9a-fA-F.:]+[0-9a-fA-F])/.exec(errmsg)?.[1];
}

export function errcodeHint(errcode: number, errmsg = ''): string | undefined {
  const ip = errcode === 60020 ? ipFromErrmsg(errmsg) : undefined;
  if (ip) return `add ${ip} to the app's trusted IPs (WeCom admin -> app -> 企业可信IP); it takes about a minute to apply`;
  return HINTS[errcode];
}
