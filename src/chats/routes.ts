import { callerOf, requireAppInScope, type Caller } from '../http/auth';
import type { Request } from 'express';
import { z } from 'zod';
import { ApiError } from '../http/errors';
import { queryParam, type Route } from '../http/route';
import { findApp, type AppChoice, type WecomApp } from '../wecom/app';
import { createChat, getChat, updateChat } from '../wecom/endpoints/appchat';
import { errcodeHint } from '../wecom/errcodes';
import type { LookupOutcome, Outcome } from '../wecom/outcome';
import type { WecomApi } from '../wecom/wecom-api';
import { mayUseChat, type ChatDirectory, type RegisteredChat } from './chat-directory';
import { APP_CHAT } from '../wecom/limits';

const userId = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'a WeCom UserID');
const chatid = z.string().regex(APP_CHAT.chatId, '1-32 letters or digits');
const appName = z.string().min(1).max(64).optional();

const members = `a chat has ${APP_CHAT.minMembers} to ${APP_CHAT.maxMembers} members`;

/** A new chat: the owner among its members. */
const newChatSchema = z
  .object({
    name: z.string().min(1).max(APP_CHAT.nameChars).optional(),
    owner: userId.optional(),
    users: z.array(userId).min(APP_CHAT.minMembers, members).max(APP_CHAT.maxMembers, members),
    chatid: chatid.optional(),
    app: appName,
  })
  .strict()
  .refine((chat) => new Set(chat.users.map((u) => u.toLowerCase())).size === chat.users.length, {
    message: 'each member once',
    path: ['users'],
  })
  .refine((chat) => !chat.owner || chat.users.some((u) => u.toLowerCase() === chat.owner!.toLowerCase()), {
    message: 'the owner must be one of users',
    path: ['owner'],
  });

const chatUpdateSchema = z
  .object({
    name: z.string().min(1).max(APP_CHAT.nameChars).optional(),
    owner: userId.optional(),
    addUsers: z.array(userId).max(APP_CHAT.maxMembers).optional(),
    removeUsers: z.array(userId).max(APP_CHAT.maxMembers).optional(),
    app: appName,
  })
  .strict()
  .refine((u) => u.name !== undefined || u.owner !== undefined || (u.addUsers?.length ?? 0) + (u.removeUsers?.length ?? 0) > 0, {
    message: 'change at least one of name, owner, addUsers, removeUsers',
  });

function appOf(config: AppChoice, name: unknown, caller: Caller): WecomApp {
  requireAppInScope(caller, typeof name === 'string' ? name : config.defaultApp);
  const app = findApp(config, typeof name === 'string' ? name : undefined);
  if (!app) throw new ApiError(404, 'unknown_app', `unknown app ${String(name ?? config.defaultApp)}`);
  return app;
}

/** WeCom's refusal as the caller's 4xx (a bad member, a chat of another app) or a 502/503 when WeCom itself failed. */
function refused(outcome: Exclude<LookupOutcome<unknown>, { kind: 'ok' }>, chat?: string): ApiError {
  const { errcode, errmsg } = outcome.error;
  const hint = errcodeHint(errcode, errmsg);
  const details = { errcode, errmsg, ...(hint ? { hint } : {}) };
  if (outcome.kind === 'notFound')
    return new ApiError(404, 'unknown_chat', `WeCom knows no chat ${chat} of this app (only chats the app created)`, undefined, details);
  if (outcome.kind === 'retry' || outcome.kind === 'refreshToken')
    return new ApiError(503, 'wecom_unavailable', `WeCom did not answer: ${errcode} ${errmsg}`, undefined, details);
  return new ApiError(422, 'wecom_refused', `WeCom refused: ${errcode} ${errmsg}`, undefined, details);
}

function ok<T>(outcome: Outcome<T> | LookupOutcome<T>, chat?: string): T {
  if (outcome.kind !== 'ok') throw refused(outcome, chat);
  return outcome.value;
}

/** PUT /v1/chats/{chatid}: which app's chat to register. */
const registerSchema = z.object({ app: appName }).strict();

/** A chat the caller may not see is answered as an unknown one: nothing about it is told. */
function unknownChat(id: string): ApiError {
  return new ApiError(
    404,
    'unknown_chat',
    `unknown chat ${id}: create it with POST /v1/chats, or register a chat the app made elsewhere with PUT /v1/chats/${id}`,
  );
}

/**
 * App group chats, each owned by the key that created or registered it: create one
 * (POST), register one the app made elsewhere (PUT, a write: the caller becomes its
 * owner), read it back (GET) and change it (PATCH). Reading and changing are for its
 * owner, an admin, or a key whose scope lists it (mayUseChat); reading registers nothing.
 */
