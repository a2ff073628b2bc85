import type { AlertRoute } from '../alerts/alerts-config';
import { egressAllowProblem } from '../http/egress';
import type { Env } from './env-schema';

/** What each schema cannot see alone: settings that only go together, or name each other. */

export function egressProblems(allow: string[] | undefined): string[] {
  return (allow ?? []).flatMap((entry) => egressAllowProblem(entry) ?? []);
}

export function redisProblems(e: Env): string[] {
  const problems: string[] = [];
  if (e.REDIS_SENTINELS && !e.REDIS_SENTINEL_MASTER) problems.push('REDIS_SENTINEL_MASTER: required with REDIS_SENTINELS');
  if (e.REDIS_SENTINELS && e.REDIS_CLUSTER_NODES) problems.push('REDIS_SENTINELS: choose Sentinel or Cluster, not both');
  // WAIT counts the replicas of the node a connection talks to; a Cluster client's keys live on several masters.
  if (e.REDIS_WAIT_REPLICAS > 0 && e.REDIS_CLUSTER_NODES) {
    problems.push('REDIS_WAIT_REPLICAS: not supported with REDIS_CLUSTER_NODES (use a standalone or Sentinel master)');
  }
  return problems;
}

/** Alert routes name robots that exist, and at most one of them, without a match, is the fallback. */
export function alertRouteProblems(routes: AlertRoute[], robotNames: Set<string>, filePath: string | undefined): string[] {
  const problems: string[] = [];
  routes.forEach((route, i) => {
    const unknownRobots = (names: string[] | undefined, path: string) =>
      names
        ?.filter((name) => !robotNames.has(name))
        .forEach((name) => problems.push(`${filePath}: alertRoutes.${i}.${path}: no robot is named ${name}`));
    unknownRobots(route.robots, 'robots');
    if (route.fallback && route.match) {
      problems.push(`${filePath}: alertRoutes.${i}.fallback: a fallback route takes what no route matches: leave its match out`);
    }
    route.escalation?.forEach((level, l) => unknownRobots(level.to.robots, `escalation.${l}.to.robots`));
  });
  const fallbacks = routes.filter((route) => route.fallback).map((route) => route.name);
  if (fallbacks.length > 1) problems.push(`${filePath}: alertRoutes: only one route may be the fallback (${fallbacks.join(', ')} say so)`);
  return problems;
}

/** Alert routes, their escalation levels and mentions name on-call schedules that exist (`oncall:`). */
export function oncallReferenceProblems(routes: AlertRoute[], schedules: Set<string>, filePath: string | undefined): string[] {
  return routes.flatMap((route, i) => {
    const levels = (route.escalation ?? []).map((level, l) => [`escalation.${l}.to.oncall`, level.to.oncall] as const);
    const lists = [['oncall', route.oncall] as const, ['mentions.oncall', route.mentions?.oncall] as const, ...levels];
    return lists.flatMap(([path, names]) =>
      (names ?? [])
        .filter((name) => !schedules.has(name))
        .map((name) => `${filePath}: alertRoutes.${i}.${path}: no on-call schedule is named ${name}`),
    );
  });
}

/**
 * In production a missing setting must stop the start, not quietly swap WeCom for
 * the simulator or Redis for a temporary folder: each pod would otherwise "send"
 * into its own simulator, or keep accepted messages where a restart loses them.
 */
export function productionProblems(
  e: Pick<Env, 'WECOM_CORP_ID' | 'WECOM_AGENT_ID' | 'WECOM_AGENT_SECRET' | 'REDIS_URL' | 'REDIS_SENTINELS' | 'REDIS_CLUSTER_NODES'>,
  hasApps: boolean,
): string[] {
  const production = 'required in production (NODE_ENV=production)';
  if (!hasApps) {
    const missing = (['WECOM_CORP_ID', 'WECOM_AGENT_ID', 'WECOM_AGENT_SECRET'] as const).filter((name) => e[name] === undefined);
    return [
      `${missing.join(', ')}: ${production}; without them the gateway would run the built-in WeCom simulator and deliver nothing ` +
        '(set SANDBOX=1 to run the sandbox on purpose)',
    ];
  }
  if (!e.REDIS_URL && !e.REDIS_SENTINELS && !e.REDIS_CLUSTER_NODES) {
    return [
      `REDIS_URL: ${production} (or REDIS_SENTINELS, REDIS_CLUSTER_NODES); without it the gateway would start a redis-server ` +
        'whose data lives in a temporary folder, and a restart would lose accepted messages',
    ];
  }
  return [];
}
