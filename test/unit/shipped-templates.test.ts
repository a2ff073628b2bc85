import { join } from 'node:path';
import { cardData, stateData } from '../../src/alerts/alert-card';
import { firstStart, notificationData, notificationTimes, sharedLabels, timesData } from '../../src/alerts/alert-data';
import type { AlertGroup } from '../../src/alerts/alert-groups';
import { parseDuration } from '../../src/alerts/escalation-config';
import { alertmanagerSchema, fromAlertmanager, fromGrafana, grafanaSchema, type Notification } from '../../src/alerts/payloads';
import { buildTemplate, loadTemplates, type Msgtype } from '../../src/messages/templates';
import { sendMessage } from '../../src/wecom/endpoints/message';
import { markupProblems } from '../../src/wecom/markup/check';
import { textcardSeen } from '../../src/wecom/markup/text';
import { WecomSimulator } from '../../src/simulator/simulator';
import { handoffData } from '../../src/oncall/handoffs';
import { asApp } from '../support/wecom-app';

/**
 * Golden tests: every shipped event, as each of its message types, with
 * typical data, renders exactly this body, whose markup WeCom knows
 * (reference §2.2), and a reader sees what was meant.
 */
const templates = loadTemplates(join(__dirname, '..', '..', 'templates'));
const render = (event: string, msgtype: Msgtype, data: Record<string, unknown>) => templates.get(event)!.render(msgtype, data);

/** Every golden case, collected as the tests are defined, so the checks below see them all whichever tests run. */
const shipped: { name: string; event: string; msgtype: Msgtype; data: Record<string, unknown> }[] = [];

/** A golden test: `event` sent as `msgtype` with `data` renders exactly `expected`. */
function golden(name: string, event: string, msgtype: Msgtype, data: Record<string, unknown>, expected: Record<string, unknown>): void {
  shipped.push({ name: `${event} ${msgtype}: ${name}`, event, msgtype, data });
  it(name, () => expect(render(event, msgtype, data)).toEqual(expected));
}

/** One message/send to the simulator's default app, through the gateway's client; WeCom's errcode and errmsg. */
async function send(sim: WecomSimulator, msgtype: string, body: Record<string, unknown>): Promise<{ errcode: number; errmsg: string }> {
  const app = { corpId: 'wwsandbox000000001', secret: 'sandbox-secret' };
  const outcome = await asApp(sim.url, app, sendMessage({ touser: 'zhangsan', agentid: 1000002, msgtype, [msgtype]: body }));
  return outcome.kind === 'ok' ? { errcode: 0, errmsg: 'ok' } : outcome.error;
}

// Fixed zone: alert times are shown in local time (ALERT_TIMEZONE).
const alertSettings = { timeZone: 'Asia/Shanghai', maxAlertsPerMessage: 5, keyLabels: ['instance', 'pod', 'host', 'service'] };

describe('program.alert', () => {
  const critical = {
    title: 'Disk 95% on db1',
    content: 'instance=db1 <web-3> is at 95%',
    level: 'critical',
    url: 'https://grafana.example/d/disk?var-host=db1&from=now-1h',
  };
  const warning = { title: "Backup 'nightly' slow", content: "job='nightly' took 3 h, limit=2 h", level: 'warning' };

  golden(
    'when a critical alert with a link is sent as text, then its level leads and the link ends it',
    'program.alert',
    'text',
    critical,
    {
      content:
        '【CRITICAL】Disk 95% on db1\ninstance=db1 <web-3> is at 95%\n' +
        '<a href="https://grafana.example/d/disk?var-host=db1&from=now-1h">详情</a>',
    },
  );

  golden('when a warning without a link is sent as text, then no link line is left', 'program.alert', 'text', warning, {
    content: "【WARNING】Backup 'nightly' slow\njob='nightly' took 3 h, limit=2 h",
  });

  golden(
    'when a critical alert is sent as a textcard, then its content is highlighted and only < > & are escaped',
    'program.alert',
    'textcard',
    critical,
    {
      title: '[CRITICAL] Disk 95% on db1',
      description: '<div class="gray">level: critical</div><div class="highlight">instance=db1 &lt;web-3&gt; is at 95%</div>',
      url: 'https://grafana.example/d/disk?var-host=db1&from=now-1h',
      btntxt: '详情',
    },
  );

  golden(
    "when a warning without a link is sent as a textcard, then its content is normal, ' and = stay as written, and the button opens WeCom",
    'program.alert',
    'textcard',
    warning,
    {
      title: "[WARNING] Backup 'nightly' slow",
      description: '<div class="gray">level: warning</div><div class="normal">job=\'nightly\' took 3 h, limit=2 h</div>',
      url: 'https://work.weixin.qq.com/',
      btntxt: '详情',
    },
  );

  golden('when a critical alert is sent as markdown, then its level is in warning colour', 'program.alert', 'markdown', critical, {
    content:
      '**Disk 95% on db1**\n> level: <font color="warning">critical</font>\n\n' +
      'instance=db1 <web-3> is at 95%\n\n[详情](https://grafana.example/d/disk?var-host=db1&from=now-1h)',
  });

  golden(
    'when a warning without a link is sent as markdown, then its level is in comment colour and nothing trails',
    'program.alert',
    'markdown',
    warning,
    {
      content: "**Backup 'nightly' slow**\n> level: <font color=\"comment\">warning</font>\n\njob='nightly' took 3 h, limit=2 h",
    },
  );

  golden(
    'when the content spans several lines and is sent as a textcard, then each line break is a <br>',
    'program.alert',
    'textcard',
    { ...warning, content: 'line one\nline two' },
    {
      title: "[WARNING] Backup 'nightly' slow",
      description: '<div class="gray">level: warning</div><div class="normal">line one<br>line two</div>',
      url: 'https://work.weixin.qq.com/',
      btntxt: '详情',
    },
  );

  it('when a reader opens the textcards, then they see the data as it was given', () => {
    expect(textcardSeen(render('program.alert', 'textcard', critical).description as string)).toBe(
      'level: critical\ninstance=db1 <web-3> is at 95%',
    );
    expect(textcardSeen(render('program.alert', 'textcard', warning).description as string)).toBe(
      "level: warning\njob='nightly' took 3 h, limit=2 h",
    );
  });
});

