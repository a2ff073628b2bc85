import type { Caller } from '../http/auth';
import { Acceptance, type AcceptContext, type AcceptDeps, type Accepted } from './accept';
import type { RenderedMessage } from './prepare-rendered';
import { preview } from './preview';
import { EventRenderer } from './renderer';
import { authorize, authorizeChats, parseSendRequest, type SendRequest } from './send-request';
import type { EventTemplate, Msgtype } from './templates';

export type MessageServiceDeps = AcceptDeps;

/**
 * The messages flow as the routes, alerts, console and extensions see it: one object
 * built once (wire.ts). Each method is a room of its own: send-request.ts (parse,
 * authorize), accept.ts, preview.ts, renderer.ts.
 */
export class MessageService {
  private readonly acceptance: Acceptance;
  private readonly renderer: EventRenderer;

  constructor(private readonly deps: MessageServiceDeps) {
    this.acceptance = new Acceptance(deps);
    this.renderer = new EventRenderer(deps.templates);
  }

  parse(body: unknown, idempotencyHeader?: string): SendRequest {
    return parseSendRequest(body, idempotencyHeader);
  }

  /** A restricted key's scope, checked before anything is looked up (send-request.ts). */
  authorize(request: SendRequest, caller: Caller | undefined): void {
    authorize(request, caller, this.deps.config.defaultApp);
  }

  /** Who may send to the chats a request names; public for the alert webhooks, which check before storm control. */
  authorizeChats(request: SendRequest, caller: Caller | undefined, configuredChats?: string[]): Promise<void> {
    return authorizeChats(request, caller, this.deps, configuredChats);
  }

  template(event: string): EventTemplate | undefined {
    return this.renderer.template(event);
  }

  renderBody(event: string, msgtype: Msgtype, data: Record<string, unknown>): Record<string, unknown> {
    return this.renderer.renderBody(event, msgtype, data);
  }

  preview(request: SendRequest, caller?: Caller) {
    return preview(request, caller, this.deps);
  }

  accept(request: SendRequest, context?: AcceptContext): Promise<Accepted> {
    return this.acceptance.accept(request, context);
  }

  /** A message that comes rendered (WeCom's own bodies, through /cgi-bin/): no template, the same pipeline. */
  acceptRendered(message: RenderedMessage, context?: AcceptContext): Promise<Accepted> {
    return this.acceptance.acceptRendered(message, context);
  }
}
