import type { Core, Flow } from '../core';
import { ApiKeys, type ApiKey } from '../http/auth';
import { AuthFailureThrottle } from '../http/rate-limit';
import type { MessageService } from '../messages/message-service';
import type { RecallDeps } from '../messages/recall';
import type { WecomApp } from '../wecom/app';
import { COMPAT_BASE } from '../wecom/compat/paths';
import type { Robot } from '../wecom/group-chat';
import { compatAppRoutes } from './app-routes';
import { compatErrors, compatUnmatched } from './compat-answers';
import { robotKeyAuth } from './compat-callers';
import { DuplicateCheck } from './duplicate-check';
import { compatRobotRoutes, CompatRobots } from './robot-routes';
import { CompatTokens } from './tokens';
import { mediaUploadRoute, robotUploadRoute } from './uploads';

/** What the WeCom-compatible API is built from: the gateway's apps, robots and keys, and the wrong-key limit /v1 has. */
export interface CompatSettings {
  apps: WecomApp[];
  defaultApp: string;
  robots: Robot[];
  apiKeys: ApiKey[];
  authFailuresPerMinute: number;
}

export interface CompatFlow extends Flow {
  /** /cgi-bin/ answers in WeCom's protocol: what no route took, and every error (AppOptions.protocols). */
  protocols: { path: string; unmatched: typeof compatUnmatched; errors: ReturnType<typeof compatErrors> }[];
}

/**
 * WeCom's own API, served by the gateway (/cgi-bin/): gettoken with an API key as
 * the secret, message/send, appchat/send, message/recall and media/upload with the
 * gateway's token, webhook/send and webhook/upload_media with an API key and a
 * robot's name. Sends go through the messages flow's pipeline, like /v1/messages.
 */
export function wireCompat(core: Core, settings: CompatSettings, deps: { messages: MessageService; recall: RecallDeps }): CompatFlow {
  const { apps, defaultApp } = settings;
  // Counted in the same Redis bucket as /v1's wrong keys: one guesser, one count.
  const failures = new AuthFailureThrottle({
    failures: settings.authFailuresPerMinute,
    redis: core.redis,
    keyPrefix: core.keys.authFailures,
  });
  const keys = new ApiKeys(settings.apiKeys, failures);
  const tokens = new CompatTokens(settings.apiKeys, apps, core.clock);
  const robots = new CompatRobots(settings.robots);
  const keyless = tokens.keyless;
  const appDeps = { apps, defaultApp, keys, failures, tokens, messages: deps.messages, recall: deps.recall };
  const routes = [
    ...compatAppRoutes(
      { ...appDeps, duplicates: new DuplicateCheck(core.redis, core.keys) },
      mediaUploadRoute({ apps, defaultApp, api: core.api, clock: core.clock }),
    ),
    ...compatRobotRoutes(robots, {
      messages: deps.messages,
      authenticate: robotKeyAuth({ keys, failures, keyless }),
      upload: robotUploadRoute({ robots, api: core.api, clock: core.clock }),
    }),
  ];
  return { routes, protocols: [{ path: COMPAT_BASE, unmatched: compatUnmatched, errors: compatErrors(core.logger) }] };
}
