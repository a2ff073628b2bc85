import isSafeRegex from 'safe-regex2';
import { z } from 'zod';
import type { AppChoice } from '../wecom/app';

/**
 * Keyword auto-replies answered in the callback's own response (passive encrypted
 * reply, reference §5.5): the config file's `autoReplies:`.
 */
export const autoReplySchema = z
  .object({
    app: z.string().optional(),
    match: z.enum(['exact', 'keyword', 'regex']).default('keyword'),
    pattern: z.string().min(1),
    reply: z.string().min(1),
  })
  .superRefine((rule, ctx) => {
    const problem = rule.match === 'regex' ? regexProblem(rule.pattern) : undefined;
    if (problem) ctx.addIssue({ code: 'custom', message: problem, path: ['pattern'] });
  });

export type AutoReplyRule = z.infer<typeof autoReplySchema>;

/** Why a regex auto-reply pattern is refused: it must compile, and not backtrack catastrophically (it runs on every member's message). */
function regexProblem(pattern: string): string | undefined {
  try {
    new RegExp(pattern);
  } catch {
    return 'pattern is not a valid regular expression';
  }
  return isSafeRegex(pattern) ? undefined : 'pattern can backtrack catastrophically (nested or overlapping quantifiers): rewrite it';
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

/** What the callback flow reads from the configuration (wire.ts). */
export interface CallbackSettings extends AppChoice {
  callback: CallbackConfig;
  /** WORKERS: the worker roles this instance runs. */
  workers: Set<string>;
}
