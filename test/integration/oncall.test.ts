import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Queue } from 'bullmq';
import pino from 'pino';
import { parseDuration } from '../../src/alerts/escalation-config';
import { amPayload } from '../support/alertmanager';
import { problemsOf } from '../support/config-problems';
import { eventually, metricLines, startHarness, type Harness } from '../support/harness';

const ADMIN = 'oncall-admin-key-0123456789';
const READER = 'oncall-reader-key-0123456';
const OPS_KEY = '693a91f6-7b2c-4bc4-97a0-0ec2f1a5a0c1';

/** sre: ops1, ops2, ops3 a day each from 1 December, 09:00 Shanghai (01:00Z); later: starts in the future, with a fallback. */
const SCHEDULES = `
oncall:
  - name: sre
    timezone: Asia/Shanghai
    rotation: { users: [ops1, ops2, ops3], every: 1d, handoff: "09:00", start: "2026-12-01" }
    announce: { robots: [ops] }
  - name: later
    rotation: { users: [dev1], every: 1w, handoff: "10:00", start: "2027-01-04" }
    fallback: [lead1]
`;

function configFile(yaml: string): string {
  const path = join(mkdtempSync(join(tmpdir(), 'oncall-')), 'gateway.yaml');
  writeFileSync(path, yaml);
  return path;
}

const at = (iso: string) => Date.parse(iso);
/** 08:30 on 8 December in Shanghai: ops1's shift (since 7 December 09:00) has half an hour to go. */
const START = at('2026-12-08T00:30:00Z');
const HANDOFF = at('2026-12-08T01:00:00Z');

