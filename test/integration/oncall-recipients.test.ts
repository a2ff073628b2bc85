import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MessageStore } from '../../src/messages/message-store';
import { deliverPush, readPassiveReply } from '../../src/wecom/callback/push';
import { amAlert, amPayload, CARD_AES_KEY, CARD_TOKEN, startCardGateway } from '../support/alertmanager';
import { problemsOf } from '../support/config-problems';
import { alert, eventually, finalStatus, SIM_APP, startHarness, type Harness } from '../support/harness';
import { memberTextXml } from '../support/wecom-push';

const ROBOT_KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a0c1';
const DAY = 86_400_000;
/**
 * 11:00 in Shanghai on 2 Mar 2027: the second day of sre's rotation, so ops2 is on call (ops3 from 09:00 the next day).
 * Later than the wall clock: Redis expires an override's key by the wall clock, at its `until`.
 */
const MAR_2 = Date.parse('2027-03-02T03:00:00Z');

const SCHEDULES = [
  'oncall:',
  '  - name: sre',
  '    timezone: Asia/Shanghai',
  '    rotation: { users: [ops1, ops2, ops3], every: 1d, handoff: "09:00", start: "2027-03-01" }',
  // Both begin next year: until then nobody is on call; backup has fallback users, night has none.
  '  - name: night',
  '    rotation: { users: [owl1], every: 1w, handoff: "09:00", start: "2028-06-01" }',
  '  - name: backup',
  '    rotation: { users: [bk1], every: 1w, handoff: "09:00", start: "2028-06-01" }',
  '    fallback: [fb1]',
];

const ROUTES = [
  'alertRoutes:',
  '  - { name: sre, oncall: [sre] }',
  '  - { name: esc, users: [lead1], escalation: [{ after: 1s, to: { oncall: [sre] } }] }',
  '  - name: gap',
  '    users: [lead2]',
  '    escalation: [{ after: 1s, to: { oncall: [night] } }, { after: 1h, to: { users: [boss] } }]',
  '  - { name: robot, robots: [ops], msgtype: text, mentions: { oncall: [sre] } }',
];

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'wgw-oncall-'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function configFile(name: string, lines: string[]): string {
  const file = join(dir, name);
  writeFileSync(file, [...lines, ''].join('\n'));
  return file;
}

/** A clock that runs with the wall clock from `start`; `jump` moves it (a handoff) without waiting. */
function movableClock(start: number) {
  const began = Date.now();
  let offset = 0;
  return { now: () => start + offset + (Date.now() - began), jump: (ms: number) => (offset += ms) };
}

/** An Alertmanager group of its own (a new alertname), so no test's notification is another's duplicate. */
const firing = (name: string) =>
  amPayload({
    groupKey: `{}:{alertname="${name}"}`,
    groupLabels: { alertname: name },
    commonLabels: { alertname: name, severity: 'critical' },
    alerts: [amAlert({ labels: { alertname: name, severity: 'critical', instance: 'db1:9100' }, fingerprint: name })],
  });

const sentTo = (h: Harness, user: string) => h.sim.sent.filter((m) => m.touser.includes(user));

