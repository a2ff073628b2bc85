import { accepted, type Endpoint } from '../transport';
import { mediaUpload, type UploadedMedia } from './media';

/** A group robot's webhook/send (reference §13): no token, the key is the credential. */
export const robotSend = (payload: object): Endpoint<true> => ({
  api: 'webhook/send',
  json: payload,
  read: accepted,
});

/** webhook/upload_media (reference §13): a file or voice for a robot's file/voice message; the media_id lives 3 days. */
export const robotUpload = (type: 'file' | 'voice', filename: string, content: Buffer): Endpoint<UploadedMedia> =>
  mediaUpload('webhook/upload_media', type, filename, content);
