import Handlebars from 'handlebars';
import type { AutoReplyRule } from './callback-config';
import { memberMessage, type CallbackEvent } from '../wecom/callback-event';

interface CompiledRule {
  app?: string;
  test: (content: string) => boolean;
  render: (context: Record<string, unknown>) => string;
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
    this.rules = rules.map((rule) => {
      const pattern = rule.match === 'regex' ? new RegExp(rule.pattern) : undefined;
      return {
        app: rule.app,
        test:
          rule.match === 'exact'
            ? (content) => content.trim() === rule.pattern
            : rule.match === 'keyword'
              ? (content) => content.includes(rule.pattern)
              : (content) => pattern!.test(content),
        // Reply text is plain text to WeCom, not HTML: no escaping.
        render: hb.compile(rule.reply, { noEscape: true }),
      };
    });
  }

  /** The reply text for a user's text message, or undefined when no rule matches. */
  replyFor(event: CallbackEvent): string | undefined {
    const message = memberMessage(event);
    if (message.msgType !== 'text') return undefined;
    const content = message.content ?? '';
    const rule = this.rules.find((r) => (r.app === undefined || r.app === event.app) && r.test(content));
    return rule?.render({ content, fromUser: message.fromUser, app: event.app });
  }
}