describe('on-call as a recipient', () => {
  let h: Harness;
  let store: MessageStore;
  const clock = movableClock(MAR_2);

  beforeAll(async () => {
    h = await startHarness({
      env: { GATEWAY_CONFIG: configFile('oncall.yaml', [...SCHEDULES, ...ROUTES]), WECOM_ROBOTS: `ops=${ROBOT_KEY}` },
      simulator: { robotKeys: [ROBOT_KEY] },
      clock: clock.now,
    });
    store = new MessageStore(h.redis, { keys: h.keys, retentionSeconds: 3_600 });
  });
  afterAll(() => h.close());
  beforeEach(() => h.sim.reset());

  describe('POST /v1/messages', () => {
    it('when a message goes to to.oncall, then the member on call gets it, and its timeline says who', async () => {
      const res = await h.api.post('/v1/messages').send(alert({ to: { oncall: ['sre'] } }));
      expect(res.status).toBe(202);
      const view = await finalStatus(h.api, res.body.id);
      expect(view).toMatchObject({ status: 'sent', recipients: 'oncall sre' });
      expect(h.sim.sent.map((m) => m.touser)).toEqual([['ops2']]);
      const [attempt] = await store.attempts(res.body.id);
      expect(attempt).toMatchObject({ outcome: 'sent', to: 'members; on call sre: ops2' });
    });

    it('when an override covers now, then the override user gets it instead of the rotation', async () => {
      const from = new Date(clock.now() - 60_000).toISOString();
      const until = new Date(clock.now() + DAY).toISOString();
      const override = await h.api.post('/v1/oncall/sre/overrides').send({ user: 'sub1', from, until });
      expect(override.status).toBe(201);
      try {
        const res = await h.api.post('/v1/messages').send(alert({ to: { users: ['zhangsan'], oncall: ['sre'] } }));
        expect(await finalStatus(h.api, res.body.id)).toMatchObject({ status: 'sent' });
        // sub1 also gets the override's handoff message (who is on call until when): the alert is the one to zhangsan.
        expect(sentTo(h, 'zhangsan').map((m) => m.touser)).toEqual([['zhangsan', 'sub1']]);
        expect(sentTo(h, 'ops2')).toHaveLength(0);
      } finally {
        await h.api.delete(`/v1/oncall/sre/overrides/${override.body.id}`);
      }
    });

    it('when nobody is on call and the schedule has a fallback, then the fallback users get it', async () => {
      const res = await h.api.post('/v1/messages').send(alert({ to: { oncall: ['backup'] } }));
      expect(await finalStatus(h.api, res.body.id)).toMatchObject({ status: 'sent' });
      expect(h.sim.sent.map((m) => m.touser)).toEqual([['fb1']]);
    });

    it('when nobody is on call and there is no fallback, then the message fails for good naming the schedule, and nothing is sent', async () => {
      const res = await h.api.post('/v1/messages').send(alert({ to: { oncall: ['night'] } }));
      expect(res.status).toBe(202);
      const view = await finalStatus(h.api, res.body.id);
      expect(view.status).toBe('failed');
      expect(view.error).toMatchObject({ errcode: -6, errmsg: expect.stringContaining('nobody is on call for night') });
      expect(view.error.hint).toContain('/v1/oncall/{name}/overrides');
      expect(h.sim.sent).toHaveLength(0);
    });

    it('when to.oncall or mentions.oncall names an unknown schedule, then 404 unknown_oncall names the field and nothing is queued', async () => {
      const unknownTo = await h.api.post('/v1/messages').send(alert({ to: { users: ['zhangsan'], oncall: ['sre', 'dba'] } }));
      expect(unknownTo.status).toBe(404);
      expect(unknownTo.body.error).toMatchObject({ code: 'unknown_oncall', fields: [{ field: 'to.oncall.1' }] });
      const unknownMention = await h.api.post('/v1/messages').send(alert({ to: { robots: ['ops'] }, mentions: { oncall: ['dba'] } }));
      expect(unknownMention.status).toBe(404);
      expect(unknownMention.body.error.fields).toEqual([{ field: 'mentions.oncall.0', message: 'no on-call schedule is named dba' }]);
      const listed = await h.api.get('/v1/messages?recipient=dba');
      expect(listed.body.items ?? listed.body.messages ?? []).toHaveLength(0);
      expect(h.sim.sent).toHaveLength(0);
    });

    it('when a robot message mentions oncall, then mentioned_list holds whoever is on call when it is sent', async () => {
      const res = await h.api.post('/v1/messages').send(alert({ to: { robots: ['ops'] }, mentions: { users: ['lisi'], oncall: ['sre'] } }));
      expect(res.status).toBe(202);
      expect(await finalStatus(h.api, res.body.id)).toMatchObject({ status: 'sent' });
      const [robot] = h.sim.robotSent;
      expect(robot.body.mentioned_list).toEqual(['lisi', 'ops2']);
    });
  });

  describe('alert routes, integrations and escalation', () => {
    it("when a route's recipients are an on-call schedule, then the alert goes to whoever is on call", async () => {
      const res = await h.api.post('/v1/integrations/alertmanager?route=sre').send(firing('RouteOnCall'));
      expect(res.status).toBe(202);
      const [message] = await eventually(() => (h.sim.sent.length > 0 ? h.sim.sent : undefined));
      expect(message.touser).toEqual(['ops2']);
    });

    it.each(['alertmanager', 'grafana'])('when /v1/integrations/%s is given ?oncall=sre, then the one on call gets it', async (source) => {
      const body =
        source === 'alertmanager'
          ? firing(`QueryOnCall-${source}`)
          : { ...firing(`QueryOnCall-${source}`), orgId: 1, state: 'alerting', title: '[FIRING:1] QueryOnCall' };
      const res = await h.api.post(`/v1/integrations/${source}?oncall=sre`).send(body);
      expect(res.status).toBe(202);
      await eventually(() => sentTo(h, 'ops2').length > 0 || undefined);
      expect(h.sim.sent.every((m) => m.touser.join() === 'ops2')).toBe(true);
    });

    it('when ?oncall= names an unknown schedule, then the integration answers 404 unknown_oncall', async () => {
      const res = await h.api.post('/v1/integrations/alertmanager?oncall=dba').send(firing('QueryUnknown'));
      expect(res.status).toBe(404);
      expect(res.body.error).toMatchObject({ code: 'unknown_oncall', message: expect.stringContaining('unknown on-call schedule dba') });
    });

    it("when a route's robot mentions oncall, then the alert's robot message @-mentions the one on call", async () => {
      const res = await h.api.post('/v1/integrations/alertmanager?route=robot').send(firing('RobotOnCall'));
      expect(res.status).toBe(202);
      const [robot] = await eventually(() => (h.sim.robotSent.length > 0 ? h.sim.robotSent : undefined));
      expect(robot.body.mentioned_list).toEqual(['ops2']);
    });

    it('when nobody acts and the next level is on call, then the escalation pages whoever is on call then', async () => {
      const res = await h.api.post('/v1/integrations/alertmanager?route=esc').send(firing('EscalateOnCall'));
      expect(res.status).toBe(202);
      await eventually(() => sentTo(h, 'lead1').length > 0 || undefined);
      const [escalated] = await eventually(() => (sentTo(h, 'ops2').length > 0 ? sentTo(h, 'ops2') : undefined), 10_000);
      expect(escalated.touser).toEqual(['ops2']);
      const group = await eventually(async () => {
        const view = (await h.api.get(`/v1/alerts/${res.body.alert}`)).body;
        return view.timeline?.some((e: { kind: string }) => e.kind === 'escalated') ? view : undefined;
      });
      expect(group.timeline).toContainEqual(expect.objectContaining({ kind: 'escalated', level: 1, to: 'on call sre' }));
    });

    it('when the next level is on call and nobody is, then the level after goes at once and the timeline says why', async () => {
      const res = await h.api.post('/v1/integrations/alertmanager?route=gap').send(firing('EscalationGap'));
      expect(res.status).toBe(202);
      // The third level waits 1 h after the second: reaching boss within seconds means the gap was skipped at once.
      await eventually(() => sentTo(h, 'boss').length > 0 || undefined, 10_000);
      expect(h.sim.sent.some((m) => m.touser.includes('owl1'))).toBe(false);
      const view = (await h.api.get(`/v1/alerts/${res.body.alert}`)).body;
      const escalations = view.timeline.filter((e: { kind: string }) => e.kind === 'escalated');
      expect(escalations).toEqual([
        expect.objectContaining({ level: 1, to: 'on call night', detail: 'nobody on call for night: level 2 at once' }),
        expect.objectContaining({ level: 2, to: 'boss' }),
      ]);
    });
  });
});

