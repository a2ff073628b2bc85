import type { Job } from 'bullmq';
import type { RobotLine, RobotTurn } from '../budgets/robot-line';
import type { WecomApp } from '../wecom/app';
import { chatPayload, robotPayload } from '../wecom/chat-message';
import { sendToChat as appchatSend } from '../wecom/endpoints/appchat';
import type { MediaType } from '../wecom/endpoints/media';
import type { SendResult } from '../wecom/endpoints/message';
import { robotSend } from '../wecom/endpoints/robot';
import { GatewayErrcode } from '../wecom/errcodes';
import { robotKeyId, type Robot } from '../wecom/group-chat';
import type { Outcome } from '../wecom/outcome';
import type { WecomApi } from '../wecom/wecom-api';
import type { MediaResolver } from './media';
import { withFile, type PartFiles } from './media-queue';
import type { PartStatus } from './message-record';
import type { MessageStore } from './message-store';
import { partOfSendId, sendIdOf, waitUntil, type GroupSend, type SendJobData } from './send-queue';
import { MEDIA_MSGTYPES } from './templates';
import { mentioningOnCall } from './oncall-mentions';
import type { Carrier, Coalescer } from './coalesce';
import type { OnCallDirectory } from './oncall-recipients';

/** A part waiting behind earlier ones looks again this often, in case no one moves it forward when its turn comes. */
const BEHIND_POLL_MS = 2_000;
const FINAL: PartStatus[] = ['sent', 'failed', 'recalled'];

export interface GroupSendDeps {
  api: WecomApi;
  media: MediaResolver;
  /** Files by URL, fetched by the media worker while the part waits. */
  files: PartFiles;
  store: MessageStore;
  findRobot: (name: string) => Robot | undefined;
  robotLine: RobotLine;
  /** Counts a robot message put off to the robot's next minute. */
  countRobotDeferral: (robot: string) => void;
  /** Who is on call, for `mentions.oncall`; absent = none configured. */
  oncall?: OnCallDirectory;
  /** Merges the parts waiting behind a robot's part when its budget cannot send them all (coalesce.ts); absent = never. */
  coalesce?: Coalescer;
  clock: () => number;
}

type GroupJob = Job<SendJobData & GroupSend>;

const NOTHING_INVALID: SendResult = { invalid: { users: [], parties: [], tags: [] }, unlicensedUsers: [] };

/** Whether a part in a robot's line is final (or gone): then it no longer holds the line. */
async function isFinal(store: MessageStore, sendId: string): Promise<boolean> {
  const { messageId, part } = partOfSendId(sendId);
  const head = await store.getPart(messageId, part);
  return !head || FINAL.includes(head.status);
}

/** The robot's turn for message `chunk` of this part; until it comes, the part waits. */
async function robotTurn(
  deps: GroupSendDeps,
  job: GroupJob,
  token: string | undefined,
  robot: Robot,
  chunk: number,
  carrier: Carrier | undefined,
): Promise<Extract<RobotTurn, { kind: 'go' }>> {
  const turn = await deps.robotLine.take(robot, sendIdOf(job.data), chunk, (head) => isFinal(deps.store, head));
  if (turn.kind === 'go') return turn;
  // Waiting, it may be merged into the message of a part ahead of it.
  await carrier?.wait(turn.kind);
  if (turn.kind === 'full') {
    deps.countRobotDeferral(robot.name);
    return waitUntil(deps.store, job, token, turn.until, `robot ${robot.name} is at WeCom's 20 messages a minute`, deps.clock);
  }
  const reason = `${turn.ahead} earlier message(s) to robot ${robot.name} go first`;
  return waitUntil(deps.store, job, token, deps.clock() + BEHIND_POLL_MS, reason, deps.clock);
}

/**
 * One robot message: its media resolved for the key that sends it. A file by URL is
 * fetched (for every key) before the robot's turn is taken, so waiting for it counts
 * against no minute. A 45009 blocks that key for everyone and waits it out.
 */