describe('deploy.finished', () => {
  const succeeded = {
    service: 'billing-api',
    version: 'v2.7.0',
    environment: 'production',
    status: 'succeeded',
    author: 'zhangsan',
    url: 'https://ci.example/pipelines/812',
  };
  const failed = { service: 'billing-api', version: 'v2.7.1', environment: 'staging', status: 'failed' };
  const failedWithPipeline = { ...failed, url: 'https://ci.example/pipelines/813' };

  golden(
    'when a deployment succeeded, by someone, with a pipeline, then the markdown says so in info colour',
    'deploy.finished',
    'markdown',
    succeeded,
    {
      content:
        '**billing-api v2.7.0** → production: <font color="info">succeeded</font>\n' +
        '> by zhangsan\n\n[pipeline](https://ci.example/pipelines/812)',
    },
  );

  golden(
    'when a deployment failed, with neither author nor pipeline, then the markdown is its one line in warning colour',
    'deploy.finished',
    'markdown',
    failed,
    {
      content: '**billing-api v2.7.1** → staging: <font color="warning">failed</font>',
    },
  );

  golden(
    'when a deployment failed with a pipeline but no author, then the markdown has no empty quote',
    'deploy.finished',
    'markdown',
    failedWithPipeline,
    {
      content: '**billing-api v2.7.1** → staging: <font color="warning">failed</font>\n\n[pipeline](https://ci.example/pipelines/813)',
    },
  );

  golden('when a deployment with author and pipeline is sent as text, then both follow its status', 'deploy.finished', 'text', succeeded, {
    content: 'billing-api v2.7.0 -> production: succeeded (by zhangsan)\nhttps://ci.example/pipelines/812',
  });

  golden('when a deployment without them is sent as text, then it is one line', 'deploy.finished', 'text', failed, {
    content: 'billing-api v2.7.1 -> staging: failed',
  });

  golden(
    'when a deployment succeeded and is sent as a textcard, then its status reads normal and the button opens the pipeline',
    'deploy.finished',
    'textcard',
    succeeded,
    {
      title: 'billing-api v2.7.0 → production',
      description: '<div class="normal">succeeded</div><div class="normal">by zhangsan</div>',
      url: 'https://ci.example/pipelines/812',
      btntxt: '查看',
    },
  );

  golden(
    'when a deployment failed and is sent as a textcard, then its status is highlighted (as markdown warns) and the button opens WeCom',
    'deploy.finished',
    'textcard',
    failed,
    {
      title: 'billing-api v2.7.1 → staging',
      description: '<div class="highlight">failed</div>',
      url: 'https://work.weixin.qq.com/',
      btntxt: '查看',
    },
  );
});

describe('report.ready', () => {
  const reports = [
    {
      title: 'Weekly sales #47',
      summary: 'Revenue +12% & churn <2%',
      url: 'https://reports.example/sales/47',
      cover: 'https://reports.example/sales/47.png',
    },
    { title: 'Ops review', summary: '3 incidents, 1 "major"', url: 'https://reports.example/ops/11' },
  ];

  golden(
    'when reports are listed, then each becomes one news article, its cover optional',
    'report.ready',
    'news',
    { reports },
    {
      articles: [
        {
          title: 'Weekly sales #47',
          description: 'Revenue +12% & churn <2%',
          url: 'https://reports.example/sales/47',
          picurl: 'https://reports.example/sales/47.png',
        },
        { title: 'Ops review', description: '3 incidents, 1 "major"', url: 'https://reports.example/ops/11', picurl: '' },
      ],
    },
  );

  golden(
    'when a report file is given by URL, then the body names what the worker downloads and uploads',
    'report.ready',
    'file',
    { fileUrl: 'https://reports.example/sales/47.pdf', filename: 'sales-47.pdf' },
    {
      media: { url: 'https://reports.example/sales/47.pdf', base64: '', filename: 'sales-47.pdf' },
    },
  );
});

