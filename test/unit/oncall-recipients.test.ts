import { ApiError } from '../../src/http/errors';
import { mentionsSchema } from '../../src/messages/mentions';
import { groupMessagesOf, mentioningOnCall } from '../../src/messages/oncall-mentions';
import { divideByBudget, requireSchedules, resolvePart, type OnCallDirectory } from '../../src/messages/oncall-recipients';
import { memberCalls, membersOf, recipientsSchema } from '../../src/messages/recipients';
import { recipientsSummary } from '../../src/messages/message-record';
import { recipientsKey } from '../../src/alerts/storm';
import { GatewayErrcode } from '../../src/wecom/errcodes';
import { MessageLimitError } from '../../src/wecom/limits';

/** A directory whose shifts the test sets: schedule -> users on call, read at each call. */
function directory(shifts: Record<string, string[]>): OnCallDirectory & { shifts: Record<string, string[]>; asked: number[] } {
  const d = {
    shifts,
    asked: [] as number[],
    has: (name: string) => name in d.shifts,
    usersOnCall: async (name: string, at?: number) => {
      d.asked.push(at ?? -1);
      return d.shifts[name] ?? [];
    },
  };
  return d;
}

describe('to.oncall in the recipients schema', () => {
  it('when to names only an on-call schedule, then it is a member recipient', () => {
    const to = recipientsSchema.parse({ oncall: ['sre'] });
    expect(membersOf(to)).toEqual({ oncall: ['sre'] });
  });

  it('when oncall is a single name instead of a list, then the error shows the list it needs', () => {
    const parsed = recipientsSchema.safeParse({ oncall: 'sre' });
    expect(parsed.success).toBe(false);
    expect(JSON.stringify(parsed.error!.issues)).toContain('on-call schedule names, e.g. [\\"sre\\"]');
  });

  it('when a schedule name holds a space, then it is refused', () => {
    expect(recipientsSchema.safeParse({ oncall: ['s re'] }).success).toBe(false);
  });

  it('when mentions name an on-call schedule, then the mentions schema takes it', () => {
    expect(mentionsSchema.parse({ oncall: ['sre'], users: ['lisi'] })).toEqual({ oncall: ['sre'], users: ['lisi'] });
  });

  it('when storm control keys recipient sets, then two schedules are two sets, and sets without one keep their key', () => {
    expect(recipientsKey({ oncall: ['sre'] })).not.toBe(recipientsKey({ oncall: ['night'] }));
    expect(recipientsKey({ users: ['a'], oncall: ['sre'] })).not.toBe(recipientsKey({ users: ['a'] }));
    expect(recipientsKey({ oncall: ['b', 'a'] })).toBe(recipientsKey({ oncall: ['a', 'b'] }));
  });

  it('when a record summarizes its recipients, then the schedules are named', () => {
    expect(recipientsSummary({ users: ['a'], oncall: ['sre'] })).toBe('users a; oncall sre');
  });
});

describe('memberCalls', () => {
  it('when only schedules are named, then one call carries them with nobody else', () => {
    expect(memberCalls({ oncall: ['sre', 'sre', 'dba'] })).toEqual([{ to: {}, oncall: ['sre', 'dba'] }]);
  });

  it('when users fill several calls, then the schedules ride on the last one', () => {
    const users = Array.from({ length: 1001 }, (_, i) => `u${i}`);
    const calls = memberCalls({ users, oncall: ['sre'] });
    expect(calls).toHaveLength(2);
    expect(calls[0].oncall).toBeUndefined();
    expect(calls[1]).toEqual({ to: { touser: 'u1000' }, oncall: ['sre'] });
  });
});

describe('requireSchedules', () => {
  it('when a schedule is unknown, then 404 unknown_oncall names its field', () => {
    const refuse = () => requireSchedules(['sre', 'nope'], 'to.oncall', directory({ sre: ['ops1'] }));
    expect(refuse).toThrow(ApiError);
    try {
      refuse();
    } catch (error) {
      expect(error).toMatchObject({ status: 404, code: 'unknown_oncall', fields: [{ field: 'to.oncall.1' }] });
    }
  });

  it('when no directory is configured, then any schedule is unknown and the message says none is configured', () => {
    expect(() => requireSchedules(['sre'], 'mentions.oncall', undefined)).toThrow(/none is configured/);
  });

  it('when every schedule is known, then nothing is thrown', () => {
    expect(() => requireSchedules(['sre'], 'to.oncall', directory({ sre: [] }))).not.toThrow();
  });
});

