import { randomUUID } from 'node:crypto';
import type { Queue } from 'bullmq';
import { z } from 'zod';
import type { Config } from '../config/config';
import { findApp } from '../config/config';
import { ApiError, UnavailableError } from '../http/errors';
import type { Metrics } from '../ops/metrics';
import type { WecomApp } from '../wecom/app';
import { buildSendPayload } from '../wecom/message-payload';
import { hasMediaSource } from './media';
import { foldStatus, type MessageStatus, type MessageStore } from './message-store';
import { recipientsSchema, splitReaders, splitRecipients, type Recipients } from './recipients';
import type { SendRecipients } from '../wecom/message-payload';
import { enqueueParts, type SendJobData } from './send-queue';
import { MEDIA_MSGTYPES, MSGTYPES, RenderError, type EventTemplate, type Msgtype } from './templates';

export const sendRequestSchema = z
  .object({
    event: z.string().min(1).max(128),
    msgtype: z.enum(MSGTYPES).optional(),
    to: recipientsSchema,
    data: z.record(z.string(), z.unknown()).default({}),
    app: z.string().min(1).max(64).optional(),
    idempotencyKey: z.string().min(1).max(256).optional(),
    priority: z.enum(['high', 'normal', 'bulk']).optional(),
    /** The final status (sent/failed) is POSTed here, signed, with retries. */
    callbackUrl: z.url({ protocol: /^https?$/, error: 'must be an http(s) URL' }).max(2048).optional(),
  })
  .strict();

export type SendRequest = z.infer<typeof sendRequestSchema>;

/** A request rendered and split, ready to persist (or to show, for a preview). */
interface PreparedMessage {
  template: EventTemplate;
  app: WecomApp;
  msgtype: Msgtype;
  body: Record<string, unknown>;
  /** One message/send call each, with its own type and body (WeChat-plugin readers get text). */
  parts: { to: SendRecipients; msgtype: Msgtype; body: Record<string, unknown> }[];
}

export interface MessageServiceDeps {
  config: Pick<Config, 'apps' | 'defaultApp' | 'send' | 'wechatReaders'>;
  templates: Map<string, EventTemplate>;
  store: MessageStore;
  queue: Queue<SendJobData>;
  metrics: Metrics;
  /** How long accepting may take before the caller gets a 503 instead of a hang. */
  storeTimeoutMs?: number;
}

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise<T>((_, reject) => {
      timer = setTimeout(() => reject(new Error('timed out')), ms);
    }),
  ]);
}

/** Accepting a message: validate, render, persist, enqueue, answer. */
export class MessageService {
  constructor(private readonly deps: MessageServiceDeps) {}

  parse(body: unknown, idempotencyHeader?: string): SendRequest {
    const parsed = sendRequestSchema.safeParse(body);
    if (!parsed.success) throw ApiError.invalid(parsed.error.issues);
    return { ...parsed.data, idempotencyKey: parsed.data.idempotencyKey ?? idempotencyHeader };
  }

  prepare(request: SendRequest): PreparedMessage {
    const template = this.deps.templates.get(request.event);
    if (!template) throw new ApiError(404, 'unknown_event', `unknown event ${request.event} (GET /v1/events lists them)`);
    const app = findApp(this.deps.config, request.app);
    if (!app) throw new ApiError(404, 'unknown_app', `unknown app ${request.app ?? this.deps.config.defaultApp}`);
    const msgtype = request.msgtype ?? template.defaultMsgtype;
    if (!template.msgtypes.includes(msgtype)) {
      throw new ApiError(400, 'invalid_request', `event ${template.event} cannot be sent as ${msgtype}`, [
        { field: 'msgtype', message: `one of ${template.msgtypes.join(', ')}` },
      ]);
    }
    const body = this.render(template, msgtype, request.data);
    if (MEDIA_MSGTYPES.has(msgtype) && !hasMediaSource(body) && !body.media_id) {
      throw new ApiError(422, 'cannot_render', `a ${msgtype} message needs a file: give a URL or base64 content`, [{ field: 'data', message: 'no media url, base64 or media_id' }]);
    }
    const partsOf = (to: Recipients, type: Msgtype, typeBody: Record<string, unknown>) => splitRecipients(to).map((part) => ({ to: part, msgtype: type, body: typeBody }));
    // WeCom shows markdown in its own client only: members reading through the WeChat plugin get the text form.
    const readers = this.deps.config.wechatReaders;
    if (msgtype === 'markdown' && template.msgtypes.includes('text') && readers && request.to !== '@all') {
      const { wechat, others } = splitReaders(request.to, readers);
      if (wechat) {
        const text = this.render(template, 'text', request.data);
        return { template, app, msgtype, body, parts: [...(others ? partsOf(others, msgtype, body) : []), ...partsOf(wechat, 'text', text)] };
      }
    }
    return { template, app, msgtype, body, parts: partsOf(request.to, msgtype, body) };
  }

