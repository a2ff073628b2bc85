import { z } from 'zod';

/** A callback's EncodingAESKey, as WeCom issues it: 43 letters or digits. */
export const aesKey = z.string().regex(/^[A-Za-z0-9]{43}$/, 'must be exactly 43 letters or digits');

/** One WeCom self-built app, as the config file's `apps:` lists it: its own secret, hence its own access_token (reference §0). */
export const wecomAppSchema = z
  .object({
    name: z.string().regex(/^[A-Za-z0-9_-]+$/),
    corpId: z.string().min(1),
    agentId: z.coerce.number().int().positive(),
    secret: z.string().min(1),
    /** receiveId: what WeCom puts after the message in the plaintext; the corp id, or a suite id for third-party apps. */
    callback: z
      .object({ token: z.string().regex(/^[A-Za-z0-9]{1,32}$/), aesKey, receiveId: z.string().min(1).optional() })
      .strict()
      .optional(),
  })
  .strict();

export type WecomApp = z.infer<typeof wecomAppSchema>;

/** The apps a gateway sends as, and the one a request that names none uses. */
export interface AppChoice {
  apps: WecomApp[];
  defaultApp: string;
}

/** The app a request names, or the default one. */
export function findApp(choice: AppChoice, name?: string): WecomApp | undefined {
  return choice.apps.find((app) => app.name === (name ?? choice.defaultApp));
}
