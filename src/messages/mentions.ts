import { z } from 'zod';
import { scheduleName } from './oncall-recipients';

/** `@all`, or a WeCom UserID. */
const mentionedUser = z.string().regex(/^(@all|[A-Za-z0-9_.@-]{1,64})$/, 'a WeCom UserID or "@all"');
const mobile = z.string().regex(/^\+?[0-9-]{5,20}$/, 'a mobile number');

/** Who a robot or chat message @-mentions (CONTRACT: `mentions: { users?, mobiles?, oncall? }`); on-call when it is sent. */
export const mentionsSchema = z
  .object({
    users: z.array(mentionedUser).max(100).optional(),
    mobiles: z.array(mobile).max(100).optional(),
    oncall: z.array(scheduleName).max(20).optional(),
  })
  .strict();

/** A message's mentions: the users and mobiles WeCom takes, and on-call schedules resolved when it is sent. */
export type MessageMentions = z.infer<typeof mentionsSchema>;
