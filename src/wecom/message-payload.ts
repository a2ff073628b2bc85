/** Recipients of one message/send call, as WeCom wants them. */
export interface SendRecipients {
  touser?: string;
  toparty?: string;
  totag?: string;
}

export interface PayloadOptions {
  agentId: number;
  /** 0 disables WeCom's duplicate check. */
  duplicateCheckSeconds: number;
}

/**
 * Builds the message/send body (reference §2.1). The result must be byte-identical
 * on every retry of the same send, so that WeCom's duplicate check drops a retry
 * whose first attempt was in fact delivered.
 */
export function buildSendPayload(msgtype: string, body: Record<string, unknown>, to: SendRecipients, options: PayloadOptions): Record<string, unknown> {
  const payload: Record<string, unknown> = { ...to, msgtype, agentid: options.agentId, [msgtype]: body };
  if (options.duplicateCheckSeconds > 0) {
    payload.enable_duplicate_check = 1;
    payload.duplicate_check_interval = options.duplicateCheckSeconds;
  }
  return payload;
}
