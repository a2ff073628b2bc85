import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionOf, cardData, lasted } from '../../src/alerts/alert-card';
import type { AlertGroup } from '../../src/alerts/alert-groups';
import { parseDuration } from '../../src/alerts/escalation-config';
import { buildTemplate } from '../../src/messages/templates';
import { loadConfig } from '../../src/config/load';
import { problemsOf } from '../support/config-problems';

const durations = ['1h', '4h'].map((d) => parseDuration(d)!);
const options = { durations, timeZone: 'Asia/Shanghai' };
const alerts = Array.from({ length: 8 }, (_, i) => ({ name: 'DiskFull', severity: 'critical', summary: `disk ${i}`, labels: `instance=db${i}:9100 job=node` }));
const group = (overrides: Partial<AlertGroup> = {}): AlertGroup => ({
  id: '0123456789abcdef0123',
  scope: 's',
  source: 'alertmanager',
  groupKey: 'g',
  title: 'DiskFull',
  severity: 'critical',
  status: 'firing',
  level: 0,
  createdBy: 'local',
  event: 'alert.notification',
  firingSince: Date.parse('2026-12-02T02:00:00Z'),
  updatedAt: 0,
  matchers: { alertname: 'DiskFull' },
  data: { alerts: alerts.slice(0, 5), count: 8, links: [{ name: 'Runbook', url: 'https://runbooks.example/disk' }] },
  to: { users: ['zhangsan'] },
  ...overrides,
});
const keys = (card: ReturnType<typeof cardData>) => card.buttons.map((b) => ('key' in b ? b.key : `url ${b.url}`));

describe('durations', () => {
  it.each([
    ['90s', 90_000],
    ['10m', 600_000],
    ['4h', 14_400_000],
    ['1h30m', 5_400_000],
    ['1d', 86_400_000],
  ])('when %s is read, then it lasts %d ms', (text, ms) => {
    expect(parseDuration(text)).toEqual({ text, ms });
  });

  it.each(['10x', '', '1.5h', 'h', '0s', '-1m'])('when "%s" is read, then it is not a duration', (text) => {
    expect(parseDuration(text)).toBeUndefined();
  });

  it('when ALERT_SILENCE_DURATIONS or a route holds a bad duration or level, then start-up stops with a line naming it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-esc-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'alertRoutes:\n  - name: oncall\n    users: [zhangsan]\n    escalation:\n      - { after: 10x, to: { users: [lisi] } }\n      - { after: 5m, to: {} }\n      - { after: 5m, to: { robots: [nope] } }\n');
    expect(problemsOf({ ALERT_SILENCE_DURATIONS: '1h,30s' })).toEqual(['ALERT_SILENCE_DURATIONS.1: a silence lasts from 1m to 30d']);
    expect(problemsOf({ ALERT_SILENCE_DURATIONS: '1h,2h,3h,4h' })).toEqual([expect.stringMatching(/^ALERT_SILENCE_DURATIONS: at most 3 silence buttons/)]);
    const problems = problemsOf({ GATEWAY_CONFIG: file });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/alertRoutes\.0\.escalation\.0\.after: "10x" is not a duration/),
        expect.stringMatching(/alertRoutes\.0\.escalation\.1\.to: name users, parties, tags, robots or chats/),
      ]),
    );
    writeFileSync(file, 'alertRoutes:\n  - name: oncall\n    users: [zhangsan]\n    escalation:\n      - { after: 5m, to: { robots: [nope] } }\n');
    expect(problemsOf({ GATEWAY_CONFIG: file })).toEqual([expect.stringMatching(/alertRoutes\.0\.escalation\.0\.to\.robots: no robot is named nope/)]);
  });

  it('when a route has levels, silencers and durations, then they are read as written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-esc-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(file, 'alertRoutes:\n  - name: oncall\n    users: [zhangsan]\n    silencers: [zhangsan]\n    silenceDurations: [30m]\n    escalation:\n      - { after: 10m, to: { users: [lisi] } }\n');
    const route = loadConfig({ GATEWAY_CONFIG: file }).alerts.routes[0];
    expect(route).toMatchObject({ silencers: ['zhangsan'], silenceDurations: [{ text: '30m', ms: 1_800_000 }], escalation: [{ after: { text: '10m', ms: 600_000 }, to: { users: ['lisi'] } }] });
  });
});

