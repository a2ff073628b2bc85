import type { Request, RequestHandler } from 'express';
import { callerOf, type Caller } from '../http/auth';
import { queryParam, type Route } from '../http/route';
import type { MessageService } from '../messages/message-service';
import type { Msgtype } from '../messages/templates';
import { CompatErrcode, CompatError } from '../wecom/compat/answers';
import { compatPath } from '../wecom/compat/paths';
import { readJson, readRobotSend } from '../wecom/compat/requests';
import type { Robot } from '../wecom/group-chat';
import { answerOk } from './compat-errors';
import { bodyText } from './compat-callers';

/** The configured robots, by the `robot` query parameter: an alias, so the robot's real key never leaves the gateway. */
export class CompatRobots {
  constructor(private readonly robots: Robot[]) {}

  /**
   * The robot a request names among those the caller may use (93000 otherwise, naming no key): a key the config
   * file restricts to some robots learns nothing of the others, as on /v1.
   */
  named(req: Request, caller: Caller): Robot {
    const name = queryParam(req, 'robot');
    const allowed = caller.scope?.robots;
    const usable = allowed ? this.robots.filter((r) => allowed.includes(r.name)) : this.robots;
    const robot = usable.find((r) => r.name === name);
    if (robot) return robot;
    const configured = usable.length > 0 ? `configured: ${usable.map((r) => r.name).join(', ')}` : 'none is configured';
    const what = name ? `no robot is named ${name}` : 'the robot parameter is missing (robot=<name>)';
    throw new CompatError(CompatErrcode.invalidWebhook, `invalid webhook url: ${what} (${configured})`);
  }
}

/** webhook/send: a robot body from any tool, accepted into the robot's line and budget, answered once persisted. */
function sendToRobot(robots: CompatRobots, messages: Pick<MessageService, 'acceptRendered'>): RequestHandler {
  return async (req, res) => {
    const robot = robots.named(req, callerOf(res));
    const send = readRobotSend(readJson(await bodyText(req, res)));
    const { msgtype, body, mentions } = send;
    const message = { event: 'wecom.robot', to: { robots: [robot.name] }, msgtype: msgtype as Msgtype, body, mentions };
    await messages.acceptRendered(message, { caller: callerOf(res), requestId: req.id });
    answerOk(req, res);
  };
}

/** webhook/send and webhook/upload_media: `key` is a gateway API key (robotKeyAuth), `robot` a configured robot's name. */
export function compatRobotRoutes(
  robots: CompatRobots,
  deps: { messages: Pick<MessageService, 'acceptRendered'>; authenticate: RequestHandler; upload: RequestHandler },
): Route[] {
  const keyed = { auth: 'none', body: 'own', authenticate: deps.authenticate } as const;
  return [
    { method: 'post', path: compatPath('robotSend'), ...keyed, handler: sendToRobot(robots, deps.messages) },
    { method: 'post', path: compatPath('robotUpload'), ...keyed, handler: deps.upload },
  ];
}
