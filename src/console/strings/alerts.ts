/** The alert pages' words: the alert groups (alerts/alert-panel.ts) and the alert playground (alerts/alert-playground.ts). */
const en = {
  'alerts.title': 'Alert groups',
  'alerts.none': 'No alert groups yet.',
  'alerts.noCard': 'No card (sent as a message).',
  'alerts.since': 'since {time}',
  'alerts.lasted': 'lasted {span}',
  'alerts.level': 'level {level}/{levels}',
  'alerts.sent': '{count} sent',
  'alerts.days': '{days} d {hours} h',
  'alerts.hours': '{hours} h {minutes} min',
  'alerts.minutes': '{minutes} min',
  'alerts.firing': 'firing',
  'alerts.acked': 'acked',
  'alerts.silencing': 'silencing',
  'alerts.silenced': 'silenced',
  'alerts.resolved': 'resolved',
  'alerts.ackedBy': 'acked by {name}',
  'alerts.silence': '{status}; silence {state} by {name} for {duration}',
  'alerts.silence.created': 'created',
  'alerts.silence.failed': 'failed',
  'alerts.silence.pending': 'pending',
  'alerts.held.title': 'Held by quiet hours ({count}): sent as one digest when the quiet time ends',
  'alerts.held.route': 'Route',
  'alerts.held.alertname': 'Alert',
  'alerts.held.key': 'Key label',
  'alerts.held.severity': 'Severity',
  'alerts.held.status': 'Status',
  'alerts.held.heldAt': 'Held since',
  'alerts.held.releaseAt': 'Released at',

  'alertPlayground.title': 'Alert playground',
  'alertPlayground.intro':
    'Paste a payload as Alertmanager or Grafana posts it and pick a route: every form it goes out as ' +
    "(the members' card, markdown, text and textcard, and the route's robots) is shown exactly as sent. " +
    'Nothing is sent.',
  'alertPlayground.source': 'Source',
  'alertPlayground.route': 'Route',
  'alertPlayground.anyRoute': '(the route that matches)',
  'alertPlayground.payload': 'Payload (JSON)',
  'alertPlayground.sent': 'sent',
  // The notes alert-tryout.ts gives, word for word: a note not listed here is shown as it is.
  'alertPlayground.note.unrouted':
    'no route matches: the webhook answers 503 (unrouted) unless its URL names recipients; ' + 'shown to a stand-in member',
  'alertPlayground.note.resolution':
    'a resolution: cards the gateway sent for the group are updated in place; ' +
    'members it did not send a card to get the resolved message',
};

const zh: Record<keyof typeof en, string> = {
  'alerts.title': '告警分组',
  'alerts.none': '还没有告警分组。',
  'alerts.noCard': '没有卡片（以消息发送）。',
  'alerts.since': '开始于 {time}',
  'alerts.lasted': '持续 {span}',
  'alerts.level': '升级 {level}/{levels}',
  'alerts.sent': '已发 {count} 张',
  'alerts.days': '{days} 天 {hours} 小时',
  'alerts.hours': '{hours} 小时 {minutes} 分钟',
  'alerts.minutes': '{minutes} 分钟',
  'alerts.firing': '告警中',
  'alerts.acked': '已认领',
  'alerts.silencing': '静默中',
  'alerts.silenced': '已静默',
  'alerts.resolved': '已恢复',
  'alerts.ackedBy': '{name} 已认领',
  'alerts.silence': '{status}；{name} 的静默{state}，时长 {duration}',
  'alerts.silence.created': '已创建',
  'alerts.silence.failed': '失败',
  'alerts.silence.pending': '待创建',
  'alerts.held.title': '免打扰时段暂存（{count}）：时段结束时合并为一条摘要发出',
  'alerts.held.route': '路由',
  'alerts.held.alertname': '告警',
  'alerts.held.key': '关键标签',
  'alerts.held.severity': '级别',
  'alerts.held.status': '状态',
  'alerts.held.heldAt': '暂存于',
  'alerts.held.releaseAt': '发出时间',

  'alertPlayground.title': '告警调试台',
  'alertPlayground.intro':
    '粘贴 Alertmanager 或 Grafana 推送的告警内容并选择路由：它发出的每种形式（成员的卡片、markdown、文本和文本卡片，以及路由的机器人）都按实际发送的样子显示。不会发出任何消息。',
  'alertPlayground.source': '来源',
  'alertPlayground.route': '路由',
  'alertPlayground.anyRoute': '（匹配到的路由）',
  'alertPlayground.payload': '告警内容（JSON）',
  'alertPlayground.sent': '实际发送',
  'alertPlayground.note.unrouted': '没有匹配的路由：除非 webhook 的 URL 指定了接收人，否则回答 503（unrouted）；这里以一个代替的成员显示',
  'alertPlayground.note.resolution': '这是恢复通知：网关为该组发过的卡片会原地更新；没收到卡片的成员会收到恢复消息',
};

export const ALERTS = { en, zh };
