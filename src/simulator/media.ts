import { randomBytes } from 'node:crypto';
import type { Express, Request, Response } from 'express';
import type { ApiHost } from './host';
import { readMediaPart } from './media-part';

const MEDIA_LIMITS: Record<string, number> = { image: 10 << 20, voice: 2 << 20, video: 10 << 20, file: 20 << 20 };
/** A temporary media_id is valid for three days. */
const MEDIA_TTL_MS = 3 * 86_400_000;

/** Temporary media (media/upload): what message/send and appchat/send may name by media_id. */
export class Media {
  private readonly media = new Map<string, { createdAt: number; size: number; sha256: string }>();

  constructor(private readonly host: ApiHost) {}

  /** Whether `mediaId` was uploaded and has not expired yet. */
  usable(mediaId: string): boolean {
    const media = this.media.get(mediaId);
    return media !== undefined && Date.now() - media.createdAt < MEDIA_TTL_MS;
  }

  reset(): void {
    this.media.clear();
  }

  routes(app: Express): void {
    app.post('/cgi-bin/media/upload', (req, res) => void this.upload(req, res));
  }

  private async upload(req: Request, res: Response): Promise<void> {
    const api = 'media/upload';
    if (await this.host.injectFault(api, req, res)) return;
    const auth = this.host.authorize(req);
    if ('errcode' in auth) return this.host.answer(res, api, auth);
    const type = String(req.query.type ?? '');
    if (!(type in MEDIA_LIMITS)) return this.host.answer(res, api, { errcode: 40005, errmsg: 'invalid file type' });
    const part = await readMediaPart(req, MEDIA_LIMITS[type]);
    if ('errcode' in part) return this.host.answer(res, api, { ...part });
    const mediaId = `3${randomBytes(30).toString('base64url')}`;
    this.media.set(mediaId, { createdAt: Date.now(), size: part.size, sha256: part.sha256 });
    const createdAt = String(Math.floor(Date.now() / 1000));
    return this.host.answer(res, api, { errcode: 0, errmsg: '', type, media_id: mediaId, created_at: createdAt });
  }
}
