import type { Queue } from 'bullmq';
import { Coalescer } from './coalesce';
import { CoalescePool, claimLeaseMs } from './coalesce-pool';
import type { Core, Flow } from '../core';
import type { ChatDirectory } from '../chats/chat-directory';
import { EgressPolicy } from '../http/egress';
import { egressAgent } from '../http/egress-request';
import { DownloadSlots } from '../budgets/download-slots';
import { MemberBudget } from '../budgets/member';
import { RecipientCap } from '../budgets/recipient-cap';
import { RobotLine } from '../budgets/robot-line';
import { SendShare } from '../budgets/send-share';
import type { WebhookOutbox } from '../webhooks/webhook-outbox';
import { findApp } from '../wecom/app';
import { MediaResolver } from './media';
import { createMediaProcessor, mediaJobFailed, PartFiles, type MediaJobData, type MediaWorkerDeps } from './media-queue';
import type { RecallDeps } from './recall';
import { MessageService } from './message-service';
import type { MessagesSettings } from './messages-config';
import { MessageStore } from './message-store';
import { messageRoutes } from './routes';
import { enqueueParts, type SendJobData } from './send-queue';
import { createSendProcessor, sendJobFailed, type SendWorkerDeps } from './send-worker';
import { QUEUES } from '../queues/catalog';
import { defineQueue } from '../queues/define-queue';
import { sendLimiter } from '../budgets/app-pause';
import { statusCallbacks } from './status-callbacks';
import type { EventTemplate } from './templates';
import type { OnCallDirectory } from './oncall-recipients';

export interface MessagesFlow extends Flow {
  service: MessageService;
  store: MessageStore;
  /** Each part's job (the console shows its payload). */
  sendQueue: Queue<SendJobData>;
  recall: RecallDeps;
  /** The event templates, as the last load left them. */
  templates: ReadonlyMap<string, EventTemplate>;
  /** Accepts a message exactly like POST /v1/messages (extensions send through it). */
  send(message: unknown): ReturnType<MessageService['accept']>;
}

/**
 * The send pipeline: accept (render, persist, enqueue), the send worker, status
 * reads and recalls, and the final status POSTed to a request's callbackUrl.
 */
