import { z } from 'zod';
import type { Caller } from '../http/auth';
import { ApiError } from '../http/errors';
import { escapeHtml } from '../ops/html';
import type { MessageService } from '../messages/message-service';
import type { SendRequest } from '../messages/send-request';
import type { EventTemplate } from '../messages/templates';
import type { Translate } from './locale';
import { previewHtml } from './preview';

/** What the playground posts: the event, type and data being tried, and where a send would go. */
const tryoutSchema = z
  .object({
    event: z.string().min(1),
    msgtype: z.string().min(1),
    data: z.unknown(),
    /** A test member's userid, or a robot's name. */
    recipient: z.string().max(64).default(''),
    robot: z.string().max(64).default(''),
  })
  .strict();

/** A field's sample value: the description's "e.g. '…'" when it has one, else the field's name. */
function sampleValue(field: { name: string; description?: string }): string {
  return /e\.g\. '([^']+)'/.exec(field.description ?? '')?.[1] ?? field.name;
}

/** What the playground opens with: the template's own example, else each required field's sample value. */
export function sampleData(template: EventTemplate): Record<string, unknown> {
  return template.example ?? Object.fromEntries(template.data.filter((f) => f.required).map((f) => [f.name, sampleValue(f)]));
}

/** The request a try-out stands for: to the test member, or to the chosen robot. */
function requestOf(service: MessageService, body: unknown) {
  const parsed = tryoutSchema.safeParse(body);
  if (!parsed.success)
    throw new ApiError(400, 'invalid_request', parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; '));
  const { event, msgtype, data, recipient, robot } = parsed.data;
  const to = robot ? { robots: [robot] } : { users: [recipient || 'playground'] };
  return service.parse({ event, msgtype, data, to });
}

/** One payload a request would send: to whom (`members`, `robot <name>`), the exact body, and what its recipients see. */
export interface PreviewedPayload {
  to: string;
  payload: Record<string, unknown>;
  html: string;
}

/**
 * A request as it would go out: the exact payloads (message/send for members,
 * webhook/send for each robot) with a WeCom-looking preview each. Nothing is queued.
 */
export async function previewPayloads(
  service: MessageService,
  request: SendRequest,
  caller: Caller,
): Promise<{ payloads: PreviewedPayload[]; note?: string }> {
  const preview = await service.preview(request, caller);
  const payloads = [
    ...preview.payloads.map((payload) => ({ to: 'members', payload })),
    ...(preview.robots ?? []).flatMap((r) => r.payloads.map((payload) => ({ to: `robot ${r.robot}`, payload }))),
  ];
  return { payloads: payloads.map((p) => ({ ...p, html: previewHtml(p.payload) })), ...(preview.note ? { note: preview.note } : {}) };
}

/** What a try-out renders as: its request's payloads and previews (previewPayloads). */
export async function renderTryout(service: MessageService, body: unknown, caller: Caller) {
  return previewPayloads(service, requestOf(service, body), caller);
}

/** Sends the try-out for real, only to its test member (or robot): the explicit button. */
export async function sendTryout(service: MessageService, body: unknown, caller: Caller, requestId: string, t: Translate) {
  const parsed = tryoutSchema.safeParse(body);
  if (parsed.success && !parsed.data.robot && !parsed.data.recipient)
    throw new ApiError(422, 'no_recipient', t('playground.noRecipient'), [
      { field: 'recipient', message: t('playground.noRecipientField') },
    ]);
  return service.accept(requestOf(service, body), { caller, requestId });
}

export function playgroundBody(basePath: string, templates: EventTemplate[], robots: string[], t: Translate): string {
  const events = templates.map(
    (tpl) =>
      `<option value="${escapeHtml(tpl.event)}" data-msgtypes="${escapeHtml(tpl.msgtypes.join(' '))}" ` +
      `data-default="${escapeHtml(tpl.defaultMsgtype)}" data-sample="${escapeHtml(JSON.stringify(sampleData(tpl)))}">` +
      `${escapeHtml(tpl.event)}</option>`,
  );
  const text = (key: Parameters<Translate>[0], vars?: Record<string, string>) => escapeHtml(t(key, vars));
  const urls = `data-render="${basePath}/playground/render" data-send="${basePath}/playground/send" data-messages="${basePath}/messages/"`;
  const robotOptions = robots.map((r) => `<option value="${escapeHtml(r)}">${text('js.robot', { name: r })}</option>`).join('');
  const output =
    `<div class="output"><div id="errors" class="errors" role="alert"></div>` +
    `<h2>${text('playground.preview')}</h2><div id="preview"></div><h2>${text('playground.payload')}</h2><div id="payload"></div></div>`;
  return `<p class="meta">${text('playground.intro')}</p>
<form id="playground" class="playground" ${urls}>
<div class="controls">
<label>${text('playground.event')} <select name="event">${events.join('')}</select></label>
<label>${text('playground.type')} <select name="msgtype"></select></label>
<label>${text('playground.as')} <select name="robot"><option value="">${text('js.appMessage')}</option>${robotOptions}</select></label>
<label>${text('playground.data')}<textarea name="data" rows="12" spellcheck="false"></textarea></label>
<label>${text('playground.recipient')} <input name="recipient" placeholder="${text('playground.recipientHint')}"></label>
<button type="button" id="send">${text('playground.send')}</button> <span id="sent" role="status"></span>
</div>
${output}
</form>`;
}
