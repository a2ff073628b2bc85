import { Agent, FormData, request, type Dispatcher } from 'undici';
import { classifyErrcode, GatewayErrcode } from './errcodes';
import type { ChatInfo, ChatUpdate, NewChat, RobotEndpoint } from './group-chat';
import { truncateUtf8 } from './limits';

/** A WeCom API error as WeCom stated it, or one of the gateway's own (GatewayErrcode: -2 is a network/HTTP failure). */
export interface WecomError {
  errcode: number;
  errmsg: string;
}

/**
 * Every call answers a classified outcome; the caller (a queue worker) decides
 * what to do next. The client never sleeps, loops or counts attempts.
 */
export type Outcome<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'refreshToken'; error: WecomError }
  /** `afterMs`: WeCom blocked the app for a while (45009); retrying sooner only burns attempts. */
  | { kind: 'retry'; error: WecomError; afterMs?: number }
  | { kind: 'permanent'; error: WecomError };

/** For calls naming something WeCom may not know (any more): that case apart from the other refusals. */
export type LookupOutcome<T> = Outcome<T> | { kind: 'notFound'; error: WecomError };

export interface TokenGrant {
  accessToken: string;
  expiresInSeconds: number;
}

export interface SendResult {
  msgid?: string;
  invalid: { users: string[]; parties: string[]; tags: string[] };
  unlicensedUsers: string[];
  responseCode?: string;
}

export type MediaType = 'image' | 'voice' | 'video' | 'file';

export interface UploadedMedia {
  mediaId: string;
  createdAt: number;
}

/** One attachment of a new-customer welcome, in WeCom's shape (reference §8). */
export type WelcomeAttachment =
  | { msgtype: 'image'; image: { media_id?: string; pic_url?: string } }
  | { msgtype: 'link'; link: { title: string; url: string; picurl?: string; desc?: string } }
  | { msgtype: 'miniprogram'; miniprogram: { title: string; pic_media_id: string; appid: string; page: string } }
  | { msgtype: 'video'; video: { media_id: string } }
  | { msgtype: 'file'; file: { media_id: string } };

/** A welcome: text and up to 9 attachments, not both empty; they reach the customer as separate messages. */
export interface WelcomeMessage {
  text?: string;
  attachments: WelcomeAttachment[];
}

/** Corp tags (ids, reference §9.1) for an employee's customer. */
export interface TagMarks {
  employee: string;
  customer: string;
  add: string[];
}

/** A 「联系我」 QR code (reference §9.2): one member, or several taking turns. */
export interface ContactWayRequest {
  /** At most 30 characters are kept. */
  remark?: string;
  /** Echoed as `State` in the add events of customers who scan it. */
  state?: string;
  users: string[];
  /** Customers are added without the member confirming (WeCom's default). */
  skipVerify?: boolean;
}

export interface CreatedContactWay {
  /** Keep it: WeCom does not list API-created codes in its console. */
  configId: string;
  qrCode: string;
}

/** message/update_template_card (reference §2.4): one response_code, used once. */
export interface CardUpdate {
  agentId: number;
  responseCode: string;
  /** Whose card changes (at most 1000 users, 100 parties, 100 tags). */
  to: { users?: string[]; parties?: string[]; tags?: string[]; all?: boolean };
  /** A whole new card (the same task_id), or else the clicked button's new text. */
  card?: Record<string, unknown>;
  replaceName?: string;
}

/** Called after every API answer, e.g. to count calls by api and errcode. */
export type CallObserver = (api: string, errcode: number, durationMs: number) => void;

const NETWORK_ERRCODE = GatewayErrcode.network;
/** del_contact_way: the config_id is unknown, or deleted already. */
const UNKNOWN_CONFIG_ID = 41044;

interface WecomBody {
  errcode?: number;
  errmsg?: string;
  [key: string]: unknown;
}

function splitList(value: unknown): string[] {
  return typeof value === 'string' && value !== '' ? value.split('|') : [];
}

/** Redacts access_token / corpsecret / a robot's key from anything that might be logged. */
export function redactUrl(url: string): string {
  return url.replace(/\b(access_token|corpsecret|key)=[^&\s]*/g, '$1=***');
}

