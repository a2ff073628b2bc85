import type { Caller } from '../http/auth';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import type { ChatInfo } from '../wecom/group-chat';

/** A chat as the gateway registered it: WeCom's view when registered, and the key that owns it. */
export interface RegisteredChat extends ChatInfo {
  /** The id of the key that created or registered it; absent for chats registered before chats had owners. */
  createdBy?: string;
}

/**
 * Who may read, change and send to a registered chat: the key that owns it, an
 * admin, or a key whose config-file scope lists it. A chat registered before chats
 * had owners is an admin's (or a listed key's) until a key registers it again.
 */
export function mayUseChat(chat: RegisteredChat, caller: Caller): boolean {
  if (caller.permissions.has('admin')) return true;
  if (chat.createdBy !== undefined && chat.createdBy === caller.id) return true;
  return caller.scope?.chats?.includes(chat.chatid) ?? false;
}

/**
 * The app group chats each app may send to: WeCom lets an app send only to chats
 * it created (reference §14) and cannot list them, so the gateway remembers those
 * created or registered through it, per app, with the key that owns each, to
 * refuse an unknown chatid, or another key's chat, at POST time.
 */
export class ChatDirectory {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async remember(app: string, chat: RegisteredChat): Promise<void> {
    await this.redis.hset(this.keys.chats(app), chat.chatid, JSON.stringify(chat));
  }

  /** Registers a chat no one has registered: false when another request registered it first (two keys' PUTs racing). */
  async claim(app: string, chat: RegisteredChat): Promise<boolean> {
    return (await this.redis.hsetnx(this.keys.chats(app), chat.chatid, JSON.stringify(chat))) === 1;
  }

  async forget(app: string, chatid: string): Promise<void> {
    await this.redis.hdel(this.keys.chats(app), chatid);
  }

  async get(app: string, chatid: string): Promise<RegisteredChat | undefined> {
    const raw = await this.redis.hget(this.keys.chats(app), chatid);
    return raw ? (JSON.parse(raw) as RegisteredChat) : undefined;
  }

  /** Each of `chatids` as registered, in order; undefined for a chat the app does not know. */
  async many(app: string, chatids: string[]): Promise<(RegisteredChat | undefined)[]> {
    const found = await this.redis.hmget(this.keys.chats(app), ...chatids);
    return found.map((raw) => (raw === null ? undefined : (JSON.parse(raw) as RegisteredChat)));
  }
}
