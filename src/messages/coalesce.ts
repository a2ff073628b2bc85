import { createHash } from 'node:crypto';
import type { Logger } from 'pino';
import type { SendResult } from '../wecom/endpoints/message';
import { byteLength, mergeableBytes } from '../wecom/limits';
import type { SendRecipients } from '../wecom/message-payload';
import type { Outcome } from '../wecom/outcome';
import { namedUsers, namesGroups } from '../wecom/recipients';
import type { CoalescePool, Claim, PoolAddress, PooledBody } from './coalesce-pool';
import type { PartState } from './message-record';
import type { MessageStore } from './message-store';
import { partOfSendId, sendIdOf, type GroupSend, type MemberSend, type SendJobData } from './send-queue';

/**
 * Coalescing: parts that wait because their recipients' budget is used up (a member's
 * 30 a minute, a robot's 20) are merged, in acceptance order and whole, into as few
 * messages as WeCom's byte limits allow when the budget lets one go. One budget unit
 * per merged message; nothing is dropped. The pool and its claims are coalesce-pool.ts's.
 */

/** Between two merged parts: a rule in markdown, a plain line in text. */
export const SEPARATOR = '\n\n---\n\n';
const SEPARATOR_BYTES = byteLength(SEPARATOR);

export interface CoalesceDeps {
  pool: CoalescePool;
  store: MessageStore;
  /** A carried part whose message has a callbackUrl: its message may be final now. */
  onPartDone?: (messageId: string) => Promise<void>;
  /** Counts the parts another message carried. */
  coalesced: { inc(n: number): void };
  logger: Logger;
  clock: () => number;
}

/** Who carried a part: the message and part whose send call took its content. */
export interface CarrierName {
  messageId: string;
  part: number;
}

const contentOf = (body: Record<string, unknown>) => (typeof body.content === 'string' ? body.content : undefined);

/** Whose parts may merge: one caller's only, so a merged message (recalled as a whole) never holds another's. */
const ownerOf = (data: SendJobData) =>
  createHash('sha256')
    .update(data.owner ?? '')
    .digest('hex')
    .slice(0, 16);

/** The members pool's name: the msgtype, the caller and the recipient set (sorted, case-insensitive, as WeCom counts userids). */
function memberPoolName(data: SendJobData, to: SendRecipients): string {
  const users = namedUsers(to)
    .map((u) => u.toLowerCase())
    .sort();
  return `${data.msgtype}:${ownerOf(data)}:${createHash('sha256').update(users.join('|')).digest('hex').slice(0, 24)}`;
}

/**
 * One send of a part that may be merged: it claims what waits for the same recipients,
 * sends them as one message with its own (or for them first, when they are older and fill
 * the message), then records each carried part sent, or lets them wait again.
 */
export class Carrier {
  private claimed?: Extract<Claim, { kind: 'claimed' }>;
  /** The state each carried part had when taken: given back if the merged message does not go, its attempts kept if it does. */
  private readonly before = new Map<string, PartState>();

  constructor(
    private readonly deps: CoalesceDeps,
    private readonly at: PoolAddress,
    private readonly data: SendJobData,
    private readonly own: string,
    private readonly limit: number,
  ) {}

  private get sendId(): string {
    return sendIdOf(this.data);
  }

  private get ownBody(): PooledBody {
    return { c: this.own, ...(this.data.notifyFinal ? { n: 1 as const } : {}) };
  }

  /** Members: claims the earliest waiting parts; `done` or `carried` answers when to look again instead. */
  async claimWaiting(): Promise<{ until: number } | undefined> {
    const place = this.data.acceptedAt;
    const claim = await this.deps.pool.claimWaiting(
      this.at,
      { sendId: this.sendId, place, body: this.ownBody },
      this.limits,
      this.deps.clock(),
    );
    if (claim.kind === 'done') return { until: this.deps.clock() };
    if (claim.kind === 'carried') return { until: claim.until };
    if (claim.kind === 'claimed') await this.keep(claim);
    return undefined;
  }

