import { randomBytes } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { readMediaPart } from './media-part';
import { jsonObject, mentionsOf, type Rejection, USER_ID, validateRobotBody } from './validate-message';

/**
 * Group chats on the simulator: group robots (webhook/send and
 * webhook/upload_media, reference §13) and app group chats (appchat/*, §14).
 * The simulator owns the shared machinery and lends it through GroupChatHost.
 */

/** A robot message WeCom delivered into its group. */
export interface RobotSentMessage {
  /** The robot's key: a credential, never shown whole outside tests (see listing). */
  key: string;
  msgtype: string;
  /** What sat under `msgtype`. */
  body: Record<string, unknown>;
  /** text.mentioned_list, or the `<@userid>` of markdown. */
  mentioned?: string[];
  mentionedMobiles?: string[];
  at: number;
}

/** An app message WeCom delivered into an app group chat. */
export interface ChatSentMessage {
  chatid: string;
  agentid: number;
  msgtype: string;
  /** What sat under `msgtype`. */
  body: Record<string, unknown>;
  mentioned?: string[];
  at: number;
}

/** An app group chat: only the app that created it sees it (86003 for others). */
export interface SimulatedChat {
  chatid: string;
  name: string;
  owner: string;
  users: string[];
  agentId: number;
}

export interface GroupChatOptions {
  robotKeys?: string[];
  robotLimit?: { count: number; windowMs: number };
}

/** What the simulator lends: its answers (latency, call log, errmsg), faults, tokens and message/send's checks. */
export interface GroupChatHost {
  answer(res: Response, api: string, body: Record<string, unknown>): Promise<void>;
  injectFault(api: string, req: Request, res: Response): Promise<boolean>;
  authorize(req: Request): { agentId: number } | Rejection;
  /** message/send's body and markup checks, with the app's media/upload ids. */
  checkMessageBody(body: Record<string, unknown>): Rejection | undefined;
  userExists(userid: string): boolean;
}

/** Any well-formed key is a robot's when no list is given. */
const ROBOT_KEY = /^[A-Za-z0-9-]{1,128}$/;
const ROBOT_MEDIA_LIMITS: Record<string, number> = { file: 20 << 20, voice: 2 << 20 };
const MEDIA_TTL_MS = 3 * 86_400_000;
const CHAT_ID = /^[0-9a-zA-Z]{1,32}$/;
const ALPHANUMERICS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** What appchat/send takes (§14): message/send's types less miniprogram_notice and template_card. */
const CHAT_MSGTYPES = new Set(['text', 'image', 'voice', 'video', 'file', 'textcard', 'news', 'mpnews', 'markdown']);
const MAX_CHAT_MEMBERS = 2000;

const reject = (errcode: number, errmsg: string) => ({ errcode, errmsg });
const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');
const sameUser = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const includesUser = (users: string[], user: string) => users.some((u) => sameUser(u, user));
/** A robot key as the simulator page shows it: enough to tell robots apart, too little to post with. */
const maskKey = (key: string) => `${key.slice(0, 4)}…`;

export class GroupChats {
  readonly robotSent: RobotSentMessage[] = [];
  readonly chatSent: ChatSentMessage[] = [];
  readonly chats = new Map<string, SimulatedChat>();

  private readonly robotMedia = new Map<string, { key: string; type: string; createdAt: number }>();
  /** When each accepted message of a key was sent, for the per-robot limit. */
  private readonly robotWindows = new Map<string, number[]>();
  private readonly revokedKeys = new Set<string>();

  constructor(
    private readonly host: GroupChatHost,
    private readonly options: GroupChatOptions = {},
  ) {}

  /** The robot was removed from its group: its key answers 93000 from now on. */
  revokeRobotKey(key: string): void {
    this.revokedKeys.add(key);
  }

  robotDeliveriesTo(key: string): RobotSentMessage[] {
    return this.robotSent.filter((m) => m.key === key);
  }

  reset(): void {
    this.robotSent.length = 0;
    this.chatSent.length = 0;
    this.chats.clear();
    this.robotMedia.clear();
    this.robotWindows.clear();
    this.revokedKeys.clear();
  }