describe('resolvePart', () => {
  it('when a part names a schedule, then whoever is on call at that time joins the named users', async () => {
    const d = directory({ sre: ['ops2', 'zhangsan'] });
    const resolved = await resolvePart(d, { to: { touser: 'zhangsan', toparty: '2' }, oncall: ['sre'] }, 1_000);
    expect(resolved).toEqual({
      kind: 'target',
      target: { to: { touser: 'zhangsan|ops2', toparty: '2' }, fromOncall: ['ops2'], summary: 'members; on call sre: ops2|zhangsan' },
    });
    expect(d.asked).toEqual([1_000]);
  });

  it('when nobody is on call and nobody else is named, then the part fails with the gateway errcode naming the schedule', async () => {
    const resolved = await resolvePart(directory({ sre: [] }), { to: {}, oncall: ['sre'] }, 0);
    expect(resolved.kind).toBe('nobody');
    if (resolved.kind !== 'nobody') return;
    expect(resolved.error.errcode).toBe(GatewayErrcode.nobodyOnCall);
    expect(resolved.error.errmsg).toContain('nobody is on call for sre');
  });

  it('when nobody is on call but a department is named, then the part goes to the department', async () => {
    const resolved = await resolvePart(directory({ sre: [] }), { to: { toparty: '2' }, oncall: ['sre'] }, 0);
    expect(resolved).toMatchObject({ kind: 'target', target: { to: { toparty: '2' }, summary: 'members; on call sre: nobody' } });
  });

  it('when a part names no schedule, then it goes as it is and the directory is not asked', async () => {
    const d = directory({});
    expect(await resolvePart(d, { to: { touser: 'a' } }, 0)).toEqual({ kind: 'target', target: { to: { touser: 'a' }, fromOncall: [] } });
    expect(d.asked).toEqual([]);
  });
});

describe('divideByBudget', () => {
  const part = { to: { touser: 'zhangsan' }, oncall: ['sre'] };
  const target = { to: { touser: 'zhangsan|ops2' }, fromOncall: ['ops2'] };

  it('when the on-call user is over budget, then the deferred part keeps the schedule, not the user', () => {
    expect(divideByBudget(part, target, ['zhangsan'], ['ops2'])).toEqual({
      keep: { to: { touser: 'zhangsan' }, oncall: undefined },
      defer: { to: {}, oncall: ['sre'] },
    });
  });

  it('when a named user is over budget, then the job keeps the schedule and the deferred part names the user', () => {
    expect(divideByBudget(part, target, ['ops2'], ['zhangsan'])).toEqual({
      keep: { to: {}, oncall: ['sre'] },
      defer: { to: { touser: 'zhangsan' }, oncall: undefined },
    });
  });

  it('when on-call users fall on both sides, then the deferred ones are named as they are now', () => {
    const two = { to: { touser: 'ops1|ops2' }, fromOncall: ['ops1', 'ops2'] };
    expect(divideByBudget({ to: {}, oncall: ['sre'] }, two, ['ops1'], ['ops2'])).toEqual({
      keep: { to: {}, oncall: ['sre'] },
      defer: { to: { touser: 'ops2' }, oncall: undefined },
    });
  });
});

describe('on-call mentions in robot and chat messages', () => {
  it('when a robot text mentions on-call, then the accepted message has the fixed mentions and the part keeps the schedules', () => {
    const built = groupMessagesOf('robot', 'text', { content: 'disk full' }, { users: ['lisi'], oncall: ['sre'] });
    expect(built.messages).toEqual([{ msgtype: 'text', body: { content: 'disk full', mentioned_list: ['lisi'] } }]);
    expect(built.mentionOncall).toEqual({
      schedules: ['sre'],
      form: 'robot',
      msgtype: 'text',
      body: { content: 'disk full' },
      mentions: { users: ['lisi'] },
    });
  });

  it('when a form cannot @mention, then on-call mentions are refused at accept time', () => {
    const news = { articles: [{ title: 't', url: 'https://example.com' }] };
    expect(() => groupMessagesOf('robot', 'news', news, { oncall: ['sre'] })).toThrow(MessageLimitError);
  });

  it('when the part is sent, then whoever is on call is in mentioned_list', async () => {
    const built = groupMessagesOf('chat', 'text', { content: 'disk full' }, { users: ['lisi'], oncall: ['sre'] });
    const messages = await mentioningOnCall(directory({ sre: ['ops2'] }), built, 0);
    expect(messages).toEqual([{ msgtype: 'text', body: { content: 'disk full', mentioned_list: ['lisi', 'ops2'] } }]);
  });

  it('when a robot markdown mentions on-call, then <@userid> of the one on call ends it', async () => {
    const built = groupMessagesOf('robot', 'markdown', { content: '**disk**' }, { oncall: ['sre'] });
    const messages = await mentioningOnCall(directory({ sre: ['ops3'] }), built, 0);
    expect(messages[0].body.content).toMatch(/<@ops3>$/);
  });

  it('when nobody is on call, then the messages go as accepted', async () => {
    const built = groupMessagesOf('robot', 'text', { content: 'x' }, { oncall: ['sre'] });
    expect(await mentioningOnCall(directory({ sre: [] }), built, 0)).toEqual(built.messages);
  });
});
