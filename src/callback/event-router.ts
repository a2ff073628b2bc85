import type { Logger } from 'pino';
import type { EventHandler, EventMatch, EventRule } from '../core';
import { describe, eventHeader, type CallbackEvent } from '../wecom/callback/event';

function matches(expected: string | string[] | undefined, actual: string | undefined): boolean {
  if (expected === undefined) return true;
  const wanted = (Array.isArray(expected) ? expected : [expected]).map((v) => v.toLowerCase());
  return actual !== undefined && wanted.includes(actual.toLowerCase());
}

function firstMatch(rules: EventRule[], event: CallbackEvent): EventRule | undefined {
  const header = eventHeader(event);
  return rules.find(
    ({ match, when }) =>
      matches(match.msgType, header.msgType) &&
      matches(match.event, header.event) &&
      matches(match.changeType, header.changeType) &&
      matches(match.eventKey, header.eventKey) &&
      (when?.(event) ?? true),
  );
}

/**
 * Dispatch as a table (STYLE.md, after WxJava's router): rules are tried in
 * order, the first match handles the event, a catch-all logs and acknowledges.
 * Flows hand in their rules at start-up (contacts, welcome, forwarding…).
 */
export class EventRouter {
  private readonly rules: EventRule[] = [];
  private readonly inlineRules: EventRule[] = [];

  /** Flows hand in their rules at start-up; each kind is tried in the order given. */
  constructor(
    private readonly logger: Logger,
    rules: EventRule[] = [],
  ) {
    for (const rule of rules) (rule.inline ? this.inlineRules : this.rules).push(rule);
  }

  /** Handled from the inbound queue, after WeCom got its answer. */
  on(name: string, match: EventMatch, handle: EventHandler): this {
    this.rules.push({ name, match, handle });
    return this;
  }

  /**
   * Handled inside the callback request, before WeCom gets its answer: for
   * handlers that only persist (a Redis transaction), so that what they record is
   * durable when WeCom is told "received", and in the order WeCom delivered it.
   * A failure answers 503 and WeCom retries the push.
   */
  inline(name: string, match: EventMatch, handle: EventHandler): this {
    this.inlineRules.push({ name, match, handle, inline: true });
    return this;
  }

  findInline(event: CallbackEvent): EventRule | undefined {
    return firstMatch(this.inlineRules, event);
  }

  find(event: CallbackEvent): EventRule | undefined {
    return firstMatch(this.rules, event);
  }

  /** Runs the first matching rule; answers its name, or 'unhandled'. */
  async dispatch(event: CallbackEvent): Promise<string> {
    const rule = this.find(event);
    if (!rule) {
      this.logger.info(describe(event), 'callback event has no handler; acknowledged');
      return 'unhandled';
    }
    await rule.handle(event);
    return rule.name;
  }
}