/** An Alertmanager v4 webhook as it posts a firing group of two. */
const alertmanagerFiring = alertmanagerSchema.parse({
  version: '4',
  groupKey: '{}/{severity="critical"}:{alertname="DiskFull"}',
  truncatedAlerts: 0,
  status: 'firing',
  receiver: 'wecom-ops',
  groupLabels: { alertname: 'DiskFull' },
  commonLabels: { alertname: 'DiskFull', severity: 'critical', job: 'node' },
  commonAnnotations: {},
  externalURL: 'http://alertmanager.example:9093',
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db1:9100', job: 'node' },
      annotations: { summary: 'Disk 95% full on db1', description: '/var has 2 GB left (< 5%)' },
      startsAt: '2026-11-24T02:00:00.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+0.05&g0.tab=1',
      fingerprint: 'a1b2c3d4e5f60718',
    },
    {
      status: 'firing',
      labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db2:9100', job: 'node' },
      annotations: { summary: 'Disk 91% full on db2', description: '/data has 9 GB left' },
      startsAt: '2026-11-24T02:04:30.000Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+0.1&g0.tab=1',
      fingerprint: 'b2c3d4e5f6071829',
    },
  ],
});

/** The same group resolved: only db1 is in it now. */
const alertmanagerResolved = alertmanagerSchema.parse({
  ...alertmanagerFiring,
  status: 'resolved',
  alerts: [{ ...alertmanagerFiring.alerts[0], status: 'resolved', endsAt: '2026-11-24T02:40:00.000Z' }],
});

/** Grafana's webhook contact point (unified alerting) for one firing rule; Grafana adds fields the gateway ignores. */
const grafanaFiring = grafanaSchema.parse({
  receiver: 'wecom',
  status: 'firing',
  orgId: 1,
  alerts: [
    {
      status: 'firing',
      labels: { alertname: 'HighLatency', grafana_folder: 'API', severity: 'warning', service: 'checkout' },
      annotations: { summary: 'p99 latency over 2s on checkout' },
      startsAt: '2026-11-24T03:00:00Z',
      endsAt: '0001-01-01T00:00:00Z',
      generatorURL: 'https://grafana.example/alerting/grafana/fe1x2k/view?orgId=1',
      fingerprint: '3f2a9c0d1e4b5a67',
      silenceURL:
        'https://grafana.example/alerting/silence/new?alertmanager=grafana' +
        '&matcher=alertname%3DHighLatency&matcher=service%3Dcheckout&orgId=1',
      dashboardURL: 'https://grafana.example/d/api-latency?orgId=1',
      panelURL: 'https://grafana.example/d/api-latency?orgId=1&viewPanel=4',
      values: { A: 2.31 },
      valueString: "[ var='A' labels={service=checkout} value=2.31 ]",
    },
  ],
  groupLabels: { alertname: 'HighLatency', grafana_folder: 'API' },
  commonLabels: { alertname: 'HighLatency', grafana_folder: 'API', severity: 'warning', service: 'checkout' },
  commonAnnotations: { summary: 'p99 latency over 2s on checkout' },
  externalURL: 'https://grafana.example/',
  version: '1',
  groupKey: '{}/{__grafana_autogenerated__="true"}/{__grafana_receiver__="wecom"}:{alertname="HighLatency", grafana_folder="API"}',
  truncatedAlerts: 0,
  title: '[FIRING:1] HighLatency API (checkout warning)',
  state: 'alerting',
  message: '**Firing**\n\nValue: A=2.31',
});

/** The template data of a notification as the gateway fills it, seen at noon in Shanghai on the day the alerts began. */
const NOW = Date.parse('2026-11-24T04:00:00Z');
function alertData(n: Notification) {
  return { ...notificationData(n, alertSettings), ...notificationTimes(n, alertSettings.timeZone, NOW) };
}
/** The alert group the gateway follows for `n`, as its card and messages render it. */
function followed(n: Notification, overrides: Partial<AlertGroup> = {}): AlertGroup {
  return {
    id: '0123456789abcdef0123',
    scope: 's',
    source: n.source,
    groupKey: n.groupKey,
    title: n.title,
    severity: 'critical',
    status: n.status,
    level: 0,
    createdBy: 'local',
    event: 'alert.notification',
    firingSince: firstStart(n.alerts, NOW),
    updatedAt: NOW,
    matchers: sharedLabels(n),
    silenceVia: 'alertmanager',
    data: notificationData(n, alertSettings) as unknown as Record<string, unknown>,
    to: { users: ['zhangsan'] },
    ...overrides,
  };
}
function cardDataOf(group: AlertGroup, card: { taskId: string; from?: { users?: string[] } } = { taskId: 'alert_0123456789abcdef0123_1' }) {
  const times = timesData(group.firingSince, group.status === 'resolved' ? group.resolvedAt : undefined, alertSettings.timeZone, NOW);
  return {
    ...group.data,
    ...times,
    state: stateData(group),
    card: cardData(
      group,
      card,
      ['1h', '4h'].map((d) => parseDuration(d)!),
    ),
  };
}