/** appchat: the chatid is unknown (86003), or not a chatid at all (86001). */
const CHAT_NOT_FOUND = new Set([86003, 86001]);

/** How one call differs from a plain WeCom API call: a robot's own API base, and credentials no errmsg may show. */
interface CallTarget {
  apiBase?: string;
  secrets?: string[];
}

/** Removes credentials from a text that leaves the client (errmsgs end up in statuses and logs). */
function scrub(text: string, secrets: string[] = []): string {
  let out = redactUrl(text);
  for (const secret of secrets) {
    if (secret === '') continue;
    for (const form of new Set([secret, encodeURIComponent(secret)])) out = out.split(form).join('***');
  }
  return out;
}

function robotTarget(endpoint: RobotEndpoint): CallTarget {
  return { apiBase: endpoint.apiBase.replace(/\/+$/, ''), secrets: [endpoint.key] };
}

function uploaded(body: WecomBody, api: string): Outcome<UploadedMedia> {
  const mediaId = body.media_id;
  if (typeof mediaId !== 'string') return { kind: 'retry', error: { errcode: NETWORK_ERRCODE, errmsg: `${api} answered without media_id` } };
  return { kind: 'ok', value: { mediaId, createdAt: Number(body.created_at) || Math.floor(Date.now() / 1000) } };
}

/** Party and tag ids are integers in update_template_card's lists (unlike message/send's `|` strings). */
const idList = (ids: string[] | undefined) => (ids && ids.length > 0 ? ids.map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : undefined);

/** The body of message/update_template_card: recipients, then either the new card or the clicked button's new text. */
function cardUpdateBody(update: CardUpdate): object {
  const { to } = update;
  return {
    userids: to.users && to.users.length > 0 ? to.users : undefined,
    partyids: idList(to.parties),
    tagids: idList(to.tags),
    atall: to.all ? 1 : undefined,
    agentid: update.agentId,
    response_code: update.responseCode,
    ...(update.card ? { template_card: update.card } : { button: { replace_name: update.replaceName } }),
  };
}

function chatNotFound<T>(outcome: Exclude<Outcome<T>, { kind: 'ok' }>): LookupOutcome<never> {
  return CHAT_NOT_FOUND.has(outcome.error.errcode) ? { kind: 'notFound', error: outcome.error } : outcome;
}

export class WecomClient {
  private readonly dispatcher: Dispatcher;

  constructor(
    private readonly options: { apiBase: string; timeoutMs: number; onCall?: CallObserver; throttleMs?: (errcode: number) => number | undefined },
    dispatcher?: Dispatcher,
  ) {
    // Keep-alive pool: message/send is called thousands of times a minute.
    this.dispatcher =
      dispatcher ??
      new Agent({ keepAliveTimeout: 30_000, connections: 64, headersTimeout: options.timeoutMs, bodyTimeout: options.timeoutMs, connectTimeout: Math.min(options.timeoutMs, 5_000) });
  }

  async getToken(corpId: string, secret: string): Promise<Outcome<TokenGrant>> {
    const query = new URLSearchParams({ corpid: corpId, corpsecret: secret });
    const outcome = await this.call('gettoken', `/cgi-bin/gettoken?${query}`, { method: 'GET' });
    if (outcome.kind !== 'ok') {
      // At gettoken, 40001/40013/41004 are configuration errors, never a reason to refetch.
      return outcome.kind === 'refreshToken' ? { kind: 'permanent', error: outcome.error } : outcome;
    }
    const body = outcome.value;
    if (typeof body.access_token !== 'string' || body.access_token === '') {
      return { kind: 'retry', error: { errcode: NETWORK_ERRCODE, errmsg: 'gettoken answered without access_token' } };
    }
    return { kind: 'ok', value: { accessToken: body.access_token, expiresInSeconds: Number(body.expires_in) || 7200 } };
  }

