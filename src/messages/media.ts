import { createHash } from 'node:crypto';
import { request } from 'undici';
import type { WecomApp } from '../wecom/app';
import type { RedisKeys } from '../redis/keys';
import type { RedisClient } from '../redis/scripts';
import type { MediaType, Outcome } from '../wecom/client';
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
    const hash = createHash('sha256').update(loaded.value).digest('hex');
    const cacheKey = this.options.keys.media(app.corpId, msgtype, hash);
    let pending = this.uploading.get(cacheKey);
    if (!pending) {
      pending = this.uploadOnce(app, msgtype, cacheKey, media.filename || `${msgtype}-${hash.slice(0, 8)}`, loaded.value).finally(() => this.uploading.delete(cacheKey));
      this.uploading.set(cacheKey, pending);
    }
    const mediaId = await pending;
    return mediaId.kind === 'ok' ? { kind: 'ok', value: { ...rest, media_id: mediaId.value } } : mediaId;
  }

  private async uploadOnce(app: WecomApp, msgtype: MediaType, cacheKey: string, filename: string, content: Buffer): Promise<Outcome<string>> {
    const cached = await this.redis.get(cacheKey);
    if (cached) return { kind: 'ok', value: cached };
    const uploaded = await this.api.uploadMedia(app, msgtype, filename, content);
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
