import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { AutoReplies, AutoReplyTimeout, MATCHED_CHARS } from '../../src/callback/auto-reply';
import { ConfigError, loadConfig } from '../../src/config/load';
import type { CallbackEvent } from '../../src/wecom/callback/event';

const text = (content: string): CallbackEvent => ({
  app: 'default',
  receivedAt: 0,
  dedupeKey: 'k',
  fields: { MsgType: 'text', FromUserName: 'zhangsan', Content: content },
});

function problemsOf(autoReplies: unknown[]): string[] {
  const path = join(mkdtempSync(join(tmpdir(), 'auto-reply-')), 'gateway.json');
  writeFileSync(path, JSON.stringify({ autoReplies }));
  try {
    loadConfig({ GATEWAY_CONFIG: path });
    return [];
  } catch (error) {
    if (!(error instanceof ConfigError)) throw error;
    return error.problems;
  }
}

describe('auto-reply patterns at load', () => {
  it('when a regex pattern can backtrack catastrophically, then start-up refuses it with a line naming the rule', () => {
    const problems = problemsOf([
      { match: 'keyword', pattern: 'ping', reply: 'pong' },
      { match: 'regex', pattern: '^ack\\s+(\\d+)$', reply: 'ok' },
      { match: 'regex', pattern: '(a+)+$', reply: 'never' },
    ]);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(/: autoReplies\.2\.pattern: pattern can backtrack catastrophically/);
  });

  it('when a regex pattern does not compile, then the line says so (once)', () => {
    expect(problemsOf([{ match: 'regex', pattern: '(unclosed', reply: 'x' }])).toEqual([
      expect.stringMatching(/autoReplies\.0\.pattern: pattern is not a valid regular expression$/),
    ]);
  });

  it('when a keyword rule holds regex syntax, then it is a plain string and accepted', () => {
    expect(problemsOf([{ match: 'keyword', pattern: '(a+)+$', reply: 'x' }])).toEqual([]);
  });
});

describe('auto-reply matching', () => {
  it('when a message is longer than the matched part, then a regex sees only its first characters', () => {
    const replies = new AutoReplies([{ match: 'regex', pattern: 'needle', reply: 'found' }]);
    expect(replies.replyFor(text(`${'x'.repeat(MATCHED_CHARS - 6)}needle`))).toBe('found');
    expect(replies.replyFor(text(`${'x'.repeat(MATCHED_CHARS)}needle`))).toBeUndefined();
  });

  it('when a pattern safe-regex2 lets through is slow on a long message, then matching stops within its budget with the rule named', () => {
    // Polynomial backtracking: seconds on a few hundred characters, far longer on 2,048.
    const replies = new AutoReplies([
      { match: 'keyword', pattern: 'ping', reply: 'pong' },
      { match: 'regex', pattern: 'a*a*a*b', reply: 'never' },
    ]);
    const started = performance.now();
    let thrown: unknown;
    try {
      replies.replyFor(text(`${'a'.repeat(MATCHED_CHARS)}!`));
    } catch (error) {
      thrown = error;
    }
    expect(performance.now() - started).toBeLessThan(1_000);
    expect(thrown).toBeInstanceOf(AutoReplyTimeout);
    expect((thrown as AutoReplyTimeout).rule).toBe(1);
    // A linear pattern on the same message still answers.
    expect(new AutoReplies([{ match: 'regex', pattern: '^a+b?$', reply: 'yes' }]).replyFor(text(`${'a'.repeat(MATCHED_CHARS)}!`))).toBe(
      'yes',
    );
  });
});