describe('alert.notification from Alertmanager', () => {
  const data = alertData(fromAlertmanager(alertmanagerFiring));
  const source1 = 'http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+0.05&g0.tab=1';
  const source2 = 'http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+0.1&g0.tab=1';
  const silence = 'http://alertmanager.example:9093/#/silences/new?filter=%7Balertname%3D%22DiskFull%22%7D';

  golden(
    'when a group of two fires, then the markdown says since when, quotes each alert with its name in warning colour and ends with the silence link',
    'alert.notification',
    'markdown',
    data,
    {
      content: [
        '**🔥 告警 DiskFull** (2) · 10:00 起',
        '> <font color="warning">DiskFull</font> [critical] Disk 95% full on db1',
        '> /var has 2 GB left (< 5%)',
        `> instance=db1:9100 job=node · 2026-11-24 10:00:00 · [查看](${source1})`,
        '> <font color="warning">DiskFull</font> [critical] Disk 91% full on db2',
        '> /data has 9 GB left',
        `> instance=db2:9100 job=node · 2026-11-24 10:04:30 · [查看](${source2})`,
        '',
        `[静默](${silence})`,
      ].join('\n'),
    },
  );

  golden(
    'when a group of two fires, then the text lists one line per alert, its source link and the silence link',
    'alert.notification',
    'text',
    data,
    {
      content: [
        '🔥 告警 DiskFull (2) · 10:00 起',
        '- DiskFull [critical] Disk 95% full on db1：/var has 2 GB left (< 5%) (instance=db1:9100 job=node, 2026-11-24 10:00:00)',
        '- DiskFull [critical] Disk 91% full on db2：/data has 9 GB left (instance=db2:9100 job=node, 2026-11-24 10:04:30)',
        `<a href="${source1}">来源</a>`,
        `<a href="${silence}">静默</a>`,
      ].join('\n'),
    },
  );

  golden(
    "when a group of two fires, then the textcard says since when, highlights each alert and its button opens the first alert's graph",
    'alert.notification',
    'textcard',
    data,
    {
      title: '🔥 告警 DiskFull (2)',
      description:
        '<div class="gray">10:00 起</div>' +
        '<div class="highlight">DiskFull [critical] Disk 95% full on db1</div>' +
        '<div class="gray">instance=db1:9100 job=node · 2026-11-24 10:00:00</div>' +
        '<div class="highlight">DiskFull [critical] Disk 91% full on db2</div>' +
        '<div class="gray">instance=db2:9100 job=node · 2026-11-24 10:04:30</div>',
      url: source1,
      btntxt: '详情',
    },
  );

  it('when a reader opens that textcard, then they see labels as written, one line per div', () => {
    expect(textcardSeen(render('alert.notification', 'textcard', data).description as string)).toBe(
      '10:00 起\nDiskFull [critical] Disk 95% full on db1\ninstance=db1:9100 job=node · 2026-11-24 10:00:00\n' +
        'DiskFull [critical] Disk 91% full on db2\ninstance=db2:9100 job=node · 2026-11-24 10:04:30',
    );
  });

  it('when a template names a label, an annotation or a value, then it is there as an object', () => {
    const custom = buildTemplate(
      {
        event: 'x',
        data: { alerts: {} },
        msgtypes: { text: { content: '{{#each alerts}}{{labels.instance}} {{annotations.description}} {{keyLabel}}={{key}}{{/each}}' } },
      },
      'test',
    );
    expect(custom.render('text', data).content).toBe(
      'db1:9100 /var has 2 GB left (< 5%) instance=db1:9100db2:9100 /data has 9 GB left instance=db2:9100',
    );
  });

  describe('when the group resolves', () => {
    const resolved = alertData(fromAlertmanager(alertmanagerResolved));

    golden(
      'then the markdown names it in info colour, how long it lasted, with nothing left to silence',
      'alert.notification',
      'markdown',
      resolved,
      {
        content: [
          '**✅ 已恢复 DiskFull** (1) · 持续 40 分钟',
          '> <font color="info">DiskFull</font> [critical] Disk 95% full on db1',
          '> /var has 2 GB left (< 5%)',
          `> instance=db1:9100 job=node · 2026-11-24 10:00:00 · [查看](${source1})`,
        ].join('\n'),
      },
    );

    golden('then the text says 已恢复 and how long, with its source link and no silence link', 'alert.notification', 'text', resolved, {
      content:
        `✅ 已恢复 DiskFull (1) · 持续 40 分钟\n` +
        `- DiskFull [critical] Disk 95% full on db1：/var has 2 GB left (< 5%) (instance=db1:9100 job=node, 2026-11-24 10:00:00)\n` +
        `<a href="${source1}">来源</a>`,
    });

    golden('then the textcard shows it in gray', 'alert.notification', 'textcard', resolved, {
      title: '✅ 已恢复 DiskFull (1)',
      description:
        '<div class="gray">持续 40 分钟</div><div class="gray">DiskFull [critical] Disk 95% full on db1</div>' +
        '<div class="gray">instance=db1:9100 job=node · 2026-11-24 10:00:00</div>',
      url: source1,
      btntxt: '详情',
    });
  });
});