  /** For GET /__sim/messages, which people see: robot keys masked. */
  listing(limit: number): { robots: Record<string, unknown>[]; chats: ChatSentMessage[] } {
    return { robots: this.robotSent.slice(-limit).map((m) => ({ ...m, key: maskKey(m.key) })), chats: this.chatSent.slice(-limit) };
  }

  routes(app: Express): void {
    this.robotRoutes(app);
    this.appchatRoutes(app);
  }

  private knownRobotKey(req: Request): string | undefined {
    const key = typeof req.query.key === 'string' ? req.query.key : '';
    if (key === '' || this.revokedKeys.has(key)) return undefined;
    return (this.options.robotKeys ? this.options.robotKeys.includes(key) : ROBOT_KEY.test(key)) ? key : undefined;
  }

  /** 20 accepted messages per key per rolling minute (§13); refused ones do not count. */
  private robotHasRoom(key: string, now: number): boolean {
    const { count, windowMs } = this.options.robotLimit ?? { count: 20, windowMs: 60_000 };
    const recent = (this.robotWindows.get(key) ?? []).filter((t) => t > now - windowMs);
    this.robotWindows.set(key, recent);
    return recent.length < count;
  }

  private robotMediaExists(key: string, mediaId: string, type: string): boolean {
    const media = this.robotMedia.get(mediaId);
    return media !== undefined && media.key === key && media.type === type && Date.now() - media.createdAt < MEDIA_TTL_MS;
  }

  private robotRoutes(app: Express): void {
    const host = this.host;
    // A 2 MB image is 2.7 MB of base64: the limit leaves room to refuse larger ones with WeCom's errcode.
    app.post('/cgi-bin/webhook/send', express.text({ type: () => true, limit: '8mb' }), async (req, res) => {
      const api = 'webhook/send';
      if (await host.injectFault(api, req, res)) return;
      const key = this.knownRobotKey(req);
      if (!key) return host.answer(res, api, reject(93000, 'invalid webhook url'));
      const body = jsonObject(req.body);
      if (!body) return host.answer(res, api, reject(40058, 'invalid json'));
      const now = Date.now();
      // Unlike app messages to members, a robot over its limit is told, and nothing is delivered.
      if (!this.robotHasRoom(key, now)) return host.answer(res, api, reject(45009, 'api freq out of limit'));
      const rejection = validateRobotBody(body, (mediaId, type) => this.robotMediaExists(key, mediaId, type));
      if (rejection) return host.answer(res, api, { ...rejection });
      this.robotWindows.get(key)!.push(now);
      const msgtype = String(body.msgtype);
      const content = body[msgtype] as Record<string, unknown>;
      const mentioned = mentionsOf(body);
      const mobiles = msgtype === 'text' && isStringList(content.mentioned_mobile_list) ? content.mentioned_mobile_list : [];
      this.robotSent.push({
        key,
        msgtype,
        body: content,
        ...(mentioned.length > 0 ? { mentioned } : {}),
        ...(mobiles.length > 0 ? { mentionedMobiles: [...mobiles] } : {}),
        at: now,
      });
      return host.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });

    app.post('/cgi-bin/webhook/upload_media', async (req, res) => {
      const api = 'webhook/upload_media';
      if (await host.injectFault(api, req, res)) return;
      const key = this.knownRobotKey(req);
      if (!key) return host.answer(res, api, reject(93000, 'invalid webhook url'));
      const type = String(req.query.type ?? '');
      if (!(type in ROBOT_MEDIA_LIMITS)) return host.answer(res, api, reject(40005, 'invalid file type'));
      const part = await readMediaPart(req, ROBOT_MEDIA_LIMITS[type]);
      if ('errcode' in part) return host.answer(res, api, { ...part });
      const mediaId = `3${randomBytes(30).toString('base64url')}`;
      // Ids are per key: another robot's send answers 40007.
      this.robotMedia.set(mediaId, { key, type, createdAt: Date.now() });
      return host.answer(res, api, {
        errcode: 0,
        errmsg: 'ok',
        type,
        media_id: mediaId,
        created_at: String(Math.floor(Date.now() / 1000)),
      });
    });
  }

