import { USER_ID } from './validate-message';

/**
 * The corp's members and departments as the simulator knows them: whom
 * message/send reaches (unknown ids come back in invaliduser, or as 81013 when
 * nobody valid is left, reference §2.3), who may write to the app, and what the
 * change_contact events the simulator pushes change (§7.3). Without a list of
 * users the directory is open: every well-formed userid is a member, for tests
 * that send to anyone.
 */
export interface SimulatedMember {
  userid: string;
  name: string;
  department: number[];
  position?: string;
}

export interface SimulatedDepartment {
  id: number;
  name: string;
  parentid: number;
}

export interface DirectoryOptions {
  /** Omitted: any well-formed userid is a member. A bare userid is a member of that name in department 1. */
  users?: (string | SimulatedMember)[];
  /** Omitted: any department id exists. A bare id is a department of that name under department 1. */
  parties?: (string | SimulatedDepartment)[];
  /** Omitted: any tag id exists. */
  tags?: string[];
}

/** A contact change the directory cannot make, with the HTTP status that says why (like ClickRefused). */
export class ContactChangeRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** change_contact's fields (§7.3) as WeCom names them, already strings. */
export type ChangeFields = Record<string, string>;

export const PLAYED_CHANGE_TYPES = ['create_user', 'update_user', 'delete_user', 'create_party', 'update_party', 'delete_party'];

const isDepartmentList = (list: unknown): list is number[] => Array.isArray(list) && list.every(Number.isInteger);

/** What is wrong with a directory a caller gives (PUT /__sim/members), or undefined. */
export function directoryProblem(users: unknown, parties: unknown): string | undefined {
  const badUser = (u: unknown) =>
    typeof u === 'string'
      ? !USER_ID.test(u)
      : !u ||
        typeof u !== 'object' ||
        !USER_ID.test(String((u as SimulatedMember).userid)) ||
        typeof (u as SimulatedMember).name !== 'string' ||
        !isDepartmentList((u as SimulatedMember).department);
  const badParty = (p: unknown) =>
    typeof p === 'string'
      ? !/^\d+$/.test(p)
      : !p ||
        typeof p !== 'object' ||
        !Number.isInteger((p as SimulatedDepartment).id) ||
        typeof (p as SimulatedDepartment).name !== 'string' ||
        !Number.isInteger((p as SimulatedDepartment).parentid);
  if (users !== undefined && (!Array.isArray(users) || users.some(badUser)))
    return 'members: each a userid (1-64 letters, digits, _ . @ -) or {userid, name, department: [ids]}';
  if (parties !== undefined && (!Array.isArray(parties) || parties.some(badParty)))
    return 'departments: each an id or {id, name, parentid}';
  return undefined;
}

const memberOf = (user: string | SimulatedMember): SimulatedMember =>
  typeof user === 'string' ? { userid: user, name: user, department: [1] } : { ...user, department: [...user.department] };
const departmentOf = (party: string | SimulatedDepartment): SimulatedDepartment =>
  typeof party === 'string' ? { id: Number(party), name: party, parentid: 1 } : { ...party };
const numbers = (list: string) =>
  list
    .split(',')
    .map((v) => Number(v.trim()))
    .filter(Number.isInteger);
const key = (userid: string) => userid.toLowerCase();

export class SimulatedDirectory {
  private anyUserid = true;
  private readonly members = new Map<string, SimulatedMember>();
  private departments?: Map<number, SimulatedDepartment>;
  private tags?: string[];

  constructor(private readonly initial: DirectoryOptions = {}) {
    this.replace(initial);
  }

  /** Back to what it was given at the start (POST /__sim/reset). */
  reset(): void {
    this.replace(this.initial);
  }

  /** A new directory, as PUT /__sim/members gives it. */
  replace(options: DirectoryOptions): void {
    this.anyUserid = options.users === undefined;
    this.members.clear();
    for (const member of (options.users ?? []).map(memberOf)) this.members.set(key(member.userid), member);
    this.departments = options.parties && new Map(options.parties.map(departmentOf).map((d) => [d.id, d]));
    this.tags = options.tags && [...options.tags];
  }

