import { randomBytes } from 'node:crypto';
import express, { type Express } from 'express';
import type { ApiHost } from './host';
import { isStringList, jsonObject, reject } from './validate-message';

/**
 * 紧急通知 on the simulator (reference §16): pstncc/call places a call per callee,
 * pstncc/getstates tells how it went. Each call is answered or not as the control
 * chose (POST /__sim/phone/next); a callee over 3 calls in 8 minutes or 8 in 24
 * hours gets reason 13; no balance (301051) and not allowed (48002) refuse the call.
 */

export type PhoneOutcome = 'answered' | 'unanswered' | 'no_balance' | 'not_allowed';
export const PHONE_OUTCOMES: PhoneOutcome[] = ['answered', 'unanswered', 'no_balance', 'not_allowed'];

/** A call the simulator got, as GET /__sim/phone/calls lists it. */
export interface SimulatedCall {
  userid: string;
  callid: string;
  agentId: number;
  /** answered, unanswered, or limited (reason 13). */
  outcome: 'answered' | 'unanswered' | 'limited';
  at: number;
}

const REFUSALS: Partial<Record<PhoneOutcome, { errcode: number; errmsg: string }>> = {
  no_balance: { errcode: 301051, errmsg: 'pstncc balance not enough' },
  not_allowed: { errcode: 48002, errmsg: 'api forbidden' },
};
/** Per callee (§16): 3 calls in 8 minutes, 8 in 24 hours. */
const LIMITS = [
  { count: 3, windowMs: 8 * 60_000 },
  { count: 8, windowMs: 86_400_000 },
];

export class PhoneCalls {
  readonly calls: SimulatedCall[] = [];
  /** The outcomes chosen for the next calls, in order; then `answered`. */
  private readonly next: PhoneOutcome[] = [];

  constructor(
    private readonly host: ApiHost,
    private readonly userExists: (userid: string) => boolean,
  ) {}

  /** The next `n` calls (each pstncc/call request) go so. */
  chooseNext(outcome: PhoneOutcome, n = 1): void {
    this.next.push(...Array<PhoneOutcome>(n).fill(outcome));
  }

  reset(): void {
    this.calls.length = 0;
    this.next.length = 0;
  }

  routes(app: Express): void {
    const host = this.host;
    app.post('/cgi-bin/pstncc/call', express.text({ type: () => true }), async (req, res) => {
      const api = 'pstncc/call';
      if (await host.injectFault(api, req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, api, auth);
      const callees = jsonObject(req.body)?.callee_userid;
      if (!isStringList(callees) || callees.length === 0) return host.answer(res, api, reject(40058, 'callee_userid is empty'));
      const outcome = this.next.shift() ?? 'answered';
      const refusal = REFUSALS[outcome];
      if (refusal) return host.answer(res, api, { ...refusal });
      const states = callees.map((userid) => {
        if (!this.userExists(userid)) return { userid, code: 60111 };
        const callid = `6-${Date.now()}-${randomBytes(6).toString('hex')}-out`;
        const rang = outcome === 'unanswered' ? 'unanswered' : 'answered';
        this.calls.push({
          userid,
          callid,
          agentId: auth.agentId,
          outcome: this.overLimit(userid, Date.now()) ? 'limited' : rang,
          at: Date.now(),
        });
        return { userid, callid, code: 0 };
      });
      return host.answer(res, api, { errcode: 0, errmsg: 'ok', states });
    });

    app.post('/cgi-bin/pstncc/getstates', express.text({ type: () => true }), async (req, res) => {
      const api = 'pstncc/getstates';
      if (await host.injectFault(api, req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, api, auth);
      const body = jsonObject(req.body) ?? {};
      const call = this.calls.find((c) => c.callid === body.callid && c.userid === body.callee_userid && c.agentId === auth.agentId);
      if (!call) return host.answer(res, api, reject(40058, 'invalid callid'));
      const calltime = Math.floor(call.at / 1000);
      const state =
        call.outcome === 'answered'
          ? { istalked: 1, calltime, talktime: 12, reason: 0 }
          : { istalked: 0, calltime: call.outcome === 'limited' ? 0 : calltime, talktime: 0, reason: call.outcome === 'limited' ? 13 : 0 };
      return host.answer(res, api, { errcode: 0, errmsg: 'ok', ...state });
    });
  }

  /** The calls it got, and the control choosing the next outcome. */
  controlRoutes(app: Express): void {
    app.get('/__sim/phone/calls', (_req, res) => void res.json({ calls: this.calls }));
    app.post('/__sim/phone/next', express.json(), (req, res) => {
      const { outcome, n } = (req.body ?? {}) as { outcome?: PhoneOutcome; n?: number };
      if (!outcome || !PHONE_OUTCOMES.includes(outcome) || (n !== undefined && !(Number.isInteger(n) && n >= 1)))
        return void res.status(400).json({ error: `expected {outcome: ${PHONE_OUTCOMES.join(' | ')}, n?}` });
      this.chooseNext(outcome, n);
      res.json({ ok: true });
    });
  }

  /** Counted over the calls placed to this callee, limited ones included (WeCom counts attempts). */
  private overLimit(userid: string, now: number): boolean {
    const mine = this.calls.filter((c) => c.userid === userid);
    return LIMITS.some(({ count, windowMs }) => mine.filter((c) => c.at > now - windowMs).length >= count);
  }
}
