import { randomBytes } from 'node:crypto';
import express, { type Express, type Request } from 'express';
import type { ApiHost } from './host';
import { readMediaPart } from './media-part';
import { isStringList, jsonObject, mentionsOf, reject, validateRobotBody } from './validate-message';

/**
 * Group robots on the simulator (reference §13): webhook/send and
 * webhook/upload_media, each robot known by its key, 20 accepted messages a
 * minute, revoked when removed from its group.
 */

/** A robot message WeCom delivered into its group. */
export interface RobotSentMessage {
  /** The robot's key: a credential, never shown whole outside tests (see listing). */
  key: string;
  msgtype: string;
  /** What sat under `msgtype`. */
  body: Record<string, unknown>;
  /** text.mentioned_list, or the `<@userid>` of markdown. */
  mentioned?: string[];
  mentionedMobiles?: string[];
  at: number;
}

export interface RobotOptions {
  robotKeys?: string[];
  robotLimit?: { count: number; windowMs: number };
}

/** Any well-formed key is a robot's when no list is given. */
const ROBOT_KEY = /^[A-Za-z0-9-]{1,128}$/;
const ROBOT_MEDIA_LIMITS: Record<string, number> = { file: 20 << 20, voice: 2 << 20 };
const MEDIA_TTL_MS = 3 * 86_400_000;

/** A robot key as the simulator page shows it: enough to tell robots apart, too little to post with. */
const maskKey = (key: string) => `${key.slice(0, 4)}…`;

export class Robots {
  readonly sent: RobotSentMessage[] = [];

  private readonly media = new Map<string, { key: string; type: string; createdAt: number }>();
  /** When each accepted message of a key was sent, for the per-robot limit. */
  private readonly windows = new Map<string, number[]>();
  private readonly revokedKeys = new Set<string>();

  /** Robots need no token: the simulator lends its answers and faults only. */
  constructor(
    private readonly host: Pick<ApiHost, 'answer' | 'injectFault'>,
    private readonly options: RobotOptions = {},
  ) {}

  /** The robot was removed from its group: its key answers 93000 from now on. */
  revokeKey(key: string): void {
    this.revokedKeys.add(key);
  }

  deliveriesTo(key: string): RobotSentMessage[] {
    return this.sent.filter((m) => m.key === key);
  }

  reset(): void {
    this.sent.length = 0;
    this.media.clear();
    this.windows.clear();
    this.revokedKeys.clear();
  }

  /** For GET /__sim/messages, which people see: robot keys masked. */
  listing(limit: number): Record<string, unknown>[] {
    return this.sent.slice(-limit).map((m) => ({ ...m, key: maskKey(m.key) }));
  }

  routes(app: Express): void {
    const host = this.host;
    // A 2 MB image is 2.7 MB of base64: the limit leaves room to refuse larger ones with WeCom's errcode.
    app.post('/cgi-bin/webhook/send', express.text({ type: () => true, limit: '8mb' }), async (req, res) => {
      const api = 'webhook/send';
      if (await host.injectFault(api, req, res)) return;
      const key = this.knownKey(req);
      if (!key) return host.answer(res, api, reject(93000, 'invalid webhook url'));
      const body = jsonObject(req.body);
      if (!body) return host.answer(res, api, reject(40058, 'invalid json'));
      const now = Date.now();
      // Unlike app messages to members, a robot over its limit is told, and nothing is delivered.
      if (!this.hasRoom(key, now)) return host.answer(res, api, reject(45009, 'api freq out of limit'));
      const rejection = validateRobotBody(body, (mediaId, type) => this.mediaExists(key, mediaId, type));
      if (rejection) return host.answer(res, api, { ...rejection });
      this.windows.get(key)!.push(now);
      const msgtype = String(body.msgtype);
      const content = body[msgtype] as Record<string, unknown>;
      const mentioned = mentionsOf(body);
      const mobiles = msgtype === 'text' && isStringList(content.mentioned_mobile_list) ? content.mentioned_mobile_list : [];
      this.sent.push({
        key,
        msgtype,
        body: content,
        ...(mentioned.length > 0 ? { mentioned } : {}),
        ...(mobiles.length > 0 ? { mentionedMobiles: [...mobiles] } : {}),
        at: now,
      });
      return host.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });

    app.post('/cgi-bin/webhook/upload_media', async (req, res) => {
      const api = 'webhook/upload_media';
      if (await host.injectFault(api, req, res)) return;
      const key = this.knownKey(req);
      if (!key) return host.answer(res, api, reject(93000, 'invalid webhook url'));
      const type = String(req.query.type ?? '');
      if (!(type in ROBOT_MEDIA_LIMITS)) return host.answer(res, api, reject(40005, 'invalid file type'));
      const part = await readMediaPart(req, ROBOT_MEDIA_LIMITS[type]);
      if ('errcode' in part) return host.answer(res, api, { ...part });
      const mediaId = `3${randomBytes(30).toString('base64url')}`;
      // Ids are per key: another robot's send answers 40007.
      this.media.set(mediaId, { key, type, createdAt: Date.now() });
      return host.answer(res, api, {
        errcode: 0,
        errmsg: 'ok',
        type,
        media_id: mediaId,
        created_at: String(Math.floor(Date.now() / 1000)),
      });
    });
  }

  private knownKey(req: Request): string | undefined {
    const key = typeof req.query.key === 'string' ? req.query.key : '';
    if (key === '' || this.revokedKeys.has(key)) return undefined;
    return (this.options.robotKeys ? this.options.robotKeys.includes(key) : ROBOT_KEY.test(key)) ? key : undefined;
  }

  /** 20 accepted messages per key per rolling minute (§13); refused ones do not count. */
  private hasRoom(key: string, now: number): boolean {
    const { count, windowMs } = this.options.robotLimit ?? { count: 20, windowMs: 60_000 };
    const recent = (this.windows.get(key) ?? []).filter((t) => t > now - windowMs);
    this.windows.set(key, recent);
    return recent.length < count;
  }

  private mediaExists(key: string, mediaId: string, type: string): boolean {
    const media = this.media.get(mediaId);
    return media !== undefined && media.key === key && media.type === type && Date.now() - media.createdAt < MEDIA_TTL_MS;
  }
}
