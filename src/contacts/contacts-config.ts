export interface ContactsConfig {
  /** Downstream systems that mirror the directory: CONTACT_SYNC_WEBHOOK_URL is the sink `default`. */
  sinks: { name: string; url: string; secret?: string }[];
  /** API keys that may read mobiles and emails unmasked; '*' = every authenticated caller. */
  piiKeys: string[];
  /** base64 of 32 bytes: the mirror is sealed with AES-256-GCM at rest. */
  encryptionKey?: string;
}
