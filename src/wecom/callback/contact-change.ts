import { field, type CallbackEvent } from './event';

/**
 * change_contact events (reference §7.3) turned into stable, camelCase records.
 * WeCom sends only the changed attributes on updates, so every field is optional
 * and a missing one means "unchanged", never "cleared".
 */
export interface ContactUser {
  userId: string;
  name?: string;
  departments?: number[];
  mainDepartment?: number;
  leaderInDepartments?: number[];
  directLeaders?: string[];
  position?: string;
  mobile?: string;
  gender?: 'male' | 'female' | 'unknown';
  email?: string;
  bizMail?: string;
  status?: 'active' | 'disabled' | 'inactive' | 'left' | 'unknown';
  avatar?: string;
  alias?: string;
  telephone?: string;
  address?: string;
  extAttrs?: { name: string; type: 'text' | 'web'; value?: string; title?: string; url?: string }[];
}

export interface ContactDepartment {
  id: number;
  name?: string;
  parentId?: number;
  order?: number;
}

export interface TagMembership {
  tagId: number;
  addedUsers: string[];
  removedUsers: string[];
  addedParties: number[];
  removedParties: number[];
}

export type ContactChange =
  | { kind: 'user'; action: 'created' | 'updated'; userId: string; newUserId?: string; attributes: Partial<ContactUser> }
  | { kind: 'user'; action: 'deleted'; userId: string }
  | { kind: 'department'; action: 'created' | 'updated'; id: number; attributes: Partial<ContactDepartment> }
  | { kind: 'department'; action: 'deleted'; id: number }
  | { kind: 'tag'; action: 'updated'; membership: TagMembership }
  | { kind: 'unknown'; reason: string };

const list = (value: string | undefined): string[] | undefined =>
  value === undefined
    ? undefined
    : value
        .split(',')
        .map((v) => v.trim())
        .filter(Boolean);
const numbers = (value: string | undefined): number[] | undefined => list(value)?.map(Number).filter(Number.isFinite);
const number = (value: string | undefined): number | undefined =>
  value === undefined || value === '' || !Number.isFinite(Number(value)) ? undefined : Number(value);

const STATUS: Record<string, ContactUser['status']> = { '1': 'active', '2': 'disabled', '4': 'inactive', '5': 'left' };
const GENDER: Record<string, ContactUser['gender']> = { '0': 'unknown', '1': 'male', '2': 'female' };

function extAttrs(raw: unknown): ContactUser['extAttrs'] {
  const items = (raw as { Item?: unknown } | undefined)?.Item;
  if (items === undefined) return undefined;
  return (Array.isArray(items) ? items : [items]).map((item: Record<string, unknown>) => {
    const text = item.Text as Record<string, string> | undefined;
    const web = item.Web as Record<string, string> | undefined;
    return item.Type === '1'
      ? { name: String(item.Name ?? ''), type: 'web' as const, title: web?.Title, url: web?.Url }
      : { name: String(item.Name ?? ''), type: 'text' as const, value: text?.Value };
  });
}

function withoutUndefined<T extends object>(record: T): Partial<T> {
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as Partial<T>;
}

function userAttributes(event: CallbackEvent): Partial<ContactUser> {
  const f = (name: string) => field(event, name);
  return withoutUndefined({
    name: f('Name'),
    departments: numbers(f('Department')),
    mainDepartment: number(f('MainDepartment')),
    leaderInDepartments:
      f('IsLeaderInDept') === undefined
        ? undefined
        : (() => {
            const departments = numbers(f('Department')) ?? [];
            const flags = list(f('IsLeaderInDept')) ?? [];
            return departments.filter((_, i) => flags[i] === '1');
          })(),
    directLeaders: list(f('DirectLeader')),
    position: f('Position'),
    mobile: f('Mobile'),
    gender: f('Gender') === undefined ? undefined : (GENDER[f('Gender')!] ?? 'unknown'),
    email: f('Email'),
    bizMail: f('BizMail'),
    status: f('Status') === undefined ? undefined : (STATUS[f('Status')!] ?? 'unknown'),
    avatar: f('Avatar'),
    alias: f('Alias'),
    telephone: f('Telephone'),
    address: f('Address'),
    extAttrs: extAttrs(event.fields.ExtAttr),
  });
}

export function parseContactChange(event: CallbackEvent): ContactChange {
  const changeType = field(event, 'ChangeType');
  const userId = field(event, 'UserID');
  const id = number(field(event, 'Id'));
  switch (changeType) {
    case 'create_user':
    case 'update_user':
      if (!userId) return { kind: 'unknown', reason: `${changeType} without UserID` };
      return {
        kind: 'user',
        action: changeType === 'create_user' ? 'created' : 'updated',
        userId,
        newUserId: field(event, 'NewUserID') || undefined,
        attributes: userAttributes(event),
      };
    case 'delete_user':
      return userId ? { kind: 'user', action: 'deleted', userId } : { kind: 'unknown', reason: 'delete_user without UserID' };
    case 'create_party':
    case 'update_party':
      if (id === undefined) return { kind: 'unknown', reason: `${changeType} without Id` };
      return {
        kind: 'department',
        action: changeType === 'create_party' ? 'created' : 'updated',
        id,
        attributes: withoutUndefined({
          name: field(event, 'Name'),
          parentId: number(field(event, 'ParentId')),
          order: number(field(event, 'Order')),
        }),
      };
    case 'delete_party':
      return id === undefined ? { kind: 'unknown', reason: 'delete_party without Id' } : { kind: 'department', action: 'deleted', id };
    case 'update_tag': {
      const tagId = number(field(event, 'TagId'));
      if (tagId === undefined) return { kind: 'unknown', reason: 'update_tag without TagId' };
      return {
        kind: 'tag',
        action: 'updated',
        membership: {
          tagId,
          addedUsers: list(field(event, 'AddUserItems')) ?? [],
          removedUsers: list(field(event, 'DelUserItems')) ?? [],
          addedParties: numbers(field(event, 'AddPartyItems')) ?? [],
          // Absent when a department deletion triggered the event (reference §7.3).
          removedParties: numbers(field(event, 'DelPartyItems')) ?? [],
        },
      };
    }
    default:
      return { kind: 'unknown', reason: `unknown ChangeType ${changeType ?? '(none)'}` };
  }
}