  private render(template: EventTemplate, msgtype: Msgtype, data: Record<string, unknown>): Record<string, unknown> {
    try {
      return template.render(msgtype, data);
    } catch (error) {
      if (!(error instanceof RenderError)) throw error;
      throw new ApiError(422, 'cannot_render', error.message, [{ field: error.field, message: error.message }]);
    }
  }

  /** The exact message/send bodies that would be sent; nothing is queued. */
  preview(request: SendRequest) {
    const prepared = this.prepare(request);
    const options = { agentId: prepared.app.agentId, duplicateCheckSeconds: this.deps.config.send.duplicateCheckSeconds };
    return {
      event: prepared.template.event,
      msgtype: prepared.msgtype,
      app: prepared.app.name,
      // A preview has no message id yet: the real interval differs per send (see duplicateCheckInterval).
      payloads: prepared.parts.map((p, part) => buildSendPayload(p.msgtype, p.body, p.to, { ...options, sendId: `preview_${part}` })),
      ...(MEDIA_MSGTYPES.has(prepared.msgtype) && hasMediaSource(prepared.body) ? { note: 'media is uploaded at send time; its media_id replaces "media"' } : {}),
    };
  }

  /** Persists the message and its send jobs before answering; a repeated idempotency key answers the first id and its current status. */
  async accept(request: SendRequest, requestId?: string): Promise<{ id: string; created: boolean; status: MessageStatus }> {
    const prepared = this.prepare(request);
    const callbackUrl = request.callbackUrl ?? prepared.template.callbackUrl;
    const id = randomUUID();
    const acceptedAt = Date.now();
    const timeout = this.deps.storeTimeoutMs ?? 2_000;
    let result: { id: string; created: boolean };
    try {
      result = await withTimeout(
        this.deps.store.create(
          { id, event: prepared.template.event, msgtype: prepared.msgtype, app: prepared.app.name, parts: prepared.parts.length, createdAt: acceptedAt, requestId, callbackUrl },
          request.idempotencyKey,
        ),
        timeout,
      );
    } catch {
      throw new UnavailableError();
    }
    const jobs: SendJobData[] = prepared.parts.map(({ to, msgtype, body }, part) => ({
      messageId: result.id,
      part,
      app: prepared.app.name,
      event: prepared.template.event,
      msgtype,
      body,
      to,
      requestId,
      acceptedAt,
      priority: request.priority ?? prepared.template.priority,
      ...(callbackUrl ? { notifyFinal: true } : {}),
    }));
    if (!result.created) return { ...result, status: await this.repeat(result.id, jobs) };
    try {
      await withTimeout(enqueueParts(this.deps.queue, jobs, this.deps.config.send), timeout);
    } catch {
      await this.deps.store.remove(id, request.idempotencyKey).catch(() => undefined);
      throw new UnavailableError();
    }
    this.deps.metrics.messagesAccepted.inc({ event: prepared.template.event, msgtype: prepared.msgtype });
    return { ...result, status: 'queued' };
  }

  /**
   * A repeat of an idempotency key answers the first message's current status (it may
   * be sent or recalled by now). If the first request died between persisting and
   * queueing (a crash, a lost Redis write), its id would never be sent: while no part
   * has been tried, the repeat queues the parts again. Job ids make this a no-op when
   * the jobs exist (also while the first request is still queueing them).
   */
  private async repeat(id: string, jobs: SendJobData[]): Promise<MessageStatus> {
    const parts = await this.deps.store.parts(id).catch(() => {
      throw new UnavailableError();
    });
    if (parts.length === jobs.length && parts.every((p) => p.status === 'queued' && p.attempts === 0)) {
      await enqueueParts(this.deps.queue, jobs, this.deps.config.send).catch(() => undefined);
    }
    return foldStatus(parts);
  }
}