describe('alert.notification from Grafana', () => {
  const data = alertData(fromGrafana(grafanaFiring));
  const panel = 'https://grafana.example/d/api-latency?orgId=1&viewPanel=4';
  const rule = 'https://grafana.example/alerting/grafana/fe1x2k/view?orgId=1';
  const silence =
    'https://grafana.example/alerting/silence/new?alertmanager=grafana&matcher=alertname%3DHighLatency&matcher=service%3Dcheckout&orgId=1';

  golden(
    'when a rule fires, then the markdown shows its value and links its panel, its rule and its silence page',
    'alert.notification',
    'markdown',
    data,
    {
      content: [
        '**🔥 告警 HighLatency** (1) · 11:00 起',
        '> <font color="warning">HighLatency</font> [warning] p99 latency over 2s on checkout',
        "> 当前值：[ var='A' labels={service=checkout} value=2.31 ]",
        `> grafana_folder=API service=checkout · 2026-11-24 11:00:00 · [查看](${panel})`,
        '',
        `[来源](${rule})`,
        '',
        `[静默](${silence})`,
      ].join('\n'),
    },
  );

  golden(
    'when a rule fires, then the text is one line, its rule and panel links and the silence link',
    'alert.notification',
    'text',
    data,
    {
      content:
        `🔥 告警 HighLatency (1) · 11:00 起\n` +
        `- HighLatency [warning] p99 latency over 2s on checkout（当前值 [ var='A' labels={service=checkout} value=2.31 ]） ` +
        `(grafana_folder=API service=checkout, 2026-11-24 11:00:00)\n` +
        `<a href="${rule}">来源</a>\n<a href="${panel}">Grafana</a>\n<a href="${silence}">静默</a>`,
    },
  );

  golden('when a rule fires, then the textcard button opens its panel, not the silence page', 'alert.notification', 'textcard', data, {
    title: '🔥 告警 HighLatency (1)',
    description:
      '<div class="gray">11:00 起</div><div class="highlight">HighLatency [warning] p99 latency over 2s on checkout</div>' +
      '<div class="gray">grafana_folder=API service=checkout · 2026-11-24 11:00:00</div>',
    url: panel,
    btntxt: '详情',
  });

  it("when a template reads Grafana's values, then they are there by refId", () => {
    const custom = buildTemplate(
      { event: 'x', data: { alerts: {} }, msgtypes: { text: { content: '{{#each alerts}}A={{values.A}}{{/each}}' } } },
      'test',
    );
    expect(custom.render('text', data).content).toBe('A=2.31');
  });
});

describe('alert.notification as an interactive card', () => {
  const n = fromAlertmanager(alertmanagerFiring);
  const action = { type: 1, url: 'http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+0.05&g0.tab=1' };
  const buttons = [
    { text: '认领', style: 1, key: 'ack' },
    { text: '静默 1h', style: 2, key: 'silence:1h' },
    { text: '静默 4h', style: 2, key: 'silence:4h' },
    { text: '来源', style: 3, type: 1, url: action.url },
  ];

  golden(
    'when the group fires, then the card shows each alert by its instance, what a silence matches, and ack, silence and link buttons',
    'alert.notification',
    'template_card',
    cardDataOf(followed(n)),
    {
      card_type: 'button_interaction',
      task_id: 'alert_0123456789abcdef0123_1',
      source: { desc: 'Alertmanager' },
      main_title: { title: '🔥 [critical] DiskFull', desc: '10:00 起 · 2 条告警' },
      sub_title_text: '静默范围：alertname=DiskFull, severity=critical, job=node',
      horizontal_content_list: [
        { keyname: 'db1:9100', value: 'Disk 95% full on db1' },
        { keyname: 'db2:9100', value: 'Disk 91% full on db2' },
      ],
      card_action: action,
      button_list: buttons,
    },
  );

  golden(
    'when a member silenced it after another acked it, then its status line says who acked and the grey text who silenced',
    'alert.notification',
    'template_card',
    cardDataOf(
      followed(n, {
        status: 'silenced',
        acked: { by: 'zhangsan', name: '张三', at: NOW, clickId: 'a' },
        silence: { by: 'lisi', name: '李四', at: NOW, duration: '1h', id: 's1', clickId: 'b' },
      }),
    ),
    {
      card_type: 'button_interaction',
      task_id: 'alert_0123456789abcdef0123_1',
      source: { desc: 'Alertmanager' },
      main_title: { title: '🔥 [critical] DiskFull', desc: '10:00 起 · 2 条告警' },
      sub_title_text: '已认领 · 张三',
      horizontal_content_list: [
        { keyname: 'db1:9100', value: 'Disk 95% full on db1' },
        { keyname: 'db2:9100', value: 'Disk 91% full on db2' },
      ],
      card_action: action,
      button_list: [
        { text: '认领', style: 1, key: 'ack' },
        { text: '来源', style: 3, type: 1, url: action.url },
      ],
      replace_text: '已静默 1h · 李四',
    },
  );
});