  /** Userids for a chat: well formed (40003) and, with a directory, known (60111). */
  private membersProblem(users: unknown, field: string): Rejection | undefined {
    if (!isStringList(users)) return reject(40058, `invalid parameter: ${field} must be a list of userids`);
    const malformed = users.find((u) => !USER_ID.test(u));
    if (malformed !== undefined) return reject(40003, `invalid userid: ${malformed}`);
    const unknown = users.find((u) => !this.host.userExists(u));
    if (unknown !== undefined) return reject(60111, `userid not found: ${unknown}`);
    return undefined;
  }

  /** The chat `chatid` names if the app created it: another app's chat is not found, as WeCom answers. */
  private ownChat(chatid: unknown, agentId: number): SimulatedChat | Rejection {
    if (typeof chatid !== 'string' || chatid === '') return reject(86001, 'invalid chatid');
    const chat = this.chats.get(chatid);
    return chat && chat.agentId === agentId ? chat : reject(86003, 'chat not found');
  }

  /** What update and send begin with: an injected fault, the token, the JSON body, the app's own chat; undefined once answered. */
  private async openChatCall(api: string, req: Request, res: Response) {
    const host = this.host;
    if (await host.injectFault(api, req, res)) return undefined;
    const auth = host.authorize(req);
    if ('errcode' in auth) return void (await host.answer(res, api, { ...auth }));
    const body = jsonObject(req.body);
    if (!body) return void (await host.answer(res, api, reject(40058, 'invalid json')));
    const chat = this.ownChat(body.chatid, auth.agentId);
    if ('errcode' in chat) return void (await host.answer(res, api, { ...chat }));
    return { auth, body, chat };
  }

  private newChatId(): string {
    for (;;) {
      const chatid = [...randomBytes(32)].map((b) => ALPHANUMERICS[b % ALPHANUMERICS.length]).join('');
      if (!this.chats.has(chatid)) return chatid;
    }
  }

