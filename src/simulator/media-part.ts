import { createHash } from 'node:crypto';
import type { Request } from 'express';
import busboy from 'busboy';
import type { Rejection } from './validate-message';

export interface MediaPart {
  size: number;
  sha256: string;
  filename: string;
}

/**
 * The one file part named `media` of an upload (reference §3), or what WeCom
 * answers for a body without one. Shared by media/upload and
 * webhook/upload_media: both take the same multipart shape.
 */
export function readMediaPart(req: Request, limit: number): Promise<MediaPart | Rejection> {
  return new Promise((resolve) => {
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: limit + 1 } });
    } catch {
      return resolve({ errcode: 40058, errmsg: 'invalid parameter: multipart body expected' });
    }
    let part: (MediaPart & { tooLarge: boolean }) | undefined;
    parser.on('file', (name, stream, info) => {
      if (name !== 'media') return void stream.resume();
      const hash = createHash('sha256');
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      stream.on('end', () => {
        part = {
          size,
          sha256: hash.digest('hex'),
          filename: info.filename ?? '',
          tooLarge: (stream as unknown as { truncated?: boolean }).truncated === true,
        };
      });
    });
    // A promise settles once: an error after 'close' (or the reverse) answers nothing twice.
    parser.on('close', () => {
      if (!part || !part.filename) return resolve({ errcode: 40058, errmsg: 'invalid parameter: media part with a filename expected' });
      if (part.size === 0) return resolve({ errcode: 44001, errmsg: 'empty media data' });
      if (part.tooLarge) return resolve({ errcode: 45001, errmsg: 'media size out of limit' });
      if (part.size <= 5) return resolve({ errcode: 40006, errmsg: 'invalid file size' });
      resolve({ size: part.size, sha256: part.sha256, filename: part.filename });
    });
    parser.on('error', () => resolve({ errcode: 40058, errmsg: 'invalid parameter: malformed multipart body' }));
    req.pipe(parser);
  });
}
