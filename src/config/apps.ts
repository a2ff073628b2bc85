import type { Config } from './config';
import type { Env } from './env-schema';
import type { WecomApp } from '../wecom/app';

const WECOM_VARS = ['WECOM_CORP_ID', 'WECOM_AGENT_ID', 'WECOM_AGENT_SECRET'] as const;

/** The apps the gateway sends as: the environment's (named `default`) first, then the config file's. */
export interface LoadedApps {
  apps: WecomApp[];
  /** The app names, each once. */
  names: Set<string>;
  callbackOnly?: Config['callbackOnly'];
  /** Some of WECOM_CORP_ID, WECOM_AGENT_ID, WECOM_AGENT_SECRET but not all (and not callback-only): already a problem each. */
  partlyGiven: boolean;
}

/** The environment's app and the file's, with one problem line for each incomplete or repeated one. */
export function loadApps(e: Env, fileApps: WecomApp[], problems: string[]): LoadedApps {
  const apps: WecomApp[] = [...fileApps];
  const given = WECOM_VARS.filter((name) => e[name] !== undefined);
  const callbackOnly = callbackOnlyApp(e);
  const partlyGiven = !callbackOnly && given.length > 0 && given.length < WECOM_VARS.length;
  if (partlyGiven) {
    for (const name of WECOM_VARS) if (e[name] === undefined) problems.push(`${name}: required when ${given.join(', ')} is set`);
  }
  if (e.WECOM_CALLBACK_TOKEN !== undefined && e.WECOM_CALLBACK_AES_KEY === undefined)
    problems.push('WECOM_CALLBACK_AES_KEY: required when WECOM_CALLBACK_TOKEN is set');
  if (e.WECOM_CALLBACK_AES_KEY !== undefined && e.WECOM_CALLBACK_TOKEN === undefined)
    problems.push('WECOM_CALLBACK_TOKEN: required when WECOM_CALLBACK_AES_KEY is set');
  if (e.WECOM_CORP_ID && e.WECOM_AGENT_ID && e.WECOM_AGENT_SECRET) {
    apps.unshift({
      name: 'default',
      corpId: e.WECOM_CORP_ID,
      agentId: e.WECOM_AGENT_ID,
      secret: e.WECOM_AGENT_SECRET,
      callback:
        e.WECOM_CALLBACK_TOKEN && e.WECOM_CALLBACK_AES_KEY
          ? { token: e.WECOM_CALLBACK_TOKEN, aesKey: e.WECOM_CALLBACK_AES_KEY }
          : undefined,
    });
  }
  const names = new Set<string>();
  for (const app of apps) {
    if (names.has(app.name)) problems.push(`apps: the name "${app.name}" is used twice`);
    names.add(app.name);
  }
  return { apps, names, callbackOnly, partlyGiven };
}

/** WECOM_CORP_ID with the callback's Token and EncodingAESKey but no agent: pushes verified for real, sends to the simulator. */
function callbackOnlyApp(e: Env): Config['callbackOnly'] {
  if (!e.WECOM_CORP_ID || e.WECOM_AGENT_ID !== undefined || e.WECOM_AGENT_SECRET !== undefined) return undefined;
  if (!e.WECOM_CALLBACK_TOKEN || !e.WECOM_CALLBACK_AES_KEY) return undefined;
  return { corpId: e.WECOM_CORP_ID, callback: { token: e.WECOM_CALLBACK_TOKEN, aesKey: e.WECOM_CALLBACK_AES_KEY } };
}

/** The app a request that names none uses: the file's defaultApp, or the first app. */
export function defaultAppOf(fileDefault: string | undefined, loaded: LoadedApps, problems: string[]): string {
  const defaultApp = fileDefault ?? loaded.apps[0]?.name ?? 'default';
  if (loaded.apps.length > 0 && !loaded.names.has(defaultApp)) problems.push(`defaultApp: no app is named "${defaultApp}"`);
  return defaultApp;
}