describe('a deferred part and the handoff', () => {
  let h: Harness;
  const clock = movableClock(MAR_2);

  beforeAll(async () => {
    // One message a member per 3 s: a second one to the same person waits for the window.
    h = await startHarness({
      env: { GATEWAY_CONFIG: configFile('handoff.yaml', SCHEDULES), MEMBER_QUOTA: '1/3' },
      clock: clock.now,
    });
  });
  afterAll(() => h.close());

  it('when a part to oncall waits for the member budget past a handoff, then it goes to whoever is on call when it leaves', async () => {
    const first = await h.api.post('/v1/messages').send(alert({ to: { users: ['ops2'] } }));
    expect(await finalStatus(h.api, first.body.id)).toMatchObject({ status: 'sent' });
    const res = await h.api.post('/v1/messages').send(alert({ to: { oncall: ['sre'] } }));
    await eventually(async () => (await h.api.get(`/v1/messages/${res.body.id}`)).body.status === 'deferred' || undefined);
    // The handoff: 09:00 the next day, ops3 takes over while the part waits.
    clock.jump(DAY);
    expect(await finalStatus(h.api, res.body.id)).toMatchObject({ status: 'sent' });
    expect(h.sim.deliveriesTo('ops3')).toHaveLength(1);
    expect(h.sim.deliveriesTo('ops2')).toHaveLength(1);
  }, 20_000);
});

