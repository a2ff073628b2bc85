import { RECIPIENT_LIMITS } from './limits';
import type { SendRecipients } from './message-payload';

/**
 * Recipients as message/send takes them (reference §2.1): ids joined with `|`
 * in touser, toparty and totag, at most RECIPIENT_LIMITS of each per call, and
 * `@all` in touser for the app's whole visible range. Flows hold lists; only
 * this file joins and splits.
 */

/** Everyone the app can see (in touser; in a chat mention, the whole group). */
export const EVERYONE = '@all';

/** The member lists one request names. */
export interface MemberLists {
  users?: string[];
  parties?: string[];
  tags?: string[];
}

const joined = (ids: string[]) => ids.join('|');

function chunk<T>(items: T[], size: number, index: number): T[] {
  return items.slice(index * size, (index + 1) * size);
}

/** As few message/send calls as WeCom's per-call limits allow: 2500 users -> 3 calls; duplicates go. */
export function sendCalls(to: typeof EVERYONE | MemberLists): SendRecipients[] {
  if (to === EVERYONE) return [{ touser: EVERYONE }];
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
    if (u.length) part.touser = joined(u);
    if (p.length) part.toparty = joined(p);
    if (t.length) part.totag = joined(t);
    return part;
  });
}

/** The users one call names one by one: none for `@all` or a call to parties and tags only. */
export function namedUsers(to: SendRecipients): string[] {
  return !to.touser || to.touser === EVERYONE ? [] : to.touser.split('|');
}

/** The call with `users` as its users (none: no touser), parties and tags kept. */
export function withUsers(to: SendRecipients, users: string[]): SendRecipients {
  // touser keeps its place: the payload's JSON is the same on every retry of a send.
  const out: SendRecipients = { ...to, touser: joined(users) };
  if (users.length === 0) delete out.touser;
  return out;
}

/** Whether the call names parties or tags (whom WeCom expands, unseen by the gateway). */
export const namesGroups = (to: SendRecipients) => Boolean(to.toparty || to.totag);
