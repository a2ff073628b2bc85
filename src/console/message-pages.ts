import type { Queue } from 'bullmq';
import type { WecomApp } from '../wecom/app';
import { escapeHtml } from '../ops/html';
import { partPayloads } from '../messages/prepare';
import type { AttemptRecord, MessageStatus, MessageView, RecipientList } from '../messages/message-record';
import type { MessageStore } from '../messages/message-store';
import { destinationOf, sendIdOf, type SendJobData } from '../messages/send-queue';
import type { ConsoleLocale, Translate } from './locale';
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

/** `members`, `robot ops`, `chat ops-room` (as the store and send-queue.ts name them) in the reader's words. */
function destinationText(to: string, t: Translate): string {
  if (to === 'members') return t('messages.members');
  const [kind, ...name] = to.split(' ');
  return kind === 'robot'
    ? t('messages.robot', { name: name.join(' ') })
    : kind === 'chat'
      ? t('messages.chat', { name: name.join(' ') })
      : to;
}

const RECIPIENT_KINDS = {
  users: 'message.users',
  parties: 'message.parties',
  tags: 'message.tags',
  robots: 'message.robots',
  chats: 'message.chats',
} as const;

/** `users a|b; robots ops` (recipientsSummary, in the API's words) with each kind in the reader's words. */
function recipientsText(summary: string | undefined, t: Translate): string {
  return (summary ?? '').replace(
    /(^|; )(users|parties|tags|robots|chats) /g,
    (_m, lead: string, kind: keyof typeof RECIPIENT_KINDS) => `${lead}${t(RECIPIENT_KINDS[kind])} `,
  );
}

/** Where the message went: members, and each robot and chat with its own status. */
function destinations(m: MessageView, t: Translate): string {
  if (!m.deliveries) return t('messages.members');
  return [
    ...new Set(m.deliveries.map((d) => `${destinationText(d.to, t)}${d.to === 'members' ? '' : ` (${t(`status.${d.status}`)})`}`)),
  ].join(', ');
}

function matches(m: MessageView, filter: MessageFilter): boolean {
  const recipient = filter.recipient?.trim().toLowerCase();
  return (
    (!filter.status || m.status === filter.status) &&
    (!filter.event || m.event === filter.event) &&
    (!filter.app || m.app === filter.app) &&
    (!recipient ||
      (m.recipients ?? '')
        .toLowerCase()
        .split(/[\s|;]+/)
        .includes(recipient))
  );
}

export function messageRow(basePath: string, m: MessageView, { t, time }: ConsoleLocale): string {
  const error = m.error ? `${m.error.errcode} ${m.error.hint ?? m.error.errmsg}` : '';
  return (
    `<tr class="${escapeHtml(m.status)}"><td><a href="${basePath}/messages/${escapeHtml(m.id)}">` +
    `<code>${escapeHtml(m.id)}</code></a></td><td>${escapeHtml(m.event)}</td><td>${escapeHtml(m.msgtype)}</td>` +
    `<td>${escapeHtml(m.app)}</td><td class="to">${escapeHtml(recipientsText(m.recipients, t))}<br>` +
    `<small>${escapeHtml(destinations(m, t))}</small></td><td class="status">${escapeHtml(t(`status.${m.status}`))}</td>` +
    `<td>${m.attempts}</td><td>${m.parts}</td><td>${escapeHtml(time(m.createdAt))}</td><td>${escapeHtml(error)}</td></tr>`
  );
}

export function messagesTable(basePath: string, messages: MessageView[], locale: ConsoleLocale): string {
  const { t } = locale;
  const headers = [
    t('messages.id'),
    t('messages.event'),
    t('messages.type'),
    t('messages.app'),
    t('messages.to'),
    t('messages.status'),
    t('messages.attempts'),
    t('messages.parts'),
    t('messages.accepted'),
    t('messages.lastError'),
  ];
  return table(
    headers,
    messages.map((m) => messageRow(basePath, m, locale)),
    t('messages.none'),
  );
}

