import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/scripts';
import type { ChatInfo } from '../wecom/group-chat';

/**
 * The app group chats each app may send to: WeCom lets an app send only to chats
 * it created (reference §14) and cannot list them, so the gateway remembers those
 * it created or read back, per app, to refuse an unknown chatid at POST time.
 */
export class ChatDirectory {
  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
  ) {}

  async remember(app: string, chat: ChatInfo): Promise<void> {
    await this.redis.hset(this.keys.chats(app), chat.chatid, JSON.stringify(chat));
  }

  async forget(app: string, chatid: string): Promise<void> {
    await this.redis.hdel(this.keys.chats(app), chatid);
  }

  async get(app: string, chatid: string): Promise<ChatInfo | undefined> {
    const raw = await this.redis.hget(this.keys.chats(app), chatid);
    return raw ? (JSON.parse(raw) as ChatInfo) : undefined;
  }

  /** The chatids of `chatids` the app does not know. */
  async unknown(app: string, chatids: string[]): Promise<string[]> {
    const known = await this.redis.hmget(this.keys.chats(app), ...chatids);
    return chatids.filter((_, i) => known[i] === null);
  }
}
