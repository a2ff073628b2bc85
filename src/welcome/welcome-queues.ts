import type { Job } from 'bullmq';
import { QUEUES } from '../queues/catalog';
import { defineQueue, type DefinedQueue, type QueueCore } from '../queues/define-queue';
import { wecomResult, type Attempted } from '../queues/settle';
import { eventHeader, type CallbackEvent } from '../wecom/callback/event';
import { markTags } from '../wecom/endpoints/externalcontact';
import { handleNewCustomer, type TagJob, type WelcomeDeps } from './handle-new-customer';

/**
 * The welcome queue has its own workers, so a backlog of alerts never delays a welcome;
 * the tags follow on a queue of their own. Without `deps` (no customer-contact app)
 * adds are still queued, and no worker runs.
 */
export function defineWelcomeQueues(core: QueueCore, roles: ReadonlySet<string>, deps: Omit<WelcomeDeps, 'markLater'> | undefined) {
  const tags = defineQueue<TagJob>(core, QUEUES.welcomeTags, deps && tagCustomer(deps), {
    roles,
    onFailed: (job, err) =>
      core.logger.warn({ jobId: job?.id, attempts: job?.attemptsMade, err: err.message }, 'tagging a new customer failed'),
  });
  const markLater = async (job: TagJob, jobId: string) => void (await tags.queue.add('mark', job, { jobId, ...tags.jobOptions() }));
  const welcome = defineQueue<CallbackEvent>(core, QUEUES.welcome, deps && ((job) => handleNewCustomer(job.data, { ...deps, markLater })), {
    roles,
  });
  return { welcome, tags };
}

/** A refusal (an unknown tag, a customer no longer the employee's) fails at once; WeCom being busy is retried. */
function tagCustomer(deps: Omit<WelcomeDeps, 'markLater'>) {
  return async (job: Job<TagJob>): Promise<Attempted> => {
    const marks = { employee: job.data.userId, customer: job.data.externalUserId, add: job.data.tags };
    const outcome = await deps.api.call(deps.app, markTags(marks));
    return {
      result: wecomResult(outcome),
      onVerdict: async (verdict) => void (verdict.kind === 'done' && deps.metrics.welcomeTagged.inc()),
    };
  };
}

/** Queues a new customer's welcome; the job id is the push's dedupe key. */
export async function enqueueWelcome(welcome: DefinedQueue<CallbackEvent>, event: CallbackEvent): Promise<void> {
  await welcome.queue.add(eventHeader(event).changeType ?? 'add', event, { jobId: event.dedupeKey, ...welcome.jobOptions() });
}
