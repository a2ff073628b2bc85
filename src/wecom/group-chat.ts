import { createHash } from 'node:crypto';

/**
 * Group chats as WeCom sees them: group robots (消息推送, reference §13) and app
 * group chats (appchat, reference §14). The types the rest of the gateway names.
 */

/** A group robot as configured. Its keys are credentials (anyone holding one can post into the group): never logged. */
export interface Robot {
  /** The name requests use (`to.robots`), also its label in logs, statuses and metrics. */
  name: string;
  /** One key, or several robots' keys in the same group used as a pool (a larger budget). */
  keys: string[];
  /** Where its webhook is called: WeCom's API base or WECOM_API_BASE. */
  apiBase: string;
}

/** One key of a robot, as one webhook call uses it. */
export interface RobotEndpoint {
  /** The robot's name. */
  robot: string;
  /** Names the key without showing it: `ops`, or `ops#2` for the second key of a pool. */
  label: string;
  apiBase: string;
  key: string;
}

/** Who a robot or chat message @-mentions: userids (or "@all") and mobile numbers. */
export interface Mentions {
  users?: string[];
  mobiles?: string[];
}

/** The message types a robot takes (reference §13). */
export type RobotMsgtype = 'text' | 'markdown' | 'markdown_v2' | 'news' | 'image' | 'file' | 'voice' | 'template_card';

/**
 * One webhook/send or appchat/send call's message: `body` is what goes under
 * `msgtype`. A media body may still hold `media: {url | base64, filename}`, which
 * the send worker turns into what the destination takes (base64+md5, or a media_id).
 */
export interface ChatMessage {
  msgtype: string;
  body: Record<string, unknown>;
}

/** An app group chat, as appchat/get answers it. */
export interface ChatInfo {
  chatid: string;
  name: string;
  owner: string;
  users: string[];
}

export interface NewChat {
  name?: string;
  owner?: string;
  users: string[];
  chatid?: string;
}

export interface ChatUpdate {
  chatid: string;
  name?: string;
  owner?: string;
  addUsers?: string[];
  removeUsers?: string[];
}

/** The endpoints of a robot, in the order its keys are listed (the order the pool uses them in). */
export function robotEndpoints(robot: Robot): RobotEndpoint[] {
  return robot.keys.map((key, i) => ({
    robot: robot.name,
    label: i === 0 ? robot.name : `${robot.name}#${i + 1}`,
    apiBase: robot.apiBase,
    key,
  }));
}

/** Names a robot key in Redis keys and caches without holding it (a key is a credential). */
export function robotKeyId(key: string): string {
  return createHash('sha256').update(key).digest('hex').slice(0, 16);
}
