import type { RedisClient } from '../redis/connection';
import type { RedisKeys } from '../redis/keys';
import { OverrideStore } from './override-store';
import type { Shift } from './rotation';
import { rotationOf, type OnCallSchedule, type Rotation } from './schedule-config';
import { nextShift, shiftAt, shiftsFrom } from './shifts';

export interface OnCallOptions {
  keys: Pick<RedisKeys, 'oncallOverrides'>;
  schedules: OnCallSchedule[];
  clock: () => number;
}

/**
 * The on-call directory: who is on call in each schedule, now or at a given time
 * (an override first, else the rotation). Other rooms read it through a structural
 * interface of their own; the gateway hands them this one.
 */
export class OnCall {
  readonly overrides: OverrideStore;
  private readonly schedules: Map<string, { schedule: OnCallSchedule; rotation: Rotation }>;

  constructor(
    redis: RedisClient,
    private readonly options: OnCallOptions,
  ) {
    this.overrides = new OverrideStore(redis, options.keys);
    this.schedules = new Map(options.schedules.map((s) => [s.name, { schedule: s, rotation: rotationOf(s) }]));
  }

  has(name: string): boolean {
    return this.schedules.has(name);
  }

  names(): string[] {
    return [...this.schedules.keys()];
  }

  schedule(name: string): OnCallSchedule | undefined {
    return this.schedules.get(name)?.schedule;
  }

  /** Who to page for `name` at `at`: the one on call, else the schedule's fallback users, else nobody ([]). */
  async usersOnCall(name: string, at?: number): Promise<string[]> {
    const shift = await this.shiftAt(name, at);
    if (shift) return [shift.user];
    return this.schedules.get(name)?.schedule.fallback ?? [];
  }

  /** The shift at `at` (default now); undefined when nobody is on call or there is no such schedule. */
  async shiftAt(name: string, at?: number): Promise<Shift | undefined> {
    const known = this.schedules.get(name);
    if (!known) return undefined;
    const when = at ?? this.options.clock();
    return shiftAt(known.rotation, await this.overrides.list(name, when), when);
  }

  /** The shift at `at` (default now) and the `count` after it. */
  async shifts(name: string, count: number, at?: number): Promise<{ now?: Shift; next: Shift[] } | undefined> {
    const known = this.schedules.get(name);
    if (!known) return undefined;
    const when = at ?? this.options.clock();
    return shiftsFrom(known.rotation, await this.overrides.list(name, when), when, count);
  }

  /** The next handoff after `at`: the shift that begins then. */
  async nextHandoff(name: string, at: number): Promise<Shift | undefined> {
    const known = this.schedules.get(name);
    if (!known) return undefined;
    return nextShift(known.rotation, await this.overrides.list(name, at), at);
  }
}