/** A filter's choices: `[value, label]` each, after "any". */
function options(values: [string, string][], chosen: string | undefined, any: string): string {
  return [
    `<option value="">${escapeHtml(any)}</option>`,
    ...values.map(
      ([value, label]) => `<option value="${escapeHtml(value)}"${value === chosen ? ' selected' : ''}>${escapeHtml(label)}</option>`,
    ),
  ].join('');
}
const named = (values: string[]): [string, string][] => values.map((v) => [v, v]);

/** The latest messages, filtered by status, event, app and recipient (a user, party, tag, robot or chat named in `to`). */
export async function messagesPage(
  deps: MessagePagesDeps,
  basePath: string,
  filter: MessageFilter,
  choices: { events: string[]; apps: string[] },
  locale: ConsoleLocale,
): Promise<string> {
  const { t } = locale;
  const messages = (await deps.store.recent(LISTED)).filter((m) => matches(m, filter));
  const statuses = STATUSES.map((s): [string, string] => [s, t(`status.${s}`)]);
  const select = (name: 'status' | 'event' | 'app', values: [string, string][]) =>
    `<label>${escapeHtml(t(`filter.${name}`))} <select name="${name}">${options(values, filter[name], t('filter.any'))}</select></label>`;
  const recipient =
    `<label>${escapeHtml(t('filter.recipient'))} <input name="recipient" value="${escapeHtml(filter.recipient ?? '')}" ` +
    `placeholder="${escapeHtml(t('filter.recipientHint'))}"></label>`;
  const clear = `<a href="${basePath}/messages">${escapeHtml(t('filter.clear'))}</a>`;
  const form = `<form method="get" class="filters" action="${basePath}/messages">
${select('status', statuses)}
${select('event', named(choices.events))}
${select('app', named(choices.apps))}
${recipient}
<button type="submit">${escapeHtml(t('filter.submit'))}</button> ${clear}</form>`;
  const count = t('messages.count', { shown: messages.length, kept: LISTED });
  return `${form}<p class="meta">${escapeHtml(count)}</p>${messagesTable(basePath, messages, locale)}`;
}

function recipientList(list: RecipientList, t: Translate): string {
  return (['users', 'parties', 'tags'] as const)
    .filter((k) => list[k].length > 0)
    .map((k) => `<li>${escapeHtml(t(`message.${k}`))}: ${list[k].map((v) => `<code>${escapeHtml(v)}</code>`).join(' ')}</li>`)
    .join('');
}

function attemptRows(attempts: AttemptRecord[], { t, time }: ConsoleLocale): string[] {
  return attempts.map(
    (a) =>
      `<tr class="${a.outcome}"><td>${escapeHtml(time(a.at))}</td><td>${a.part}</td><td>${a.attempt}</td>` +
      `<td>${escapeHtml(destinationText(a.to, t))}</td><td class="status">${escapeHtml(t(`status.${a.outcome}`))}</td>` +
      `<td>${a.ms} ms</td><td>${a.error ? a.error.errcode : ''}</td><td>${escapeHtml(a.error?.errmsg)}</td>` +
      `<td class="hint">${escapeHtml(a.error?.hint)}</td></tr>`,
  );
}

/** A part as it is queued: its preview and exact payloads, while BullMQ keeps the job (sent: an hour; failed: a week). */
async function partSection(deps: MessagePagesDeps, view: MessageView, part: number, t: Translate): Promise<string> {
  const job = await deps.sendQueue.getJob(sendIdOf({ messageId: view.id, part }));
  const state = view.deliveries?.[part]?.status;
  const where = job ? ` · ${escapeHtml(destinationText(destinationOf(job.data), t))}` : '';
  const status = state ? ` · ${escapeHtml(t(`status.${state}`))}` : '';
  const heading = `<h3>${escapeHtml(t('message.part', { n: part + 1 }))}${where}${status}</h3>`;
  const app = job && deps.findApp(job.data.app);
  if (!job || !app) return `${heading}<p class="meta">${escapeHtml(t('message.payloadGone'))}</p>`;
  const payloads = partPayloads(job.data, {
    agentId: app.agentId,
    duplicateCheckSeconds: deps.duplicateCheckSeconds,
    sendId: sendIdOf(job.data),
  });
  const pairs = payloads.map((p) => `<div class="pair"><div>${previewHtml(p)}</div><div>${json(p)}</div></div>`);
  return `${heading}<div class="part">${pairs.join('')}</div>`;
}

