import type { WecomApp } from './app';
import type { CardUpdate, ContactWayRequest, CreatedContactWay, LookupOutcome, MediaType, Outcome, SendResult, TagMarks, UploadedMedia, WecomClient, WelcomeMessage } from './client';
import type { ChatInfo, ChatUpdate, NewChat, RobotEndpoint } from './group-chat';
import { TokenError, type TokenStore } from './token-store';

/**
 * The WeCom client with tokens handled: fetches the shared token, and on a token
 * error drops it (compare-and-delete) and tries once more with a fresh one
 * (reference §1). Still answers a classified outcome; retries belong to the queues.
 */
export class WecomApi {
  constructor(
    private readonly client: WecomClient,
    private readonly tokens: TokenStore,
  ) {}

  sendMessage(app: WecomApp, payload: object): Promise<Outcome<SendResult>> {
    return this.withToken(app, (token) => this.client.sendMessage(token, payload));
  }

  uploadMedia(app: WecomApp, type: MediaType, filename: string, content: Buffer): Promise<Outcome<UploadedMedia>> {
    return this.withToken(app, (token) => this.client.uploadMedia(token, type, filename, content));
  }

  /** A new customer's welcome (reference §8): `alreadyDelivered` is done too; the code lives 20 s. */
  sendWelcome(app: WecomApp, welcomeCode: string, message: WelcomeMessage): Promise<Outcome<'sent' | 'alreadyDelivered'>> {
    return this.withToken(app, (token) => this.client.sendWelcome(token, welcomeCode, message));
  }

  markTags(app: WecomApp, marks: TagMarks): Promise<Outcome<true>> {
    return this.withToken(app, (token) => this.client.markTags(token, marks));
  }

  addContactWay(app: WecomApp, way: ContactWayRequest): Promise<Outcome<CreatedContactWay>> {
    return this.withToken(app, (token) => this.client.addContactWay(token, way));
  }

  deleteContactWay(app: WecomApp, configId: string): Promise<LookupOutcome<true>> {
    return this.withToken(app, (token) => this.client.deleteContactWay(token, configId));
  }

  recallMessage(app: WecomApp, msgid: string): Promise<Outcome<true>> {
    return this.withToken(app, (token) => this.client.recallMessage(token, msgid));
  }

  /** An interactive card changed with a response code (reference §2.4): the app's own agentid is filled in. */
  updateTemplateCard(app: WecomApp, update: Omit<CardUpdate, 'agentId'>): Promise<Outcome<true>> {
    return this.withToken(app, (token) => this.client.updateTemplateCard(token, { ...update, agentId: app.agentId }));
  }

  getAgent(app: WecomApp): Promise<Outcome<Record<string, unknown>>> {
    return this.withToken(app, (token) => this.client.getAgent(token, app.agentId));
  }

  getCallbackIps(app: WecomApp): Promise<Outcome<string[]>> {
    return this.withToken(app, (token) => this.client.getCallbackIps(token));
  }

  /** App group chats (reference §14): only chats this app created can be sent to or read. */
  createChat(app: WecomApp, chat: NewChat): Promise<Outcome<{ chatid: string }>> {
    return this.withToken(app, (token) => this.client.createChat(token, chat));
  }

  updateChat(app: WecomApp, update: ChatUpdate): Promise<LookupOutcome<true>> {
    return this.withToken(app, (token) => this.client.updateChat(token, update));
  }

  getChat(app: WecomApp, chatid: string): Promise<LookupOutcome<ChatInfo>> {
    return this.withToken(app, (token) => this.client.getChat(token, chatid));
  }

  sendToChat(app: WecomApp, payload: object): Promise<LookupOutcome<true>> {
    return this.withToken(app, (token) => this.client.sendToChat(token, payload));
  }

  /** Group robots need no token: the endpoint's key is the credential. */
  robotSend(endpoint: RobotEndpoint, payload: object): Promise<Outcome<true>> {
    return this.client.robotSend(endpoint, payload);
  }

  robotUpload(endpoint: RobotEndpoint, type: 'file' | 'voice', filename: string, content: Buffer): Promise<Outcome<UploadedMedia>> {
    return this.client.robotUpload(endpoint, type, filename, content);
  }

  private async withToken<O extends LookupOutcome<unknown>>(app: WecomApp, call: (token: string) => Promise<O>): Promise<O | Outcome<never>> {
    for (let attempt = 1; ; attempt++) {
      let token: string;
      try {
        token = await this.tokens.get(app);
      } catch (error) {
        if (!(error instanceof TokenError)) throw error;
        return error.transient ? { kind: 'retry', error: error.error, afterMs: error.afterMs } : { kind: 'permanent', error: error.error };
      }
      const outcome = await call(token);
      if (outcome.kind !== 'refreshToken') return outcome;
      await this.tokens.invalidate(app, token);
      // A token refused twice in a row is WeCom having a moment, not our token: back off.
      if (attempt >= 2) return { kind: 'retry', error: outcome.error };
    }
  }
}
