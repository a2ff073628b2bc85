import type { Job, Queue, Worker } from 'bullmq';
import type { Logger } from 'pino';
import type { OnCallDirectory } from '../../messages/oncall-recipients';
import type { Metrics } from '../../ops/metrics';
import { QUEUES, type QueueSettings } from '../../queues/catalog';
import { defineQueue, type DefinedQueue, type QueueCore } from '../../queues/define-queue';
import type { Attempted } from '../../queues/settle';
import type { CallResult } from '../../wecom/endpoints/pstncc';
import type { AlertGroups } from '../alert-groups';
import type { AlertJobs } from '../alert-jobs';
import { callIdOf, type CallStore, type PhoneCall } from './call-store';
import type { Dialed, Dialer } from './dialers';
import { ONCALL_PREFIX } from './phone-config';

/** A level's calls to place, or a look at how one went (WeCom: getstates). */
export type CallJob = { kind: 'place'; groupId: string; level: number; callees: string[] } | { kind: 'look'; callId: string; look: number };

/** The phone could not ring (or nobody could be found): the next level need not wait. An unanswered call rang; the level's time runs. */
const HURRIES = new Set<CallResult>(['limited', 'no_balance', 'not_allowed', 'failed']);

const DETAIL: Record<CallResult, string> = {
  answered: 'answered',
  unanswered: 'unanswered',
  limited: "over the callee's call limit",
  no_balance: "the corp's call balance is too low",
  not_allowed: 'the app may not place calls (紧急通知)',
  failed: 'the call could not be placed',
};

export interface AlertCallsDeps {
  groups: AlertGroups;
  jobs: Pick<AlertJobs, 'hurry'>;
  store: CallStore;
  dialer: Dialer;
  /** Who is on call: `oncall:<schedule>` callees are resolved when the call is placed. */
  oncall?: OnCallDirectory;
  /** When a WeCom call's state is asked, each after the previous. */
  followMs: number[];
  metrics: Metrics;
  logger: Logger;
  clock: () => number;
}

/**
 * Escalation levels' phone calls: placed when the level is reached (callees resolved
 * then), followed until they end, each step on the group's timeline. An answered call
 * is recorded, not an ack: the group stays firing and escalation goes on. A call that
 * could not ring sends the next level at once, through its own escalate job.
 */
export class AlertCalls {
  private readonly defined: DefinedQueue<CallJob>;

  constructor(
    core: QueueCore,
    options: { roles: ReadonlySet<string>; settings: QueueSettings },
    private readonly deps: AlertCallsDeps,
  ) {
    this.defined = defineQueue<CallJob>(core, QUEUES.alertCalls, (job) => this.handle(job), options);
  }

  get queue(): Queue<CallJob> {
    return this.defined.queue;
  }

  get worker(): Worker<CallJob> | undefined {
    return this.defined.worker;
  }

  /** The level was reached: its calls go out once (the job id), from the calls queue. */
  async ring(groupId: string, level: number, callees: string[]): Promise<void> {
    const job: CallJob = { kind: 'place', groupId, level, callees };
    await this.queue.add('place', job, { jobId: `call-${groupId}-${level}`, ...this.defined.jobOptions('place') });
  }

  /** How a call ended (getstates, or the adapter's answer); false: already recorded, nothing changes. */
  async ended(call: PhoneCall, result: CallResult): Promise<boolean> {
    if (!(await this.deps.store.settle(call, result))) return false;
    const { groupId, level, userid } = call;
    this.deps.metrics.alertCalls.inc({ result });
    await this.deps.groups.timeline.note(
      groupId,
      result === 'answered'
        ? { kind: 'callAnswered', to: userid, level }
        : { kind: 'callFailed', to: userid, level, detail: DETAIL[result] },
    );
    this.deps.logger.info({ alert: groupId, level, call: call.id, result }, `alert call ${result}`);
    if (HURRIES.has(result)) await this.deps.jobs.hurry({ kind: 'escalate', groupId, level: level + 1 });
    return true;
  }

  close(): Promise<void> {
    return this.defined.close();
  }

