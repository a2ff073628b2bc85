import type { Logger } from 'pino';
import type { WecomApp } from '../../wecom/app';
import { callRefusal, callState, placeCalls, type CallResult } from '../../wecom/endpoints/pstncc';
import type { WecomApi } from '../../wecom/wecom-api';
import { postSignedJson } from '../../webhooks/webhook-outbox';
import { alertPageUrl } from '../alert-card';
import type { AlertGroup } from '../alert-groups';
import type { PhoneCall } from './call-store';

/** A call as dialled: placed (WeCom's callid on it), failed at once, or refused in a way that may pass (`retry`). */
export interface Dialed {
  call: PhoneCall;
  result?: CallResult | 'retry';
}

/** Who rings the phones: WeCom's 紧急通知, or an adapter behind a signed webhook. */
export interface Dialer {
  readonly via: 'wecom' | 'webhook';
  dial(group: AlertGroup, calls: PhoneCall[]): Promise<Dialed[]>;
  /** How a placed call went, where the gateway asks (WeCom); an adapter answers on its own instead. */
  look?(call: PhoneCall): Promise<CallResult | 'pending' | 'retry'>;
}

/** 紧急通知 (reference §16): one pstncc/call for the level's callees, then getstates per call. */
export class WecomDialer implements Dialer {
  readonly via = 'wecom';

  constructor(
    private readonly api: WecomApi,
    private readonly app: WecomApp,
  ) {}

  async dial(_group: AlertGroup, calls: PhoneCall[]): Promise<Dialed[]> {
    const outcome = await this.api.call(this.app, placeCalls(calls.map((c) => c.userid)));
    if (outcome.kind !== 'ok') return calls.map((call) => ({ call, result: callRefusal(outcome) }));
    const states = new Map(outcome.value.map((s) => [s.userid, s]));
    return calls.map((call) => {
      const state = states.get(call.userid);
      return state?.callid && state.code === 0 ? { call: { ...call, callid: state.callid } } : { call, result: 'failed' };
    });
  }

  async look(call: PhoneCall): Promise<CallResult | 'pending' | 'retry'> {
    const outcome = await this.api.call(this.app, callState(call.userid, call.callid ?? ''));
    return outcome.kind === 'ok' ? outcome.value : callRefusal(outcome);
  }
}

/** What the adapter is told of the callee: the contact mirror's name and mobile, when it holds them. */
export type ContactOf = (userid: string) => Promise<{ name?: string; mobile?: string } | undefined>;

/**
 * ALERT_PHONE=webhook: one signed POST per call to the adapter (X-Gateway-Signature,
 * as every downstream webhook of the gateway); the adapter rings whatever provider
 * it fronts and answers at `callbackUrl` (call-routes.ts).
 */
export class WebhookDialer implements Dialer {
  readonly via = 'webhook';

  constructor(private readonly options: { url: string; secret: string; publicUrl: string; contactOf?: ContactOf; logger: Logger }) {}

  dial(group: AlertGroup, calls: PhoneCall[]): Promise<Dialed[]> {
    return Promise.all(
      calls.map(async (call): Promise<Dialed> => {
        const document = await this.document(group, call);
        const options = { id: call.id, attempt: 1, secret: this.options.secret, timeoutMs: 5_000, logger: this.options.logger };
        const delivered = await postSignedJson(this.options.url, document, options);
        if (delivered.ok) return { call };
        this.options.logger.warn({ alert: group.id, call: call.id, err: delivered.error }, 'phone webhook refused or unreachable');
        return { call, result: delivered.permanent ? 'failed' : 'retry' };
      }),
    );
  }

  /** The contract (README "Phone"): who, what, and where to answer. */
  private async document(group: AlertGroup, call: PhoneCall) {
    const contact = await this.options.contactOf?.(call.userid).catch(() => undefined);
    const base = this.options.publicUrl;
    return {
      id: call.id,
      alert: {
        id: group.id,
        title: group.title,
        severity: group.severity,
        status: group.status,
        firingSince: new Date(group.firingSince).toISOString(),
        url: alertPageUrl(base, group.id),
      },
      callee: {
        userid: call.userid,
        ...(contact?.name ? { name: contact.name } : {}),
        ...(contact?.mobile ? { mobile: contact.mobile } : {}),
      },
      level: call.level,
      callbackUrl: `${base}/v1/phone/calls/${call.id}`,
    };
  }
}
