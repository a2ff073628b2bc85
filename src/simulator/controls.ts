import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type Express, type Request, type Response } from 'express';
import { callerAddress } from './host';

export type Fault = { errcode: number; errmsg?: string } | { httpStatus: number } | { delayMs: number } | { reset: true };
export type SimulatedApi =
  | 'gettoken'
  | 'message/send'
  | 'media/upload'
  | 'externalcontact/send_welcome_msg'
  | 'externalcontact/mark_tag'
  | 'externalcontact/add_contact_way'
  | 'externalcontact/del_contact_way'
  | 'webhook/send'
  | 'webhook/upload_media'
  | 'appchat/create'
  | 'appchat/update'
  | 'appchat/get'
  | 'appchat/send'
  | 'message/update_template_card'
  | 'auth/getuserinfo'
  | 'pstncc/call'
  | 'pstncc/getstates';

/** Random trouble on every API: with probability `rate`, one of `faults` (or a token expiry) instead of a normal answer. */
export interface Chaos {
  rate: number;
  faults: (Fault | 'expireTokens')[];
}

/** One API call as the simulator saw it: `from`, the caller's address (a proxy's, when the call came through one). */
export interface SimulatedCall {
  api: string;
  at: number;
  errcode: number;
  from: string;
}

/**
 * The test controls, and the one way every API answers through them: injected
 * faults (failNext), chaos and latency, and the call log tests count.
 */
export class Controls {
  readonly calls: SimulatedCall[] = [];
  private readonly faults = new Map<string, Fault[]>();
  private chaos?: Chaos;

  constructor(
    private latencyMs: number,
    /** What a chaos 'expireTokens' does. */
    private readonly expireTokens: () => void,
  ) {}

  failNext(n: number, fault: Fault, api: SimulatedApi = 'message/send'): void {
    this.faults.set(api, [...(this.faults.get(api) ?? []), ...Array<Fault>(n).fill(fault)]);
  }

  setChaos(chaos?: Chaos): void {
    this.chaos = chaos;
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** Faults, chaos and the call log go; the latency stays as set. */
  reset(): void {
    this.calls.length = 0;
    this.faults.clear();
    this.chaos = undefined;
  }

  /** Every answer goes through here: latency, call log. */
  async answer(res: Response, api: string, body: Record<string, unknown>): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
    const from = callerAddress(res.req);
    this.calls.push({ api, at: Date.now(), errcode, from });
    res.json(errcode === 0 ? body : { ...body, errmsg: errmsg(String(body.errmsg), errcode, from) });
  }

  /** Consumes the next injected fault of `api`; true when the fault answered the request. */
  async injectFault(api: string, req: Request, res: Response): Promise<boolean> {
    let fault = this.faults.get(api)?.shift();
    if (!fault && this.chaos && Math.random() < this.chaos.rate) {
      const pick = this.chaos.faults[Math.floor(Math.random() * this.chaos.faults.length)];
      if (pick === 'expireTokens') this.expireTokens();
      else fault = pick;
    }
    if (!fault) return false;
    if ('delayMs' in fault) {
      await sleep(fault.delayMs);
      return false;
    }
    this.calls.push({ api, at: Date.now(), errcode: 'errcode' in fault ? fault.errcode : -2, from: callerAddress(req) });
    if ('reset' in fault) req.socket.destroy();
    else if ('httpStatus' in fault) res.status(fault.httpStatus).send('simulated failure');
    else res.json({ errcode: fault.errcode, errmsg: errmsg(fault.errmsg ?? 'simulated error', fault.errcode, callerAddress(req)) });
    return true;
  }
}

/** WeCom's errmsg: the text, a hint, the caller's address and where to look the errcode up. */
function errmsg(text: string, errcode: number, from: string): string {
  const hint = `${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString('hex')}`;
  return `${text}, hint: [${hint}], from ip: ${from}, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
}

/** What the HTTP controls drive: the simulator's own controls, and what it lists. */
export interface ControlTarget {
  failNext(n: number, fault: Fault, api?: SimulatedApi): void;
  expireTokens(): void;
  setLatency(ms: number): void;
  reset(): void;
  /** GET /__sim/messages: the newest `limit` of each kind. */
  messages(limit: number): Record<string, unknown>;
  /** GET /__sim/stats */
  stats(): Record<string, number>;
}

/** The same controls over HTTP, for sandbox users and benchmarks. */
export function controlRoutes(app: Express, target: ControlTarget): void {
  app.get('/__sim/messages', (req, res) => void res.json(target.messages(Number(req.query.limit) || 100)));
  app.get('/__sim/stats', (_req, res) => void res.json(target.stats()));
  app.post('/__sim/faults', express.json(), (req, res) => {
    const { n, fault, api } = req.body ?? {};
    if (!Number.isInteger(n) || n < 1 || typeof fault !== 'object') {
      return void res.status(400).json({ error: 'expected {n, fault, api?}' });
    }
    target.failNext(n, fault as Fault, api);
    res.json({ ok: true });
  });
  app.post('/__sim/expire-tokens', (_req, res) => {
    target.expireTokens();
    res.json({ ok: true });
  });
  app.post('/__sim/latency', express.json(), (req, res) => {
    target.setLatency(Number(req.body?.ms) || 0);
    res.json({ ok: true });
  });
  app.post('/__sim/reset', (_req, res) => {
    target.reset();
    res.json({ ok: true });
  });
}
