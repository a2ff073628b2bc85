import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { Dispatcher } from 'undici';
import { egressRequest, type MinRate } from '../http/egress-request';
import type { WecomApp } from '../wecom/app';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/connection';
import { robotImage } from '../wecom/chat-message';
import { uploadMedia, type MediaType, type UploadedMedia } from '../wecom/endpoints/media';
import { robotUpload } from '../wecom/endpoints/robot';
import { robotKeyId, type RobotEndpoint } from '../wecom/group-chat';
import { GatewayErrcode } from '../wecom/errcodes';
import type { Outcome } from '../wecom/outcome';
import type { WecomApi } from '../wecom/wecom-api';
import { MEDIA_ID_LIFETIME_SECONDS } from '../wecom/limits';

/** Where a media message's file comes from, as rendered by its template. */
export interface MediaSource {
  url?: string;
  base64?: string;
  filename?: string;
}

const MEDIA_ERRCODE = GatewayErrcode.media;
/** A media_id is reused for a little less than WeCom keeps it. */
const MEDIA_CACHE_SECONDS = MEDIA_ID_LIFETIME_SECONDS - 6 * 3_600;
const MAX_MEDIA_BYTES = 20 * 1024 * 1024;

export function hasMediaSource(body: Record<string, unknown>): boolean {
  const media = body.media as MediaSource | undefined;
  return Boolean(media && (media.url || media.base64));
}

/**
 * Turns `{media: {url | base64, filename}}` into `{media_id}`: downloads or
 * decodes the file, and uploads it once per content hash while WeCom keeps it.
 */
export class MediaResolver {
  /** Concurrent sends of the same file upload it once (per process). */
  private readonly uploading = new Map<string, Promise<Outcome<string>>>();

  constructor(
    private readonly redis: RedisClient,
    private readonly api: WecomApi,
    /**
     * `egress`: the policy's agent (a media URL is the caller's to choose); `timeoutMs`: a whole
     * download; `minRate`: the slowest download accepted (absent: none).
     */
    private readonly options: { keys: RedisKeys; egress: Dispatcher; timeoutMs: number; minRate?: MinRate; logger?: Logger },
  ) {}

  async resolve(app: WecomApp, msgtype: MediaType, body: Record<string, unknown>): Promise<Outcome<Record<string, unknown>>> {
    const { media, ...rest } = body as { media?: MediaSource } & Record<string, unknown>;
    if (!media) return { kind: 'ok', value: body };
    const loaded = await this.download(media);
    if (loaded.kind !== 'ok') return loaded;
    const fields = await this.appFields(app, msgtype, media, loaded.value);
    return fields.kind === 'ok' ? { kind: 'ok', value: { ...rest, ...fields.value } } : fields;
  }

  /** What replaces `media` in an app's message: the content's media_id, uploaded once per hash. */
  async appFields(app: WecomApp, msgtype: MediaType, media: MediaSource, content: Buffer): Promise<Outcome<Record<string, unknown>>> {
    const mediaId = await this.uploadOnce(app.corpId, msgtype, media, content, (filename) =>
      this.api.call(app, uploadMedia(msgtype, filename, content)),
    );
    return mediaId.kind === 'ok' ? { kind: 'ok', value: { media_id: mediaId.value } } : mediaId;
  }

  /**
   * A robot's media (reference §13): an image is the picture itself, base64 with the
   * md5 of its bytes (JPG/PNG, 2 MB at most); a file or voice is uploaded with the
   * robot's own key (webhook/upload_media) and its media_id reused while WeCom keeps it.
   */
  async resolveForRobot(
    endpoint: RobotEndpoint,
    msgtype: string,
    body: Record<string, unknown>,
  ): Promise<Outcome<Record<string, unknown>>> {
    const { media, ...rest } = body as { media?: MediaSource } & Record<string, unknown>;
    if (!media) return { kind: 'ok', value: body };
    const loaded = await this.download(media);
    if (loaded.kind !== 'ok') return loaded;
    const fields = await this.robotFields(endpoint, msgtype, media, loaded.value);
    return fields.kind === 'ok' ? { kind: 'ok', value: { ...rest, ...fields.value } } : fields;
  }

  /** What replaces `media` in a robot's message: an image's base64 and md5 (any key), or the media_id this key uploaded. */
  async robotFields(
    endpoint: RobotEndpoint,
    msgtype: string,
    media: MediaSource,
    content: Buffer,
  ): Promise<Outcome<Record<string, unknown>>> {
    if (msgtype === 'image') {
      const image = robotImage(content);
      return typeof image === 'string'
        ? { kind: 'permanent', error: { errcode: MEDIA_ERRCODE, errmsg: image } }
        : { kind: 'ok', value: { ...image } };
    }
    const type = msgtype as 'file' | 'voice';
    const mediaId = await this.uploadOnce(`robot-${robotKeyId(endpoint.key)}`, type, media, content, (filename) =>
      this.api.robot(endpoint, robotUpload(type, filename, content)),
    );
    return mediaId.kind === 'ok' ? { kind: 'ok', value: { media_id: mediaId.value } } : mediaId;
  }

  /** Uploads content once per owner (a corp, or a robot key) and content hash while WeCom keeps it; concurrent sends share the upload. */
  private uploadOnce(
    owner: string,
    msgtype: string,
    media: MediaSource,
    content: Buffer,
    upload: (filename: string) => Promise<Outcome<UploadedMedia>>,
  ): Promise<Outcome<string>> {
    const hash = createHash('sha256').update(content).digest('hex');
    const cacheKey = this.options.keys.media(owner, msgtype, hash);
    let pending = this.uploading.get(cacheKey);
    if (!pending) {
      pending = this.uploadCached(cacheKey, () => upload(media.filename || `${msgtype}-${hash.slice(0, 8)}`)).finally(() =>
        this.uploading.delete(cacheKey),
      );
      this.uploading.set(cacheKey, pending);
    }
    return pending;
  }

  private async uploadCached(cacheKey: string, upload: () => Promise<Outcome<UploadedMedia>>): Promise<Outcome<string>> {
    const cached = await this.redis.get(cacheKey);
    if (cached) return { kind: 'ok', value: cached };
    const uploaded = await upload();
    if (uploaded.kind !== 'ok') return uploaded;
    await this.redis.set(cacheKey, uploaded.value.mediaId, 'EX', MEDIA_CACHE_SECONDS);
    return { kind: 'ok', value: uploaded.value.mediaId };
  }

  /** The file's bytes: decoded, or downloaded under the egress policy (a slow transfer fails for good, as `download failed: too slow`). */
  async download(media: MediaSource): Promise<Outcome<Buffer>> {
    if (media.base64) return { kind: 'ok', value: Buffer.from(media.base64, 'base64') };
    const { egress, timeoutMs, minRate, logger } = this.options;
    const fetched = await egressRequest(media.url!, { dispatcher: egress, timeoutMs, maxBytes: MAX_MEDIA_BYTES, minRate, logger });
    if (fetched.kind === 'response' && fetched.statusCode < 400) return { kind: 'ok', value: fetched.body };
    // What the policy refused says so; a transfer that failed says only how
    // (timeout, unreachable, HTTP n): never the address or the socket error.
    const errmsg =
      fetched.kind === 'refused'
        ? fetched.reason
        : `download failed: ${fetched.kind === 'response' ? `HTTP ${fetched.statusCode}` : fetched.reason}`;
    const retry = fetched.kind === 'response' ? fetched.statusCode >= 500 : !fetched.permanent;
    return { kind: retry ? 'retry' : 'permanent', error: { errcode: MEDIA_ERRCODE, errmsg } };
  }
}
