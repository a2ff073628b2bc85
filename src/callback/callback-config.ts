/** Keyword auto-replies answered in the callback's own response (passive encrypted reply, reference §5.5). */
export interface AutoReplyRule {
  app?: string;
  match: 'exact' | 'keyword' | 'regex';
  pattern: string;
  reply: string;
}

export interface CallbackConfig {
  /** Refuse pushes and URL verifications whose timestamp is further than this from now (default 300); 0 = off. */
  maxSkewSeconds: number;
  /** `wecom`: accept callbacks only from WeCom's published callback IPs (getcallbackip), refreshed hourly. */
  ipAllowlist: 'off' | 'wecom';
  /** Express `trust proxy` value, needed behind a load balancer for the allowlist to see the caller's IP. */
  trustProxy?: string;
  inboundWebhookSecret?: string;
  autoReplies: AutoReplyRule[];
}
