import { randomBytes } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import type { ApiHost } from './host';
import { isStringList, jsonObject, mentionsOf, type Rejection, reject, USER_ID } from './validate-message';

/**
 * App group chats on the simulator (appchat/create, update, get and send,
 * reference §14): each chat seen only by the app that created it. Group
 * robots are robots.ts's. The simulator lends its machinery through AppChatHost.
 */

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

/** What the simulator lends: its answers (latency, call log, errmsg), faults, tokens and message/send's checks. */
export interface AppChatHost extends ApiHost {
  /** message/send's body and markup checks, with the app's media/upload ids. */
  checkMessageBody(body: Record<string, unknown>): Rejection | undefined;
  userExists(userid: string): boolean;
}

const CHAT_ID = /^[0-9a-zA-Z]{1,32}$/;
const ALPHANUMERICS = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ';
/** What appchat/send takes (§14): message/send's types less miniprogram_notice and template_card. */
const CHAT_MSGTYPES = new Set(['text', 'image', 'voice', 'video', 'file', 'textcard', 'news', 'mpnews', 'markdown']);
const MAX_CHAT_MEMBERS = 2000;

const sameUser = (a: string, b: string) => a.toLowerCase() === b.toLowerCase();
const includesUser = (users: string[], user: string) => users.some((u) => sameUser(u, user));

export class AppChats {
  readonly sent: ChatSentMessage[] = [];
  readonly chats = new Map<string, SimulatedChat>();

  constructor(private readonly host: AppChatHost) {}

  reset(): void {
    this.sent.length = 0;
    this.chats.clear();
  }

  /** For GET /__sim/messages. */
  listing(limit: number): ChatSentMessage[] {
    return this.sent.slice(-limit);
  }

  routes(app: Express): void {
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
      this.sent.push({
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

  /** text.mentioned_list (since the 2026-02-09 changelog): userids or "@all". */
  private chatMentionsProblem(message: Record<string, unknown>): Rejection | undefined {
    const list = message.msgtype === 'text' ? (message.text as Record<string, unknown>).mentioned_list : undefined;
    if (list === undefined) return undefined;
    if (!isStringList(list) || list.some((u) => u !== '@all' && !USER_ID.test(u)))
      return reject(40058, 'invalid parameter: text.mentioned_list must list userids or "@all"');
    return undefined;
  }
}
