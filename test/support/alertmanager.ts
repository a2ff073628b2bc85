/** Alertmanager webhook payloads (version 4) as Alertmanager sends them, for the alert tests. */
export function amAlert(overrides: Record<string, unknown> = {}) {
  return {
    status: 'firing',
    labels: { alertname: 'DiskFull', severity: 'critical', instance: 'db1:9100', job: 'node' },
    annotations: { summary: 'Disk 95% on db1', description: '/var has 2 GB left' },
    startsAt: '2026-11-24T02:00:00Z',
    endsAt: '0001-01-01T00:00:00Z',
    generatorURL: 'http://prometheus.example/graph?g0.expr=disk',
    fingerprint: 'f1',
    ...overrides,
  };
}

export function amPayload(overrides: Record<string, unknown> = {}) {
  return {
    version: '4',
    groupKey: '{}:{alertname="DiskFull"}',
    truncatedAlerts: 0,
    status: 'firing',
    receiver: 'wecom',
    groupLabels: { alertname: 'DiskFull' },
    commonLabels: { alertname: 'DiskFull', severity: 'critical' },
    commonAnnotations: {},
    externalURL: 'http://alertmanager.example:9093',
    alerts: [amAlert()],
    ...overrides,
  };
}