describe('an alert card', () => {
  it('when a button key is read, then ack and silence:<a configured duration> are actions and anything else is not', () => {
    expect(actionOf('ack', durations)).toEqual({ kind: 'ack' });
    expect(actionOf('silence:4h', durations)).toEqual({ kind: 'silence', duration: durations[1] });
    expect(actionOf('silence:2h', durations)).toBeUndefined();
    expect(actionOf('acknowledge', durations)).toBeUndefined();
    expect(actionOf(undefined, durations)).toBeUndefined();
  });

  it('when the group fires, then the card has ack, silences and links, its alerts told apart by instance, and says 5 of 8 shown', () => {
    const card = cardData(group(), { taskId: 'alert_0123456789abcdef0123_1' }, options);
    expect(keys(card)).toEqual(['ack', 'silence:1h', 'silence:4h', 'url https://runbooks.example/disk']);
    expect(card.items[0]).toEqual({ keyname: 'db0:9100', value: 'disk 0' });
    expect(card.state).toBe('5 of 8 shown');
    expect(card.subtitle).toBe('firing since 10:00 · 8 alert(s)');
    expect(card.replaceText).toBeUndefined();
  });

  it('when it was acked, then ack is gone, who acked leads the status lines and the silences stay', () => {
    const card = cardData(group({ status: 'acked', acked: { by: 'zhangsan', name: '张三', at: 1, clickId: 'c' } }), { taskId: 't' }, options);
    expect(keys(card)).toEqual(['silence:1h', 'silence:4h', 'url https://runbooks.example/disk']);
    expect(card.state).toBe('已认领 · 张三\n5 of 8 shown');
  });

  it('when it is silenced, then the buttons give way to grey text naming the duration and who', () => {
    const card = cardData(group({ status: 'silenced', silence: { by: 'lisi', at: 1, duration: '4h', id: 'x', clickId: 'c' } }), { taskId: 't' }, options);
    expect(card.replaceText).toBe('已静默 4h · lisi');
  });

  it('when the silence failed, then the card says so and keeps its buttons', () => {
    const card = cardData(group({ silence: { by: 'lisi', at: 1, duration: '4h', error: 'Alertmanager answered HTTP 400: bad matcher', clickId: 'c' } }), { taskId: 't' }, options);
    expect(card.state).toContain('silence failed: Alertmanager answered HTTP 400: bad matcher');
    expect(card.replaceText).toBeUndefined();
    expect(keys(card)[0]).toBe('ack');
  });

  it('when it resolved after 12 minutes, then it says how long it lasted', () => {
    const card = cardData(group({ status: 'resolved', resolvedAt: Date.parse('2026-12-02T02:12:20Z') }), { taskId: 't' }, options);
    expect(card.replaceText).toBe('已恢复 · lasted 12 min');
    expect(card.title.startsWith('✅')).toBe(true);
    expect(lasted(3 * 3_600_000 + 5 * 60_000)).toBe('3 h 5 min');
  });

  it('when the group has no labels to silence by, then there is no silence button; when escalated, it says from whom', () => {
    const card = cardData(group({ matchers: {} }), { taskId: 't', from: 'zhangsan' }, options);
    expect(keys(card)).toEqual(['ack', 'url https://runbooks.example/disk']);
    expect(card.state?.split('\n')[0]).toBe('⏫ 升级自 zhangsan：无人处理');
  });

  it('when there are more links than buttons fit, then the links that do not fit are left out', () => {
    const links = ['a', 'b', 'c'].map((n) => ({ name: n, url: `https://${n}.example/` }));
    const card = cardData(group({ data: { alerts, count: 8, links } }), { taskId: 't' }, { ...options, durations: ['1h', '2h', '4h'].map((d) => parseDuration(d)!) });
    expect(card.buttons).toHaveLength(6);
    expect(keys(card).slice(-2)).toEqual(['url https://a.example/', 'url https://b.example/']);
  });
});

describe('a template body with { from: … }', () => {
  const template = buildTemplate({ event: 'x', msgtypes: { template_card: { card_type: 'button_interaction', task_id: '{{id}}', main_title: { title: 't' }, button_list: { from: 'card.buttons' }, replace_text: { from: 'card.done' } } }, data: { id: {}, card: { required: false } } }, 'test');

  it('when the data has the value, then it goes in as it is (numbers and lists too)', () => {
    const buttons = [{ text: 'Ack', style: 1, key: 'ack' }];
    expect(template.render('template_card', { id: 'task1', card: { buttons, done: 'done' } }, { raw: true })).toEqual({ card_type: 'button_interaction', task_id: 'task1', main_title: { title: 't' }, button_list: buttons, replace_text: 'done' });
  });

  it('when the data has nothing there, then the field is left out', () => {
    expect(template.render('template_card', { id: 'task1', card: { buttons: [] } }, { raw: true })).not.toHaveProperty('replace_text');
  });
});
