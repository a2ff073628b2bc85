import { UnrecoverableError, Worker } from 'bullmq';
import { partStatusAfter, sendVerdict } from '../../src/messages/send-worker';
import { cappedExponential } from '../../src/queues/backoffs';
import { applyVerdict, settle } from '../../src/queues/settle';
import type { Outcome } from '../../src/wecom/outcome';

const ok: Outcome<unknown> = { kind: 'ok', value: {} };
const busy: Outcome<unknown> = { kind: 'retry', error: { errcode: -1, errmsg: 'system busy' } };
const blocked: Outcome<unknown> = { kind: 'retry', error: { errcode: 45009, errmsg: 'api freq out of limit' }, afterMs: 60_000 };
const refused: Outcome<unknown> = { kind: 'permanent', error: { errcode: 81013, errmsg: 'user & party & tag all invalid' } };

describe('the send processor outcome table', () => {
  it.each([
    { what: 'WeCom accepted', outcome: ok, attempt: 1, verdict: 'done', status: 'sent' },
    { what: 'WeCom accepted on the last attempt', outcome: ok, attempt: 4, verdict: 'done', status: 'sent' },
    { what: 'WeCom refused the request (permanent), first attempt', outcome: refused, attempt: 1, verdict: 'fail', status: 'failed' },
    { what: 'WeCom was busy (-1), attempts left', outcome: busy, attempt: 1, verdict: 'retry', status: 'queued' },
    { what: 'WeCom was busy (-1), attempts left', outcome: busy, attempt: 3, verdict: 'retry', status: 'queued' },
    { what: 'WeCom was busy (-1) on the last attempt', outcome: busy, attempt: 4, verdict: 'fail', status: 'failed' },
    { what: 'WeCom blocked the app (45009)', outcome: blocked, attempt: 1, verdict: 'pause', status: 'queued' },
    {
      what: 'WeCom blocked the app (45009) on the last attempt: a pause spends no attempt',
      outcome: blocked,
      attempt: 4,
      verdict: 'pause',
      status: 'queued',
    },
  ] as const)('when $what (attempt $attempt of 4), then $verdict, and the part is $status', ({ outcome, attempt, verdict, status }) => {
    const decided = sendVerdict(outcome, { attempt, maxAttempts: 4 });
    expect(decided.kind).toBe(verdict);
    expect(partStatusAfter(decided)).toBe(status);
  });

  it("when a send fails or is retried, then the reason is WeCom's errcode and errmsg, and a pause lasts the block", () => {
    expect(sendVerdict(refused, { attempt: 1, maxAttempts: 4 })).toEqual({ kind: 'fail', reason: '81013 user & party & tag all invalid' });
    expect(sendVerdict(busy, { attempt: 1, maxAttempts: 4 })).toEqual({ kind: 'retry', reason: '-1 system busy' });
    expect(sendVerdict(blocked, { attempt: 1, maxAttempts: 4 })).toEqual({
      kind: 'pause',
      reason: '45009 api freq out of limit',
      ms: 60_000,
    });
  });
});

describe('settle', () => {
  it('when a line must wait out an outage (contact sync), then a transient failure is retried forever with capped backoff, and a refusal fails after its attempts', () => {
    const policy = { maxAttempts: Infinity, refusalAttempts: 3, backoffMs: () => 250 };
    expect(settle({ kind: 'retry', reason: 'HTTP 503' }, { ...policy, attempt: 10_000 })).toEqual({
      kind: 'retry',
      reason: 'HTTP 503',
      afterMs: 250,
    });
    expect(settle({ kind: 'permanent', reason: 'HTTP 400' }, { ...policy, attempt: 2 })).toEqual({
      kind: 'retry',
      reason: 'HTTP 400',
      afterMs: 250,
    });
    expect(settle({ kind: 'permanent', reason: 'HTTP 400' }, { ...policy, attempt: 3 })).toEqual({ kind: 'fail', reason: 'HTTP 400' });
  });

  it('when backoff grows, then it doubles from the base, stays within ±25 % and never passes the cap', () => {
    const backoff = cappedExponential(100, 1_000);
    for (const [attempt, nominal] of [
      [1, 100],
      [2, 200],
      [4, 800],
      [5, 1_000],
      [40, 1_000],
    ]) {
      const ms = backoff(attempt);
      expect(ms).toBeGreaterThanOrEqual(nominal * 0.75);
      expect(ms).toBeLessThanOrEqual(nominal * 1.25);
    }
  });

  it("when a verdict is carried out on a BullMQ job, then done returns, fail stops retries, retry throws for BullMQ's backoff and pause holds the queue", async () => {
    await expect(applyVerdict({ kind: 'done' })).resolves.toBeUndefined();
    await expect(applyVerdict({ kind: 'fail', reason: '81013 invalid' })).rejects.toBeInstanceOf(UnrecoverableError);
    const retry = applyVerdict({ kind: 'retry', reason: '-1 busy' });
    await expect(retry).rejects.toThrow('-1 busy');
    await expect(retry).rejects.not.toBeInstanceOf(UnrecoverableError);
    const paused: number[] = [];
    await expect(applyVerdict({ kind: 'pause', reason: '45009', ms: 60_000 }, async (ms) => void paused.push(ms))).rejects.toThrow(
      Worker.RateLimitError().message,
    );
    expect(paused).toEqual([60_000]);
  });
});
