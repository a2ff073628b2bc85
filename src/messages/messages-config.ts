import type { EgressConfig } from '../http/egress';
import type { BudgetLimit } from '../budgets/limit';
import type { AppChoice } from '../wecom/app';
import type { Robot } from '../wecom/group-chat';
import type { ReaderList } from './recipients';

export interface SendConfig {
  concurrency: number;
  /** Total attempts of one send: the first plus retries of transient failures. */
  attempts: number;
  retryBaseDelayMs: number;
  /** WeCom's enable_duplicate_check window; covers our retry window so a retried send is not delivered twice. */
  duplicateCheckSeconds: number;
  /** WeCom calls per second for the send queue (all instances together); 0 = unlimited. */
  ratePerSecond: number;
  /** How long the send queue pauses after a 45009. */
  throttleMs: number;
  /** Per-member budget (WeCom drops the excess silently); empty = no budget. */
  memberQuota: BudgetLimit[];
  /** Per robot key (WeCom answers 45009 and delivers nothing beyond 20 a minute). */
  robotQuota: BudgetLimit;
  /** Parts per window each key queues at the priority it asked (beyond: after everyone's within theirs); absent = no share. */
  share?: BudgetLimit;
  /** How long a worker's claim on a job lasts without renewal: a crashed worker's jobs are retried after it. */
  jobLockMs: number;
}

/** File downloads (media URLs), in a queue of their own: slots per instance and per key, the slowest transfer accepted. */
export interface MediaConfig {
  concurrency: number;
  downloadsPerKey: number;
  minRate?: { bytesPerSecond: number; graceMs: number };
}

/** What the send pipeline reads from the configuration (wire.ts). */
export interface MessagesSettings extends AppChoice {
  send: SendConfig;
  media: MediaConfig;
  egress: EgressConfig;
  /** WECOM_TIMEOUT_MS: a coalescing claim's lease outlasts any send call (coalesce-pool.ts). */
  wecom: { timeoutMs: number };
  /** The gateway's own port: the egress policy refuses callers' URLs that point back at it. */
  port: number;
  robots: Robot[];
  /** Distinct users a key may name an hour (a config-file key's recipientsPerHour wins); 0 = no cap. */
  recipientsPerHour: number;
  retentionSeconds: number;
  /** Members who read through the WeChat plugin (微信插件): markdown reaches them as the event's text form. */
  wechatReaders?: ReaderList;
  /** WORKERS: the worker roles this instance runs. */
  workers: Set<string>;
}
