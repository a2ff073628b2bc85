import { z } from 'zod';
import { alertRouteSchema } from '../alerts/alerts-config';
import { autoReplySchema } from '../callback/callback-config';
import { contactSinkSchema } from '../contacts/contacts-config';
import { readerListSchema } from '../messages/recipients';
import { oncallSchema } from '../oncall/schedule-config';
import { wecomAppSchema } from '../wecom/app';
import { fileApiKeySchema } from './api-keys';

/** The config file (GATEWAY_CONFIG, YAML or JSON): each section's schema is its room's own. */
export const fileSchema = z
  .object({
    apiKeys: z.array(fileApiKeySchema).optional(),
    apps: z.array(wecomAppSchema).optional(),
    autoReplies: z.array(autoReplySchema).optional(),
    alertRoutes: z.array(alertRouteSchema).optional(),
    wechatReaders: readerListSchema.optional(),
    contactSinks: z.array(contactSinkSchema).optional(),
    /** A robot name to its key or webhook URL, or to several (a pool); checked in robots.ts. */
    robots: z.record(z.string(), z.union([z.string(), z.array(z.string()).min(1)])).optional(),
    defaultApp: z.string().optional(),
    extensions: z.array(z.string().min(1)).optional(),
    /** On-call schedules (oncall/schedule-config.ts). */
    oncall: oncallSchema.optional(),
  })
  .strict(); // a misspelt key is a mistake to report, not a setting to ignore

export type ConfigFile = z.infer<typeof fileSchema>;