export function chatRoutes(config: AppChoice, api: WecomApi, directory: ChatDirectory): Route[] {
  /** WeCom's view of the chat now, kept with its owner. */
  const register = async (app: WecomApp, id: string, createdBy: string | undefined): Promise<RegisteredChat> => {
    const chat = { ...ok(await api.call(app, getChat(id)), id), ...(createdBy !== undefined ? { createdBy } : {}) };
    await directory.remember(app.name, chat);
    return chat;
  };
  /** The registered chat, when the caller may use it: another key's is unknown to a read (404) and refused to a change (403). */
  const usable = async (app: WecomApp, id: string, caller: Caller, use: 'read' | 'change'): Promise<RegisteredChat> => {
    const chat = await directory.get(app.name, id);
    if (!chat || (use === 'read' && !mayUseChat(chat, caller))) throw unknownChat(id);
    if (!mayUseChat(chat, caller))
      throw new ApiError(
        403,
        'forbidden',
        `chat ${id} belongs to another key: its owner, an admin, or a key whose scope lists it (chats:) may change it`,
      );
    return chat;
  };
  const chatParam = (req: Request) => {
    const parsed = chatid.safeParse(req.params.chatid);
    if (!parsed.success)
      throw new ApiError(400, 'invalid_request', 'chatid: 1-32 letters or digits', [
        { field: 'chatid', message: '1-32 letters or digits' },
      ]);
    return parsed.data;
  };
  return [
    {
      method: 'post',
      path: '/v1/chats',
      auth: 'send',
      handler: async (req, res) => {
        const parsed = newChatSchema.safeParse(req.body);
        if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
        const { app: name, ...chat } = parsed.data;
        const caller = callerOf(res);
        const app = appOf(config, name, caller);
        const created = ok(await api.call(app, createChat(chat)));
        // Read back: WeCom chose the owner (and the chatid) when the request did not.
        res
          .status(201)
          .location(`/v1/chats/${created.chatid}`)
          .json({ app: app.name, ...(await register(app, created.chatid, caller.id)) });
      },
    },
    {
      method: 'put',
      path: '/v1/chats/{chatid}',
      auth: 'send',
      handler: async (req, res) => {
        const id = chatParam(req);
        const parsed = registerSchema.safeParse(req.body ?? {});
        if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
        const caller = callerOf(res);
        const app = appOf(config, parsed.data.app, caller);
        const owned = new ApiError(
          409,
          'chat_owned',
          `chat ${id} is registered by another key: its owner or an admin may ` +
            `register it again, or the operator lists it in this key's chats:`,
        );
        const known = await directory.get(app.name, id);
        // An owned chat stays its owner's (an admin or a listed key reads it again); one without an owner goes to the key registering it.
        if (known?.createdBy !== undefined && !mayUseChat(known, caller)) throw owned;
        if (!known) {
          // The first registration wins, also against another key's PUT in flight.
          const chat = { ...ok(await api.call(app, getChat(id)), id), createdBy: caller.id };
          if (!(await directory.claim(app.name, chat))) throw owned;
          return void res
            .status(201)
            .location(`/v1/chats/${id}`)
            .json({ app: app.name, ...chat });
        }
        const chat = await register(app, id, known.createdBy ?? caller.id);
        res
          .status(200)
          .location(`/v1/chats/${id}`)
          .json({ app: app.name, ...chat });
      },
    },
    {
      method: 'get',
      path: '/v1/chats/{chatid}',
      auth: 'read',
      handler: async (req, res) => {
        const id = chatParam(req);
        const caller = callerOf(res);
        const app = appOf(config, queryParam(req, 'app'), caller);
        const { createdBy } = await usable(app, id, caller, 'read');
        res.json({ app: app.name, ...ok(await api.call(app, getChat(id)), id), ...(createdBy !== undefined ? { createdBy } : {}) });
      },
    },
    {
      method: 'patch',
      path: '/v1/chats/{chatid}',
      auth: 'send',
      handler: async (req, res) => {
        const id = chatParam(req);
        const parsed = chatUpdateSchema.safeParse(req.body);
        if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
        const { app: name, ...update } = parsed.data;
        const caller = callerOf(res);
        const app = appOf(config, name, caller);
        const { createdBy } = await usable(app, id, caller, 'change');
        const outcome = await api.call(app, updateChat({ chatid: id, ...update }));
        if (outcome.kind === 'notFound') await directory.forget(app.name, id);
        ok(outcome, id);
        res.json({ app: app.name, ...(await register(app, id, createdBy)) });
      },
    },
  ];
}
