import { DelayedError, type Job, type Queue } from 'bullmq';
import type { Logger } from 'pino';
import type { DownloadSlots } from '../budgets/download-slots';
import { QUEUES } from '../queues/catalog';
import { failedForGood, jobOptionsOf } from '../queues/define-queue';
import { wecomResult, type Attempted } from '../queues/settle';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import type { WecomApp } from '../wecom/app';
import type { MediaType } from '../wecom/endpoints/media';
import { GatewayErrcode } from '../wecom/errcodes';
import { robotEndpoints, robotKeyId, type Robot } from '../wecom/group-chat';
import type { Outcome, WecomError } from '../wecom/outcome';
import type { MediaResolver, MediaSource } from './media';
import type { MessageStore } from './message-store';
import { sendIdOf, waitUntil, type RetryPolicy, type SendJobData } from './send-queue';

/**
 * Files by URL are fetched by a queue of their own, never inside a send job: a slow
 * or numerous download holds a media slot, not a send worker, so text and alerts go
 * on; one caller's downloads take at most MEDIA_DOWNLOADS_PER_KEY slots (DownloadSlots).
 * The part waits (deferred, no attempt spent) until the media worker leaves its file.
 */

/** Who sends the file: an app (one media_id for its corp) or a robot (each key uploads its own; an image goes as itself). */
export type FileSender = { app: string } | { robot: string };

export interface MediaJobData {
  /** The part that waits for the file, and which of its messages (a group part's). */
  sendId: string;
  chunk: number;
  /** The caller whose download slots this takes; absent, one bucket of its own. */
  owner?: string;
  sender: FileSender;
  msgtype: string;
  media: MediaSource;
}

/** What the media worker leaves for a part: what replaces `media`, by sending key (`*`: any), or why there is none. */
export type FetchedFile = { kind: 'ok'; fields: Record<string, Record<string, unknown>> } | { kind: 'permanent'; error: WecomError };

/** A part waiting for its file looks again this often, in case the media worker's nudge came before it waited. */
const FILE_POLL_MS = 2_000;
/** An owner's download waiting for a free slot asks again this often. */
const SLOT_POLL_MS = 1_000;
/** A fetched file waits this long for its part (normally seconds); a part that waits longer has it fetched again. */
const FILE_KEPT_SECONDS = 3_600;
const ANY_KEY = '*';
const NO_OWNER = 'unattributed';

/** One media job per message of a part: adding it again while it exists is a no-op. */
function mediaJobId(data: Pick<MediaJobData, 'sendId' | 'chunk'>): string {
  return `${data.sendId}_${data.chunk}`;
}

function fileUrlOf(body: Record<string, unknown>): MediaSource | undefined {
  const media = body.media as MediaSource | undefined;
  return media?.url && !media.base64 ? media : undefined;
}

/** A message's body with its fetched file in place of `media`, for the key that sends it; a failed fetch, as the send's outcome. */
export function withFile(body: Record<string, unknown>, file: FetchedFile, keyId = ANY_KEY): Outcome<Record<string, unknown>> {
  if (file.kind !== 'ok') return file;
  const fields = file.fields[keyId] ?? file.fields[ANY_KEY];
  if (!fields)
    return {
      kind: 'permanent',
      error: { errcode: GatewayErrcode.media, errmsg: "the file was uploaded with another of the robot's keys" },
    };
  const { media: _media, ...rest } = body;
  return { kind: 'ok', value: { ...rest, ...fields } };
}

/** The send side: asks for a part's file and reads what the media worker left. */
export class PartFiles {
  constructor(
    private readonly deps: {
      queue: Queue<MediaJobData>;
      redis: RedisClient;
      keys: RedisKeys;
      store: MessageStore;
      retry: RetryPolicy;
      clock: () => number;
    },
  ) {}

  /**
   * The fetched file of message `chunk` of this part when its body names a URL
   * (undefined otherwise: no file, or base64, which the send job uploads itself).
   * Not fetched yet, it asks the media worker for it and the part waits.
   */
  async fetched(
    job: Job<SendJobData>,
    token: string | undefined,
    chunk: number,
    sender: FileSender,
    msgtype: string,
    body: Record<string, unknown>,
  ): Promise<FetchedFile | undefined> {
    const media = fileUrlOf(body);
    if (!media) return undefined;
    const request: MediaJobData = { sendId: sendIdOf(job.data), chunk, owner: job.data.owner, sender, msgtype, media };
    const file = (await this.read(request)) ?? (await this.ask(request));
    return file ?? waitUntil(this.deps.store, job, token, this.deps.clock() + FILE_POLL_MS, 'waiting for its file', this.deps.clock);
  }

  private async read(request: Pick<MediaJobData, 'sendId' | 'chunk'>): Promise<FetchedFile | undefined> {
    const stored = await this.deps.redis.get(this.deps.keys.mediaFile(request.sendId, request.chunk));
    return stored ? (JSON.parse(stored) as FetchedFile) : undefined;
  }

