import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

const PREFIX = 'gcm1:';

/**
 * JSON as stored in Redis: plain, or sealed with AES-256-GCM when
 * CONTACTS_ENCRYPTION_KEY is set (the directory holds mobiles and emails).
 * Reading accepts both, so turning encryption on needs no migration.
 */
export class SealedJson {
  private readonly key?: Buffer;

  constructor(base64Key?: string) {
    if (base64Key !== undefined) {
      this.key = Buffer.from(base64Key, 'base64');
      if (this.key.length !== 32) throw new Error('CONTACTS_ENCRYPTION_KEY must be 32 bytes, base64-encoded');
    }
  }

  seal(value: unknown): string {
    const json = JSON.stringify(value);
    if (!this.key) return json;
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const sealed = Buffer.concat([cipher.update(json, 'utf8'), cipher.final()]);
    return PREFIX + Buffer.concat([iv, cipher.getAuthTag(), sealed]).toString('base64');
  }

  open<T>(stored: string): T {
    if (!stored.startsWith(PREFIX)) return JSON.parse(stored) as T;
    if (!this.key) throw new Error('stored contact data is encrypted but CONTACTS_ENCRYPTION_KEY is not set');
    const raw = Buffer.from(stored.slice(PREFIX.length), 'base64');
    const decipher = createDecipheriv('aes-256-gcm', this.key, raw.subarray(0, 12));
    decipher.setAuthTag(raw.subarray(12, 28));
    return JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as T;
  }
}