describe('cards to on-call', () => {
  let gw: Awaited<ReturnType<typeof startCardGateway>>;

  beforeAll(async () => {
    // Cards need the app's callback and a silence target; no silence is made here, so nothing listens on port 9.
    gw = await startCardGateway(
      9,
      { GATEWAY_CONFIG: configFile('cards.yaml', [...SCHEDULES, ...ROUTES]), WECOM_ROBOTS: `ops=${ROBOT_KEY}` },
      { clock: movableClock(MAR_2).now },
    );
  });
  afterAll(() => gw?.close());

  it("when a route's card goes to on-call, then the one on call gets the card and acks it with a text 'ack'", async () => {
    const res = await gw.h.api.post('/v1/integrations/alertmanager?route=sre').send(firing('CardOnCall'));
    expect(res.status).toBe(202);
    const card = await eventually(() => gw.h.sim.cards.find((c) => c.taskId?.startsWith(`alert_${res.body.alert}_`)));
    expect(card.to.users).toEqual(['ops2']);
    const target = {
      url: `${gw.base}/wecom/callback`,
      token: CARD_TOKEN,
      aesKey: CARD_AES_KEY,
      corpId: SIM_APP.corpId,
      agentId: SIM_APP.agentId,
    };
    const pushed = await deliverPush(target, memberTextXml('ack', 'oncall-ack-1', undefined, 'ops2'));
    expect(pushed.status).toBe(200);
    expect(readPassiveReply(target, pushed.body)).toMatchObject({ content: expect.stringContaining('CardOnCall') });
    const view = await eventually(async () => {
      const group = (await gw.h.api.get(`/v1/alerts/${res.body.alert}`)).body;
      return group.status === 'acked' ? group : undefined;
    });
    expect(view.acked).toMatchObject({ by: 'ops2' });
  });
});

describe('storm digests', () => {
  let h: Harness;
  const clock = movableClock(MAR_2);

  beforeAll(async () => {
    h = await startHarness({
      env: {
        GATEWAY_CONFIG: configFile('storm.yaml', [...SCHEDULES, ...ROUTES]),
        WECOM_ROBOTS: `ops=${ROBOT_KEY}`,
        STORM_PER_RECIPIENT_PER_MINUTE: '1',
      },
      simulator: { robotKeys: [ROBOT_KEY] },
      clock: clock.now,
    });
  });
  afterAll(() => h.close());

  it("when a route's notifications fold into a digest, then the digest @-mentions whoever is on call too", async () => {
    // Two seconds before the minute ends: the digest of what folded goes out a second after it.
    clock.jump(60_000 - (clock.now() % 60_000) - 2_000);
    for (const name of ['StormOne', 'StormTwo']) {
      expect((await h.api.post('/v1/integrations/alertmanager?route=robot').send(firing(name))).status).toBe(202);
    }
    const [first, digest] = await eventually(() => (h.sim.robotSent.length >= 2 ? h.sim.robotSent : undefined), 10_000);
    expect(String(first.body.content)).toContain('StormOne');
    expect(String(digest.body.content)).toContain('StormTwo');
    // The digest is the event's markdown: its mentions are <@userid> at its end.
    expect(digest.msgtype).toBe('markdown');
    expect(String(digest.body.content)).toMatch(/<@ops2>$/);
  }, 20_000);
});

describe('start-up', () => {
  it.each([
    ['a route', '  - { name: r, oncall: [dba] }', 'alertRoutes.0.oncall: no on-call schedule is named dba'],
    [
      'an escalation level',
      '  - { name: r, users: [a], escalation: [{ after: 5m, to: { oncall: [dba] } }] }',
      'alertRoutes.0.escalation.0.to.oncall: no on-call schedule is named dba',
    ],
    ['a mention', '  - { name: r, robots: [], users: [a], mentions: { oncall: [dba] } }', 'alertRoutes.0.mentions.oncall: no on-call'],
  ])('when %s names an unknown schedule, then start-up stops with one line naming it', (_what, route, problem) => {
    const file = configFile('unknown.yaml', [...SCHEDULES, 'alertRoutes:', route]);
    const problems = problemsOf({ GATEWAY_CONFIG: file, LOG_LEVEL: 'silent' });
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(problem);
  });
});
