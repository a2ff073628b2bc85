import { toChatMessages, toRobotMessages } from '../wecom/chat-message';
import type { ChatMessage, Mentions } from '../wecom/group-chat';
import { MessageLimitError } from '../wecom/limits';
import { whoIsOnCall, type OnCallDirectory } from './oncall-recipients';

/**
 * `mentions: { oncall: ["sre"] }` in robot and chat messages: whoever is on call is
 * @-mentioned when the part is sent. A group's messages are built when the request
 * is accepted; a part that mentions on-call keeps what they were built from, and is
 * built again, with the users on call then, until its first message has gone.
 */

/** What a group part rebuilds its messages from when it is sent. */
export interface OnCallMentions {
  schedules: string[];
  form: 'robot' | 'chat';
  /** The message as the destination's form takes it (a robot's textcard is the event's markdown). */
  msgtype: string;
  body: Record<string, unknown>;
  /** The request's other mentions (users, mobiles). */
  mentions?: Mentions;
}

/** A stand-in user for the check at accept time: a form that cannot @mention anyone is refused then, not when sent. */
const SOMEONE = 'oncall';

function groupMessages(form: OnCallMentions['form'], msgtype: string, body: Record<string, unknown>, mentions?: Mentions): ChatMessage[] {
  return form === 'robot' ? toRobotMessages(msgtype, body, mentions) : toChatMessages(msgtype, body, mentions);
}

/**
 * A group's messages as accepted (with the fixed mentions only) and, with on-call
 * mentions, what the part rebuilds them from. Throws MessageLimitError as the
 * conversions do: a form that takes no mention is refused with on-call mentions too.
 */
export function groupMessagesOf(
  form: OnCallMentions['form'],
  msgtype: string,
  body: Record<string, unknown>,
  mentions: (Mentions & { oncall?: string[] }) | undefined,
): { messages: ChatMessage[]; mentionOncall?: OnCallMentions } {
  const { oncall, ...fixed } = mentions ?? {};
  const messages = groupMessages(form, msgtype, body, fixed);
  if (!oncall?.length) return { messages };
  groupMessages(form, msgtype, body, { ...fixed, users: [...(fixed.users ?? []), SOMEONE] });
  const others = fixed.users?.length || fixed.mobiles?.length ? { mentions: fixed } : {};
  return { messages, mentionOncall: { schedules: [...new Set(oncall)], form, msgtype, body, ...others } };
}

/**
 * The part's messages with whoever is on call now @-mentioned. Nobody on call (nor a
 * fallback): the messages go as accepted, without the on-call mention, since the
 * group still reads them.
 */
export async function mentioningOnCall(
  directory: OnCallDirectory | undefined,
  part: { messages: ChatMessage[]; mentionOncall?: OnCallMentions },
  at: number,
): Promise<ChatMessage[]> {
  const source = part.mentionOncall;
  if (!source) return part.messages;
  const { users } = await whoIsOnCall(directory, source.schedules, at);
  if (users.length === 0) return part.messages;
  const mentioned = [...new Set([...(source.mentions?.users ?? []), ...users])];
  try {
    return groupMessages(source.form, source.msgtype, source.body, { ...source.mentions, users: mentioned });
  } catch (error) {
    // The users' mentions make a markdown longer than its last part holds: the message goes without them.
    if (error instanceof MessageLimitError) return part.messages;
    throw error;
  }
}