  private appchatRoutes(app: Express): void {
    const host = this.host;
    const json = express.text({ type: () => true, limit: '2mb' });

    app.post('/cgi-bin/appchat/create', json, async (req, res) => {
      const api = 'appchat/create';
      if (await host.injectFault(api, req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, api, { ...auth });
      const body = jsonObject(req.body);
      if (!body) return host.answer(res, api, reject(40058, 'invalid json'));
      const { name, owner, userlist, chatid } = body;
      if (name !== undefined && typeof name !== 'string') return host.answer(res, api, reject(40058, 'invalid parameter: name'));
      if (!isStringList(userlist) || userlist.length < 2 || userlist.length > MAX_CHAT_MEMBERS)
        return host.answer(res, api, reject(40058, `invalid parameter: userlist must hold 2 to ${MAX_CHAT_MEMBERS} userids`));
      if (new Set(userlist.map((u) => u.toLowerCase())).size !== userlist.length)
        return host.answer(res, api, reject(40058, 'invalid parameter: userlist has duplicates'));
      const membersProblem = this.membersProblem(userlist, 'userlist');
      if (membersProblem) return host.answer(res, api, { ...membersProblem });
      if (owner !== undefined && (typeof owner !== 'string' || !includesUser(userlist, owner)))
        return host.answer(res, api, reject(40058, 'invalid parameter: owner must be in userlist'));
      if (chatid !== undefined && (typeof chatid !== 'string' || !CHAT_ID.test(chatid)))
        return host.answer(res, api, reject(40058, 'invalid parameter: chatid must be 1 to 32 of [0-9a-zA-Z]'));
      if (typeof chatid === 'string' && this.chats.has(chatid))
        return host.answer(res, api, reject(40058, 'invalid parameter: chatid exists'));
      const id = typeof chatid === 'string' ? chatid : this.newChatId();
      // WeCom picks a random member as owner when none is given; the first is as good, and tests stay deterministic.
      this.chats.set(id, {
        chatid: id,
        name: name ?? '',
        owner: (owner as string | undefined) ?? userlist[0],
        users: [...userlist],
        agentId: auth.agentId,
      });
      return host.answer(res, api, { errcode: 0, errmsg: 'ok', chatid: id });
    });

    app.post('/cgi-bin/appchat/update', json, async (req, res) => {
      const api = 'appchat/update';
      const call = await this.openChatCall(api, req, res);
      if (!call) return;
      const { body, chat } = call;
      const { name, owner, add_user_list: added = [], del_user_list: removed = [] } = body;
      if (name !== undefined && typeof name !== 'string') return host.answer(res, api, reject(40058, 'invalid parameter: name'));
      if (owner !== undefined && typeof owner !== 'string') return host.answer(res, api, reject(40058, 'invalid parameter: owner'));
      const addProblem = this.membersProblem(added, 'add_user_list');
      if (addProblem) return host.answer(res, api, { ...addProblem });
      if (!isStringList(removed)) return host.answer(res, api, reject(40058, 'invalid parameter: del_user_list must be a list of userids'));
      const users = [...chat.users];
      for (const user of added as string[]) if (!includesUser(users, user)) users.push(user);
      const remaining = users.filter((u) => !includesUser(removed, u));
      if (remaining.length < 1 || remaining.length > MAX_CHAT_MEMBERS)
        return host.answer(res, api, reject(40058, `invalid parameter: a chat keeps 1 to ${MAX_CHAT_MEMBERS} members`));
      const newOwner = owner ?? chat.owner;
      if (!includesUser(remaining, newOwner)) return host.answer(res, api, reject(40058, 'invalid parameter: owner must be a member'));
      // Checked whole before any change: a refused update leaves the chat as it was.
      chat.users = remaining;
      chat.owner = newOwner;
      if (name !== undefined) chat.name = name;
      return host.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });

    app.get('/cgi-bin/appchat/get', async (req, res) => {
      const api = 'appchat/get';
      if (await host.injectFault(api, req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, api, { ...auth });
      const chat = this.ownChat(req.query.chatid, auth.agentId);
      if ('errcode' in chat) return host.answer(res, api, { ...chat });
      return host.answer(res, api, {
        errcode: 0,
        errmsg: 'ok',
        chat_info: { chatid: chat.chatid, name: chat.name, owner: chat.owner, userlist: [...chat.users] },
      });
    });

    app.post('/cgi-bin/appchat/send', json, async (req, res) => {
      const api = 'appchat/send';
      const call = await this.openChatCall(api, req, res);
      if (!call) return;
      const { auth, body, chat } = call;
      const msgtype = body.msgtype;
      if (typeof msgtype !== 'string' || !CHAT_MSGTYPES.has(msgtype)) return host.answer(res, api, reject(40008, 'invalid message type'));
      // Shaped as a message/send body, so that its checks (and media/upload ids) apply unchanged.
      const message = { msgtype, [msgtype]: body[msgtype], ...(body.safe !== undefined ? { safe: body.safe } : {}) };
      const rejection = host.checkMessageBody(message) ?? this.chatMentionsProblem(message);
      if (rejection) return host.answer(res, api, { ...rejection });
      const mentioned = mentionsOf(message);
      this.chatSent.push({
        chatid: chat.chatid,
        agentid: auth.agentId,
        msgtype,
        body: body[msgtype] as Record<string, unknown>,
        ...(mentioned.length > 0 ? { mentioned } : {}),
        at: Date.now(),
      });
      return host.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });
  }

  /** text.mentioned_list (since the 2026-02-09 changelog): userids or "@all". */
  private chatMentionsProblem(message: Record<string, unknown>): Rejection | undefined {
    const list = message.msgtype === 'text' ? (message.text as Record<string, unknown>).mentioned_list : undefined;
    if (list === undefined) return undefined;
    if (!isStringList(list) || list.some((u) => u !== '@all' && !USER_ID.test(u)))
      return reject(40058, 'invalid parameter: text.mentioned_list must list userids or "@all"');
    return undefined;
  }
}
