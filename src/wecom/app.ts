/** One WeCom self-built app: its own secret, hence its own access_token (reference §0). */
export interface WecomApp {
  name: string;
  corpId: string;
  agentId: number;
  secret: string;
  /** receiveId: what WeCom puts after the message in the plaintext; the corp id, or a suite id for third-party apps. */
  callback?: { token: string; aesKey: string; receiveId?: string };
}
