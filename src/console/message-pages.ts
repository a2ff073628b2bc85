import type { Queue } from 'bullmq';
import type { WecomApp } from '../wecom/app';
import { escapeHtml } from '../ops/html';
import { partPayloads } from '../messages/message-service';
import type { AttemptRecord, MessageStatus, MessageStore, MessageView, RecipientList } from '../messages/message-store';
import { destinationOf, sendIdOf, type SendJobData } from '../messages/send-queue';
import { actionButton, json, table } from './page';
import { previewHtml } from './preview';

export const STATUSES: MessageStatus[] = ['queued', 'deferred', 'sending', 'sent', 'failed', 'recalled'];
/** How far back the list's filters look: the store keeps the latest 500 ids. */
const LISTED = 500;

export interface MessageFilter {
  status?: string;
  event?: string;
  app?: string;
  recipient?: string;
}

export interface MessagePagesDeps {
  store: MessageStore;
  sendQueue: Queue<SendJobData>;
  findApp: (name: string) => WecomApp | undefined;
  duplicateCheckSeconds: number;
}

const time = (iso: string | number) => escapeHtml(new Date(iso).toISOString().replace('T', ' ').replace(/\.\d+Z$/, 'Z'));

/** Where the message went: members, and each robot and chat with its own status. */
function destinations(m: MessageView): string {
  if (!m.deliveries) return 'members';
  return [...new Set(m.deliveries.map((d) => `${d.to}${d.to === 'members' ? '' : ` (${d.status})`}`))].join(', ');
}

function matches(m: MessageView, filter: MessageFilter): boolean {
  const recipient = filter.recipient?.trim().toLowerCase();
  return (
    (!filter.status || m.status === filter.status) &&
    (!filter.event || m.event === filter.event) &&
    (!filter.app || m.app === filter.app) &&
    (!recipient || (m.recipients ?? '').toLowerCase().split(/[\s|;]+/).includes(recipient))
  );
}

export function messageRow(basePath: string, m: MessageView): string {
  const error = m.error ? `${m.error.errcode} ${m.error.hint ?? m.error.errmsg}` : '';
  return `<tr class="${escapeHtml(m.status)}"><td><a href="${basePath}/messages/${escapeHtml(m.id)}"><code>${escapeHtml(m.id)}</code></a></td><td>${escapeHtml(m.event)}</td><td>${escapeHtml(m.msgtype)}</td><td>${escapeHtml(m.app)}</td><td class="to">${escapeHtml(m.recipients ?? '')}<br><small>${escapeHtml(destinations(m))}</small></td><td class="status">${escapeHtml(m.status)}</td><td>${m.attempts}</td><td>${m.parts}</td><td>${time(m.createdAt)}</td><td>${escapeHtml(error)}</td></tr>`;
}

export function messagesTable(basePath: string, messages: MessageView[]): string {
  return table(['id', 'event', 'type', 'app', 'to', 'status', 'attempts', 'parts', 'accepted', 'last error'], messages.map((m) => messageRow(basePath, m)), 'No messages match.');
}

function options(values: string[], chosen: string | undefined, any: string): string {
  return [`<option value="">${escapeHtml(any)}</option>`, ...values.map((v) => `<option${v === chosen ? ' selected' : ''}>${escapeHtml(v)}</option>`)].join('');
}

/** The latest messages, filtered by status, event, app and recipient (a user, party, tag, robot or chat named in `to`). */
export async function messagesPage(deps: MessagePagesDeps, basePath: string, filter: MessageFilter, choices: { events: string[]; apps: string[] }): Promise<string> {
  const messages = (await deps.store.recent(LISTED)).filter((m) => matches(m, filter));
  const form = `<form method="get" class="filters" action="${basePath}/messages">
<label>Status <select name="status">${options(STATUSES, filter.status, 'any')}</select></label>
<label>Event <select name="event">${options(choices.events, filter.event, 'any')}</select></label>
<label>App <select name="app">${options(choices.apps, filter.app, 'any')}</select></label>
<label>Recipient <input name="recipient" value="${escapeHtml(filter.recipient ?? '')}" placeholder="userid, party, robot…"></label>
<button type="submit">Filter</button> <a href="${basePath}/messages">clear</a></form>`;
  return `${form}<p class="meta">${messages.length} of the latest ${LISTED} · newest first · refreshes every 10 s</p>${messagesTable(basePath, messages)}`;
}