  /** Queues the download once; a job that finished meanwhile answers its file, and one whose file is gone is done again. */
  private async ask(request: MediaJobData): Promise<FetchedFile | undefined> {
    const jobId = mediaJobId(request);
    const earlier = await this.deps.queue.getJob(jobId);
    if (earlier && ((await earlier.isCompleted()) || (await earlier.isFailed()))) {
      const file = await this.read(request);
      if (file) return file;
      await earlier.remove().catch(() => undefined);
    }
    const { attempts, retryBaseDelayMs } = this.deps.retry;
    const options = jobOptionsOf(QUEUES.media, { SEND_ATTEMPTS: attempts, RETRY_BASE_DELAY_MS: retryBaseDelayMs });
    await this.deps.queue.add('file', request, { jobId, ...options });
    return undefined;
  }
}

export interface MediaWorkerDeps {
  media: MediaResolver;
  slots: DownloadSlots;
  redis: RedisClient;
  keys: RedisKeys;
  findApp: (name: string) => WecomApp | undefined;
  findRobot: (name: string) => Robot | undefined;
  /** Moves the waiting part forward: its file is there. */
  promote: (sendId: string) => Promise<void>;
  logger: Logger;
}

type NotFetched = Exclude<Outcome<unknown>, { kind: 'ok' }>;

const gone = (what: string): FetchedFile => ({
  kind: 'permanent',
  error: { errcode: GatewayErrcode.appGone, errmsg: `${what} is no longer configured` },
});

/** The downloaded content uploaded for whoever sends it: the app, or every key of the robot (the send takes one of them later). */
async function upload(deps: MediaWorkerDeps, data: MediaJobData, content: Buffer): Promise<FetchedFile | NotFetched> {
  if ('app' in data.sender) {
    const app = deps.findApp(data.sender.app);
    if (!app) return gone(`app ${data.sender.app}`);
    const fields = await deps.media.appFields(app, data.msgtype as MediaType, data.media, content);
    return fields.kind === 'ok' ? { kind: 'ok', fields: { [ANY_KEY]: fields.value } } : fields;
  }
  const robot = deps.findRobot(data.sender.robot);
  if (!robot) return gone(`robot ${data.sender.robot}`);
  const endpoints = data.msgtype === 'image' ? robotEndpoints(robot).slice(0, 1) : robotEndpoints(robot);
  const byKey: Record<string, Record<string, unknown>> = {};
  for (const endpoint of endpoints) {
    const fields = await deps.media.robotFields(endpoint, data.msgtype, data.media, content);
    if (fields.kind !== 'ok') return fields;
    byKey[data.msgtype === 'image' ? ANY_KEY : robotKeyId(endpoint.key)] = fields.value;
  }
  return { kind: 'ok', fields: byKey };
}

async function keep(deps: MediaWorkerDeps, data: MediaJobData, file: FetchedFile): Promise<void> {
  await deps.redis.set(deps.keys.mediaFile(data.sendId, data.chunk), JSON.stringify(file), 'EX', FILE_KEPT_SECONDS);
  await deps.promote(data.sendId);
}

/** One attempt at a part's file: a download slot of its owner's, the download, the upload; then the file (or why not) for the part. */
export function createMediaProcessor(deps: MediaWorkerDeps) {
  return async function fetchFile(job: Job<MediaJobData>, token?: string): Promise<Attempted> {
    const owner = job.data.owner ?? NO_OWNER;
    const holder = job.id!;
    if (!(await deps.slots.take(owner, holder))) {
      // This owner's other downloads hold its slots: wait without spending an attempt (BullMQ times jobs by the wall clock).
      await job.moveToDelayed(Date.now() + SLOT_POLL_MS, token);
      throw new DelayedError();
    }
    const downloaded = await deps.media.download(job.data.media).finally(() => deps.slots.release(owner, holder));
    const file = downloaded.kind === 'ok' ? await upload(deps, job.data, downloaded.value) : downloaded;
    return {
      result: file.kind === 'ok' ? { kind: 'ok' } : wecomResult(file),
      onVerdict: async (verdict) => {
        if (file.kind === 'ok') await keep(deps, job.data, file);
        else if (verdict.kind === 'fail') await keep(deps, job.data, { kind: 'permanent', error: file.error });
        if (verdict.kind === 'done') return;
        const attempt = job.attemptsMade + 1;
        deps.logger.info({ sendId: job.data.sendId, attempt, verdict: verdict.kind, reason: verdict.reason }, 'file not fetched');
      },
    };
  };
}

/** Failed outside the processor (stalled too often): the part must not wait for its file for ever. */
export function mediaJobFailed(deps: MediaWorkerDeps) {
  return (job: Job<MediaJobData> | undefined, err: Error): void => {
    if (!failedForGood(job, err)) return;
    // The reason stays generic (an error's text may name an address); the processor already kept a file it decided on (NX).
    const interrupted: FetchedFile = {
      kind: 'permanent',
      error: { errcode: GatewayErrcode.interrupted, errmsg: 'download failed: interrupted' },
    };
    void deps.redis
      .set(deps.keys.mediaFile(job.data.sendId, job.data.chunk), JSON.stringify(interrupted), 'EX', FILE_KEPT_SECONDS, 'NX')
      .then(() => deps.promote(job.data.sendId))
      .catch((e) => deps.logger.error({ err: e }, 'could not record a failed download'));
  };
}
