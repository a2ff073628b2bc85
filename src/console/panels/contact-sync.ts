import type { ConsoleLocale, Translate } from '../locale';
import type { DashboardPanel } from '../panel';
import { actionButton, table } from '../page';
import { escapeHtml } from '../../ops/html';
import type { Metrics } from '../../ops/metrics';
import type { ContactChangeRecord } from '../../contacts/directory';
import type { SyncDispatcher } from '../../contacts/sync-dispatcher';

/** Dead letters listed per page: the newest first; replaying all takes every one. */
const LISTED = 100;

/** `user created` (`成员 新增`): what changed, in the reader's words. */
const changeText = (change: Pick<ContactChangeRecord, 'type' | 'action'>, t: Translate) =>
  `${t(`sync.${change.type}`)} ${t(`sync.${change.action}`)}`;

/**
 * The console's contact-sync page: each sink's lag as this instance sees it, and
 * the changes sinks refused (kind and id only: no member's data on a page), each
 * with a replay button, and one to replay them all.
 */
export function syncPanel(sync: SyncDispatcher, sinks: string[], metrics: Metrics): DashboardPanel {
  return {
    id: 'sync',
    title: 'sync.title',
    async html(basePath, { t, time }: ConsoleLocale) {
      const [letters, lag] = await Promise.all([sync.deadLetters(), metrics.contactSyncLag.get()]);
      const lagOf = new Map(lag.values.map((v) => [String(v.labels.sink), v.value]));
      const sinkRows = sinks.map((sink) => {
        const dead = letters.filter((l) => l.sink === sink).length;
        const seconds = lagOf.get(sink);
        const lagText = seconds === undefined ? escapeHtml(t('sync.otherInstance')) : `${seconds.toFixed(1)} s`;
        const cells = `<td>${escapeHtml(sink)}</td><td>${lagText}</td><td class="status">${dead}</td>`;
        return `<tr class="${dead > 0 ? 'failed' : ''}">${cells}</tr>`;
      });
      const letterRows = letters
        .slice(-LISTED)
        .reverse()
        .map((l) => {
          const cells = [
            escapeHtml(time(l.failedAt)),
            escapeHtml(l.sink),
            escapeHtml(changeText(l.change, t)),
            `<code>${escapeHtml(l.change.id)}</code>`,
            l.attempts,
            escapeHtml(l.error),
            actionButton(`${basePath}/replay`, t('sync.replay'), '', { change: l.change.id, sink: l.sink }),
          ];
          return `<tr data-change="${escapeHtml(l.change.id)}">${cells.map((cell) => `<td>${cell}</td>`).join('')}</tr>`;
        });
      const refused =
        letters.length > LISTED ? `${t('sync.refused')} ${t('sync.newest', { listed: LISTED, count: letters.length })}` : t('sync.refused');
      const replayAll = letters.length > 0 ? actionButton(`${basePath}/replay-all`, t('sync.replayAll')) : '';
      const letterHeads = [t('sync.failed'), t('sync.sink'), t('sync.change'), 'id', t('sync.attempts'), t('sync.error'), ''];
      const sinkTable = table([t('sync.sink'), t('sync.lag'), t('sync.deadLetters')], sinkRows, t('sync.noSinks'));
      return `<h2>${escapeHtml(t('sync.sinks'))}</h2>${sinkTable}
<h2>${escapeHtml(t('sync.deadLetters'))}</h2><p class="meta">${escapeHtml(refused)} ${replayAll}</p>
${table(letterHeads, letterRows, t('sync.none'))}`;
    },
    // As POST /v1/contacts/dead-letters/{id}/replay and /replay: admin.
    actions: {
      replay: {
        permission: 'admin',
        act: async ({ change, sink }, _caller, { t }) =>
          (await sync.replayOne(change ?? '', sink || undefined)) > 0
            ? t('sync.replayed', { change, sink })
            : t('sync.notFound', { change }),
      },
      'replay-all': { permission: 'admin', act: async (_fields, _caller, { t }) => t('sync.replayedAll', { count: await sync.replay() }) },
    },
  };
}
