import type { AppOptions } from '../app';
import type { Core, Flow } from '../core';
import type { ApiKey, ApiKeys, FailedAuthGuard } from '../http/auth';
import type { MessageService } from '../messages/message-service';
import type { RecallDeps } from '../messages/recall';
import type { WecomApp } from '../wecom/app';
import { COMPAT_BASE } from '../wecom/compat/paths';
import type { Robot } from '../wecom/group-chat';
import { compatAppRoutes } from './app-routes';
import { compatErrors, compatUnmatched } from './compat-errors';
import { robotKeyAuth } from './compat-callers';
import { DuplicateCheck } from './duplicate-check';
import { compatRobotRoutes, CompatRobots } from './robot-routes';
import { CompatTokens } from './tokens';
import { mediaUploadRoute, robotUploadRoute } from './uploads';

/** What the WeCom-compatible API is built from: the gateway's apps, robots and keys. */
export interface CompatSettings {
  apps: WecomApp[];
  defaultApp: string;
  robots: Robot[];
  apiKeys: ApiKey[];
}

/** What it shares with /v1: the pipeline, recalls, the key checker and the wrong-key count (one guesser, one count). */
export interface CompatDeps {
  messages: MessageService;
  recall: RecallDeps;
  keys: ApiKeys;
  failures: FailedAuthGuard;
}

export interface CompatFlow extends Flow {
  /** /cgi-bin/ answers in WeCom's protocol: what no route took, and every error. */
  protocols: NonNullable<AppOptions['protocols']>;
}

/**
 * WeCom's own API, served by the gateway (/cgi-bin/): gettoken with an API key as
 * the secret, message/send, appchat/send, message/recall and media/upload with the
 * gateway's token, webhook/send and webhook/upload_media with an API key and a
 * robot's name. Sends go through the messages flow's pipeline, like /v1/messages.
 */
export function wireCompat(core: Core, settings: CompatSettings, deps: CompatDeps): CompatFlow {
  const { apps, defaultApp } = settings;
  const { keys, failures } = deps;
  const tokens = new CompatTokens(settings.apiKeys, apps, core.clock);
  const robots = new CompatRobots(settings.robots);
  const appDeps = { apps, defaultApp, keys, failures, tokens, messages: deps.messages, recall: deps.recall };
  const routes = [
    ...compatAppRoutes(
      { ...appDeps, duplicates: new DuplicateCheck(core.redis, core.keys) },
      mediaUploadRoute({ apps, defaultApp, api: core.api, clock: core.clock }),
    ),
    ...compatRobotRoutes(robots, {
      messages: deps.messages,
      authenticate: robotKeyAuth({ keys, failures, tokens }),
      upload: robotUploadRoute({ robots, api: core.api, clock: core.clock }),
    }),
  ];
  return { routes, protocols: [{ path: COMPAT_BASE, unmatched: compatUnmatched, errors: compatErrors(core.logger) }] };
}