  exists(kind: 'users' | 'parties' | 'tags', id: string): boolean {
    if (kind === 'users') return USER_ID.test(id) && (this.anyUserid || this.members.has(key(id)));
    if (kind === 'parties') return !this.departments || this.departments.has(Number(id));
    return !this.tags || this.tags.some((tag) => tag.toLowerCase() === id.toLowerCase());
  }

  /** The members it names (in an open directory, those added or given), for GET /__sim/members and agent/get. */
  listing(): { anyUserid: boolean; members: SimulatedMember[]; departments?: SimulatedDepartment[]; tags?: string[] } {
    return {
      anyUserid: this.anyUserid,
      members: [...this.members.values()],
      ...(this.departments ? { departments: [...this.departments.values()] } : {}),
      ...(this.tags ? { tags: this.tags } : {}),
    };
  }

  /**
   * What an admin's change does to the directory, checked whole before anything
   * changes: a refused change leaves the directory as it was and is never pushed.
   */
  apply(fields: ChangeFields): void {
    if (!PLAYED_CHANGE_TYPES.includes(fields.ChangeType))
      throw new ContactChangeRefused(400, `ChangeType must be one of ${PLAYED_CHANGE_TYPES.join(', ')}`);
    const userid = fields.UserID ?? '';
    const known = this.members.get(key(userid));
    switch (fields.ChangeType) {
      case 'create_user': {
        if (!USER_ID.test(userid)) throw new ContactChangeRefused(400, 'create_user needs a UserID of 1-64 letters, digits, _ . @ -');
        if (known) throw new ContactChangeRefused(409, `${userid} is already a member`);
        const department = fields.Department ? numbers(fields.Department) : [1];
        this.members.set(key(userid), {
          userid,
          name: fields.Name || userid,
          department,
          ...(fields.Position ? { position: fields.Position } : {}),
        });
        return;
      }
      case 'update_user': {
        const member = known ?? (this.anyUserid && USER_ID.test(userid) ? memberOf(userid) : undefined);
        if (!member) throw new ContactChangeRefused(404, `${userid || '(no UserID)'} is not a member (GET /__sim/members lists them)`);
        const renamed = fields.NewUserID;
        if (renamed !== undefined && (!USER_ID.test(renamed) || (key(renamed) !== key(userid) && this.members.has(key(renamed)))))
          throw new ContactChangeRefused(409, `NewUserID ${renamed} is malformed or taken`);
        this.members.delete(key(userid));
        const updated = {
          ...member,
          ...(renamed ? { userid: renamed } : {}),
          ...(fields.Name ? { name: fields.Name } : {}),
          ...(fields.Department ? { department: numbers(fields.Department) } : {}),
          ...(fields.Position ? { position: fields.Position } : {}),
        };
        this.members.set(key(updated.userid), updated);
        return;
      }
      case 'delete_user':
        if (!known && !(this.anyUserid && USER_ID.test(userid)))
          throw new ContactChangeRefused(404, `${userid || '(no UserID)'} is not a member (GET /__sim/members lists them)`);
        this.members.delete(key(userid));
        return;
      default:
        this.applyToDepartment(fields);
    }
  }

  private applyToDepartment(fields: ChangeFields): void {
    const id = Number(fields.Id);
    if (!Number.isInteger(id) || id < 1) throw new ContactChangeRefused(400, `${fields.ChangeType} needs an Id (a positive whole number)`);
    // An open directory keeps no departments: the change is pushed, and every id exists anyway.
    const departments = this.departments;
    if (!departments) return;
    const known = departments.get(id);
    switch (fields.ChangeType) {
      case 'create_party':
        if (known) throw new ContactChangeRefused(409, `department ${id} already exists`);
        departments.set(id, { id, name: fields.Name || String(id), parentid: fields.ParentId ? Number(fields.ParentId) : 1 });
        return;
      case 'update_party':
        if (!known) throw new ContactChangeRefused(404, `no department ${id}`);
        departments.set(id, {
          ...known,
          ...(fields.Name ? { name: fields.Name } : {}),
          ...(fields.ParentId ? { parentid: Number(fields.ParentId) } : {}),
        });
        return;
      default: // delete_party
        if (!known) throw new ContactChangeRefused(404, `no department ${id}`);
        departments.delete(id);
    }
  }
}
