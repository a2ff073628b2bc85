import busboy from 'busboy';
import type { Request, RequestHandler } from 'express';
import { callerOf } from '../http/auth';
import { queryParam } from '../http/route';
import { uploadMedia, type MediaType, type UploadedMedia } from '../wecom/endpoints/media';
import { robotUpload } from '../wecom/endpoints/robot';
import { CompatErrcode, CompatError, MEDIA_FILE_ERRCODES } from '../wecom/compat/answers';
import type { WecomApp } from '../wecom/app';
import type { Outcome } from '../wecom/outcome';
import type { WecomApi } from '../wecom/wecom-api';
import { robotEndpoints } from '../wecom/group-chat';
import { answerOk } from './compat-errors';
import { appFor, holderOf } from './compat-callers';
import type { CompatRobots } from './robot-routes';

/**
 * media/upload and webhook/upload_media as pass-throughs: the caller's file goes to
 * WeCom at once, with the gateway's token for the app (or the robot's real key), and
 * WeCom's media_id comes back. A media_id is usable by that corp's apps (or that
 * robot), which is what the caller asked for.
 */

/** WeCom's largest file (20 MB, reference §3): more is not read. */
const MAX_FILE_BYTES = 20 * 1024 * 1024;

/** The one file part named `media` (reference §3): its name and bytes, or WeCom's errcode for a body without it. */
function readMedia(req: Request): Promise<{ filename: string; content: Buffer }> {
  return new Promise((resolve, reject) => {
    const refuse = (errcode: number, errmsg: string) => reject(new CompatError(errcode, errmsg));
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: MAX_FILE_BYTES } });
    } catch {
      return refuse(CompatErrcode.invalidParameter, 'invalid parameter: a multipart/form-data body with a part named media is expected');
    }
    const chunks: Buffer[] = [];
    let file: { filename: string; truncated: boolean } | undefined;
    parser.on('file', (name, stream, info) => {
      if (name !== 'media') return void stream.resume();
      stream.on('data', (chunk: Buffer) => chunks.push(chunk));
      stream.on('end', () => (file = { filename: info.filename ?? '', truncated: (stream as { truncated?: boolean }).truncated === true }));
    });
    parser.on('close', () => {
      if (!file?.filename)
        return refuse(CompatErrcode.invalidParameter, 'invalid parameter: a part named media, with a filename, is expected');
      if (file.truncated) return refuse(CompatErrcode.invalidMediaSize, 'invalid file size: more than 20 MB');
      const content = Buffer.concat(chunks);
      if (content.length === 0) return refuse(CompatErrcode.emptyMedia, 'empty media data');
      resolve({ filename: file.filename, content });
    });
    parser.on('error', () => refuse(CompatErrcode.invalidParameter, 'invalid parameter: malformed multipart body'));
    req.pipe(parser);
  });
}

/** `?type=`, one of the types the API takes (40005 otherwise). */
function mediaType<T extends string>(req: Request, types: readonly T[]): T {
  const type = queryParam(req, 'type');
  if (types.includes(type as T)) return type as T;
  throw new CompatError(CompatErrcode.invalidMediaType, `invalid type: ${type ?? '(missing)'}; one of ${types.join(', ')}`);
}

/** WeCom's answer to an upload: its media_id, its refusal of the file, or "busy" naming WeCom's errcode for anything else. */
function uploaded(outcome: Outcome<UploadedMedia>, type: string, now: number) {
  if (outcome.kind !== 'ok') {
    const { errcode, errmsg } = outcome.error;
    if (outcome.kind === 'permanent' && MEDIA_FILE_ERRCODES.has(errcode)) throw new CompatError(errcode, errmsg);
    throw new CompatError(CompatErrcode.busy, `system busy: WeCom answered the gateway's upload ${errcode} (${errmsg}); retry later`);
  }
  return { type, media_id: outcome.value.mediaId, created_at: String(outcome.value.createdAt ?? Math.floor(now / 1000)) };
}

const MEDIA_TYPES: readonly MediaType[] = ['image', 'voice', 'video', 'file'];

/** media/upload through the token's app (appFor without an agentid: the corp's default app for this key). */
export function mediaUploadRoute(deps: { apps: WecomApp[]; defaultApp: string; api: WecomApi; clock: () => number }): RequestHandler {
  return async (req, res) => {
    const app = appFor(deps.apps, deps.defaultApp, holderOf(res));
    const type = mediaType(req, MEDIA_TYPES);
    const { filename, content } = await readMedia(req);
    answerOk(req, res, uploaded(await deps.api.call(app, uploadMedia(type, filename, content)), type, deps.clock()));
  };
}

/** webhook/upload_media with the robot's first key: its file and voice messages name the media_id (a pool's other keys cannot). */
export function robotUploadRoute(deps: { robots: CompatRobots; api: WecomApi; clock: () => number }): RequestHandler {
  return async (req, res) => {
    const robot = deps.robots.named(req, callerOf(res));
    const type = mediaType(req, ['file', 'voice'] as const);
    const { filename, content } = await readMedia(req);
    answerOk(req, res, uploaded(await deps.api.robot(robotEndpoints(robot)[0], robotUpload(type, filename, content)), type, deps.clock()));
  };
}