  /** Robots: claims the waiting parts right behind this one in its robot's line, if the robot's budget is used up (see claim). */
  async claimBehind(usedUp: boolean): Promise<void> {
    if (!this.at.line) return;
    const carrier = { sendId: this.sendId, bytes: byteLength(this.own), usedUp };
    const claim = await this.deps.pool.claimBehind({ ...this.at, line: this.at.line }, carrier, this.limits, this.deps.clock());
    if (claim.kind === 'claimed') await this.keep(claim);
  }

  /**
   * Keeps the claimed parts that may still be sent, each marked `sending` (carried) in the same step, so a recall
   * answers being_sent and their own jobs leave them be. One sent, failed, recalled or gone meanwhile (or recorded
   * sent by a carrier that died before settling) goes out of the pool unsent (again). Nothing kept: a member's
   * carrier goes alone, and leaves the pool it joined so that no other carrier sends it again.
   */
  private async keep(claim: Extract<Claim, { kind: 'claimed' }>): Promise<void> {
    const marked = { status: 'sending' as const, attempts: 0, coalescedInto: partOfSendId(this.sendId) };
    const kept = await Promise.all(
      claim.parts.map(async ({ sendId }) => {
        if (sendId === this.sendId) return true;
        const { messageId, part } = partOfSendId(sendId);
        const { done, before } = await this.deps.store.carryPart(messageId, part, 'take', marked);
        if (done && before) this.before.set(sendId, before);
        return done;
      }),
    );
    const closed = claim.parts.filter((_, i) => !kept[i]).map((p) => p.sendId);
    await this.deps.pool.settle(this.at, claim.id, closed, 'done', this.deps.clock());
    const parts = claim.parts.filter((_, i) => kept[i]);
    if (parts.length > 0) this.claimed = { ...claim, parts };
    else if (!this.at.line) await this.deps.pool.settle(this.at, '', [this.sendId], 'forget', this.deps.clock());
  }

  private get limits() {
    return { bytes: this.limit, separatorBytes: SEPARATOR_BYTES };
  }

  /** The budget unit's id: the merged message's first part (never counted before: it waited), or this part. */
  get unitId(): string {
    return this.claimed?.parts[0]?.sendId ?? this.sendId;
  }

  /** Whether this part's own content is in the message it sends (robots: always). */
  private get carriesSelf(): boolean {
    return !this.claimed || Boolean(this.at.line) || this.claimed.parts.some((p) => p.sendId === this.sendId);
  }

  /** The body this send goes with: the merged content, or the part's own. */
  body(own: Record<string, unknown>): Record<string, unknown> {
    if (!this.claimed) return own;
    const contents = this.claimed.parts.map((p) => p.body.c);
    return { ...own, content: (this.at.line ? [this.own, ...contents] : contents).join(SEPARATOR) };
  }

  /**
   * Over budget: the claim is released and this part waits in the pool for the next carrier.
   * A robot's part notes whether it found the budget used up (`full`) or only waits behind others.
   */
  async wait(robot?: 'full' | 'behind'): Promise<void> {
    await this.release();
    const place = robot ? Number(robot === 'full') : this.data.acceptedAt;
    await this.deps.pool.join(this.at, this.sendId, place, this.ownBody);
  }

  /** Lets the claimed parts wait again (the merged message did not go, or not merged after all). */
  async release(): Promise<void> {
    if (!this.claimed) return;
    const claim = this.claimed;
    this.claimed = undefined;
    for (const [sendId, before] of this.before) {
      const { messageId, part } = partOfSendId(sendId);
      await this.deps.store.carryPart(messageId, part, 'release', before);
    }
    this.before.clear();
    await this.deps.pool.settle(this.at, claim.id, this.idsOf(claim), 'release', this.deps.clock());
  }

  private idsOf(claim: Extract<Claim, { kind: 'claimed' }>): string[] {
    return claim.parts.map((p) => p.sendId);
  }

