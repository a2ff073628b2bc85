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
  /** Identifies the send (message id + part): retries of one send share it, two sends never. */
  sendId: string;
}

/** Spread added to the duplicate-check interval, see duplicateCheckInterval. */
const INTERVAL_SPREAD_SECONDS = 3_600;

/**
 * WeCom drops a request whose JSON is byte-identical to one sent within the
 * interval (reference §2.1). A retry of the same send must be identical (so a
 * delivered-but-unacknowledged attempt is not delivered twice), but two messages
 * that happen to have the same content and recipients must not be: each send gets
 * its own interval in [base, base + spread), derived from its id, so its JSON
 * differs from any other send's while staying stable across its retries.
 */
export function duplicateCheckInterval(baseSeconds: number, sendId: string): number {
  let hash = 2166136261;
  for (let i = 0; i < sendId.length; i++) hash = Math.imul(hash ^ sendId.charCodeAt(i), 16777619) >>> 0;
  return Math.min(14_400, baseSeconds + (hash % INTERVAL_SPREAD_SECONDS));
}

/**
 * Builds the message/send body (reference §2.1). The result must be byte-identical
 * on every retry of the same send, so that WeCom's duplicate check drops a retry
 * whose first attempt was in fact delivered.
 */
export function buildSendPayload(
  msgtype: string,
  body: Record<string, unknown>,
  to: SendRecipients,
  options: PayloadOptions,
): Record<string, unknown> {
  const payload: Record<string, unknown> = { ...to, msgtype, agentid: options.agentId, [msgtype]: body };
  if (options.duplicateCheckSeconds > 0) {
    payload.enable_duplicate_check = 1;
    payload.duplicate_check_interval = duplicateCheckInterval(options.duplicateCheckSeconds, options.sendId);
  }
  return payload;
}