describe('alert.notification in English (ALERT_LANGUAGE=en)', () => {
  const n = fromAlertmanager(alertmanagerFiring);
  const data = alertData(n);
  const source1 = 'http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+0.05&g0.tab=1';
  const source2 = 'http://prometheus.example:9090/graph?g0.expr=node_filesystem_avail_bytes+%3C+0.1&g0.tab=1';
  const silence = 'http://alertmanager.example:9093/#/silences/new?filter=%7Balertname%3D%22DiskFull%22%7D';

  golden('when a group of two fires, then the markdown reads in English', 'alert.notification.en', 'markdown', data, {
    content: [
      '**🔥 FIRING DiskFull** (2) · since 10:00',
      '> <font color="warning">DiskFull</font> [critical] Disk 95% full on db1',
      '> /var has 2 GB left (< 5%)',
      `> instance=db1:9100 job=node · 2026-11-24 10:00:00 · [view](${source1})`,
      '> <font color="warning">DiskFull</font> [critical] Disk 91% full on db2',
      '> /data has 9 GB left',
      `> instance=db2:9100 job=node · 2026-11-24 10:04:30 · [view](${source2})`,
      '',
      `[Silence](${silence})`,
    ].join('\n'),
  });

  golden(
    'when it resolves, then the text says RESOLVED and how long it lasted',
    'alert.notification.en',
    'text',
    alertData(fromAlertmanager(alertmanagerResolved)),
    {
      content:
        `✅ RESOLVED DiskFull (1) · lasted 40 min\n` +
        `- DiskFull [critical] Disk 95% full on db1: /var has 2 GB left (< 5%) (instance=db1:9100 job=node, 2026-11-24 10:00:00)\n` +
        `<a href="${source1}">Source</a>`,
    },
  );

  golden('when a group of two fires, then the textcard reads in English', 'alert.notification.en', 'textcard', data, {
    title: '🔥 FIRING DiskFull (2)',
    description:
      '<div class="gray">since 10:00</div>' +
      '<div class="highlight">DiskFull [critical] Disk 95% full on db1</div>' +
      '<div class="gray">instance=db1:9100 job=node · 2026-11-24 10:00:00</div>' +
      '<div class="highlight">DiskFull [critical] Disk 91% full on db2</div>' +
      '<div class="gray">instance=db2:9100 job=node · 2026-11-24 10:04:30</div>',
    url: source1,
    btntxt: 'More',
  });

  golden(
    'when the group escalated and resolved, then the card says so in English',
    'alert.notification.en',
    'template_card',
    cardDataOf(followed(n, { status: 'resolved', resolvedAt: firstStart(n.alerts, NOW) + 2 * 3_600_000 + 5 * 60_000 }), {
      taskId: 'alert_0123456789abcdef0123_2',
      from: { users: ['zhangsan'] },
    }),
    {
      card_type: 'button_interaction',
      task_id: 'alert_0123456789abcdef0123_2',
      source: { desc: 'Alertmanager' },
      main_title: { title: '✅ [critical] DiskFull', desc: 'lasted 2 h 5 min · 2 alert(s)' },
      sub_title_text: '⏫ Escalated from zhangsan: nobody acted',
      horizontal_content_list: [
        { keyname: 'db1:9100', value: 'Disk 95% full on db1' },
        { keyname: 'db2:9100', value: 'Disk 91% full on db2' },
      ],
      card_action: { type: 1, url: source1 },
      button_list: [
        { text: 'Ack', style: 1, key: 'ack' },
        { text: 'Source', style: 3, type: 1, url: source1 },
      ],
      replace_text: 'Resolved · lasted 2 h 5 min',
    },
  );
});

describe('alert.notification card button', () => {
  const withoutSources = { ...alertmanagerFiring, alerts: alertmanagerFiring.alerts.map((a) => ({ ...a, generatorURL: '' })) };

  it("when no alert has a source, then the button opens Alertmanager's UI rather than the silence page", () => {
    expect(notificationData(fromAlertmanager(withoutSources), alertSettings).url).toBe('http://alertmanager.example:9093');
  });

  it('when nothing has an http(s) link, then the button opens WeCom', () => {
    expect(notificationData(fromAlertmanager({ ...withoutSources, externalURL: '' }), alertSettings).url).toBe(
      'https://work.weixin.qq.com/',
    );
  });
});