export async function wireMessages(
  core: Core,
  config: MessagesSettings,
  deps: { templates: Map<string, EventTemplate>; statusCallbacks: WebhookOutbox; chats: ChatDirectory; oncall?: OnCallDirectory },
): Promise<MessagesFlow> {
  const { templates } = deps;
  const store = new MessageStore(core.redis, { keys: core.keys, retentionSeconds: config.retentionSeconds, clock: core.clock });
  const settings = {
    SEND_ATTEMPTS: config.send.attempts,
    RETRY_BASE_DELAY_MS: config.send.retryBaseDelayMs,
    SEND_CONCURRENCY: config.send.concurrency,
    MEDIA_CONCURRENCY: config.media.concurrency,
    JOB_LOCK_MS: config.send.jobLockMs,
  };
  // The processors are built below, before any await: no job can reach them earlier.
  const sends = defineQueue<SendJobData>(core, QUEUES.send, (job, token) => processSend(job, token), {
    roles: config.workers,
    settings,
    limiter: sendLimiter(config.send.ratePerSecond),
    onFailed: (job, err) => sendFailed(job, err),
  });
  // Downloads run in the send role too, but in workers of their own: a slow file never holds a send worker.
  const downloads = defineQueue<MediaJobData>(core, QUEUES.media, (job, token) => fetchFile(job, token), {
    roles: config.workers,
    settings,
    onFailed: (job, err) => mediaFailed(job, err),
  });
  const queue = sends.queue;
  const mediaQueue = downloads.queue;
  const promote = async (jobId: string) => {
    const job = await queue.getJob(jobId);
    // Only a waiting job can be moved forward; one being taken right now needs nothing.
    if (job && (await job.isDelayed())) await job.promote().catch(() => undefined);
  };
  const robotLine = new RobotLine(core.redis, core.keys, config.send.robotQuota, promote, core.clock);
  // Media URLs and callbackUrls are the caller's to choose: refused at POST when plainly out of bounds, downloaded under the egress policy.
  const policy = EgressPolicy.fromConfig(config);
  // One key's flood goes after every other key's parts within their share (budgets/send-share.ts).
  const share = config.send.share ? new SendShare(core.redis, core.keys.sendShare, config.send.share) : undefined;
  const service = new MessageService({
    config,
    templates,
    store,
    queue,
    metrics: core.metrics,
    chats: deps.chats,
    recipientCap: new RecipientCap(core.redis, core.keys, config.recipientsPerHour, core.clock),
    share,
    robotLines: robotLine,
    egress: policy,
    oncall: deps.oncall,
    replicated: core.replicated,
    clock: core.clock,
  });
  const appNamed = (name: string) => findApp(config, name);
  const egress = egressAgent(policy, config.egress);
  const media = new MediaResolver(core.redis, core.api, {
    keys: core.keys,
    egress,
    timeoutMs: config.egress.timeoutMs,
    minRate: config.media.minRate,
    logger: core.logger,
  });
  const files = new PartFiles({ queue: mediaQueue, redis: core.redis, keys: core.keys, store, retry: config.send, clock: core.clock });
  // A slot's lease outlasts any download (EGRESS_TIMEOUT_MS), so only a dead instance's slot lapses.
  const slotSettings = { perOwner: config.media.downloadsPerKey, leaseMs: config.egress.timeoutMs + 5_000 };
  const slots = new DownloadSlots(core.redis, core.keys, slotSettings, core.clock);
  const robots = new Map(config.robots.map((r) => [r.name, r]));

  const onPartDone = statusCallbacks(store, deps.statusCallbacks, core.clock, templates);
  const coalesce = new Coalescer({
    pool: new CoalescePool(core.redis, core.keys, claimLeaseMs(config.wecom.timeoutMs)),
    store,
    onPartDone,
    coalesced: core.metrics.messagesCoalesced,
    logger: core.logger,
    clock: core.clock,
  });
  const sendDeps: SendWorkerDeps = {
    store,
    onPartDone,
    coalesce,
    budget: config.send.memberQuota.length > 0 ? new MemberBudget(core.redis, core.keys, config.send.memberQuota, core.clock) : undefined,
    deferPart: (data, until) => enqueueParts(queue, [data], config.send, Math.max(0, until - core.clock())),
    api: core.api,
    media,
    files,
    groups: {
      api: core.api,
      media,
      files,
      store,
      findRobot: (name) => robots.get(name),
      robotLine,
      countRobotDeferral: (robot) => core.metrics.robotDeferred.inc({ robot }),
      oncall: deps.oncall,
      coalesce,
      clock: core.clock,
    },
    findApp: appNamed,
    oncall: deps.oncall,
    duplicateCheckSeconds: config.send.duplicateCheckSeconds,
    metrics: core.metrics,
    logger: core.logger,
    clock: core.clock,
  };
  const findRobot = (name: string) => robots.get(name);
  const { redis, keys, logger } = core;
  const mediaDeps: MediaWorkerDeps = { media, slots, redis, keys, findApp: appNamed, findRobot, promote, logger };
  const processSend = createSendProcessor(sendDeps);
  const sendFailed = sendJobFailed(sendDeps);
  const fetchFile = createMediaProcessor(mediaDeps);
  const mediaFailed = mediaJobFailed(mediaDeps);
  await Promise.all([sends.ready(), downloads.ready()]);
  const workers = [sends.worker, downloads.worker].filter((w) => w !== undefined);

  const recall = { store, queue, api: core.api, findApp: appNamed, clock: core.clock };
  return {
    service,
    store,
    sendQueue: queue,
    recall,
    templates,
    send: (message: unknown) => service.accept(service.parse(message)),
    routes: messageRoutes(service, store, templates, recall),
    workers,
    queues: [queue, mediaQueue],
    readiness: [{ name: 'templates', check: async () => templates.size > 0 }],
    close: async () => {
      await Promise.all([sends.close(), downloads.close()]);
      await egress.close();
    },
  };
}
