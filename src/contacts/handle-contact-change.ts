import type { Logger } from 'pino';
import type { Metrics } from '../ops/metrics';
import type { CallbackEvent } from '../wecom/callback/event';
import { parseContactChange } from '../wecom/callback/contact-change';
import type { Directory } from './directory';

/**
 * A change_contact push: parse, merge into the mirror, append to the feed that
 * every sink reads. Unknown or incomplete events are recorded as `unknown` and
 * acknowledged; they never fail the handler.
 */
export async function handleContactChange(
  event: CallbackEvent,
  deps: { directory: Directory; metrics: Metrics; logger: Logger },
): Promise<void> {
  const parsed = parseContactChange(event);
  const record = await deps.directory.apply(parsed, event);
  if (!record) return; // this push was applied before (a re-run of the job)
  deps.metrics.contactChanges.inc({ type: record.type, action: record.action });
  // Ids and the change kind only: names, mobiles and emails stay out of the logs.
  deps.logger.info(
    { changeId: record.id, change: record.event, ...(record.reason ? { reason: record.reason } : {}) },
    'contact change recorded',
  );
}
