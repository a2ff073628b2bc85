import type { ChatInfo, ChatUpdate, NewChat } from '../group-chat';
import type { NotFound, Refusal } from '../outcome';
import { accepted, answeredWithout, type Endpoint } from '../transport';

/** App group chats (reference §14): only chats this app created can be sent to or read. */

/** appchat: the chatid is unknown (86003), or not a chatid at all (86001). */
const CHAT_NOT_FOUND = new Set([86003, 86001]);

function chatNotFound(refusal: Refusal): Refusal | NotFound {
  return CHAT_NOT_FOUND.has(refusal.error.errcode) ? { kind: 'notFound', error: refusal.error } : refusal;
}

/**
 * appchat/create (reference §14). An answer without a chatid is permanent, not
 * retried: a retry could create a second chat.
 */
export const createChat = (chat: NewChat): Endpoint<{ chatid: string }> => ({
  api: 'appchat/create',
  json: { name: chat.name, owner: chat.owner, userlist: chat.users, chatid: chat.chatid },
  read: (body) => {
    const chatid = typeof body.chatid === 'string' && body.chatid !== '' ? body.chatid : chat.chatid;
    return chatid ? { kind: 'ok', value: { chatid } } : answeredWithout('appchat/create', 'chatid', 'permanent');
  },
});

export const updateChat = (update: ChatUpdate): Endpoint<true, NotFound> => ({
  api: 'appchat/update',
  json: {
    chatid: update.chatid,
    name: update.name,
    owner: update.owner,
    add_user_list: update.addUsers,
    del_user_list: update.removeUsers,
  },
  read: accepted,
  refused: chatNotFound,
});

export const getChat = (chatid: string): Endpoint<ChatInfo, NotFound> => ({
  api: 'appchat/get',
  query: { chatid },
  read: (body) => {
    const info = body.chat_info as Record<string, unknown> | undefined;
    if (typeof info !== 'object' || info === null) return answeredWithout('appchat/get', 'chat_info');
    const users = Array.isArray(info.userlist) ? info.userlist.filter((u): u is string => typeof u === 'string') : [];
    return {
      kind: 'ok',
      value: { chatid: String(info.chatid ?? chatid), name: String(info.name ?? ''), owner: String(info.owner ?? ''), users },
    };
  },
  refused: chatNotFound,
});

/** appchat/send (reference §14): only to chats this app created, else 86003 (notFound). */
export const sendToChat = (payload: object): Endpoint<true, NotFound> => ({
  api: 'appchat/send',
  json: payload,
  read: accepted,
  refused: chatNotFound,
});