/** The messages that carried this one's parts (coalesced), each a link. */
function carriers(basePath: string, coalesced: NonNullable<MessageView['coalesced']>): string {
  return coalesced
    .map(
      ({ coalescedInto: c }) =>
        `<a href="${basePath}/messages/${escapeHtml(c.messageId)}"><code>${escapeHtml(c.messageId)}</code></a> #${c.part + 1}`,
    )
    .join('<br>');
}

/** One message: its recipients, a preview and the payload of each part, every attempt, and recall. */
export async function messagePage(deps: MessagePagesDeps, basePath: string, view: MessageView, locale: ConsoleLocale): Promise<string> {
  const { t, time } = locale;
  const attempts = await deps.store.attempts(view.id);
  const parts = await Promise.all(Array.from({ length: view.parts }, (_, i) => partSection(deps, view, i, t)));
  const recallable = view.status !== 'recalled' && view.status !== 'failed';
  const facts = [
    [t('messages.status'), `<b class="status ${escapeHtml(view.status)}">${escapeHtml(t(`status.${view.status}`))}</b>`],
    [t('messages.event'), escapeHtml(view.event)],
    [t('messages.type'), escapeHtml(view.msgtype)],
    [t('messages.app'), escapeHtml(view.app)],
    [t('messages.to'), escapeHtml(recipientsText(view.recipients, t))],
    [t('message.createdBy'), escapeHtml(view.createdBy)],
    [t('messages.accepted'), escapeHtml(time(view.createdAt))],
    [t('message.updated'), escapeHtml(time(view.updatedAt))],
    ...(view.msgid ? [['msgid', `<code>${escapeHtml((view.msgids ?? [view.msgid]).join(' '))}</code>`]] : []),
    ...(view.coalesced ? [[t('message.coalescedInto'), carriers(basePath, view.coalesced)]] : []),
    ...(view.deferred
      ? [[t('message.deferred'), escapeHtml(t('message.deferredUntil', { time: time(view.deferred.until), reason: view.deferred.reason }))]]
      : []),
    ...(view.error
      ? [
          [
            t('messages.lastError'),
            `${view.error.errcode} ${escapeHtml(view.error.errmsg)}` +
              (view.error.hint ? `<br><span class="hint">${escapeHtml(view.error.hint)}</span>` : ''),
          ],
        ]
      : []),
  ];
  const attemptHeaders = [
    t('attempt.ended'),
    t('attempt.part'),
    t('attempt.attempt'),
    t('attempt.to'),
    t('attempt.outcome'),
    t('attempt.took'),
    t('attempt.errcode'),
    t('attempt.errmsg'),
    t('attempt.hint'),
  ];
  return `<dl class="facts">${facts.map(([k, v]) => `<dt>${escapeHtml(k)}</dt><dd>${v}</dd>`).join('')}</dl>
${
  view.invalid
    ? `<section class="invalid"><h2>${escapeHtml(t('message.invalid'))}</h2>` +
      `<p class="meta">${escapeHtml(t('message.invalidNote'))}</p><ul>${recipientList(view.invalid, t)}</ul></section>`
    : ''
}
${
  recallable
    ? `<p>${actionButton(`${basePath}/messages/${view.id}/recall`, t('message.recall'), 'danger')} ` +
      `<span class="meta">${escapeHtml(t('message.recallNote'))}</span></p>`
    : ''
}
<section><h2>${escapeHtml(t('message.attempts'))}</h2>${table(attemptHeaders, attemptRows(attempts, locale), t('attempt.none'))}</section>
<section><h2>${escapeHtml(t('message.parts'))}</h2>${parts.join('')}</section>`;
}