  async sendMessage(accessToken: string, payload: object): Promise<Outcome<SendResult>> {
    const outcome = await this.call('message/send', `/cgi-bin/message/send?access_token=${encodeURIComponent(accessToken)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(payload),
    });
    if (outcome.kind !== 'ok') return outcome;
    const body = outcome.value;
    return {
      kind: 'ok',
      value: {
        msgid: typeof body.msgid === 'string' ? body.msgid : undefined,
        invalid: { users: splitList(body.invaliduser), parties: splitList(body.invalidparty), tags: splitList(body.invalidtag) },
        unlicensedUsers: splitList(body.unlicenseduser),
        responseCode: typeof body.response_code === 'string' ? body.response_code : undefined,
      },
    };
  }

  /** WeCom's callback source addresses (reference §10), for the optional callback IP allowlist. */
  async getCallbackIps(accessToken: string): Promise<Outcome<string[]>> {
    const outcome = await this.call('getcallbackip', `/cgi-bin/getcallbackip?access_token=${encodeURIComponent(accessToken)}`, { method: 'GET' });
    if (outcome.kind !== 'ok') return outcome;
    const list = outcome.value.ip_list;
    return { kind: 'ok', value: Array.isArray(list) ? list.filter((ip): ip is string => typeof ip === 'string') : [] };
  }

  async uploadMedia(accessToken: string, type: MediaType, filename: string, content: Buffer, contentType = 'application/octet-stream'): Promise<Outcome<UploadedMedia>> {
    const form = new FormData();
    // The part must be named "media"; its filename is what recipients of a file message see (§3).
    form.append('media', new Blob([content], { type: contentType }), filename);
    const query = new URLSearchParams({ access_token: accessToken, type });
    const outcome = await this.call('media/upload', `/cgi-bin/media/upload?${query}`, { method: 'POST', body: form });
    if (outcome.kind !== 'ok') return outcome;
    return uploaded(outcome.value, 'media/upload');
  }

  /** agent/get: the app's name and visible range (for the doctor). */
  async getAgent(accessToken: string, agentId: number): Promise<Outcome<Record<string, unknown>>> {
    return this.call('agent/get', `/cgi-bin/agent/get?access_token=${encodeURIComponent(accessToken)}&agentid=${agentId}`, { method: 'GET' });
  }

  /** message/recall (reference §2.4): WeCom allows it for 24 hours, for the sending app only. */
  async recallMessage(accessToken: string, msgid: string): Promise<Outcome<true>> {
    const outcome = await this.postJson(accessToken, 'message/recall', { msgid });
    return outcome.kind === 'ok' ? { kind: 'ok', value: true } : outcome;
  }

  /**
   * message/update_template_card (reference §2.4, §15): each response_code
   * (from message/send, or from a click) changes the card once; a used or
   * expired code is a 40058 refusal, permanent like any other.
   */
  async updateTemplateCard(accessToken: string, update: CardUpdate): Promise<Outcome<true>> {
    const outcome = await this.postJson(accessToken, 'message/update_template_card', cardUpdateBody(update));
    return outcome.kind === 'ok' ? { kind: 'ok', value: true } : outcome;
  }

  /**
   * send_welcome_msg (reference §8) has outcomes of its own: 41051 means the
   * welcome was already delivered (done, not an error); 41096 means another app
   * is sending it right now (retry inside the 20 s window); 41050/41049 are final.
   */
  async sendWelcome(accessToken: string, welcomeCode: string, message: WelcomeMessage): Promise<Outcome<'sent' | 'alreadyDelivered'>> {
    const outcome = await this.postJson(accessToken, 'externalcontact/send_welcome_msg', {
      welcome_code: welcomeCode,
      // text.content is at most 4000 bytes.
      ...(message.text ? { text: { content: truncateUtf8(message.text, 4000) } } : {}),
      attachments: message.attachments,
    });
    if (outcome.kind === 'ok') return { kind: 'ok', value: 'sent' };
    if (outcome.error.errcode === 41051) return { kind: 'ok', value: 'alreadyDelivered' };
    if (outcome.error.errcode === 41096) return { kind: 'retry', error: outcome.error };
    return outcome;
  }

  /** mark_tag (reference §9.1): adds corp tags to an employee's customer. */
  async markTags(accessToken: string, marks: TagMarks): Promise<Outcome<true>> {
    const outcome = await this.postJson(accessToken, 'externalcontact/mark_tag', { userid: marks.employee, external_userid: marks.customer, add_tag: marks.add });
    return outcome.kind === 'ok' ? { kind: 'ok', value: true } : outcome;
  }

  /** add_contact_way (reference §9.2) as a QR code (scene 2): type 1 for one member, 2 for several. */
  async addContactWay(accessToken: string, way: ContactWayRequest): Promise<Outcome<CreatedContactWay>> {
    const outcome = await this.postJson(accessToken, 'externalcontact/add_contact_way', {
      type: way.users.length === 1 ? 1 : 2,
      scene: 2,
      remark: way.remark === undefined ? undefined : [...way.remark].slice(0, 30).join(''),
      skip_verify: way.skipVerify,
      state: way.state,
      user: way.users,
    });
    if (outcome.kind !== 'ok') return outcome;
    return { kind: 'ok', value: { configId: String(outcome.value.config_id), qrCode: String(outcome.value.qr_code ?? '') } };
  }

  /** del_contact_way (reference §9.2): `notFound` when WeCom does not know the config_id (unknown, or deleted already). */
  async deleteContactWay(accessToken: string, configId: string): Promise<LookupOutcome<true>> {
    const outcome = await this.postJson(accessToken, 'externalcontact/del_contact_way', { config_id: configId });
    if (outcome.kind === 'ok') return { kind: 'ok', value: true };
    if (outcome.error.errcode === UNKNOWN_CONFIG_ID) return { kind: 'notFound', error: outcome.error };
    return outcome;
  }

  /** A group robot's webhook/send (reference §13): no token, the key is the credential. */
  async robotSend(endpoint: RobotEndpoint, payload: object): Promise<Outcome<true>> {
    const outcome = await this.call(
      'webhook/send',
      `/cgi-bin/webhook/send?key=${encodeURIComponent(endpoint.key)}`,
      { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(payload) },
      robotTarget(endpoint),
    );
    return outcome.kind === 'ok' ? { kind: 'ok', value: true } : outcome;
  }

  /** webhook/upload_media (reference §13): a file or voice for a robot's file/voice message; the media_id lives 3 days. */
  async robotUpload(endpoint: RobotEndpoint, type: 'file' | 'voice', filename: string, content: Buffer): Promise<Outcome<UploadedMedia>> {
    const form = new FormData();
    form.append('media', new Blob([content], { type: 'application/octet-stream' }), filename);
    const query = new URLSearchParams({ key: endpoint.key, type });
    const outcome = await this.call('webhook/upload_media', `/cgi-bin/webhook/upload_media?${query}`, { method: 'POST', body: form }, robotTarget(endpoint));
    if (outcome.kind !== 'ok') return outcome;
    return uploaded(outcome.value, 'webhook/upload_media');
  }

  /**
   * appchat/create (reference §14). An answer without a chatid is permanent, not
   * retried: a retry could create a second chat.
   */
  async createChat(accessToken: string, chat: NewChat): Promise<Outcome<{ chatid: string }>> {
    const outcome = await this.postJson(accessToken, 'appchat/create', { name: chat.name, owner: chat.owner, userlist: chat.users, chatid: chat.chatid });
    if (outcome.kind !== 'ok') return outcome;
    const chatid = typeof outcome.value.chatid === 'string' && outcome.value.chatid !== '' ? outcome.value.chatid : chat.chatid;
    if (!chatid) return { kind: 'permanent', error: { errcode: NETWORK_ERRCODE, errmsg: 'appchat/create answered without chatid' } };
    return { kind: 'ok', value: { chatid } };
  }

  async updateChat(accessToken: string, update: ChatUpdate): Promise<LookupOutcome<true>> {
    const outcome = await this.postJson(accessToken, 'appchat/update', {
      chatid: update.chatid,
      name: update.name,
      owner: update.owner,
      add_user_list: update.addUsers,
      del_user_list: update.removeUsers,
    });
    return outcome.kind === 'ok' ? { kind: 'ok', value: true } : chatNotFound(outcome);
  }

  async getChat(accessToken: string, chatid: string): Promise<LookupOutcome<ChatInfo>> {
    const query = new URLSearchParams({ access_token: accessToken, chatid });
    const outcome = await this.call('appchat/get', `/cgi-bin/appchat/get?${query}`, { method: 'GET' });
    if (outcome.kind !== 'ok') return chatNotFound(outcome);
    const info = outcome.value.chat_info as Record<string, unknown> | undefined;
    if (typeof info !== 'object' || info === null) return { kind: 'retry', error: { errcode: NETWORK_ERRCODE, errmsg: 'appchat/get answered without chat_info' } };
    const users = Array.isArray(info.userlist) ? info.userlist.filter((u): u is string => typeof u === 'string') : [];
    return { kind: 'ok', value: { chatid: String(info.chatid ?? chatid), name: String(info.name ?? ''), owner: String(info.owner ?? ''), users } };
  }

  /** appchat/send (reference §14): only to chats this app created, else 86003 (notFound). */
  async sendToChat(accessToken: string, payload: object): Promise<LookupOutcome<true>> {
    const outcome = await this.postJson(accessToken, 'appchat/send', payload);
    return outcome.kind === 'ok' ? { kind: 'ok', value: true } : chatNotFound(outcome);
  }

  async close(): Promise<void> {
    await this.dispatcher.close();
  }

  /** A JSON POST to a WeCom API, answered as a classified outcome. */
  private postJson(accessToken: string, api: string, body: object): Promise<Outcome<WecomBody>> {
    return this.call(api, `/cgi-bin/${api}?access_token=${encodeURIComponent(accessToken)}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  private async call(
    api: string,
    path: string,
    init: { method: 'GET' | 'POST'; headers?: Record<string, string>; body?: string | FormData },
    target: CallTarget = {},
  ): Promise<Outcome<WecomBody>> {
    const started = performance.now();
    const apiBase = target.apiBase ?? this.options.apiBase;
    const observe = (errcode: number) => this.options.onCall?.(api, errcode, performance.now() - started);
    let statusCode: number;
    let body: WecomBody;
    try {
      const response = await request(`${apiBase}${path}`, { ...init, dispatcher: this.dispatcher });
      statusCode = response.statusCode;
      const text = await response.body.text();
      if (statusCode >= 500 || statusCode === 429) {
        observe(NETWORK_ERRCODE);
        return { kind: 'retry', error: { errcode: NETWORK_ERRCODE, errmsg: `HTTP ${statusCode} from WeCom ${api}` } };
      }
      if (statusCode >= 400) {
        observe(NETWORK_ERRCODE);
        return { kind: 'permanent', error: { errcode: NETWORK_ERRCODE, errmsg: `HTTP ${statusCode} from WeCom ${api}` } };
      }
      try {
        body = JSON.parse(text) as WecomBody;
      } catch {
        // Something else answers at WECOM_API_BASE (a dev server on the port, a proxy's error page): say so, not "Unexpected token".
        observe(NETWORK_ERRCODE);
        const type = response.headers['content-type'] ?? 'no content type';
        return { kind: 'retry', error: { errcode: NETWORK_ERRCODE, errmsg: `${api}: ${apiBase} answered HTTP ${statusCode} (${String(type)}), not JSON: is WECOM_API_BASE WeCom's API?` } };
      }
    } catch (error) {
      // Timeouts, resets, refused connections and unparseable answers are transient (§4).
      observe(NETWORK_ERRCODE);
      // undici's messages may quote the URL, which carries the token or a robot's key.
      return { kind: 'retry', error: { errcode: NETWORK_ERRCODE, errmsg: `${api}: ${scrub(String((error as Error)?.message), target.secrets)}` } };
    }
    const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
    observe(errcode);
    const errclass = classifyErrcode(errcode);
    if (errclass === 'ok') return { kind: 'ok', value: body };
    // Only refusals carry an errmsg on: every message/send answer need not be scrubbed.
    const error = { errcode, errmsg: scrub(String(body.errmsg ?? ''), target.secrets) };
    switch (errclass) {
      case 'token':
        return { kind: 'refreshToken', error };
      case 'retry': {
        const afterMs = this.options.throttleMs?.(errcode);
        return afterMs ? { kind: 'retry', error, afterMs } : { kind: 'retry', error };
      }
      default:
        return { kind: 'permanent', error };
    }
  }
}