  /**
   * After the send call: sent, each carried part is recorded sent (the carrier named) before the
   * claim is done; else they wait again. `selfSent`: whether this part itself went (else it waits on).
   */
  async after(outcome: Outcome<SendResult | true>, to: string): Promise<{ selfSent: boolean; carried: string[] }> {
    const claim = this.claimed;
    // A robot's part that waited in the pool and went on its own leaves it.
    if (this.at.line && outcome.kind === 'ok') await this.deps.pool.settle(this.at, '', [this.sendId], 'forget', this.deps.clock());
    if (!claim) return { selfSent: true, carried: [] };
    if (outcome.kind !== 'ok') {
      await this.release();
      return { selfSent: true, carried: [] };
    }
    const selfSent = this.carriesSelf;
    const carrier = partOfSendId(selfSent ? this.sendId : claim.parts[0].sendId);
    const carried = claim.parts.filter((p) => p.sendId !== this.sendId);
    // A robot answers no msgid.
    const { msgid, invalid } = outcome.value === true ? { msgid: undefined, invalid: undefined } : outcome.value;
    for (const { sendId, body } of carried) {
      const { messageId, part } = partOfSendId(sendId);
      const head = messageId === carrier.messageId && part === carrier.part;
      const coalescedInto = head ? {} : { coalescedInto: carrier };
      const at = this.deps.clock();
      // The send that carried it counts as an attempt of its own, beside those it had made.
      const attempts = Math.max(1, this.before.get(sendId)?.attempts ?? 0);
      await this.deps.store.updatePart(
        messageId,
        part,
        { status: 'sent', attempts, msgid, invalid, ...coalescedInto },
        { part, attempt: attempts, at, ms: 0, outcome: 'sent', to, ...coalescedInto },
      );
      if (body.n) await this.deps.onPartDone?.(messageId);
    }
    // A recall of the carrier's message takes back the parts it held (they share its msgid).
    const beside = carried.filter((p) => p.sendId !== sendIdOf(carrier)).map((p) => p.sendId);
    if (msgid && beside.length > 0) await this.deps.store.noteCarried(carrier, beside);
    await this.deps.pool.settle(this.at, claim.id, this.idsOf(claim), 'done', this.deps.clock());
    this.claimed = undefined;
    this.before.clear();
    // The parts in the message beside the one that carried them (a claim of this part alone merged nothing).
    const absorbed = carried.length - (selfSent ? 0 : 1);
    if (absorbed > 0) {
      this.deps.coalesced.inc(absorbed);
      this.deps.logger.info({ to, parts: absorbed + 1, carrier, msgid }, 'waiting messages coalesced into one');
    }
    return { selfSent, carried: carried.map((p) => p.sendId) };
  }
}

/** Which parts may be merged, and their carriers. */
export class Coalescer {
  constructor(private readonly deps: CoalesceDeps) {}

  /**
   * A member part that may be merged: text or markdown to one user (no parties, tags or
   * on-call, whose members a pool cannot compare), its caller not opted out.
   */
  member(app: { corpId: string; agentId: number }, data: SendJobData & MemberSend, to: SendRecipients): Carrier | undefined {
    const limit = mergeableBytes('app', data.msgtype);
    const own = contentOf(data.body);
    // One member: several share no budget, and a part split by theirs would leave its pool entry behind.
    if (data.coalesce === false || !limit || own === undefined || data.oncall?.length || namesGroups(to)) return undefined;
    if (namedUsers(to).length !== 1) return undefined;
    const at = { tag: `${app.corpId}:${app.agentId}`, pool: memberPoolName(data, to) };
    return new Carrier(this.deps, at, data, own, limit);
  }

  /** A robot part that may be merged: one text (no mention lists) or markdown message, its caller not opted out. */
  robot(data: SendJobData & GroupSend, line: string): Carrier | undefined {
    if (data.coalesce === false || data.mentionOncall || data.messages.length !== 1 || data.delivered || !('robot' in data.group)) {
      return undefined;
    }
    const [{ msgtype, body }] = data.messages;
    const limit = mergeableBytes('robot', msgtype);
    const own = contentOf(body);
    const onlyContent = Object.keys(body).every((k) => k === 'content');
    if (!limit || own === undefined || !onlyContent) return undefined;
    return new Carrier(this.deps, { tag: data.group.robot, pool: `robot:${msgtype}:${ownerOf(data)}`, line }, data, own, limit);
  }
}
