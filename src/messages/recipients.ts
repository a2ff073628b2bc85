import { z } from 'zod';
import { RECIPIENT_LIMITS } from '../wecom/message-limits';
import type { SendRecipients } from '../wecom/message-payload';

const userId = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'a WeCom UserID: 1-64 letters, digits or _ . @ -');
const groupId = z.union([z.string().regex(/^\d{1,20}$/, 'a numeric id'), z.number().int().nonnegative()]).transform(String);

export const recipientsSchema = z.union([
  z.literal('@all'),
  z
    .object({
      users: z.array(userId).optional(),
      parties: z.array(groupId).optional(),
      tags: z.array(groupId).optional(),
    })
    .strict()
    .refine((to) => (to.users?.length ?? 0) + (to.parties?.length ?? 0) + (to.tags?.length ?? 0) > 0, {
      message: 'name at least one of users, parties or tags (or "@all")',
    }),
]);

export type Recipients = z.infer<typeof recipientsSchema>;

function chunk<T>(items: T[], size: number, index: number): T[] {
  return items.slice(index * size, (index + 1) * size);
}

/**
 * Splits recipients into as few message/send calls as WeCom's per-call limits
 * allow (1000 users, 100 parties, 100 tags, reference §2.1): 2500 users -> 3 calls.
 */
export function splitRecipients(to: Recipients): SendRecipients[] {
  if (to === '@all') return [{ touser: '@all' }];
  const users = [...new Set(to.users ?? [])];
  const parties = [...new Set(to.parties ?? [])];
  const tags = [...new Set(to.tags ?? [])];
  const calls = Math.max(
    Math.ceil(users.length / RECIPIENT_LIMITS.users),
    Math.ceil(parties.length / RECIPIENT_LIMITS.parties),
    Math.ceil(tags.length / RECIPIENT_LIMITS.tags),
  );
  return Array.from({ length: calls }, (_, i) => {
    const part: SendRecipients = {};
    const u = chunk(users, RECIPIENT_LIMITS.users, i);
    const p = chunk(parties, RECIPIENT_LIMITS.parties, i);
    const t = chunk(tags, RECIPIENT_LIMITS.tags, i);
    if (u.length) part.touser = u.join('|');
    if (p.length) part.toparty = p.join('|');
    if (t.length) part.totag = t.join('|');
    return part;
  });
}
