import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * How old the queue gauges may be when a scrape reads them. Reading them costs a
 * few Redis calls per queue; within this window every scrape (several Prometheus
 * servers, a dashboard refreshing) shares one reading.
 */
export const QUEUE_GAUGES_MAX_AGE_MS = 5_000;

/**
 * A metric's children by label values, each made once: prom-client hashes the
 * label object on every inc() or observe(), which the hot paths (each request,
 * each send) would pay every time. Label values are bounded, so the map is too.
 */
export function childrenOf<Child>(metric: { labels(labels: Record<string, string>): Child }): (labels: Record<string, string>) => Child {
  const children = new Map<string, Child>();
  return (labels) => {
    const key = Object.values(labels).join('\u0000');
    let child = children.get(key);
    if (child === undefined) children.set(key, (child = metric.labels(labels)));
    return child;
  };
}

/** Every metric of one gateway instance, on its own registry (tests build several instances in one process). */
export function createMetrics(now: () => number = Date.now) {
  const registry = new Registry();
  // No prefix: process_* and nodejs_* keep the names stock Node.js dashboards and alerts expect.
  collectDefaultMetrics({ register: registry });
  const registers = [registry];
  // Queue depths are read from Redis when Prometheus scrapes, by whoever owns the queues.
  const queueCollectors: (() => Promise<void>)[] = [];
  let reading: { at: number; done: Promise<void> } | undefined;
  // Both queue gauges ask; the first to ask in a window reads, the others (and concurrent scrapes) wait for that reading.
  const collectQueues = (): Promise<void> => {
    if (!reading || now() - reading.at >= QUEUE_GAUGES_MAX_AGE_MS) {
      reading = {
        at: now(),
        done: Promise.all(queueCollectors.map((collect) => collect())).then(
          () => undefined,
          () => undefined,
        ),
      };
    }
    return reading.done;
  };
  return {
    addQueueCollector: (collect: () => Promise<void>) => queueCollectors.push(collect),
    registry,
    httpRequests: new Counter({
      name: 'wecom_gateway_http_requests_total',
      help: 'HTTP requests by route and status',
      labelNames: ['method', 'route', 'status'],
      registers,
    }),
    connectionsRefused: new Counter({
      name: 'wecom_gateway_connections_refused_total',
      help: 'Sockets closed at once because their address held MAX_CONNECTIONS_PER_ADDRESS while the server was half full',
      registers,
    }),
    messagesAccepted: new Counter({
      name: 'wecom_gateway_messages_accepted_total',
      help: 'Messages accepted (202)',
      labelNames: ['event', 'msgtype'],
      registers,
    }),
    messagesSent: new Counter({
      name: 'wecom_gateway_messages_sent_total',
      help: 'Send calls delivered to WeCom',
      labelNames: ['event', 'msgtype'],
      registers,
    }),
    messagesFailed: new Counter({
      name: 'wecom_gateway_messages_failed_total',
      help: 'Send calls failed for good',
      labelNames: ['event', 'msgtype', 'errcode'],
      registers,
    }),
    sendDeferred: new Counter({
      name: 'wecom_gateway_send_deferred_total',
      help: "Sends (or parts) deferred because members were over WeCom's per-member quota",
      registers,
    }),
    messagesCoalesced: new Counter({
      name: 'wecom_gateway_messages_coalesced_total',
      help: "Parts sent within another part's message: merged while both waited for a member's or robot's budget",
      registers,
    }),
    robotDeferred: new Counter({
      name: 'wecom_gateway_robot_deferred_total',
      help: "Robot messages deferred because the robot's minute was used up (its budget, or a 45009 from WeCom)",
      labelNames: ['robot'],
      registers,
    }),
    sendThrottled: new Counter({
      name: 'wecom_gateway_send_throttled_total',
      help: 'Times WeCom answered 45009 and the send queue paused',
      registers,
    }),
    sendRetries: new Counter({
      name: 'wecom_gateway_send_retries_total',
      help: 'Send attempts that will be retried',
      labelNames: ['errcode'],
      registers,
    }),
    wecomCalls: new Counter({
      name: 'wecom_gateway_wecom_calls_total',
      help: 'WeCom API calls by api and errcode (-2: network/HTTP error)',
      labelNames: ['api', 'errcode'],
      registers,
    }),
    wecomCallSeconds: new Histogram({
      name: 'wecom_gateway_wecom_call_seconds',
      help: 'WeCom API call duration',
      labelNames: ['api'],
      buckets: [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
      registers,
    }),
    wecomReachable: new Gauge({
      name: 'wecom_gateway_wecom_reachable',
      help: "1 when the app's last WeCom check or gettoken succeeded, 0 when it failed (checked at start-up, again while failing)",
      labelNames: ['app'],
      registers,
    }),
    tokenFetches: new Counter({
      name: 'wecom_gateway_token_fetches_total',
      help: 'gettoken calls made by this instance',
      labelNames: ['app', 'result'],
      registers,
    }),
    sendLatency: new Histogram({
      name: 'wecom_gateway_send_latency_seconds',
      help: 'Accepted -> delivered to WeCom',
      labelNames: ['msgtype'],
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
      registers,
    }),
    callbacks: new Counter({
      name: 'wecom_gateway_callbacks_total',
      help: 'WeCom callback requests by app and outcome (verified, accepted, duplicate, in-progress, rejected-<reason>, …-replied)',
      labelNames: ['app', 'outcome'],
      registers,
    }),
    callbackSeconds: new Histogram({
      name: 'wecom_gateway_callback_answer_seconds',
      help: 'Time to answer a WeCom callback',
      labelNames: ['app'],
      buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
      registers,
    }),
    inboundHandled: new Counter({
      name: 'wecom_gateway_inbound_events_total',
      help: 'Callback events handled, by the router rule that took them',
      labelNames: ['rule'],
      registers,
    }),
    contactChanges: new Counter({
      name: 'wecom_gateway_contact_changes_total',
      help: 'change_contact events recorded, by type and action',
      labelNames: ['type', 'action'],
      registers,
    }),
    contactSyncDelivered: new Counter({
      name: 'wecom_gateway_contact_sync_delivered_total',
      help: 'Contact changes delivered, per sink',
      labelNames: ['sink'],
      registers,
    }),
    contactSyncRetries: new Counter({
      name: 'wecom_gateway_contact_sync_retries_total',
      help: 'Failed contact change deliveries that will be retried, per sink',
      labelNames: ['sink'],
      registers,
    }),
    contactSyncDeadLettered: new Counter({
      name: 'wecom_gateway_contact_sync_dead_lettered_total',
      help: 'Contact changes a sink refused, set aside',
      labelNames: ['sink'],
      registers,
    }),
    contactSyncLag: new Gauge({
      name: 'wecom_gateway_contact_sync_lag_seconds',
      help: 'Age of the change a sink is being sent (0 when caught up)',
      labelNames: ['sink'],
      registers,
    }),
    welcomeOutcomes: new Counter({
      name: 'wecom_gateway_welcome_total',
      help: 'New customers handled, by outcome (sent, already-delivered, expired, failed, skipped)',
      labelNames: ['outcome'],
      registers,
    }),
    welcomeLatency: new Histogram({
      name: 'wecom_gateway_welcome_latency_seconds',
      help: 'Callback received -> send_welcome_msg answered',
      buckets: [0.05, 0.1, 0.25, 0.5, 1, 2, 5, 10, 20],
      registers,
    }),
    welcomeTagged: new Counter({ name: 'wecom_gateway_welcome_tagged_total', help: 'New customers tagged with mark_tag', registers }),
    alertNotifications: new Counter({
      name: 'wecom_gateway_alert_notifications_total',
      help:
        'Monitoring notifications received, by source and decision (send, duplicate, folded ' +
        'by storm control; updated: a followed group resolved, its cards updated in place)',
      labelNames: ['source', 'decision'],
      registers,
    }),
    alertsUnrouted: new Counter({
      name: 'wecom_gateway_alerts_unrouted_total',
      help:
        'Monitoring notifications that no alert route matched and that ' +
        'named no recipients (answered 503, so the sender retries), by source',
      labelNames: ['source'],
      registers,
    }),
    alertClicks: new Counter({
      name: 'wecom_gateway_alert_card_clicks_total',
      help: 'Clicks on alert cards, by outcome (acked, silencing, repeat, unknown_card, other_app, unknown_button, not_allowed)',
      labelNames: ['outcome'],
      registers,
    }),
    alertSilences: new Counter({
      name: 'wecom_gateway_alert_silences_total',
      help: 'Alertmanager silences requested from alert cards, by result (created, failed)',
      labelNames: ['result'],
      registers,
    }),
    alertCardUpdates: new Counter({
      name: 'wecom_gateway_alert_card_updates_total',
      help: 'update_template_card calls for alert cards, by reason (click, resolved) and result',
      labelNames: ['reason', 'result'],
      registers,
    }),
    alertEscalations: new Counter({
      name: 'wecom_gateway_alert_escalations_total',
      help: 'Alert groups escalated because nobody acted, by the level reached',
      labelNames: ['level'],
      registers,
    }),
    oncallHandoffs: new Counter({
      name: 'wecom_gateway_oncall_handoffs_total',
      help: 'On-call handoffs, by schedule and result (sent; late: announced after the instance was down; skipped: no longer a handoff)',
      labelNames: ['schedule', 'result'],
      registers,
    }),
    alertCalls: new Counter({
      name: 'wecom_gateway_alert_calls_total',
      help: 'Phone calls of escalation levels: placed, then answered, unanswered, limited, no_balance, not_allowed or failed',
      labelNames: ['result'],
      registers,
    }),
    queueOldestAge: new Gauge({
      name: 'wecom_gateway_queue_oldest_waiting_seconds',
      help: 'Age of the oldest job waiting in a queue (0 when empty)',
      labelNames: ['queue'],
      registers,
      collect: collectQueues,
    }),
    queueJobs: new Gauge({
      name: 'wecom_gateway_queue_jobs',
      help: 'Jobs per queue and state',
      labelNames: ['queue', 'state'],
      registers,
      collect: collectQueues,
    }),
  };
}

export type Metrics = ReturnType<typeof createMetrics>;