function recipientList(list: RecipientList): string {
  return (['users', 'parties', 'tags'] as const)
    .filter((k) => list[k].length > 0)
    .map((k) => `<li>${k}: ${list[k].map((v) => `<code>${escapeHtml(v)}</code>`).join(' ')}</li>`)
    .join('');
}

function attemptRows(attempts: AttemptRecord[]): string[] {
  return attempts.map(
    (a) =>
      `<tr class="${a.outcome}"><td>${time(a.at)}</td><td>${a.part}</td><td>${a.attempt}</td><td>${escapeHtml(a.to)}</td><td class="status">${escapeHtml(a.outcome)}</td><td>${a.ms} ms</td><td>${a.error ? a.error.errcode : ''}</td><td>${escapeHtml(a.error?.errmsg)}</td><td class="hint">${escapeHtml(a.error?.hint)}</td></tr>`,
  );
}

/** A part as it is queued: its preview and exact payloads, while BullMQ keeps the job (sent: an hour; failed: a week). */
async function partSection(deps: MessagePagesDeps, view: MessageView, part: number): Promise<string> {
  const job = await deps.sendQueue.getJob(sendIdOf({ messageId: view.id, part }));
  const state = view.deliveries?.[part]?.status;
  const heading = `<h3>Part ${part + 1}${job ? ` · ${escapeHtml(destinationOf(job.data))}` : ''}${state ? ` · ${escapeHtml(state)}` : ''}</h3>`;
  const app = job && deps.findApp(job.data.app);
  if (!job || !app) return `${heading}<p class="meta">The payload is no longer kept: a sent part's job stays an hour, a failed one a week.</p>`;
  const payloads = partPayloads(job.data, { agentId: app.agentId, duplicateCheckSeconds: deps.duplicateCheckSeconds, sendId: sendIdOf(job.data) });
  return `${heading}<div class="part">${payloads.map((p) => `<div class="pair"><div>${previewHtml(p)}</div><div>${json(p)}</div></div>`).join('')}</div>`;
}

/** One message: its recipients, a preview and the payload of each part, every attempt, and recall. */
export async function messagePage(deps: MessagePagesDeps, basePath: string, view: MessageView): Promise<string> {
  const attempts = await deps.store.attempts(view.id);
  const parts = await Promise.all(Array.from({ length: view.parts }, (_, i) => partSection(deps, view, i)));
  const recallable = view.status !== 'recalled' && view.status !== 'failed';
  const facts = [
    ['status', `<b class="status ${escapeHtml(view.status)}">${escapeHtml(view.status)}</b>`],
    ['event', escapeHtml(view.event)],
    ['type', escapeHtml(view.msgtype)],
    ['app', escapeHtml(view.app)],
    ['to', escapeHtml(view.recipients ?? '')],
    ['created by', escapeHtml(view.createdBy)],
    ['accepted', time(view.createdAt)],
    ['updated', time(view.updatedAt)],
    ...(view.msgid ? [['msgid', `<code>${escapeHtml((view.msgids ?? [view.msgid]).join(' '))}</code>`]] : []),
    ...(view.deferred ? [['deferred', `until ${time(view.deferred.until)}: ${escapeHtml(view.deferred.reason)}`]] : []),
    ...(view.error ? [['last error', `${view.error.errcode} ${escapeHtml(view.error.errmsg)}${view.error.hint ? `<br><span class="hint">${escapeHtml(view.error.hint)}</span>` : ''}`]] : []),
  ];
  return `<dl class="facts">${facts.map(([k, v]) => `<dt>${k}</dt><dd>${v}</dd>`).join('')}</dl>
${view.invalid ? `<section class="invalid"><h2>Invalid recipients</h2><p class="meta">WeCom did not deliver to these (unknown, left, or outside the app's visible range).</p><ul>${recipientList(view.invalid)}</ul></section>` : ''}
${recallable ? `<p>${actionButton(`${basePath}/messages/${view.id}/recall`, 'Recall', 'danger')} <span class="meta">takes back delivered parts (WeCom allows 24 h) and cancels waiting ones</span></p>` : ''}
<section><h2>Attempts</h2>${table(['ended', 'part', 'attempt', 'to', 'outcome', 'took', 'errcode', 'errmsg', 'hint'], attemptRows(attempts), 'No attempt yet.')}</section>
<section><h2>Parts</h2>${parts.join('')}</section>`;
}
