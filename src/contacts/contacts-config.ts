import { z } from 'zod';
import { httpUrl } from '../http/url-schema';

/** A downstream system that mirrors the directory (the config file's `contactSinks:`; CONTACT_SYNC_WEBHOOK_URL is the sink `default`). */
export const contactSinkSchema = z.object({
  name: z.string().regex(/^[A-Za-z0-9_-]+$/),
  url: httpUrl,
  secret: z.string().min(16).optional(),
});

export type ContactSink = z.infer<typeof contactSinkSchema>;

export interface ContactsConfig {
  sinks: ContactSink[];
  /** API keys that may read mobiles and emails unmasked; '*' = every authenticated caller. */
  piiKeys: string[];
  /** base64 of 32 bytes: the mirror is sealed with AES-256-GCM at rest. */
  encryptionKey?: string;
}

/** What the contacts flow reads from the configuration (wire.ts). */
export interface ContactsSettings {
  contacts: ContactsConfig;
  send: { retryBaseDelayMs: number };
  /** WORKERS: the worker roles this instance runs. */
  workers: Set<string>;
}
