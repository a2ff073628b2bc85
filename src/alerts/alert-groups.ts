import { createHash, randomBytes } from 'node:crypto';
import type { Recipients } from '../messages/recipients';
import type { RedisKeys } from '../redis/keys';
import { compareAndDelete, setFieldsIf } from '../redis/atomic';
import type { RedisClient } from '../redis/connection';
import type { AlertStatus } from './alert-state';
import { AlertTimeline } from './alert-timeline';
import { ReceivedCards } from './received-cards';

export type { AlertStatus } from './alert-state';

/**
 * An alert group as the gateway sent it: one Alertmanager (or Grafana) group,
 * from one caller, to one set of recipients, from its first firing notification
 * until it resolves. Its state lives in Redis, so clicks, escalation and resolve
 * agree across instances and restarts; how it moves is alert-state.ts.
 */
/** A member's action: their userid, their name when the contact mirror knows it, and when. */
export interface Actor {
  by: string;
  name?: string;
  at: number;
  /** The channel it came by: card, text, api, console, page (absent: a card, before channels). */
  via?: string;
}

/** Whom the group was handed to (指派), by whom: the cards say so; the status does not change. */
export interface Assignment extends Actor {
  to: string;
  /** The assignee's name, when the contact mirror knows it. */
  toName?: string;
}

export interface SilenceState extends Actor {
  /** As on the button: `1h`. */
  duration: string;
  /** Alertmanager's silence id, once it exists. */
  id?: string;
  until?: number;
  /** Why the silence could not be created (the card says so too). */
  error?: string;
  /** The click it came from (a retried click job finds its own). */
  clickId: string;
}

export interface AlertGroup {
  id: string;
  /** Identifies the Alertmanager group, its owner and recipient set this group belongs to. */
  scope: string;
  source: 'alertmanager' | 'grafana';
  groupKey: string;
  title: string;
  severity: string;
  status: AlertStatus;
  /** 0 for the first recipients; n after the n-th escalation. */
  level: number;
  /**
   * Whose group it is: the key that opened it (its alertOwner when the config file shares it); only its notifications join or resolve it.
   */
  createdBy: string;
  route?: string;
  /** The event template the cards render with. */
  event: string;
  /** A member form the route or query asked for instead of the card (markdown, text, textcard). */
  msgtype?: string;
  /** The earliest startsAt of its alerts: when the trouble began, not when the gateway heard of it. */
  firingSince: number;
  updatedAt: number;
  /** The equality matchers a silence of this group uses: the labels every alert of it carries (empty: no silence button). */
  matchers: Record<string, string>;
  /** Which Alertmanager its silences go to (a name of SilenceTargets); absent: nowhere, so its cards offer no silence. */
  silenceVia?: string;
  /** The template data of the latest notification: what every card update renders. */
  data: Record<string, unknown>;
  /** The level-0 recipients. */
  to: Recipients;
  acked?: Actor & { clickId: string };
  silence?: SilenceState;
  assigned?: Assignment;
  /** The latest endsAt of its resolved alerts (when the resolution came, if none says). */
  resolvedAt?: number;
}

/** Recipients other than "@all": whom one card or message went to. */
export type Destination = { users?: string[]; parties?: string[]; tags?: string[]; oncall?: string[]; robots?: string[]; chats?: string[] };

/** "zhangsan, lisi, on call sre, robot ops": recipients as the API and the logs name them. */
export function describeRecipients(to: Destination): string {
  const named = (ids: string[] | undefined, kind: string) => (ids ?? []).map((id) => `${kind}${id}`);
  const members = [named(to.users, ''), named(to.parties, 'party '), named(to.tags, 'tag '), named(to.oncall, 'on call ')];
  return [...members, named(to.robots, 'robot '), named(to.chats, 'chat ')].flat().join(', ');
}

/** Recipients as one card's destination: "@all" reads as the user list WeCom takes it as. */
export function destinationOf(to: Recipients): Destination {
  return to === '@all' ? { users: ['@all'] } : to;
}