async function sendToRobot(
  deps: GroupSendDeps,
  job: GroupJob,
  token: string | undefined,
  robot: Robot,
  chunk: number,
): Promise<Outcome<true>> {
  const message = job.data.messages[chunk];
  const file = await deps.files.fetched(job, token, chunk, { robot: robot.name }, message.msgtype, message.body);
  const carrier = deps.coalesce?.robot(job.data, deps.robotLine.lineKey(robot.name));
  // Sent by a part ahead that carried it (recorded before it left the line): looked at before the turn (a unit) and after.
  const wasCarried = async () => carrier !== undefined && (await isFinal(deps.store, sendIdOf(job.data)));
  const done = () => waitUntil(deps.store, job, token, deps.clock(), 'carried', deps.clock);
  if (await wasCarried()) return done();
  const { endpoint, room, waiting } = await robotTurn(deps, job, token, robot, chunk, carrier);
  if (await wasCarried()) return done();
  // The robot's minute is used up (by this message, or it waited for the next): the parts right behind go within it.
  if (carrier && waiting > 0) await carrier.claimBehind(room === 0);
  const own = carrier?.body(message.body) ?? message.body;
  const body = file ? withFile(own, file, robotKeyId(endpoint.key)) : await deps.media.resolveForRobot(endpoint, message.msgtype, own);
  if (body.kind !== 'ok') {
    // The claimed parts wait again for a later carrier (their lease would hold them for minutes).
    await carrier?.release();
    return body;
  }
  const outcome = await deps.api.robot(endpoint, robotSend(robotPayload({ msgtype: message.msgtype, body: body.value })));
  const { carried } = (await carrier?.after(outcome, `robot ${robot.name}`)) ?? { carried: [] };
  for (const sendId of carried) await deps.robotLine.leave(robot.name, sendId);
  if (outcome.kind === 'retry' && outcome.afterMs) {
    await deps.robotLine.block(endpoint, outcome.afterMs);
    deps.countRobotDeferral(robot.name);
    const reason =
      `WeCom answered that robot ${endpoint.label} is over its limit ` + '(someone else posts with its key too?): waiting out the minute';
    return waitUntil(deps.store, job, token, deps.clock() + outcome.afterMs, reason, deps.clock);
  }
  return outcome;
}

/** A chat message's body with its file as the app's media_id (a file by URL fetched by the media worker, base64 uploaded here). */
async function chatBody(
  deps: GroupSendDeps,
  app: WecomApp,
  job: GroupJob,
  token: string | undefined,
  chunk: number,
): Promise<Outcome<Record<string, unknown>>> {
  const { msgtype, body } = job.data.messages[chunk];
  if (!MEDIA_MSGTYPES.has(msgtype)) return { kind: 'ok', value: body };
  const file = await deps.files.fetched(job, token, chunk, { app: app.name }, msgtype, body);
  return file ? withFile(body, file) : deps.media.resolve(app, msgtype as MediaType, body);
}

async function sendToChat(
  deps: GroupSendDeps,
  app: WecomApp,
  chatid: string,
  job: GroupJob,
  token: string | undefined,
  chunk: number,
): Promise<Outcome<true>> {
  const message = job.data.messages[chunk];
  const body = await chatBody(deps, app, job, token, chunk);
  if (body.kind !== 'ok') return body;
  const outcome = await deps.api.call(app, appchatSend(chatPayload(chatid, { msgtype: message.msgtype, body: body.value })));
  return outcome.kind === 'notFound' ? { kind: 'permanent', error: outcome.error } : outcome;
}

/**
 * Sends a robot's or a chat's messages in order, from the first not yet delivered;
 * each one delivered is noted on the job, so a retry never repeats it.
 */
export async function deliverToGroup(
  deps: GroupSendDeps,
  app: WecomApp,
  job: GroupJob,
  token: string | undefined,
): Promise<Outcome<SendResult>> {
  const { group } = job.data;
  const robot = 'robot' in group ? deps.findRobot(group.robot) : undefined;
  if ('robot' in group && !robot)
    return { kind: 'permanent', error: { errcode: GatewayErrcode.appGone, errmsg: `robot ${group.robot} is no longer configured` } };
  // Until its first message has gone, a part that mentions on-call is built again for whoever is on call now.
  if (job.data.mentionOncall && !job.data.delivered) {
    await job.updateData({ ...job.data, messages: await mentioningOnCall(deps.oncall, job.data, deps.clock()) });
  }
  for (let chunk = job.data.delivered ?? 0; chunk < job.data.messages.length; chunk++) {
    const outcome = robot
      ? await sendToRobot(deps, job, token, robot, chunk)
      : await sendToChat(deps, app, (group as { chat: string }).chat, job, token, chunk);
    if (outcome.kind !== 'ok') return outcome;
    await job.updateData({ ...job.data, delivered: chunk + 1 });
  }
  return { kind: 'ok', value: NOTHING_INVALID };
}

/** A robot part that is final leaves the line, and the part now at its front goes at once. */
export async function leaveRobotLine(deps: Pick<GroupSendDeps, 'robotLine'>, data: SendJobData): Promise<void> {
  if ('group' in data && 'robot' in data.group) await deps.robotLine.promote(data.group.robot, sendIdOf(data));
}
