import type { WecomApp } from '../wecom/app';
import { getAgent, getCallbackIps } from '../wecom/endpoints/agent';
import { errcodeHint } from '../wecom/errcodes';
import type { WecomError } from '../wecom/outcome';
import type { Robot } from '../wecom/group-chat';
import type { WecomApi } from '../wecom/wecom-api';

export interface Finding {
  ok: boolean;
  app: string;
  check: string;
  detail: string;
}

function problem(app: WecomApp, check: string, error: WecomError): Finding {
  const hint = errcodeHint(error.errcode, error.errmsg);
  return { ok: false, app: app.name, check, detail: `errcode ${error.errcode}${hint ? `: ${hint}` : ''} (${error.errmsg.split(',')[0]})` };
}

/**
 * Checks each configured app against WeCom: the secret yields a token, the agent
 * exists for that secret and has a visible range, and the callback IPs can be read
 * (which also proves the gateway's IP is trusted). One finding per line.
 */
/** What the diagnostics check: the apps and robots configured, and whether the simulator stands in for WeCom. */
export interface DoctorSettings {
  apps: WecomApp[];
  robots: Robot[];
  sandbox: boolean;
}

export async function diagnose(config: DoctorSettings, api: WecomApi): Promise<Finding[]> {
  const findings: Finding[] = [];
  // The same checks run in the sandbox, so a newcomer sees what they look like; this line says against what.
  if (config.sandbox)
    findings.push({
      ok: true,
      app: config.apps[0]?.name ?? 'default',
      check: 'sandbox',
      detail: 'no WeCom credentials: the checks below ran against the built-in WeCom simulator, not WeCom',
    });
  for (const app of config.apps) {
    const agent = await api.call(app, getAgent(app.agentId));
    if (agent.kind !== 'ok') {
      findings.push(problem(app, 'gettoken + agent/get', agent.error));
      continue;
    }
    const users = ((agent.value.allow_userinfos as { user?: unknown[] } | undefined)?.user ?? []).length;
    const parties = ((agent.value.allow_partys as { partyid?: unknown[] } | undefined)?.partyid ?? []).length;
    findings.push({ ok: true, app: app.name, check: 'gettoken', detail: `corp ${app.corpId}: the secret works` });
    findings.push({
      ok: users + parties > 0,
      app: app.name,
      check: 'agent/get',
      detail:
        users + parties > 0
          ? `agent ${app.agentId} "${String(agent.value.name ?? '')}" sees ${users} member(s) and ${parties} department(s) directly`
          : `agent ${app.agentId} has an empty visible range: add members or departments in the admin console (应用 -> 可见范围)`,
    });
    const ips = await api.call(app, getCallbackIps());
    findings.push(
      ips.kind === 'ok'
        ? {
            ok: true,
            app: app.name,
            check: 'getcallbackip',
            detail: `${ips.value.length} WeCom callback address(es); this gateway's IP is trusted`,
          }
        : problem(app, 'getcallbackip', ips.error),
    );
  }
  // Names and pool sizes only: a robot's key is a credential.
  if (config.robots.length > 0) {
    const robots = config.robots.map((r) => `${r.name} (${r.keys.length} key${r.keys.length > 1 ? 's' : ''})`).join(', ');
    findings.push({
      ok: true,
      app: 'all',
      check: 'robots',
      detail: `${robots}: not called (a robot can only be checked by posting into its group)`,
    });
  }
  return findings;
}

export function formatFindings(findings: Finding[]): string {
  return findings.map((f) => `${f.ok ? 'ok  ' : 'FAIL'} ${f.app} ${f.check}: ${f.detail}`).join('\n');
}
