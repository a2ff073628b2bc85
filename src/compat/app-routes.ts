import type { Request, RequestHandler, Response } from 'express';
import { callerOf, type ApiKeys, type FailedAuthGuard } from '../http/auth';
import { queryParam, type Route } from '../http/route';
import type { MessageService } from '../messages/message-service';
import { recallMessage, type RecallDeps } from '../messages/recall';
import { recipientsSchema, type Recipients } from '../messages/recipients';
import type { Msgtype } from '../messages/templates';
import { COMPAT_TOKEN_SECONDS, CompatErrcode, CompatError } from '../wecom/compat/answers';
import { compatPath } from '../wecom/compat/paths';
import { readAppSend, readChatSend, readJson, readRecall } from '../wecom/compat/requests';
import type { WecomApp } from '../wecom/app';
import { APP_CHAT } from '../wecom/limits';
import { answerOk } from './compat-errors';
import { appFor, bodyText, holderOf, secretCaller, tokenAuth } from './compat-callers';
import type { DuplicateCheck } from './duplicate-check';
import type { CompatTokens } from './tokens';

/** What the app APIs read: the apps, the keys and tokens, the pipeline, recalls and the duplicate check. */
export interface CompatAppDeps {
  apps: WecomApp[];
  defaultApp: string;
  keys: ApiKeys;
  failures: FailedAuthGuard;
  tokens: CompatTokens;
  messages: Pick<MessageService, 'acceptRendered'>;
  recall: RecallDeps;
  duplicates: DuplicateCheck;
}

/** A form or JSON body's fields, for gettoken's parameters when the query lacks them (Grafana's app mode POSTs). */
function bodyFields(text: string | undefined): Record<string, unknown> {
  if (!text) return {};
  try {
    const json: unknown = JSON.parse(text);
    return typeof json === 'object' && json !== null ? (json as Record<string, unknown>) : {};
  } catch {
    return Object.fromEntries(new URLSearchParams(text));
  }
}

/** `corpid` and `corpsecret`: the query first, the body as fallback. */
async function tokenParams(req: Request, res: Response): Promise<{ corpId?: string; secret?: string }> {
  let corpId = queryParam(req, 'corpid');
  let secret = queryParam(req, 'corpsecret');
  if ((!corpId || !secret) && req.method === 'POST') {
    const fields = bodyFields(await bodyText(req, res));
    corpId ||= typeof fields.corpid === 'string' ? fields.corpid : undefined;
    secret ||= typeof fields.corpsecret === 'string' ? fields.corpsecret : undefined;
  }
  return { corpId, secret };
}

/** gettoken: the gateway's own token for a corp the gateway sends for and an API key with send (reference §1's errcodes). */
function getToken(deps: CompatAppDeps): RequestHandler {
  return async (req, res) => {
    const { corpId, secret } = await tokenParams(req, res);
    if (!corpId || !deps.apps.some((app) => app.corpId === corpId))
      throw new CompatError(CompatErrcode.invalidCorpId, `invalid corpid: ${corpId ? 'no configured app has this corp id' : 'missing'}`);
    if (!secret) throw new CompatError(CompatErrcode.missingSecret, 'corpsecret missing: give a gateway API key with the send permission');
    const caller = await secretCaller(deps, req, secret, CompatErrcode.invalidSecret);
    answerOk(req, res, { access_token: deps.tokens.issue(caller, corpId), expires_in: COMPAT_TOKEN_SECONDS });
  };
}

/** WeCom's recipient lists as the pipeline takes them; a malformed id is WeCom's 40031 naming it. */
function recipients(to: unknown): Recipients {
  const parsed = recipientsSchema.safeParse(to);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CompatError(CompatErrcode.invalidUserList, `invalid recipient list: ${issue.path.join('.') || 'to'}: ${issue.message}`);
}

/** message/send: accepted into the pipeline (record, budgets, queue) and answered with the gateway's message id once persisted. */
function sendMessage(deps: CompatAppDeps): RequestHandler {
  return async (req, res) => {
    const holder = holderOf(res);
    const body = readJson(await bodyText(req, res));
    const send = readAppSend(body);
    const app = appFor(deps.apps, deps.defaultApp, holder, send.agentId);
    const message = { event: 'wecom.message', app: app.name, to: recipients(send.to), msgtype: send.msgtype as Msgtype, body: send.body };
    const context = { caller: holder.caller, requestId: req.id };
    if (send.duplicateCheckSeconds === undefined)
      return answerOk(req, res, { msgid: (await deps.messages.acceptRendered(message, context)).id });
    const claim = await deps.duplicates.claim(holder.caller.id, { agentId: app.agentId, body }, send.duplicateCheckSeconds);
    try {
      const accepted = await deps.messages.acceptRendered({ ...message, idempotencyKey: claim.idempotencyKey }, context);
      answerOk(req, res, { msgid: accepted.id });
    } catch (error) {
      await claim.failed(error).catch(() => undefined);
      throw error;
    }
  };
}

/** appchat/send: to an app group chat registered with the gateway, through the token's app (appFor without an agentid). */
function sendToChat(deps: CompatAppDeps): RequestHandler {
  return async (req, res) => {
    const holder = holderOf(res);
    const send = readChatSend(readJson(await bodyText(req, res)));
    if (!APP_CHAT.chatId.test(send.chatId)) throw new CompatError(CompatErrcode.invalidChatId, 'invalid chatid');
    const app = appFor(deps.apps, deps.defaultApp, holder);
    const message = {
      event: 'wecom.appchat',
      app: app.name,
      to: { chats: [send.chatId] },
      msgtype: send.msgtype as Msgtype,
      body: send.body,
    };
    await deps.messages.acceptRendered(message, { caller: holder.caller, requestId: req.id });
    answerOk(req, res);
  };
}

/** message/recall: the gateway's recall of the message it answered this msgid for (parts waiting are cancelled). */
function recall(deps: CompatAppDeps): RequestHandler {
  return async (req, res) => {
    const msgid = readRecall(readJson(await bodyText(req, res)));
    await recallMessage(msgid, deps.recall, callerOf(res));
    answerOk(req, res);
  };
}

/** The app APIs: gettoken, then the token routes (which count in the per-key rate limit). */
export function compatAppRoutes(deps: CompatAppDeps, mediaUpload: RequestHandler): Route[] {
  const authenticate = tokenAuth(deps.tokens);
  const token = { auth: 'none', body: 'own', authenticate } as const;
  return [
    { method: 'get', path: compatPath('gettoken'), auth: 'none', handler: getToken(deps) },
    { method: 'post', path: compatPath('gettoken'), auth: 'none', body: 'own', handler: getToken(deps) },
    { method: 'post', path: compatPath('messageSend'), ...token, handler: sendMessage(deps) },
    { method: 'post', path: compatPath('appchatSend'), ...token, handler: sendToChat(deps) },
    { method: 'post', path: compatPath('recall'), ...token, handler: recall(deps) },
    { method: 'post', path: compatPath('mediaUpload'), ...token, handler: mediaUpload },
  ];
}
