import { ApiError } from '../http/errors';
import { RenderError } from './template-body';
import type { EventTemplate, Msgtype } from './templates';

/** A template rendered with a caller's data; data it cannot take is the caller's mistake: 422 naming the field. */
export function renderTemplate(
  template: EventTemplate,
  msgtype: Msgtype,
  data: Record<string, unknown>,
  options?: { raw?: boolean },
): Record<string, unknown> {
  try {
    return template.render(msgtype, data, options);
  } catch (error) {
    if (!(error instanceof RenderError)) throw error;
    throw new ApiError(422, 'cannot_render', error.message, [{ field: error.field, message: error.message }]);
  }
}

/** Events rendered outside a send: what the alert cards and their updates read. */
export class EventRenderer {
  constructor(private readonly templates: ReadonlyMap<string, EventTemplate>) {}

  /** An event's template, for flows that look at what it offers (alert cards, escalation levels). */
  template(event: string): EventTemplate | undefined {
    return this.templates.get(event);
  }

  /** An event's body as members get it, within WeCom's limits: what a card update sends. */
  renderBody(event: string, msgtype: Msgtype, data: Record<string, unknown>): Record<string, unknown> {
    const template = this.template(event);
    if (!template) throw new ApiError(404, 'unknown_event', `unknown event ${event}`);
    return renderTemplate(template, msgtype, data);
  }
}
