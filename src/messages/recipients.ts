import { z } from 'zod';
import type { SendRecipients } from '../wecom/message-payload';
import { APP_CHAT } from '../wecom/limits';
import { sendCalls } from '../wecom/recipients';
import { scheduleName } from './oncall-recipients';

export const userId = z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, 'a WeCom UserID: 1-64 letters, digits or _ . @ -');
const groupId = z.union([z.string().regex(/^\d{1,20}$/, 'a numeric id'), z.number().int().nonnegative()]).transform(String);

/**
 * Members one request may name in all (users + parties + tags). The gateway splits
 * past WeCom's per-call limits (1000/100/100), so without a ceiling one request
 * could fan out into thousands of sends; 10,000 is ten calls' worth of users,
 * more than any alert needs.
 */
export const MAX_RECIPIENTS = 10_000;
const memberCount = (to: { users?: unknown[]; parties?: unknown[]; tags?: unknown[] }) =>
  (to.users?.length ?? 0) + (to.parties?.length ?? 0) + (to.tags?.length ?? 0);

/** What `to` looks like, for the messages that tell a caller how to write it. */
const TO_EXAMPLES =
  '{"users":["zhangsan"]}, {"parties":[2]}, {"tags":[1]}, {"oncall":["sre"]}, {"robots":["ops"]}, {"chats":["oncall"]} ' +
  '(lists may be combined) or "@all"';

/** A list given as a single value (`"users":"zhangsan"`) is the common slip: the message shows the list it needs. */
const listOf = <T extends z.ZodType>(item: T, example: string) => z.array(item, { error: `expected an array of ${example}` });

export const recipientsSchema = z.union(
  [
    z.literal('@all'),
    z
      .object({
        users: listOf(userId, 'userids, e.g. ["zhangsan"]').optional(),
        parties: listOf(groupId, 'department ids, e.g. [2, 3]').optional(),
        tags: listOf(groupId, 'tag ids, e.g. [1]').optional(),
        /** Whoever is on call on these schedules (`oncall:` in the config file) when the part is sent. */
        oncall: listOf(scheduleName, 'on-call schedule names, e.g. ["sre"]').max(20).optional(),
        /** Group robots by their configured name. */
        robots: listOf(z.string().regex(/^[A-Za-z0-9_-]{1,64}$/, 'a configured robot name'), 'robot names, e.g. ["ops"]')
          .max(20)
          .optional(),
        /** App group chats (created by the app) by chatid. */
        chats: listOf(z.string().regex(APP_CHAT.chatId, 'a chatid: 1-32 letters or digits'), 'chatids, e.g. ["oncall"]').max(20).optional(),
      })
      .strict()
      .refine((to) => [to.users, to.parties, to.tags, to.oncall, to.robots, to.chats].some((list) => (list?.length ?? 0) > 0), {
        message: 'name at least one of users, parties, tags, oncall, robots or chats (or "@all")',
      })
      .refine((to) => memberCount(to) <= MAX_RECIPIENTS, { message: `at most ${MAX_RECIPIENTS} users, parties and tags together` }),
  ],
  {
    // Neither "@all" nor an object: zod's own "Invalid input" does not say what to write instead.
    error: (issue) => {
      if (issue.input === undefined) return `required — ${TO_EXAMPLES}`;
      const given = issue.input === null ? 'null' : Array.isArray(issue.input) ? 'a bare list' : `a ${typeof issue.input}`;
      return `expected an object of recipient lists, not ${given}: ${TO_EXAMPLES}`;
    },
  },
);

export type Recipients = z.infer<typeof recipientsSchema>;

/** The member recipients of `to` (what message/send reaches), without robots and chats; none = undefined. */
export function membersOf(to: Recipients): Recipients | undefined {
  if (to === '@all') return to;
  const { robots: _robots, chats: _chats, ...members } = to;
  return [members.users, members.parties, members.tags, members.oncall].some((list) => (list?.length ?? 0) > 0) ? members : undefined;
}

/** One message/send call of a member part, and the on-call schedules it also goes to (resolved when it is sent). */
export interface MemberCall {
  to: SendRecipients;
  oncall?: string[];
}

/**
 * The member calls of `to`: splitRecipients' calls, the on-call schedules riding on the
 * last (the one with the fewest users); a call of its own when nobody else is named.
 */
export function memberCalls(to: Recipients): MemberCall[] {
  const calls: MemberCall[] = splitRecipients(to).map((call) => ({ to: call }));
  const oncall = to === '@all' ? [] : [...new Set(to.oncall ?? [])];
  if (oncall.length === 0) return calls;
  if (calls.length === 0) return [{ to: {}, oncall }];
  calls[calls.length - 1].oncall = oncall;
  return calls;
}

/**
 * Splits recipients into as few message/send calls as WeCom's per-call limits
 * allow (wecom/recipients.ts): 2500 users -> 3 calls.
 */
export function splitRecipients(to: Recipients): SendRecipients[] {
  return sendCalls(to);
}

/** Members (by user, party or tag) who read WeCom through the WeChat plugin (微信插件): the config file's `wechatReaders:`. */
export const readerListSchema = z.object({
  users: z.array(z.string()).optional(),
  parties: z.array(z.coerce.string()).optional(),
  tags: z.array(z.coerce.string()).optional(),
});

export type ReaderList = z.infer<typeof readerListSchema>;

/**
 * Separates the recipients the config lists as WeChat-plugin readers from the rest.
 * A party or tag counts as a reader only when it is listed itself (WeCom expands
 * them; the gateway cannot see who is inside).
 */
export function splitReaders(to: Exclude<Recipients, '@all'>, readers: ReaderList): { wechat?: Recipients; others?: Recipients } {
  const pick = (list: string[] | undefined, known: string[] | undefined, want: boolean) =>
    (list ?? []).filter((id) => (known ?? []).some((k) => k.toLowerCase() === id.toLowerCase()) === want);
  const build = (want: boolean) => {
    const part = {
      users: pick(to.users, readers.users, want),
      parties: pick(to.parties, readers.parties, want),
      tags: pick(to.tags, readers.tags, want),
    };
    const filled = Object.fromEntries(Object.entries(part).filter(([, v]) => v.length > 0));
    return Object.keys(filled).length > 0 ? (filled as Recipients) : undefined;
  };
  return { wechat: build(true), others: build(false) };
}
