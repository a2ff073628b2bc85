/**
 * What the gateway does with each WeCom errcode (reference §4). The queues act
 * on the class; nothing outside src/wecom reads an errcode.
 *
 * - token:     drop the cached token (if it is still the one that failed), fetch, retry once
 * - retry:     transient, back off and try again
 * - permanent: the request, the recipients or the setup is wrong; retrying cannot help
 */
export type ErrcodeClass = 'ok' | 'token' | 'retry' | 'permanent';

/**
 * The gateway's own errcodes, for failures WeCom never answered (negative, so
 * they cannot meet one of WeCom's): recorded like WeCom's, with a hint.
 */
export const GatewayErrcode = {
  /** WeCom could not be reached, or answered HTTP 4xx/5xx or no JSON. */
  network: -2,
  /** A media message's file could not be downloaded or read. */
  media: -3,
  /** The message names an app that is no longer configured. */
  appGone: -4,
  /** A worker kept dying mid-send. */
  interrupted: -5,
  /** A part to on-call schedules only, with nobody on call (nor a fallback) when it was sent. */
  nobodyOnCall: -6,
} as const;

/** The frequency limit: WeCom blocks the app (or a robot's key) for the rest of its window (budgets/app-pause.ts). */
export const APP_BLOCKED_ERRCODE = 45009;

const TOKEN_ERRCODES = new Set([40014, 42001, 41001, 40001]);
const RETRY_ERRCODES = new Set([-1, 6000, APP_BLOCKED_ERRCODE, 45033]);

/** Short operator hints; the errmsg from WeCom is always kept verbatim next to them. */
const HINTS: Record<number, string> = {
  [-1]: 'WeCom is busy; retried with backoff',
  // The gateway's own codes (no WeCom answer to quote).
  [GatewayErrcode.network]:
    'WeCom could not be reached (network error, timeout or HTTP error): check WECOM_API_BASE, DNS and the outbound firewall',
  [GatewayErrcode.media]: 'the media could not be fetched or read: check the URL or base64 content (20 MB at most)',
  [GatewayErrcode.appGone]: 'the message names an app that is no longer configured',
  [GatewayErrcode.nobodyOnCall]:
    'nobody was on call and the schedule names no fallback: add an override (POST /v1/oncall/{name}/overrides) or fallback users',
  [GatewayErrcode.interrupted]: 'the send was interrupted too often (a worker kept dying mid-send); see the logs around the failure',
  6000: 'data version conflict at WeCom; retried',
  40001:
    "invalid secret: check WECOM_AGENT_SECRET or the app's secret in the " +
    'config file (reset in the admin console?), or whether the app is disabled',
  40003: 'invalid UserID: the user does not exist or is outside the app',
  40004: 'invalid media type for this message',
  40005: 'invalid media type',
  40006: 'invalid media size (image 10 MB, voice 2 MB, video 10 MB, file 20 MB at most)',
  40007: 'invalid media_id (expired after 3 days or of another type)',
  40008: 'invalid msgtype',
  40013: 'invalid corp id: check WECOM_CORP_ID (or corpId of the app in the config file)',
  40014: 'invalid access_token',
  40031: 'invalid UserID list: check the users of the request',
  40032: 'too many UserIDs in one call (over 1000)',
  40033: 'the content holds characters WeCom refuses (\\uxxxx escapes)',
  40056: 'invalid agentid: check WECOM_AGENT_ID (or agentId of the app in the config file)',
  40058: 'WeCom rejected a parameter (length, array size or format)',
  40063: 'a required parameter is empty',
  40068: 'invalid tag id: check the tags of the welcome activity (corp customer tag ids, not names)',
  40096: 'invalid external_userid (another corp, or the employee is outside the visible range)',
  40098: 'the member has not verified their real name',
  40099: "the employee's external contacts are at their limit",
  41001: 'access_token missing',
  41004: 'secret missing: check WECOM_AGENT_SECRET',
  41011: 'agentid missing',
  41016: 'title missing',
  41033: 'textcard description missing',
  41037: 'contact-me code: type missing or invalid',
  41041: 'a contact-me code may name 100 users at most',
  41044: 'contact-me code: invalid config_id (unknown to WeCom, or deleted already)',
  41045: "the corp's contact-me code quota is used up: retire unused codes",
  41049: 'welcome_code missing',
  41050: 'welcome_code invalid: used already or older than its 20 s',
  41051: 'the customer already chats with the employee: the welcome was delivered',
  41053: 'the customer has not accepted the chat-archiving notice',
  41054: 'the employee has not activated WeCom',
  41096: 'another app is sending the welcome: retried inside the 20 s window',
  42001: 'access_token expired',
  44004: 'text content is empty',
  45002: 'content too long',
  45009: 'WeCom API frequency limit reached',
  45033: 'WeCom concurrency limit reached',
  48001: 'API not authorised for this app: enable it in the admin console',
  48002:
    'API not permitted for this secret: customer-contact APIs need the 客户联系 secret ' +
    '(WECOM_CUSTOMER_CONTACT_SECRET) or the app listed in 「可调用接口的应用」; miniprogram_notice needs a mini-program app',
  60011: 'no permission on this member, department or tag',
  60020: "the gateway's IP is not in the app's trusted IPs (WeCom admin -> app -> 企业可信IP)",
  60111: 'UserID does not exist (left, deleted, or outside the visible range)',
  81013: 'no recipient is valid (unknown users, parties or tags, or outside the visible range)',
  82001: 'touser, toparty and totag are all empty',
  84061: 'no external-contact relationship: the employee removed the customer, or the add was never confirmed',
  86001: 'invalid chatid',
  86003: 'the app group chat does not exist, or this app did not create it (only chats the app created can be sent to)',
  // The caller names the robot around it: the hint never sees the key.
  93000: "the robot's webhook key is not valid: the robot was removed from its group, or the key or URL was mistyped",
  301002: 'the secret belongs to another app than WECOM_AGENT_ID',
};

export function classifyErrcode(errcode: number): ErrcodeClass {
  if (errcode === 0) return 'ok';
  if (TOKEN_ERRCODES.has(errcode)) return 'token';
  if (RETRY_ERRCODES.has(errcode)) return 'retry';
  return 'permanent';
}

/** The caller's address as WeCom reports it in errmsg ("…, from ip: 203.0.113.7, more info at …"). */
export function ipFromErrmsg(errmsg: string): string | undefined {
  return /from ip:\s*([0-9a-fA-F.:]+[0-9a-fA-F])/.exec(errmsg)?.[1];
}

/** When WeCom refused the caller's address (60020, 企业可信IP): the address it saw, when its errmsg names it. */
export function refusedCaller(error: { errcode: number; errmsg: string }): { ip?: string } | undefined {
  return error.errcode === 60020 ? { ip: ipFromErrmsg(error.errmsg) } : undefined;
}

export function errcodeHint(errcode: number, errmsg = ''): string | undefined {
  const ip = refusedCaller({ errcode, errmsg })?.ip;
  if (ip) return `add ${ip} to the app's trusted IPs (WeCom admin -> app -> 企业可信IP); it takes about a minute to apply`;
  return HINTS[errcode];
}
