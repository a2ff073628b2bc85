/** A WeCom API error as WeCom stated it, or one of the gateway's own (GatewayErrcode: -2 is a network/HTTP failure). */
export interface WecomError {
  errcode: number;
  errmsg: string;
}

/**
 * Every call answers a classified outcome; the caller (a queue worker) decides
 * what to do next. The transport never sleeps, loops or counts attempts.
 */
export type Outcome<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'refreshToken'; error: WecomError }
  /** `afterMs`: WeCom blocked the app for a while (45009); retrying sooner only burns attempts. */
  | { kind: 'retry'; error: WecomError; afterMs?: number }
  | { kind: 'permanent'; error: WecomError };

/** Any outcome but success: what an endpoint may read further (notFound, alreadyDelivered, …). */
export type Refusal = Exclude<Outcome<never>, { kind: 'ok' }>;

/** WeCom does not know (any more) what the call names. */
export interface NotFound {
  kind: 'notFound';
  error: WecomError;
}

/** For calls naming something WeCom may not know (any more): that case apart from the other refusals. */
export type LookupOutcome<T> = Outcome<T> | NotFound;
