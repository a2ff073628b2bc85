import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import { luaScript } from '../redis/lua';
import { robotEndpoints, robotKeyId as keyId, type Robot, type RobotEndpoint } from '../wecom/group-chat';
import { ROBOT_SEND_LIMIT } from '../wecom/limits';
import { widenedWindowMs, type BudgetLimit } from './limit';

/** Whose turn it is at a robot, and whether its window has room. */
export type RobotTurn =
  /** `room`: what the robot's windows still take after this one (0: the budget is used up); `waiting`: the parts behind it. */
  | { kind: 'go'; endpoint: RobotEndpoint; room: number; waiting: number }
  /** Earlier parts to this robot go first; `head` is the part at the front of the line. */
  | { kind: 'behind'; head: string; ahead: number }
  /** Every key of the robot is at its limit (or blocked after a 45009) until then. */
  | { kind: 'full'; until: number };

const TAKE_ROBOT_TURN = luaScript('takeRobotTurn');

/** A robot's budget in messages a minute, as storm control counts it. */
export function robotPerMinute(limit: BudgetLimit): number {
  return Math.round((limit.count * 60_000) / limit.windowMs);
}

/**
 * A group robot's line and budget, shared by every instance through Redis:
 * - each robot keeps a line of its parts in the order they were accepted (join); only
 *   the part at its front sends (take), so a group reads messages in the order they
 *   were posted; a part that is final leaves, and the part behind it goes at once (leave, promote);
 * - each key sends at most ROBOT_QUOTA (WeCom: ROBOT_SEND_LIMIT) messages in any window, widened a
 *   little as WeCom counts on arrival; a pool's keys are tried in the order listed, and
 *   the first with room takes the message;
 * - a key WeCom answered 45009 for is blocked for the window on every instance (block).
 */
export class RobotLine {
  private readonly windowMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly limit: BudgetLimit = ROBOT_SEND_LIMIT,
    /** Moves a waiting part forward (its job id is its send id): the part ahead of it is done. */
    private readonly promoteNext: (sendId: string) => Promise<void> = async () => undefined,
    private readonly clock: () => number = Date.now,
  ) {
    this.windowMs = widenedWindowMs(limit);
  }

  /** Puts a part at the back of its robot's line (again: a no-op, it keeps its place). */
  async join(robot: string, sendId: string): Promise<void> {
    const seq = await this.redis.incr(this.keys.robot(robot, 'seq'));
    await this.redis.zadd(this.keys.robot(robot, 'line'), 'NX', String(seq), sendId);
  }

  /** Takes a part out of the line (sent, failed, recalled or withdrawn); answers the part now at the front. */
  async leave(robot: string, sendId: string): Promise<string | undefined> {
    const line = this.keys.robot(robot, 'line');
    const answers = await this.redis.multi().zrem(line, sendId).zrange(line, '0', '0').exec();
    const [, head] = answers as [[unknown, number], [unknown, string[]]];
    return head[1][0];
  }

  /** A part that is final leaves the line, and the part now at its front goes at once. */
  async promote(robot: string, finalSendId: string): Promise<void> {
    const next = await this.leave(robot, finalSendId);
    if (next) await this.promoteNext(next);
  }

  /**
   * Asks to send message `chunk` of part `sendId` now; counts it when the answer is go.
   * A part whose front-runner is already final (`isFinal`: recalled while it waited,
   * failed by the stall checker) takes it out of the line, so a lost part never blocks the robot.
   */
  async take(robot: Robot, sendId: string, chunk: number, isFinal: (sendId: string) => Promise<boolean>): Promise<RobotTurn> {
    for (;;) {
      const turn = await this.takeOnce(robot, sendId, chunk, this.clock());
      if (turn.kind !== 'behind' || !(await isFinal(turn.head))) return turn;
      await this.leave(robot.name, turn.head);
    }
  }

  /** WeCom answered 45009 for this key: nobody sends with it for `ms`. */
  async block(endpoint: RobotEndpoint, ms: number): Promise<void> {
    await this.redis.set(this.blockKey(endpoint.robot, endpoint.key), '1', 'PX', ms);
  }

  private async takeOnce(robot: Robot, sendId: string, chunk: number, now: number): Promise<RobotTurn> {
    const endpoints = robotEndpoints(robot);
    const perKey = endpoints.flatMap((e) => [this.keys.robot(robot.name, `window:${keyId(e.key)}`), this.blockKey(robot.name, e.key)]);
    const args = [now, sendId, `${sendId}:${chunk}`, this.limit.count, this.windowMs];
    const answer = (await TAKE_ROBOT_TURN(this.redis, [this.keys.robot(robot.name, 'line'), ...perKey], args)) as string[];
    if (answer[0] === 'go')
      return { kind: 'go', endpoint: endpoints[Number(answer[1])], room: Number(answer[2]), waiting: Number(answer[3]) };
    if (answer[0] === 'behind') return { kind: 'behind', head: answer[1], ahead: Number(answer[2]) };
    return { kind: 'full', until: Number(answer[1]) };
  }

  /** The line's key, which coalescing reads (same slot as the robot's pool). */
  lineKey(robot: string): string {
    return this.keys.robot(robot, 'line');
  }

  private blockKey(robot: string, key: string): string {
    return this.keys.robot(robot, `blocked:${keyId(key)}`);
  }
}