describe('alert.digest', () => {
  const firing = [{ name: 'HostHighLoad', count: 240, values: 'web-001, web-002, … web-250', distinct: 240, since: '20:13' }];
  const resolved = [{ name: 'DiskFull', count: 2, values: 'db1:9100, db2:9100', distinct: 2, since: null }];

  golden(
    'when a storm folded notifications, then the markdown names each alertname with its count and where, firing and resolved apart',
    'alert.digest',
    'markdown',
    { count: 242, windowSeconds: 60, firing, resolved, more: null },
    {
      content:
        '**🌀 告警风暴：60 秒内另有 242 条通知**\n> <font color="warning">🔥 HostHighLoad</font> ×240：web-001, web-002, … web-250 · 20:13 起\n' +
        '> <font color="info">✅ 已恢复 DiskFull</font> ×2：db1:9100, db2:9100',
    },
  );

  golden(
    'when more alertnames were folded than fit, then the markdown counts the rest outside the quote',
    'alert.digest',
    'markdown',
    { count: 243, windowSeconds: 60, firing, resolved: [], more: 1 },
    {
      content:
        '**🌀 告警风暴：60 秒内另有 243 条通知**\n' +
        '> <font color="warning">🔥 HostHighLoad</font> ×240：web-001, web-002, … web-250 · 20:13 起\n\n另有 1 种告警未列出',
    },
  );

  golden(
    'when a storm folded notifications, then the text lists each alertname and where',
    'alert.digest',
    'text',
    { count: 242, windowSeconds: 60, firing, resolved, more: null },
    {
      content:
        '告警风暴：60 秒内另有 242 条通知\n- 🔥 HostHighLoad ×240：web-001, web-002, … web-250 · 20:13 起\n- ✅ 已恢复 DiskFull ×2：db1:9100, db2:9100',
    },
  );

  golden(
    'when the alerts carry no key label, then the line is the name and count alone',
    'alert.digest.en',
    'markdown',
    {
      count: 3,
      windowSeconds: 60,
      firing: [{ name: 'Watchdog', count: 3, values: '', distinct: 0, since: null }],
      resolved: [],
      more: null,
    },
    {
      content: '**🌀 Alert storm: 3 more notifications in 60 s**\n> <font color="warning">🔥 Watchdog</font> ×3',
    },
  );

  golden(
    'when a storm folded notifications, then the English text lists each alertname and where',
    'alert.digest.en',
    'text',
    { count: 242, windowSeconds: 60, firing, resolved, more: 2 },
    {
      content:
        'Alert storm: 242 more notifications in 60 s\n- 🔥 HostHighLoad ×240: web-001, web-002, … web-250 · since 20:13\n' +
        '- ✅ RESOLVED DiskFull ×2: db1:9100, db2:9100\n+2 more alert names',
    },
  );
});

describe('oncall.handoff', () => {
  const open = [
    { id: 'a1', title: 'DiskFull', severity: 'critical', status: 'firing', firingSince: Date.parse('2026-12-08T00:55:00Z') },
    {
      id: 'a2',
      title: 'HostHighLoad',
      severity: 'warning',
      status: 'acked',
      acked: 'ops1',
      firingSince: Date.parse('2026-12-06T22:00:00Z'),
    },
  ];
  const shift = { user: 'ops2', since: Date.parse('2026-12-08T01:00:00Z'), until: Date.parse('2026-12-09T01:00:00Z') };
  const now = Date.parse('2026-12-08T01:00:30Z');
  const data = handoffData('sre', shift, open, 'Asia/Shanghai', now);
  const none = handoffData('sre', { ...shift, override: 'ovr_1' }, [], 'Asia/Shanghai', now);

  golden(
    'when the shift changes with two alerts open, then the markdown says who until when and lists them with their age',
    'oncall.handoff',
    'markdown',
    data,
    {
      content:
        '**📟 值班交接 · sre**\n现在值班：ops2，至 12-09 09:00\n未恢复的告警（2）：\n' +
        '> <font color="warning">critical</font> DiskFull · 告警中 · 已持续 6 分钟\n' +
        '> <font color="warning">warning</font> HostHighLoad · 已认领 · ops1 · 已持续 1 天 3 小时',
    },
  );

  golden('when an override begins and nothing is open, then the text says so and "none"', 'oncall.handoff', 'text', none, {
    content: '值班交接 · sre\n现在值班：ops2（临时替班），至 12-09 09:00\n未恢复的告警：无',
  });

  golden('when the shift changes, then the English markdown lists the open alerts', 'oncall.handoff.en', 'markdown', data, {
    content:
      '**📟 On-call handoff · sre**\nOn call now: ops2, until 12-09 09:00\nOpen alerts (2):\n' +
      '> <font color="warning">critical</font> DiskFull · firing · open 6 min\n' +
      '> <font color="warning">warning</font> HostHighLoad · acked by ops1 · open 1 d 3 h',
  });

  golden('when nothing is open, then the English text says none', 'oncall.handoff.en', 'text', none, {
    content: 'On-call handoff · sre\nOn call now: ops2 (override), until 12-09 09:00\nOpen alerts: none',
  });

  it('when more alerts are open than are listed, then ten are listed and the rest counted', () => {
    const many = Array.from({ length: 12 }, (_, i) => ({ ...open[0], id: `a${i}`, firingSince: now - i * 60_000 }));
    const text = render('oncall.handoff.en', 'text', handoffData('sre', shift, many, 'Asia/Shanghai', now)).content as string;
    expect(text.split('\n').filter((line) => line.startsWith('- '))).toHaveLength(10);
    expect(text).toMatch(/Open alerts \(12\):/);
    expect(text.endsWith('+2 more not listed')).toBe(true);
  });
});

describe("every shipped event's example", () => {
  it.each([...templates.values()].flatMap((t) => t.msgtypes.map((m) => [t.event, m] as const)))(
    'when %s opens in the playground as %s, then its example renders',
    (event, msgtype) => {
      const template = templates.get(event)!;
      expect(template.example).toBeDefined();
      expect(() => template.render(msgtype, template.example!)).not.toThrow();
    },
  );
});

