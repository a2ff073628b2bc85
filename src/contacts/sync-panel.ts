import type { DashboardPanel } from '../core';
import { actionButton, table } from '../console/page';
import { escapeHtml } from '../ops/html';
import type { Metrics } from '../ops/metrics';
import type { SyncDispatcher } from './sync-dispatcher';

/** Dead letters listed per page: the newest first; replaying all takes every one. */
const LISTED = 100;

/**
 * The console's contact-sync page: each sink's lag as this instance sees it, and
 * the changes sinks refused (kind and id only: no member's data on a page), each
 * with a replay button, and one to replay them all.
 */
export function syncPanel(sync: SyncDispatcher, sinks: string[], metrics: Metrics): DashboardPanel {
  return {
    id: 'sync',
    title: 'Contact sync',
    async html(basePath) {
      const [letters, lag] = await Promise.all([sync.deadLetters(), metrics.contactSyncLag.get()]);
      const lagOf = new Map(lag.values.map((v) => [String(v.labels.sink), v.value]));
      const sinkRows = sinks.map((sink) => {
        const dead = letters.filter((l) => l.sink === sink).length;
        const seconds = lagOf.get(sink);
        return `<tr class="${dead > 0 ? 'failed' : ''}"><td>${escapeHtml(sink)}</td><td>${seconds === undefined ? 'delivered by another instance' : `${seconds.toFixed(1)} s`}</td><td class="status">${dead}</td></tr>`;
      });
      const letterRows = letters
        .slice(-LISTED)
        .reverse()
        .map(
          (l) =>
            `<tr data-change="${escapeHtml(l.change.id)}"><td>${escapeHtml(l.failedAt)}</td><td>${escapeHtml(l.sink)}</td><td>${escapeHtml(`${l.change.type} ${l.change.action}`)}</td><td><code>${escapeHtml(l.change.id)}</code></td><td>${l.attempts}</td><td>${escapeHtml(l.error)}</td><td>${actionButton(`${basePath}/replay`, 'Replay', '', { change: l.change.id, sink: l.sink })}</td></tr>`,
        );
      return `<h2>Sinks</h2>${table(['sink', 'lag', 'dead letters'], sinkRows, 'No sinks configured.')}
<h2>Dead letters</h2><p class="meta">Changes a sink refused (4xx) ${refusedNote(letters.length)} ${letters.length > 0 ? actionButton(`${basePath}/replay-all`, 'Replay all') : ''}</p>
${table(['failed', 'sink', 'change', 'id', 'attempts', 'error', ''], letterRows, 'No dead letters: every sink took every change.')}`;
    },
    actions: {
      replay: async ({ change, sink }) => ((await sync.replayOne(change ?? '', sink || undefined)) > 0 ? `change ${change} is back in ${sink}'s line` : `no dead letter for change ${change}`),
      'replay-all': async () => `${await sync.replay()} change(s) back in line`,
    },
  };
}

function refusedNote(count: number): string {
  return count > LISTED ? `(the newest ${LISTED} of ${count}).` : '.';
}