describe('on call: schedules, overrides and handoffs', () => {
  let h: Harness;
  let now = START;
  const logged: string[] = [];
  const env = {
    GATEWAY_CONFIG: configFile(SCHEDULES),
    GATEWAY_API_KEYS: `${ADMIN},${READER}:read`,
    WECOM_ROBOTS: `ops=${OPS_KEY}`,
    ALERT_LANGUAGE: 'en',
  };
  const admin = () => ({ Authorization: `Bearer ${ADMIN}` });
  const reader = () => ({ Authorization: `Bearer ${READER}` });
  const handoffQueue = () => h.gateway.queues.get('oncall-handoff') as Queue;
  /** wecom_gateway_oncall_handoffs_total of sre for one result. */
  const handoffs = async (result: string) => {
    const line = (await metricLines(h.api, 'wecom_gateway_oncall_handoffs_total'))
      .split('\n')
      .find((l) => l.includes(`result="${result}"`));
    return line ? Number(line.split(' ').pop()) : 0;
  };

  beforeAll(async () => {
    h = await startHarness({
      env,
      simulator: { robotKeys: [OPS_KEY] },
      clock: () => now,
      logger: pino({ level: 'warn' }, { write: (line: string) => void logged.push(JSON.parse(line).msg) }),
      // The route escalates, so its alert groups are followed: one is open at the handoff.
      config: (c) => ({
        ...c,
        alerts: {
          ...c.alerts,
          routes: [{ name: 'db', users: ['dba1'], escalation: [{ after: parseDuration('1h')!, to: { users: ['dba2'] } }] }],
        },
      }),
    });
  });
  afterAll(() => h.close());

  describe('start-up', () => {
    it('when a schedule starts in the future and contact sync is off, then start-up warns of the gap and of unchecked users', () => {
      expect(logged).toContain(
        'oncall later: nobody is on call before 2027-01-04 10:00 (Asia/Shanghai): its fallback (lead1) is paged until then',
      );
      expect(logged).toContain(
        'oncall: the users of the schedules could not be checked (contact sync is off): ' +
          'ops1, ops2, ops3, dev1, lead1 are taken as they are',
      );
    });

    it('when a schedule announces to a robot nobody configured, then start-up stops with a line naming the schedule', () => {
      const file = configFile(
        'oncall:\n  - { name: sre, rotation: { users: [a], every: 1d, handoff: "09:00", start: "2026-12-01" },\n' +
          '      announce: { robots: [nope] } }\n',
      );
      expect(problemsOf({ GATEWAY_CONFIG: file })).toEqual([`${file}: oncall.0.announce.robots: schedule sre: no robot is named nope`]);
    });

    it("when the gateway starts, then each schedule's next handoff waits as one delayed job", async () => {
      const ids = (await handoffQueue().getDelayed()).map((j) => j.id).sort();
      expect(ids).toEqual([`handoff-later-${at('2027-01-04T02:00:00Z')}`, `handoff-sre-${HANDOFF}`]);
    });
  });

  describe('GET /v1/oncall', () => {
    it('when asked, then every schedule says who is on call now and who a page reaches', async () => {
      const res = await h.api.get('/v1/oncall').set(reader());
      expect(res.status).toBe(200);
      expect(res.body.schedules).toEqual([
        {
          name: 'sre',
          timezone: 'Asia/Shanghai',
          now: { user: 'ops1', since: '2026-12-07T01:00:00.000Z', until: '2026-12-08T01:00:00.000Z' },
          paged: ['ops1'],
        },
        { name: 'later', timezone: 'Asia/Shanghai', now: null, paged: ['lead1'] },
      ]);
    });

    it('when one schedule is asked, then it answers now and the next 5 shifts; an unknown one is 404', async () => {
      const res = await h.api.get('/v1/oncall/sre').set(reader());
      expect(res.body.now.user).toBe('ops1');
      expect(res.body.next.map((s: { user: string; since: string }) => `${s.user} ${s.since}`)).toEqual([
        'ops2 2026-12-08T01:00:00.000Z',
        'ops3 2026-12-09T01:00:00.000Z',
        'ops1 2026-12-10T01:00:00.000Z',
        'ops2 2026-12-11T01:00:00.000Z',
        'ops3 2026-12-12T01:00:00.000Z',
      ]);
      const unknown = await h.api.get('/v1/oncall/nope').set(reader());
      expect([unknown.status, unknown.body.error.code]).toEqual([404, 'unknown_schedule']);
    });
  });

  describe('overrides', () => {
    afterEach(async () => {
      for (const o of (await h.api.get('/v1/oncall/sre/overrides').set(reader())).body.overrides)
        await h.api.delete(`/v1/oncall/sre/overrides/${o.id}`).set(admin());
    });

    it('when an override covers now, then now.user is its user and the rest of the shift follows it', async () => {
      const res = await h.api
        .post('/v1/oncall/sre/overrides')
        .set(admin())
        .send({ user: 'lihua', from: '2026-12-08T08:00:00+08:00', until: '2026-12-08T08:50:00+08:00' });
      expect(res.status).toBe(201);
      expect(res.body).toEqual({
        id: expect.stringMatching(/^ovr_/),
        user: 'lihua',
        from: '2026-12-08T00:00:00.000Z',
        until: '2026-12-08T00:50:00.000Z',
      });
      const view = (await h.api.get('/v1/oncall/sre').set(reader())).body;
      expect(view.now).toEqual({
        user: 'lihua',
        since: '2026-12-08T00:00:00.000Z',
        until: '2026-12-08T00:50:00.000Z',
        override: res.body.id,
      });
      expect(view.next[0]).toEqual({ user: 'ops1', since: '2026-12-08T00:50:00.000Z', until: '2026-12-08T01:00:00.000Z' });
      expect((await h.api.get('/v1/oncall').set(reader())).body.schedules[0].paged).toEqual(['lihua']);
      // Its start (already past) is a handoff: lihua is told at once.
      const told = await eventually(() => h.sim.sent.find((m) => m.touser.includes('lihua')));
      expect((told.body.markdown as { content: string }).content).toContain('On call now: lihua (override), until 08:50');
    });

    it('when an override would overlap another, then 409 names the one it overlaps; touching end to start is fine', async () => {
      const first = await h.api
        .post('/v1/oncall/sre/overrides')
        .set(admin())
        .send({ user: 'lihua', from: '2026-12-09T12:00:00Z', until: '2026-12-09T14:00:00Z' });
      const overlap = await h.api
        .post('/v1/oncall/sre/overrides')
        .set(admin())
        .send({ user: 'wangwu', from: '2026-12-09T13:00:00Z', until: '2026-12-09T15:00:00Z' });
      expect(overlap.status).toBe(409);
      expect(overlap.body.error).toMatchObject({ code: 'override_overlap', message: expect.stringContaining(first.body.id) });
      const after = await h.api
        .post('/v1/oncall/sre/overrides')
        .set(admin())
        .send({ user: 'wangwu', from: '2026-12-09T14:00:00Z', until: '2026-12-09T15:00:00Z' });
      expect(after.status).toBe(201);
      const listed = (await h.api.get('/v1/oncall/sre/overrides').set(reader())).body.overrides;
      expect(listed.map((o: { user: string }) => o.user)).toEqual(['lihua', 'wangwu']);
    });

    it('when the times are bad, then 400 names the field; an unknown schedule is 404', async () => {
      const post = (body: object, name = 'sre') => h.api.post(`/v1/oncall/${name}/overrides`).set(admin()).send(body);
      const field = async (body: object) => (await post(body)).body.error.fields.map((f: { field: string }) => f.field);
      expect(await field({ user: 'lihua', from: 'tomorrow', until: '2026-12-09T14:00:00Z' })).toEqual(['from']);
      expect(await field({ user: 'lihua', from: '2026-12-09T14:00:00', until: '2026-12-09T15:00:00Z' })).toEqual(['from']);
      expect(await field({ user: 'lihua', from: '2026-12-09T14:00:00Z', until: '2026-12-09T14:00:00Z' })).toEqual(['until']);
      expect(await field({ user: 'lihua', from: '2026-12-01T00:00:00Z', until: '2026-12-02T00:00:00Z' })).toEqual(['until']);
      expect(await field({ from: '2026-12-09T14:00:00Z', until: '2026-12-09T15:00:00Z' })).toEqual(['user']);
      expect((await post({ user: 'a', from: '2026-12-09T14:00:00Z', until: '2026-12-09T15:00:00Z' }, 'nope')).status).toBe(404);
    });

    it('when a read key adds an override, then 403; an admin deletes one with 204, and again with 404', async () => {
      const body = { user: 'lihua', from: '2026-12-10T00:00:00Z', until: '2026-12-10T02:00:00Z' };
      expect((await h.api.post('/v1/oncall/sre/overrides').set(reader()).send(body)).status).toBe(403);
      const { id } = (await h.api.post('/v1/oncall/sre/overrides').set(admin()).send(body)).body;
      expect((await h.api.delete(`/v1/oncall/sre/overrides/${id}`).set(reader())).status).toBe(403);
      expect((await h.api.delete(`/v1/oncall/sre/overrides/${id}`).set(admin())).status).toBe(204);
      expect((await h.api.delete(`/v1/oncall/sre/overrides/${id}`).set(admin())).status).toBe(404);
    });

    it('when an override is added, then it is kept in Redis until it ends, and its start is a handoff job', async () => {
      const body = { user: 'lihua', from: '2026-12-10T00:00:00Z', until: '2026-12-10T02:00:00Z' };
      expect((await h.api.post('/v1/oncall/sre/overrides').set(admin()).send(body)).status).toBe(201);
      // Kept as long as the override lasts by the gateway's clock (the test's), whatever Redis's own clock says.
      const keptMs = await h.redis.pttl(h.keys.oncallOverrides('sre'));
      expect(keptMs).toBeLessThanOrEqual(at('2026-12-10T02:00:00Z') - now);
      expect(keptMs).toBeGreaterThan(at('2026-12-10T02:00:00Z') - now - 10_000);
      expect(await handoffQueue().getJob(`handoff-sre-${at('2026-12-10T00:00:00Z')}`)).toBeDefined();
    });
  });

  describe('handoff', () => {
    it('when the shift changes with an alert open, then ops2 and the robot get who is on call until when and the alert', async () => {
      const fired = await h.api.post('/v1/integrations/alertmanager?route=db').set(admin()).send(amPayload());
      expect(fired.status).toBe(202);
      await eventually(() => h.sim.sent.find((m) => m.touser.includes('dba1')));
      h.sim.reset();
      const sent = await handoffs('sent');
      now = HANDOFF + 5_000;
      await (await handoffQueue().getJob(`handoff-sre-${HANDOFF}`))!.promote();
      const message = await eventually(() => h.sim.sent.find((m) => m.touser.includes('ops2')));
      const text = (message.body.markdown as { content: string }).content;
      expect(text).toContain('On call now: ops2, until 12-09 09:00');
      expect(text).toContain('Open alerts (1):');
      expect(text).toContain('DiskFull · firing');
      const robot = await eventually(() => h.sim.robotSent.find((m) => m.key === OPS_KEY));
      expect(robot.mentioned).toEqual(['ops2']);
      expect(JSON.stringify(robot.body)).toContain('DiskFull');
      // The next handoff is added by this one.
      await eventually(async () => (await handoffQueue().getJob(`handoff-sre-${at('2026-12-09T01:00:00Z')}`)) !== undefined);
      expect(await handoffs('sent')).toBe(sent + 1);
    });

    it('when a handoff fires late (the instance was down), then whoever is on call at that moment is told', async () => {
      const due = at('2026-12-09T01:00:00Z');
      // Two days late: the handoff was ops3's (the 9th), but on the 11th ops2 is on call, and is the one told.
      now = at('2026-12-11T03:00:00Z');
      h.sim.reset();
      const late = await handoffs('late');
      await (await handoffQueue().getJob(`handoff-sre-${due}`))!.promote();
      const message = await eventually(() => h.sim.sent.find((m) => m.msgtype === 'markdown'));
      expect(message.touser).toEqual(['ops2']);
      expect(await handoffs('late')).toBe(late + 1);
      // The shifts missed are not announced one by one: the next job is the next handoff from now.
      await eventually(async () => (await handoffQueue().getJob(`handoff-sre-${at('2026-12-12T01:00:00Z')}`)) !== undefined);
      expect(await handoffQueue().getJob(`handoff-sre-${at('2026-12-10T01:00:00Z')}`)).toBeUndefined();
    });

    it('when a second instance starts (a restart, a replica), then the next handoff is still one job', async () => {
      const before = (await handoffQueue().getDelayed()).map((j) => j.id).sort();
      const second = await startHarness({
        env,
        simulator: { robotKeys: [OPS_KEY] },
        clock: () => now,
        config: (c) => ({ ...c, redis: h.config.redis }),
      });
      try {
        expect((await handoffQueue().getDelayed()).map((j) => j.id).sort()).toEqual(before);
      } finally {
        await second.close();
      }
    });
  });
});