describe('every shipped template', () => {
  const bodies = () => shipped.map((c) => ({ ...c, body: render(c.event, c.msgtype, c.data) }));

  it('when each golden case is rendered, then its markup is what WeCom knows', () => {
    const problems = bodies().flatMap(({ name, msgtype, body }) =>
      markupProblems({ msgtype, [msgtype]: body }).map((p) => `${name}: ${p}`),
    );
    expect(problems).toEqual([]);
  });

  it('when the shipped events are listed, then each of their message types has a golden test', () => {
    const covered = new Set(shipped.map((c) => `${c.event} ${c.msgtype}`));
    const offered = [...templates.values()].flatMap((t) => t.msgtypes.map((m) => `${t.event} ${m}`));
    expect(offered.filter((o) => !covered.has(o))).toEqual([]);
  });

  describe('sent to the simulator', () => {
    let sim: WecomSimulator;
    beforeAll(async () => {
      sim = await WecomSimulator.start();
    });
    afterAll(() => sim.stop());

    it('when each text, markdown and textcard body is sent, then WeCom answers ok', async () => {
      const sendable = bodies().filter((c) => ['text', 'markdown', 'textcard'].includes(c.msgtype));
      const refused = [];
      for (const { name, msgtype, body } of sendable) {
        const answer = await send(sim, msgtype, body);
        if (answer.errcode !== 0) refused.push(`${name}: ${answer.errcode} ${answer.errmsg}`);
      }
      expect(sendable.length).toBeGreaterThan(20);
      expect(refused).toEqual([]);
    });
  });
});

describe("WeCom's markup vocabulary", () => {
  it('when a textcard div has a class WeCom does not know, then the problem names the field, the tag and the classes it knows', () => {
    expect(markupProblems({ msgtype: 'textcard', textcard: { description: '<div class="true">x</div>' } })).toEqual([
      'textcard.description: <div class="true">: WeCom knows gray, normal, highlight',
    ]);
  });

  it('when a textcard description holds a div without class or another tag, then each is a problem; br and known divs are not', () => {
    const description = '<div>a</div><b>b</b><br><br/><div class="gray">c</div>';
    expect(markupProblems({ msgtype: 'textcard', textcard: { description } })).toEqual([
      'textcard.description: <div>: WeCom knows gray, normal, highlight',
      'textcard.description: <b>: WeCom knows <div class="…">, </div> and <br>',
      'textcard.description: </b>: WeCom knows <div class="…">, </div> and <br>',
    ]);
  });

  it('when markdown uses a font colour WeCom does not know, then it is a problem', () => {
    expect(
      markupProblems({ msgtype: 'markdown', markdown: { content: '<font color="false">failed</font> <font color="info">ok</font>' } }),
    ).toEqual(['markdown.content: <font color="false">: WeCom knows info, comment, warning']);
  });

  it('when text holds angle brackets that are not a link, then that is fine; a link without href is not', () => {
    expect(markupProblems({ msgtype: 'text', text: { content: 'load on <web-3> <b>x</b> <a href="https://x.example">ok</a>' } })).toEqual(
      [],
    );
    expect(markupProblems({ msgtype: 'text', text: { content: '<a name="x">no</a>' } })).toEqual([
      'text.content: <a name="x">: WeCom knows <a href="…">',
    ]);
  });

  it('when a reader sees a description, then tags are gone, br and divs break lines and entities are decoded', () => {
    expect(textcardSeen('<div class="gray">a &lt;b&gt; &amp; &quot;c&quot;</div>d<br>e &#61; &#x3D;<div class="normal">f</div>')).toBe(
      'a <b> & "c"\nd\ne = =\nf',
    );
  });
});

describe('the simulator and markup WeCom does not render', () => {
  let sim: WecomSimulator;
  let sandbox: WecomSimulator;
  const reported: string[][] = [];
  beforeAll(async () => {
    sim = await WecomSimulator.start();
    sandbox = await WecomSimulator.start({ onMarkupProblem: (problems) => void reported.push(problems) });
  });
  afterAll(async () => {
    await sim.stop();
    await sandbox.stop();
  });
  const oldCard = {
    title: '[CRITICAL] Disk',
    description: '<div class="gray">level: critical</div><div class="true">x</div>',
    url: 'https://x.example',
  };

  it('when a body has markup WeCom does not render, then the send is refused with 40058 naming the problem', async () => {
    expect(await send(sim, 'textcard', oldCard)).toEqual({
      errcode: 40058,
      errmsg: expect.stringMatching(
        /^invalid parameter: textcard\.description: <div class="true">: WeCom knows gray, normal, highlight, hint:/,
      ),
    });
    expect(sim.sent).toEqual([]);
  });

  it('when onMarkupProblem is given (sandbox), then the send is accepted and the problem reported', async () => {
    expect((await send(sandbox, 'textcard', oldCard)).errcode).toBe(0);
    expect(sandbox.sent.map((m) => m.body.textcard)).toEqual([oldCard]);
    expect(reported).toEqual([['textcard.description: <div class="true">: WeCom knows gray, normal, highlight']]);
  });

  it('when messages are listed, then a textcard says what its reader sees', async () => {
    await send(sim, 'textcard', {
      title: 't',
      description: '<div class="normal">instance=db1 &lt;web-3&gt;</div>',
      url: 'https://x.example',
    });
    const { messages } = (await (await fetch(`${sim.url}/__sim/messages?limit=1`)).json()) as { messages: { seen?: string }[] };
    expect(messages[0].seen).toBe('instance=db1 <web-3>');
  });
});
