import type { Request, Response } from 'express';

/** An app of the simulated corp: gettoken takes its corpId and secret. */
export interface SimulatorApp {
  corpId: string;
  agentId: number;
  secret: string;
}

/**
 * What the simulator lends each API family: its answers (latency, call log,
 * errmsg), the faults tests inject, and the app a token belongs to.
 */
export interface ApiHost {
  answer(res: Response, api: string, body: Record<string, unknown>): Promise<void>;
  /** Consumes the next injected fault of `api`; true when the fault answered the request. */
  injectFault(api: string, req: Request, res: Response): Promise<boolean>;
  /** The app a token belongs to, or the errcode WeCom answers for it. */
  authorize(req: Request): SimulatorApp | { errcode: number; errmsg: string };
}

/** The address a request came from, as WeCom names it in errmsg ("from ip: …"): IPv4 without its ::ffff: mapping. */
export function callerAddress(req: Request): string {
  return (req.socket.remoteAddress ?? '').replace(/^::ffff:(?=\d+\.)/, '');
}