export interface AlertCard {
  /** The card's task_id; a non-interactive message has none. */
  taskId?: string;
  messageId: string;
  to: Destination;
  level: number;
  /** An escalated card: whom the group went to before, who did not act (the previous level's recipients). */
  from?: Destination;
  sentAt: number;
  /** The send's response_code updated the card once already (it works once). */
  sendCodeUsed?: boolean;
  /** The change (acked, silenced, resolved) the card shows, or its recipients were told of: a retried update skips it. */
  shows?: string;
}

const JSON_FIELDS = ['matchers', 'data', 'to', 'acked', 'silence', 'assigned'] as const;
const NUMBER_FIELDS = ['level', 'firingSince', 'updatedAt', 'resolvedAt'] as const;
const RECENT_KEPT = 500;
/**
 * The shape of a group's record. A record of another shape (written before
 * owners, true times and template data as facts) reads as no group: its
 * resolution goes out as a resolved message, its old cards' clicks are ignored.
 */
const FORMAT = '2';
/** `alert_<group id>_<n>`: a task_id WeCom accepts (wecom/card.ts), unique per app. */
const TASK_ID = /^alert_([0-9a-f]{20})_(\d{1,6})$/;

export function groupOfTask(taskId: string | undefined): string | undefined {
  return taskId ? TASK_ID.exec(taskId)?.[1] : undefined;
}

function toHash(fields: Partial<AlertGroup>): Record<string, string> {
  return Object.fromEntries(
    Object.entries(fields)
      .filter(([, value]) => value !== undefined)
      .map(([key, value]) => [key, (JSON_FIELDS as readonly string[]).includes(key) ? JSON.stringify(value) : String(value)]),
  );
}

function fromHash(hash: Record<string, string>): AlertGroup | undefined {
  if (!hash.id || hash.format !== FORMAT) return undefined;
  const group: Record<string, unknown> = { ...hash };
  for (const field of JSON_FIELDS) group[field] = hash[field] ? JSON.parse(hash[field]) : undefined;
  for (const field of NUMBER_FIELDS) group[field] = hash[field] ? Number(hash[field]) : undefined;
  delete group.taskSeq;
  delete group.format;
  for (const field of ['route', 'msgtype', 'silenceVia']) if (!group[field]) delete group[field];
  for (const field of [...JSON_FIELDS, ...NUMBER_FIELDS]) if (group[field] === undefined) delete group[field];
  return group as unknown as AlertGroup;
}

export type NewGroup = Omit<AlertGroup, 'id' | 'scope' | 'status' | 'level' | 'updatedAt'>;

/** What a later notification of the group brings: its alerts (data), title, matchers, and its first start. */
export type GroupRefresh = Pick<AlertGroup, 'data' | 'title' | 'matchers' | 'firingSince'>;

/** Card updates of one group run one at a time (the last one sent says the latest state). */
const CARD_LOCK_MS = 30_000;

export class AlertGroups {
  /** What happened to each group, for its page. */
  readonly timeline: AlertTimeline;
  readonly received: ReceivedCards; // whose cards each member received: a text ack finds its group

  constructor(
    private readonly redis: RedisClient,
    private readonly options: { keys: RedisKeys; retentionSeconds: number; clock: () => number },
  ) {
    this.timeline = new AlertTimeline(redis, options);
    this.received = new ReceivedCards(redis, options);
  }

  private get keys() {
    return this.options.keys.alerts;
  }

  private now(): number {
    return this.options.clock();
  }

  /**
   * One Alertmanager group, from one owner, to one recipient set: its notifications
   * (and repeats) belong to one alert group. Another key's notification with the same
   * groupKey (Alertmanager's are predictable) is another group: it can neither
   * resolve nor capture this one.
   */
  static scopeOf(source: string, owner: string, groupKey: string, to: Recipients): string {
    return createHash('sha256')
      .update(JSON.stringify([source, owner, groupKey, to]))
      .digest('hex')
      .slice(0, 32);
  }