  private handle(job: Job<CallJob>): Promise<Attempted | void> {
    const data = job.data;
    return data.kind === 'place' ? this.place(data) : this.look(data);
  }

  /**
   * A refusal that may pass is retried as settle decides (the row's attempts and backoff);
   * when settle gives up, the calls it kept back are recorded as failed and the job is done.
   */
  private retried(reason: string, giveUp: () => Promise<void>): Attempted {
    return {
      result: { kind: 'retry', reason },
      onVerdict: async (verdict) => {
        if (verdict.kind !== 'fail') return;
        await giveUp();
        return 'handled';
      },
    };
  }

  /** Acked, silenced or resolved since the level fell due: nobody is woken. */
  private async place(job: CallJob & { kind: 'place' }): Promise<Attempted | void> {
    const group = await this.deps.groups.get(job.groupId);
    if (group?.status !== 'firing') return;
    const users = await this.callees(job.callees);
    if (users.length === 0) {
      const nobody: PhoneCall = { id: callIdOf(group.id, job.level, 0), groupId: group.id, level: job.level, userid: '', placedAt: 0 };
      await this.ended({ ...nobody, userid: job.callees.join(', ') }, 'failed');
      return;
    }
    const placed = new Set((await this.deps.store.ofLevel(group.id, job.level)).map((c) => c.id));
    const calls = users
      .map((userid, n) => ({
        id: callIdOf(group.id, job.level, n),
        groupId: group.id,
        level: job.level,
        userid,
        placedAt: this.deps.clock(),
      }))
      .filter((c) => !placed.has(c.id));
    const dialed = calls.length > 0 ? await this.deps.dialer.dial(group, calls) : [];
    const later = dialed.filter((d) => d.result === 'retry');
    await this.record(dialed.filter((d) => d.result !== 'retry'));
    if (later.length === 0) return;
    return this.retried(`${later.length} call(s) not placed yet: the ${this.deps.dialer.via} refusal may pass`, () => this.record(later));
  }

  private async record(dialed: Dialed[]): Promise<void> {
    await this.deps.store.save(dialed.map((d) => d.call));
    for (const { call, result } of dialed) {
      if (result) {
        await this.ended(call, result === 'retry' ? 'failed' : result);
        continue;
      }
      this.deps.metrics.alertCalls.inc({ result: 'placed' });
      await this.deps.groups.timeline.note(call.groupId, {
        kind: 'called',
        to: call.userid,
        level: call.level,
        detail: this.deps.dialer.via,
      });
      if (this.deps.dialer.look) await this.follow(call.id, 0);
    }
  }

  private async follow(callId: string, look: number): Promise<void> {
    const job: CallJob = { kind: 'look', callId, look };
    await this.queue.add('look', job, {
      jobId: `look-${callId}-${look}`,
      delay: this.deps.followMs[look],
      ...this.defined.jobOptions('look'),
    });
  }

  /** Not over yet: looked at again later; after the last look, unanswered. */
  private async look(job: CallJob & { kind: 'look' }): Promise<Attempted | void> {
    const call = await this.deps.store.get(job.callId);
    if (!call || (await this.deps.store.resultOf(call)) || !this.deps.dialer.look) return;
    const state = await this.deps.dialer.look(call);
    if (state === 'retry')
      return this.retried('pstncc/getstates: a refusal that may pass', async () => void (await this.ended(call, 'failed')));
    const final = job.look + 1 >= this.deps.followMs.length;
    if (state === 'pending' && !final) return this.follow(call.id, job.look + 1);
    await this.ended(call, state === 'pending' ? 'unanswered' : state);
  }

  /** Userids as given, `oncall:<schedule>` as the schedule says now; each callee once. */
  private async callees(configured: string[]): Promise<string[]> {
    const at = this.deps.clock();
    const users = await Promise.all(
      configured.map(async (c) =>
        c.startsWith(ONCALL_PREFIX) ? ((await this.deps.oncall?.usersOnCall(c.slice(ONCALL_PREFIX.length), at)) ?? []) : [c],
      ),
    );
    return [...new Set(users.flat())];
  }
}
