import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { actionOf, cardData, stateData } from '../../src/alerts/alert-card';
import { notificationData, span, timesData } from '../../src/alerts/alert-data';
import { alertmanagerSchema, fromAlertmanager } from '../../src/alerts/payloads';
import type { AlertGroup } from '../../src/alerts/alert-groups';
import { parseDuration } from '../../src/alerts/escalation-config';
import { buildTemplate, loadTemplates } from '../../src/messages/templates';
import { loadConfig } from '../../src/config/load';
import { problemsOf } from '../support/config-problems';

const durations = ['1h', '4h'].map((d) => parseDuration(d)!);
const settings = { timeZone: 'Asia/Shanghai', maxAlertsPerMessage: 6, keyLabels: ['instance', 'pod', 'host', 'service'] };
/** Eight DiskFull alerts, told apart by instance; their labels also hold cluster and container, which sort first. */
const notification = fromAlertmanager(
  alertmanagerSchema.parse({
    version: '4',
    groupKey: 'g',
    status: 'firing',
    receiver: 'wecom',
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://am.example',
    alerts: Array.from({ length: 8 }, (_, i) => ({
      status: 'firing',
      labels: { alertname: 'DiskFull', severity: 'critical', cluster: 'prod', container: 'node-exporter', instance: `db${i}:9100` },
      annotations: { summary: `disk ${i}`, runbook_url: 'https://runbooks.example/disk' },
      startsAt: '2026-12-02T02:00:00Z',
    })),
  }),
);
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
  matchers: { alertname: 'DiskFull', severity: 'critical' },
  silenceVia: 'alertmanager',
  data: notificationData(notification, settings) as unknown as Record<string, unknown>,
  to: { users: ['zhangsan'] },
  ...overrides,
});
const shipped = loadTemplates(join(__dirname, '..', '..', 'templates'));
/** The card as members see it: the gateway's facts through the shipped template, on 2026-12-02 at 12:00 in Shanghai. */
function render(
  g: AlertGroup,
  card: { taskId: string; from?: { users?: string[]; robots?: string[] } } = { taskId: 'alert_0123456789abcdef0123_1' },
  options: { durations?: typeof durations; event?: string } = {},
) {
  const now = Date.parse('2026-12-02T04:00:00Z');
  const times = timesData(g.firingSince, g.status === 'resolved' ? g.resolvedAt : undefined, settings.timeZone, now);
  const facts = cardData(g, card, options.durations ?? durations);
  const body = shipped
    .get(options.event ?? 'alert.notification')!
    .render('template_card', { ...g.data, ...times, state: stateData(g), card: facts });
  return body as {
    main_title: { title: string; desc: string };
    sub_title_text?: string;
    horizontal_content_list: { keyname: string; value: string }[];
    button_list: { text: string; key?: string; url?: string }[];
    replace_text?: string;
  };
}
const keys = (card: ReturnType<typeof render>) => card.button_list.map((b) => b.key ?? `url ${b.url}`);

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
    writeFileSync(
      file,
      'alertRoutes:\n  - name: oncall\n    users: [zhangsan]\n    escalation:\n      - { after: 10x, to: { users: [lisi] } }\n' +
        '      - { after: 5m, to: {} }\n      - { after: 5m, to: { robots: [nope] } }\n',
    );
    expect(problemsOf({ ALERT_SILENCE_DURATIONS: '1h,30s' })).toEqual(['ALERT_SILENCE_DURATIONS.1: a silence lasts from 1m to 30d']);
    expect(problemsOf({ ALERT_SILENCE_DURATIONS: '1h,2h,3h,4h' })).toEqual([
      expect.stringMatching(/^ALERT_SILENCE_DURATIONS: at most 3 silence buttons/),
    ]);
    const problems = problemsOf({ GATEWAY_CONFIG: file });
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/alertRoutes\.0\.escalation\.0\.after: "10x" is not a duration/),
        expect.stringMatching(/alertRoutes\.0\.escalation\.1\.to: name users, parties, tags, oncall, robots, chats or call/),
      ]),
    );
    writeFileSync(
      file,
      'alertRoutes:\n  - name: oncall\n    users: [zhangsan]\n    escalation:\n      - { after: 5m, to: { robots: [nope] } }\n',
    );
    expect(problemsOf({ GATEWAY_CONFIG: file })).toEqual([
      expect.stringMatching(/alertRoutes\.0\.escalation\.0\.to\.robots: no robot is named nope/),
    ]);
  });

  it('when a route has levels, silencers and durations, then they are read as written', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-esc-'));
    const file = join(dir, 'gateway.yaml');
    writeFileSync(
      file,
      'alertRoutes:\n  - name: oncall\n    users: [zhangsan]\n    silencers: [zhangsan]\n' +
        '    silenceDurations: [30m]\n    escalation:\n      - { after: 10m, to: { users: [lisi] } }\n',
    );
    const route = loadConfig({ GATEWAY_CONFIG: file }).alerts.routes[0];
    expect(route).toMatchObject({
      silencers: ['zhangsan'],
      silenceDurations: [{ text: '30m', ms: 1_800_000 }],
      escalation: [{ after: { text: '10m', ms: 600_000 }, to: { users: ['lisi'] } }],
    });
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

  it('when the group fires, then the card has ack, silences and links, its alerts told apart by the key label (instance), what a silence matches, and says 6 of 8 shown', () => {
    const card = render(group());
    expect(keys(card)).toEqual(['ack', 'silence:1h', 'silence:4h', 'url https://runbooks.example/disk']);
    expect(card.button_list.map((b) => b.text)).toEqual(['认领', '静默 1h', '静默 4h', '处理手册']);
    expect(card.horizontal_content_list[0]).toEqual({ keyname: 'db0:9100', value: 'disk 0' });
    expect(card.sub_title_text).toBe('静默范围：alertname=DiskFull, severity=critical\n显示 6/8 条');
    expect(card.main_title).toEqual({ title: '🔥 [critical] DiskFull', desc: '10:00 起 · 8 条告警' });
    expect(card.replace_text).toBeUndefined();
  });

  it('when the group began on another day, then the card gives the date with the time', () => {
    expect(render(group({ firingSince: Date.parse('2026-11-27T12:13:00Z') })).main_title.desc).toBe('11-27 20:13 起 · 8 条告警');
    expect(render(group({ firingSince: Date.parse('2025-12-27T12:13:00Z') })).main_title.desc).toBe('2025-12-27 20:13 起 · 8 条告警');
  });

  it('when it was acked, then ack is gone, who acked leads the status lines and the silences stay', () => {
    const card = render(group({ status: 'acked', acked: { by: 'zhangsan', name: '张三', at: 1, clickId: 'c' } }));
    expect(keys(card)).toEqual(['silence:1h', 'silence:4h', 'url https://runbooks.example/disk']);
    expect(card.sub_title_text?.split('\n')[0]).toBe('已认领 · 张三');
  });

  it('when it is silenced, then the buttons give way to grey text naming the duration and who, and no scope is offered', () => {
    const card = render(group({ status: 'silenced', silence: { by: 'lisi', at: 1, duration: '4h', id: 'x', clickId: 'c' } }));
    expect(card.replace_text).toBe('已静默 4h · lisi');
    expect(card.sub_title_text).not.toContain('静默范围');
  });

  it('when the silence failed, then the card says so and keeps its buttons', () => {
    const card = render(
      group({ silence: { by: 'lisi', at: 1, duration: '4h', error: 'Alertmanager answered HTTP 400: bad matcher', clickId: 'c' } }),
    );
    expect(card.sub_title_text).toContain('静默失败：Alertmanager answered HTTP 400: bad matcher');
    expect(card.replace_text).toBeUndefined();
    expect(keys(card)[0]).toBe('ack');
  });

  it('when it resolved, then it says how long it lasted, from the first startsAt to the last endsAt', () => {
    const resolved = (ms: number) => render(group({ status: 'resolved', resolvedAt: Date.parse('2026-12-02T02:00:00Z') + ms }));
    expect(resolved(12 * 60_000 + 20_000).replace_text).toBe('已恢复 · 持续 12 分钟');
    expect(resolved(2 * 3_600_000).replace_text).toBe('已恢复 · 持续 2 小时');
    expect(resolved(3 * 3_600_000 + 5 * 60_000).main_title).toEqual({
      title: '✅ [critical] DiskFull',
      desc: '持续 3 小时 5 分钟 · 8 条告警',
    });
    expect(resolved(5 * 86_400_000 + 3 * 3_600_000).replace_text).toBe('已恢复 · 持续 5 天 3 小时');
    expect(span(3 * 3_600_000 + 5 * 60_000)).toEqual({ days: 0, hours: 3, minutes: 5 });
  });

  it('when the group has no labels to silence by, or no Alertmanager takes its silences, then there is no silence button; when escalated, it says from whom', () => {
    const card = render(group({ matchers: {} }), { taskId: 't', from: { users: ['zhangsan'], robots: ['ops'] } });
    expect(keys(card)).toEqual(['ack', 'url https://runbooks.example/disk']);
    expect(card.sub_title_text?.split('\n')[0]).toBe('⏫ 升级自 zhangsan、群机器人 ops：无人处理');
    const { silenceVia: _none, ...withoutTarget } = group();
    expect(keys(render(withoutTarget))).toEqual(['ack', 'url https://runbooks.example/disk']);
  });

  it('when there are more links than buttons fit, then the links that do not fit are left out', () => {
    const links = (['generator', 'grafana', 'runbook'] as const).map((kind) => ({ kind, url: `https://${kind}.example/` }));
    const card = render(group({ data: { ...group().data, links } }), undefined, {
      durations: ['1h', '2h', '4h'].map((d) => parseDuration(d)!),
    });
    expect(card.button_list).toHaveLength(6);
    expect(keys(card).slice(-2)).toEqual(['url https://generator.example/', 'url https://grafana.example/']);
  });

  it('when ALERT_LANGUAGE is en, then the same card reads in English', () => {
    const card = render(group({ status: 'acked', acked: { by: 'zhangsan', at: 1, clickId: 'c' } }), undefined, {
      event: 'alert.notification.en',
    });
    expect(card.button_list.map((b) => b.text)).toEqual(['Silence 1h', 'Silence 4h', 'Runbook']);
    expect(card.main_title.desc).toBe('since 10:00 · 8 alert(s)');
    expect(card.sub_title_text?.split('\n')[0]).toBe('Acked · zhangsan');
  });
});

describe('a template body with { from: … }', () => {
  const template = buildTemplate(
    {
      event: 'x',
      msgtypes: {
        template_card: {
          card_type: 'button_interaction',
          task_id: '{{id}}',
          main_title: { title: 't' },
          button_list: { from: 'card.buttons' },
          replace_text: { from: 'card.done' },
        },
      },
      data: { id: {}, card: { required: false } },
    },
    'test',
  );

  it('when the data has the value, then it goes in as it is (numbers and lists too)', () => {
    const buttons = [{ text: 'Ack', style: 1, key: 'ack' }];
    expect(template.render('template_card', { id: 'task1', card: { buttons, done: 'done' } }, { raw: true })).toEqual({
      card_type: 'button_interaction',
      task_id: 'task1',
      main_title: { title: 't' },
      button_list: buttons,
      replace_text: 'done',
    });
  });

  it('when the data has nothing there, then the field is left out', () => {
    expect(template.render('template_card', { id: 'task1', card: { buttons: [] } }, { raw: true })).not.toHaveProperty('replace_text');
  });
});