  /**
   * The open group of this scope, or a new one. Written before it is named
   * current, so whoever finds it current finds it whole; the loser of a race
   * removes its own and takes the winner's.
   */
  async open(scope: string, fields: NewGroup): Promise<{ group: AlertGroup; created: boolean }> {
    const existing = await this.latest(scope);
    if (existing && existing.status !== 'resolved') return { group: existing, created: false };
    // The scope's last group resolved: it stays findable (its resolution's repeats change nothing) until a firing replaces it.
    if (existing) await compareAndDelete(this.redis, this.keys.current(scope), existing.id);
    const group: AlertGroup = { ...fields, id: randomBytes(10).toString('hex'), scope, status: 'firing', level: 0, updatedAt: this.now() };
    const key = this.keys.group(group.id);
    const ttl = this.options.retentionSeconds;
    await this.redis
      .multi()
      .hset(key, { ...toHash(group), format: FORMAT })
      .expire(key, ttl)
      .exec();
    if (await this.redis.set(this.keys.current(scope), group.id, 'EX', ttl, 'NX')) {
      await this.redis
        .multi()
        .lpush(this.keys.recent, group.id)
        .ltrim(this.keys.recent, 0, RECENT_KEPT - 1)
        .exec();
      return { group, created: true };
    }
    await this.redis.del(key);
    const winner = await this.latest(scope);
    if (!winner) throw new Error('alert group vanished while it was opened');
    return { group: winner, created: false };
  }

  /** The scope's latest group, resolved or not. */
  async latest(scope: string): Promise<AlertGroup | undefined> {
    const id = await this.redis.get(this.keys.current(scope));
    return id ? this.get(id) : undefined;
  }

  async get(id: string): Promise<AlertGroup | undefined> {
    return fromHash(await this.redis.hgetall(this.keys.group(id)));
  }

  /** The newest groups still kept, newest first. */
  async recent(limit = 50): Promise<AlertGroup[]> {
    const ids = await this.redis.lrange(this.keys.recent, 0, limit - 1);
    const groups = await Promise.all(ids.map((id) => this.get(id)));
    return groups.filter((g): g is AlertGroup => g !== undefined);
  }

  /**
   * One step of the state machine: sets `fields` only while every condition holds
   * (e.g. `{ status: ['firing'] }`), atomically. False: another click, instance or
   * resolve got there first.
   */
  async transition(id: string, when: Partial<Record<'status' | 'level', string[]>>, fields: Partial<AlertGroup>): Promise<boolean> {
    return setFieldsIf(this.redis, this.keys.group(id), when as Record<string, string[]>, toHash({ ...fields, updatedAt: this.now() }));
  }

  /** The latest notification's alerts (new ones joined the group, some resolved): later card updates show them. */
  async refresh(id: string, fields: GroupRefresh): Promise<void> {
    await this.redis.hset(this.keys.group(id), toHash({ ...fields, updatedAt: this.now() }));
  }

  /** Runs `work` while no other card update of the group runs (across instances); false when another holds it. */
  async whileCardsLocked(id: string, work: () => Promise<void>): Promise<boolean> {
    const key = this.keys.cardLock(id);
    const token = randomBytes(8).toString('hex');
    if (!(await this.redis.set(key, token, 'PX', CARD_LOCK_MS, 'NX'))) return false;
    try {
      await work();
    } finally {
      await compareAndDelete(this.redis, key, token);
    }
    return true;
  }

  /** A task_id for the group's next card: unique per app, as WeCom requires. */
  async nextTaskId(id: string): Promise<string> {
    const n = await this.redis.hincrby(this.keys.group(id), 'taskSeq', 1);
    return `alert_${id}_${n}`;
  }

  /** Records a card sent for the group, or what became of it (its send code used). */
  async saveCard(id: string, card: AlertCard): Promise<void> {
    const key = this.keys.cards(id);
    await this.redis
      .multi()
      .hset(key, card.taskId ?? `message:${card.messageId}`, JSON.stringify(card))
      .expire(key, this.options.retentionSeconds)
      .exec();
    await this.received.note(id, card.to.users, card.sentAt);
  }

  /** Every card and message sent for the group, oldest first. */
  async cards(id: string): Promise<AlertCard[]> {
    const raw = await this.redis.hvals(this.keys.cards(id));
    return raw.map((value) => JSON.parse(value) as AlertCard).sort((a, b) => a.sentAt - b.sentAt);
  }

  async card(id: string, taskId: string): Promise<AlertCard | undefined> {
    const raw = await this.redis.hget(this.keys.cards(id), taskId);
    return raw ? (JSON.parse(raw) as AlertCard) : undefined;
  }
}
