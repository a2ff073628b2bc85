import { answeredWithout, type Endpoint } from '../transport';

export type MediaType = 'image' | 'voice' | 'video' | 'file';

export interface UploadedMedia {
  mediaId: string;
  /** WeCom's created_at (seconds), when it answers one. */
  createdAt?: number;
}

/** A file upload, as media/upload and a robot's webhook/upload_media both take it and answer it. */
export const mediaUpload = (api: string, type: string, filename: string, content: Buffer): Endpoint<UploadedMedia> => ({
  api,
  query: { type },
  upload: { filename, content },
  read: ({ media_id: mediaId, created_at: createdAt }) =>
    typeof mediaId === 'string'
      ? { kind: 'ok', value: { mediaId, ...(Number(createdAt) ? { createdAt: Number(createdAt) } : {}) } }
      : answeredWithout(api, 'media_id'),
});

/** media/upload (reference §3): a file for a member message's media_id. */
export const uploadMedia = (type: MediaType, filename: string, content: Buffer): Endpoint<UploadedMedia> =>
  mediaUpload('media/upload', type, filename, content);
