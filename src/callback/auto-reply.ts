import { createContext, Script } from 'node:vm';
import Handlebars from 'handlebars';
import type { AutoReplyRule } from './callback-config';
import { memberMessage, type CallbackEvent } from '../wecom/callback/event';

interface CompiledRule {
  app?: string;
  test: (content: string) => boolean;
  render: (context: Record<string, unknown>) => string;
}

/** A regex rule sees at most this much of a message: ample for a keyword, and it bounds the work of any pattern. */
export const MATCHED_CHARS = 2_048;
/**
 * safe-regex2 refuses nested quantifiers at load (file-schema.ts), but not every slow
 * pattern: `a*a*a*b` passes it and takes seconds on a few hundred characters. So each
 * regex test also runs under a time budget, which V8 enforces even inside a backtracking
 * match. A sane pattern on 2,048 characters takes well under a millisecond; the margin
 * is for a loaded machine, where a first match (compiling the regex) can take tens.
 */
const MATCH_BUDGET_MS = 100;

/** A regex rule that ran out of its time budget: the rule's position in autoReplies. */
export class AutoReplyTimeout extends Error {
  constructor(readonly rule: number) {
    super(`autoReplies.${rule}.pattern ran out of time`);
  }
}

const matchContext = createContext({ pattern: /$^/, content: '' });
const runMatch = new Script('pattern.test(content)');

function boundedTest(rule: number, pattern: RegExp, content: string): boolean {
  matchContext.pattern = pattern;
  matchContext.content = content.slice(0, MATCHED_CHARS);
  try {
    return runMatch.runInContext(matchContext, { timeout: MATCH_BUDGET_MS }) === true;
  } catch {
    // The budget ran out (or V8's regex stack did): either way the pattern is too costly.
    throw new AutoReplyTimeout(rule);
  }
}

/**
 * Keyword auto-replies for text messages, answered synchronously in the
 * callback response (a passive reply must be computed inside WeCom's 5 s, so
 * rules are compiled once and matching is a string test).
 */
export class AutoReplies {
  private readonly rules: CompiledRule[];

  constructor(rules: AutoReplyRule[]) {
    const hb = Handlebars.create();
    this.rules = rules.map((rule, i) => {
      const pattern = rule.match === 'regex' ? new RegExp(rule.pattern) : undefined;
      return {
        app: rule.app,
        test:
          rule.match === 'exact'
            ? (content) => content.trim() === rule.pattern
            : rule.match === 'keyword'
              ? (content) => content.includes(rule.pattern)
              : (content) => boundedTest(i, pattern!, content),
        // Reply text is plain text to WeCom, not HTML: no escaping.
        render: hb.compile(rule.reply, { noEscape: true }),
      };
    });
  }

  /** The reply text for a user's text message, or undefined when no rule matches; AutoReplyTimeout when a pattern ran out of time. */
  replyFor(event: CallbackEvent): string | undefined {
    const message = memberMessage(event);
    if (message.msgType !== 'text') return undefined;
    const content = message.content ?? '';
    const rule = this.rules.find((r) => (r.app === undefined || r.app === event.app) && r.test(content));
    return rule?.render({ content, fromUser: message.fromUser, app: event.app });
  }
}
