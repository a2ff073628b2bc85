import { Writable } from 'node:stream';
import { z } from 'zod';
import { MAX_RECIPIENTS, recipientsSchema } from '../../src/messages/recipients';
import { createLogger, withoutPersonalData } from '../../src/ops/logger';
import { createMetrics, QUEUE_GAUGES_MAX_AGE_MS } from '../../src/ops/metrics';

const PERSONAL = ['13912345678', 'pii@example.com', 'pii@biz.example', '010-5555-0101', 'No. 1 Secret Road', '13800000000'];

function captured(): { lines: () => Record<string, unknown>[]; text: () => string; stream: Writable } {
  const chunks: string[] = [];
  const stream = new Writable({ write: (chunk, _e, done) => (chunks.push(chunk.toString()), done()) });
  const text = () => chunks.join('');
  return {
    stream,
    text,
    lines: () =>
      text()
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

describe('log redaction of personal fields', () => {
  it('when a contact change is logged with its user nested deep (JSON, XML and camelCase names), then no mobile, email, biz mail, telephone or address is printed, and the rest is', () => {
    const out = captured();
    const change = {
      id: 'chg-1',
      type: 'user',
      after: {
        userId: 'pii01',
        name: 'Zhang San',
        mobile: PERSONAL[0],
        email: PERSONAL[1],
        bizMail: PERSONAL[2],
        telephone: PERSONAL[3],
        address: PERSONAL[4],
      },
      raw: { UserID: 'pii01', Mobile: PERSONAL[0], Email: PERSONAL[1], BizMail: PERSONAL[2], Telephone: PERSONAL[3], Address: PERSONAL[4] },
    };
    const customer = {
      external_contact: { external_userid: 'wmCust', name: 'Li Si' },
      follow_user: [{ userid: 'sales01', remark_mobiles: [PERSONAL[5]], biz_mail: PERSONAL[2] }],
    };
    createLogger('info', out.stream).info(
      { sink: 'crm', batch: { changes: [change], nested: { deeper: { still: { customer } } } } },
      'contact change recorded',
    );
    const text = out.text();
    for (const value of PERSONAL) expect(text).not.toContain(value);
    expect(text).toContain('Zhang San');
    expect(text).toContain('wmCust');
    const [line] = out.lines();
    const logged = (line.batch as { changes: (typeof change)[] }).changes[0];
    expect(logged.after).toMatchObject({ userId: 'pii01', mobile: '[redacted]', bizMail: '[redacted]', address: '[redacted]' });
    expect(logged.raw).toMatchObject({ Mobile: '[redacted]', BizMail: '[redacted]', Telephone: '[redacted]' });
  });

  it('when an object is logged, then the caller still holds its personal fields (the log copies, it does not edit)', () => {
    const user = { userId: 'u1', mobile: PERSONAL[0] };
    const logged = { change: { after: user } };
    createLogger('info', captured().stream).info(logged, 'x');
    expect(logged.change.after).toBe(user);
    expect(user.mobile).toBe(PERSONAL[0]);
  });

  it('when an object refers to itself, then it is cut at the cycle and its personal field is still redacted', () => {
    const out = captured();
    const user: Record<string, unknown> = { userId: 'u1', mobile: PERSONAL[0] };
    user.self = { back: user };
    createLogger('info', out.stream).info({ user }, 'cycle');
    expect(out.text()).not.toContain(PERSONAL[0]);
    expect(out.lines()[0].user).toMatchObject({ userId: 'u1', mobile: '[redacted]', self: { back: '[Circular]' } });
  });

  it('when a log object is deeper than any real one, then what is below the limit is cut rather than printed unredacted', () => {
    let deep: Record<string, unknown> = { mobile: PERSONAL[0] };
    for (let i = 0; i < 10_000; i++) deep = { next: deep };
    expect(JSON.stringify(withoutPersonalData(deep))).not.toContain(PERSONAL[0]);
  });

  it('when nothing personal is logged, then the very same object goes to pino (no copy)', () => {
    const plain = { a: { b: [1, { c: 'd' }] } };
    expect(withoutPersonalData(plain)).toBe(plain);
  });
});

describe('queue gauges', () => {
  it('when /metrics is scraped many times within the window, at once or one after another, then the queues are read once; after the window, once more', async () => {
    let clock = 1_000_000;
    const metrics = createMetrics(() => clock);
    let readings = 0;
    metrics.addQueueCollector(async () => {
      readings++;
      await new Promise((r) => setTimeout(r, 20));
      metrics.queueJobs.set({ queue: 'send', state: 'waiting' }, readings);
    });
    await Promise.all(Array.from({ length: 5 }, () => metrics.registry.metrics()));
    for (let i = 0; i < 5; i++) {
      clock += 500;
      await metrics.registry.metrics();
    }
    expect(readings).toBe(1);
    clock += QUEUE_GAUGES_MAX_AGE_MS;
    const text = await metrics.registry.metrics();
    expect(readings).toBe(2);
    expect(text).toContain('wecom_gateway_queue_jobs{queue="send",state="waiting"} 2');
  });

  it('when a reading fails, then the scrape still answers with the other metrics', async () => {
    const metrics = createMetrics();
    metrics.addQueueCollector(async () => {
      throw new Error('redis away');
    });
    await expect(metrics.registry.metrics()).resolves.toContain('wecom_gateway_http_requests_total');
  });
});

describe('recipients per request', () => {
  const ids = (n: number, prefix = 'u') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);
  const problems = (to: unknown) => {
    const parsed = z.object({ to: recipientsSchema }).safeParse({ to });
    return parsed.success ? [] : parsed.error.issues.map((i) => ({ field: i.path.join('.'), message: i.message }));
  };

  it(`when users, parties and tags add up to ${MAX_RECIPIENTS}, then they are accepted`, () => {
    expect(
      problems({ users: ids(MAX_RECIPIENTS - 200), parties: ids(100, '').map((_, i) => i), tags: ids(100, '').map((_, i) => String(i)) }),
    ).toEqual([]);
  });

  it('when they add up to one more, then the request is refused naming to', () => {
    expect(
      problems({ users: ids(MAX_RECIPIENTS - 200), parties: ids(100, '').map((_, i) => i), tags: ids(101, '').map((_, i) => i) }),
    ).toEqual([{ field: 'to', message: `at most ${MAX_RECIPIENTS} users, parties and tags together` }]);
  });

  it('when one list alone is over, then the request is refused naming to', () => {
    expect(problems({ users: ids(MAX_RECIPIENTS + 1) })).toEqual([
      { field: 'to', message: `at most ${MAX_RECIPIENTS} users, parties and tags together` },
    ]);
  });
});
