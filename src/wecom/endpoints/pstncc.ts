import type { Refusal, WecomError } from '../outcome';
import { answeredWithout, type Endpoint } from '../transport';

/**
 * 紧急通知 voice calls (reference §16, docs 91627/91628): a call per callee, then
 * its state. What a flow learns is a CallResult; WeCom's numbers stay here.
 */

/** How a call ended, as the gateway counts it (wecom_gateway_alert_calls_total{result}). */
export type CallResult = 'answered' | 'unanswered' | 'limited' | 'no_balance' | 'not_allowed' | 'failed';

/** One callee's call: placed (a callid) or refused for that callee (`code` not 0). */
export interface PlacedCall {
  userid: string;
  callid?: string;
  code: number;
}

/** Over the callee's limit: 3 calls in 8 minutes, 8 in 24 hours (getstates' reason). */
const REASON_OVER_LIMIT = 13;
/** The corp's call balance is too low. */
const NO_BALANCE = 301051;
/** The app is not bound to 紧急通知 (301049), 紧急通知 is off (301050), or the API is not the app's (48002, 60011). */
const NOT_ALLOWED = new Set([301049, 301050, 48002, 60011]);

/** A refused pstncc call as a result: every callee of it failed so. */
export function refusedCall(error: WecomError): CallResult {
  if (error.errcode === NO_BALANCE) return 'no_balance';
  return NOT_ALLOWED.has(error.errcode) ? 'not_allowed' : 'failed';
}

export const placeCalls = (userids: string[]): Endpoint<PlacedCall[]> => ({
  api: 'pstncc/call',
  json: { callee_userid: userids },
  read: (body) => {
    if (!Array.isArray(body.states)) return answeredWithout('pstncc/call', 'states', 'permanent');
    const states = body.states as { userid?: unknown; callid?: unknown; code?: unknown }[];
    return {
      kind: 'ok',
      value: states.map((s) => ({
        userid: String(s.userid),
        ...(typeof s.callid === 'string' && s.callid ? { callid: s.callid } : {}),
        code: Number(s.code ?? 0),
      })),
    };
  },
});

/**
 * A call's state: answered (istalked 1), over the limit (reason 13), ended without
 * an answer (another reason), or not answered yet (`pending`: reason 0 is also "ended
 * normally", so only the caller's last look turns it into unanswered).
 */
export const callState = (userid: string, callid: string): Endpoint<CallResult | 'pending'> => ({
  api: 'pstncc/getstates',
  json: { callee_userid: userid, callid },
  read: (body) => {
    if (Number(body.istalked) === 1) return { kind: 'ok', value: 'answered' };
    if (Number(body.reason) === REASON_OVER_LIMIT) return { kind: 'ok', value: 'limited' };
    return { kind: 'ok', value: Number(body.reason ?? 0) === 0 ? 'pending' : 'unanswered' };
  },
});

/** A refusal of either call, as its result; a transient one (retry) is the queue's to retry. */
export function callRefusal(refusal: Refusal): CallResult | 'retry' {
  return refusal.kind === 'permanent' ? refusedCall(refusal.error) : 'retry';
}
