import type { RedisKeys } from '../redis/keys';
import { takeRobotTurn, type BudgetLimit, type RedisClient } from '../redis/scripts';
import { robotEndpoints, robotKeyId as keyId, type Robot, type RobotEndpoint } from '../wecom/group-chat';

/** WeCom's robot limit (reference §13): beyond it, 45009 and nothing delivered. ROBOT_QUOTA sets another. */
export const ROBOT_LIMIT: BudgetLimit = { count: 20, windowMs: 60_000 };

/** Whose turn it is at a robot, and whether its minute has room. */
export type RobotTurn =
  | { kind: 'go'; endpoint: RobotEndpoint }
  /** Earlier parts to this robot go first; `head` is the part at the front of the line. */
  | { kind: 'behind'; head: string; ahead: number }
  /** Every key of the robot is at its limit (or blocked after a 45009) until then. */
  | { kind: 'full'; until: number };

/**
 * A group robot's budget and order, shared by every instance through Redis:
 * - each robot keeps a line of its parts in the order they were accepted; only the
 *   part at its front sends, so a group reads messages in the order they were posted;
 * - each key sends at most 20 messages in any 60 s (widened a little, as WeCom counts
 *   on arrival); a pool's keys are tried in the order listed, and the first with room
 *   takes the message;
 * - a key WeCom answered 45009 for is blocked for the window on every instance.
 */
export class RobotBudget {
  private readonly windowMs: number;

  constructor(
    private readonly redis: RedisClient,
    private readonly keys: RedisKeys,
    private readonly limit: BudgetLimit = ROBOT_LIMIT,
  ) {
    this.windowMs = limit.windowMs + Math.max(250, Math.round(limit.windowMs * 0.05));
  }

  /** Puts a part at the back of its robot's line (again: a no-op, it keeps its place). */
  async join(robot: string, sendId: string): Promise<void> {
    const seq = await this.redis.incr(this.keys.robot(robot, 'seq'));
    await this.redis.zadd(this.keys.robot(robot, 'line'), 'NX', String(seq), sendId);
  }

  /** Takes a part out of the line (sent, failed, recalled or withdrawn); answers the part now at the front. */
  async leave(robot: string, sendId: string): Promise<string | undefined> {
    const line = this.keys.robot(robot, 'line');
    const [, head] = (await this.redis.multi().zrem(line, sendId).zrange(line, '0', '0').exec()) as [[unknown, number], [unknown, string[]]];
    return head[1][0];
  }

  /** Asks to send message `chunk` of part `sendId` now; counts it when the answer is go. */
  async take(robot: Robot, sendId: string, chunk: number, now = Date.now()): Promise<RobotTurn> {
    const endpoints = robotEndpoints(robot);
    const keys = [this.keys.robot(robot.name, 'line'), ...endpoints.flatMap((e) => [this.keys.robot(robot.name, `window:${keyId(e.key)}`), this.keys.robot(robot.name, `blocked:${keyId(e.key)}`)])];
    const answer = await takeRobotTurn(this.redis, keys, { now, sendId, entry: `${sendId}:${chunk}`, count: this.limit.count, windowMs: this.windowMs });
    if (answer[0] === 'go') return { kind: 'go', endpoint: endpoints[Number(answer[1])] };
    if (answer[0] === 'behind') return { kind: 'behind', head: answer[1], ahead: Number(answer[2]) };
    return { kind: 'full', until: Number(answer[1]) };
  }

  /** WeCom answered 45009 for this key: nobody sends with it for `ms`. */
  async block(endpoint: RobotEndpoint, ms: number): Promise<void> {
    await this.redis.set(this.keys.robot(endpoint.robot, `blocked:${keyId(endpoint.key)}`), '1', 'PX', ms);
  }
}
