import type { WecomSimulator } from '../../src/simulator/simulator';

/**
 * Alertmanager's own WeCom receiver (`wechat_configs`, notify/wechat/wechat.go in
 * prometheus/alertmanager): it GETs `<api_url>gettoken?corpsecret=S&corpid=C`, keeps the
 * token two hours (dropping it only on a 200 with errcode 42001) and POSTs
 * `<api_url>message/send?access_token=T`, one call per notification, never retried on
 * another errcode.
 */
export interface WechatReceiver {
  apiUrl: string;
  corpId: string;
  apiSecret: string;
  toUser: string;
  agentId: number;
  messageType?: 'text' | 'markdown';
}

/** One notification per alert (grouped by instance), as a team with per-instance alerts gets; fast group timers. */
export function wechatConfig(receiver: WechatReceiver): string {
  return `route:
  receiver: wecom
  group_by: [instance]
  group_wait: 1s
  group_interval: 5m
  repeat_interval: 4h
receivers:
  - name: wecom
    wechat_configs:
      - api_url: ${receiver.apiUrl}
        corp_id: ${receiver.corpId}
        api_secret: ${receiver.apiSecret}
        to_user: ${receiver.toUser}
        agent_id: '${receiver.agentId}'
        message_type: ${receiver.messageType ?? 'text'}
`;
}

/** `n` alerts of one storm, each with its own alertname and instance so a delivered text can be traced back to it. */
export function stormAlerts(n: number, tag = 'Storm') {
  return Array.from({ length: n }, (_, i) => ({
    labels: {
      alertname: `${tag}${String(i).padStart(3, '0')}`,
      instance: `${tag.toLowerCase()}-node${String(i).padStart(3, '0')}:9100`,
      severity: 'warning',
    },
    annotations: { summary: `${tag} alert ${i}` },
  }));
}

/**
 * Where the simulator's logs stood: a test counts from there, never resetting the
 * simulator (a reset forgets tokens, and Alertmanager keeps its token on 40014).
 */
export interface Mark {
  calls: number;
  sent: number;
}
export const mark = (sim: WecomSimulator): Mark => ({ calls: sim.calls.length, sent: sim.sent.length });

/** The texts the member's inbox holds since `from`: what WeCom delivered to `user` (over-limit sends reached no one). */
export function inbox(sim: WecomSimulator, user: string, from: Mark = { calls: 0, sent: 0 }): { content: string; at: number }[] {
  return sim.sent
    .slice(from.sent)
    .filter((m) => m.touser.includes(user))
    .map((m) => ({ content: String((m.body[m.msgtype] as { content?: unknown } | undefined)?.content ?? ''), at: m.at }));
}

/** WeCom calls by API since `from`, e.g. { gettoken: 1, 'message/send': 31 }. */
export function callsByApi(sim: WecomSimulator, from: Mark = { calls: 0, sent: 0 }): Record<string, number> {
  const counts: Record<string, number> = {};
  for (const call of sim.calls.slice(from.calls)) counts[call.api] = (counts[call.api] ?? 0) + 1;
  return counts;
}

/** The alerts (by their `alertname`) whose text reached the member. */
export function alertsDelivered(texts: string[], alerts: { labels: { alertname: string; instance: string } }[]): number {
  const all = texts.join('\n');
  return alerts.filter((a) => all.includes(a.labels.alertname) && all.includes(a.labels.instance)).length;
}
