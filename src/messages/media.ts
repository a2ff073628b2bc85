import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { WecomApp } from '../wecom/app';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/scripts';
import { robotImage } from '../wecom/chat-message';
import type { MediaType, Outcome, UploadedMedia } from '../wecom/client';
import { robotKeyId, type RobotEndpoint } from '../wecom/group-chat';
import { GatewayErrcode } from '../wecom/errcodes';
import type { WecomApi } from '../wecom/wecom-api';

/** Where a media message's file comes from, as rendered by its template. */
export interface MediaSource {
  url?: string;
  base64?: string;
  filename?: string;
}

const MEDIA_ERRCODE = GatewayErrcode.media;
/** WeCom keeps a media_id 3 days (reference §3); reuse it for a little less. */
const MEDIA_CACHE_SECONDS = 3 * 86_400 - 6 * 3_600;
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
    private readonly options: { keys: RedisKeys; downloadTimeoutMs: number },
  ) {}

  async resolve(app: WecomApp, msgtype: MediaType, body: Record<string, unknown>): Promise<Outcome<Record<string, unknown>>> {
    const { media, ...rest } = body as { media?: MediaSource } & Record<string, unknown>;
    if (!media) return { kind: 'ok', value: body };
    const loaded = await this.load(media);
    if (loaded.kind !== 'ok') return loaded;
    const mediaId = await this.uploadOnce(app.corpId, msgtype, media, loaded.value, (filename) => this.api.uploadMedia(app, msgtype, filename, loaded.value));
    return mediaId.kind === 'ok' ? { kind: 'ok', value: { ...rest, media_id: mediaId.value } } : mediaId;
  }

  /**
   * A robot's media (reference §13): an image is the picture itself, base64 with the
   * md5 of its bytes (JPG/PNG, 2 MB at most); a file or voice is uploaded with the
   * robot's own key (webhook/upload_media) and its media_id reused while WeCom keeps it.
   */
  async resolveForRobot(endpoint: RobotEndpoint, msgtype: string, body: Record<string, unknown>): Promise<Outcome<Record<string, unknown>>> {
    const { media, ...rest } = body as { media?: MediaSource } & Record<string, unknown>;
    if (!media) return { kind: 'ok', value: body };
    const loaded = await this.load(media);
    if (loaded.kind !== 'ok') return loaded;
    if (msgtype === 'image') {
      const image = robotImage(loaded.value);
      return typeof image === 'string' ? { kind: 'permanent', error: { errcode: MEDIA_ERRCODE, errmsg: image } } : { kind: 'ok', value: { ...rest, ...image } };
    }
    const type = msgtype as 'file' | 'voice';
    const mediaId = await this.uploadOnce(`robot-${robotKeyId(endpoint.key)}`, type, media, loaded.value, (filename) => this.api.robotUpload(endpoint, type, filename, loaded.value));
    return mediaId.kind === 'ok' ? { kind: 'ok', value: { ...rest, media_id: mediaId.value } } : mediaId;
  }

  /** Uploads content once per owner (a corp, or a robot key) and content hash while WeCom keeps it; concurrent sends share the upload. */
  private uploadOnce(owner: string, msgtype: string, media: MediaSource, content: Buffer, upload: (filename: string) => Promise<Outcome<UploadedMedia>>): Promise<Outcome<string>> {
    const hash = createHash('sha256').update(content).digest('hex');
    const cacheKey = this.options.keys.media(owner, msgtype, hash);
    let pending = this.uploading.get(cacheKey);
    if (!pending) {
      pending = this.uploadCached(cacheKey, () => upload(media.filename || `${msgtype}-${hash.slice(0, 8)}`)).finally(() => this.uploading.delete(cacheKey));
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

  private async load(media: MediaSource): Promise<Outcome<Buffer>> {
    if (media.base64) return { kind: 'ok', value: Buffer.from(media.base64, 'base64') };
    try {
      const response = await request(media.url!, { headersTimeout: this.options.downloadTimeoutMs, bodyTimeout: this.options.downloadTimeoutMs });
      if (response.statusCode >= 400) {
        await response.body.dump();
        const error = { errcode: MEDIA_ERRCODE, errmsg: `media download failed: HTTP ${response.statusCode}` };
        return response.statusCode >= 500 ? { kind: 'retry', error } : { kind: 'permanent', error };
      }
      const chunks: Buffer[] = [];
      let size = 0;
      for await (const chunk of response.body) {
        size += (chunk as Buffer).length;
        if (size > MAX_MEDIA_BYTES) {
          response.body.destroy();
          return { kind: 'permanent', error: { errcode: MEDIA_ERRCODE, errmsg: 'media larger than 20 MB' } };
        }
        chunks.push(chunk as Buffer);
      }
      return { kind: 'ok', value: Buffer.concat(chunks) };
    } catch (error) {
      return { kind: 'retry', error: { errcode: MEDIA_ERRCODE, errmsg: `media download failed: ${(error as Error).message}` } };
    }
  }
}
