import type { WecomApp } from '../wecom/app';
import { getAgent, getCallbackIps } from '../wecom/endpoints/agent';
import { describeProxy, proxyFor, type ProxySettings } from '../http/proxy';
import { errcodeHint, refusedCaller } from '../wecom/errcodes';
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

/** What the diagnostics check: the apps and robots configured, whether the simulator stands in for WeCom, and the way out to it. */
export interface DoctorSettings {
  apps: WecomApp[];
  robots: Robot[];
  sandbox: boolean;
  wecom: { apiBase: string; proxy?: ProxySettings };
}

/** Which way calls to WeCom leave (the proxy without its credentials, or direct), for the egress line. */
function route(wecom: DoctorSettings['wecom'], sandbox: boolean): { text: string; proxied: boolean } {
  const base = new URL(wecom.apiBase);
  const proxy = proxyFor(base, wecom.proxy);
  const noProxy = `NO_PROXY: ${wecom.proxy?.noProxy || 'none'}`;
  if (proxy) return { text: `calls to ${base.origin} go through the proxy ${describeProxy(proxy)} (${noProxy})`, proxied: true };
  // The sandbox drops the proxy (main/sandbox.ts): its simulator is on this machine.
  const why = sandbox
    ? ' (the built-in simulator is on this machine)'
    : !wecom.proxy
      ? ' (no HTTPS_PROXY or HTTP_PROXY set)'
      : base.protocol === 'http:' && !wecom.proxy.httpProxy
        ? ' (no HTTP_PROXY for http://)'
        : ` (${noProxy} covers ${base.hostname})`;
  return { text: `calls to ${base.origin} go direct${why}`, proxied: false };
}

/**
 * The egress line: the way out, and the address WeCom saw where it refused it
 * (60020 names it; an accepted call tells nothing), with what to do about it.
 */
function egressFinding(config: DoctorSettings, refused: { app: string; ip?: string }[]): Finding {
  const { text, proxied } = route(config.wecom, config.sandbox);
  if (refused.length === 0) return { ok: true, app: 'all', check: 'egress', detail: text };
  const ip = refused.find((r) => r.ip)?.ip;
  const apps = refused.map((r) => r.app).join(', ');
  const seen = ip ? `WeCom saw them come from ${ip}, which app ${apps} does not trust` : `app ${apps} does not trust this address`;
  const fix = `${ip ? `add ${ip}` : 'add the address'} to the app's trusted IPs (WeCom admin -> app -> 企业可信IP), or ${
    proxied ? 'point HTTPS_PROXY at a proxy' : 'set HTTPS_PROXY to a proxy'
  } that leaves from a trusted address`;
  return { ok: false, app: 'all', check: 'egress', detail: `${text}; ${seen} (errcode 60020): ${fix}` };
}

/**
 * Checks each configured app against WeCom: the secret yields a token, the agent
 * exists for that secret and has a visible range, and the callback IPs can be read
 * (which also proves the gateway's IP is trusted). One finding per line.
 */
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
  const refused: { app: string; ip?: string }[] = [];
  const noteRefusal = (app: WecomApp, error: WecomError) => {
    const caller = refusedCaller(error);
    if (caller && !refused.some((r) => r.app === app.name)) refused.push({ app: app.name, ...caller });
  };
  for (const app of config.apps) {
    const agent = await api.call(app, getAgent(app.agentId));
    if (agent.kind !== 'ok') {
      noteRefusal(app, agent.error);
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
    if (ips.kind !== 'ok') noteRefusal(app, ips.error);
  }
  findings.push(egressFinding(config, refused));
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
