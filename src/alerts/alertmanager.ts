import { request } from 'undici';

export interface NewSilence {
  matchers: Record<string, string>;
  startsAt: Date;
  endsAt: Date;
  createdBy: string;
  comment: string;
}

/** Alertmanager did not create the silence; `retry` says whether trying again may help (down, 5xx, 429). */
export class SilenceError extends Error {
  constructor(
    message: string,
    readonly retry: boolean,
  ) {
    super(message);
  }
}

const TIMEOUT_MS = 10_000;

function parseSilenceId(text: string): string | undefined {
  try {
    const id = (JSON.parse(text) as { silenceID?: unknown }).silenceID;
    return typeof id === 'string' && id !== '' ? id : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Alertmanager's API v2, the one call the gateway makes: POST /api/v2/silences.
 * The URL is the operator's (ALERTMANAGER_URL), so the egress policy does not
 * apply; credentials in it (`https://user:pass@am`) become Basic auth, as
 * amtool reads them, and never appear in errors.
 */
export class AlertmanagerClient {
  private readonly base: string;
  private readonly authorization?: string;

  constructor(url: string) {
    const parsed = new URL(url);
    if (parsed.username)
      this.authorization = `Basic ${Buffer.from(`${decodeURIComponent(parsed.username)}:${decodeURIComponent(parsed.password)}`).toString(
        'base64',
      )}`;
    parsed.username = '';
    parsed.password = '';
    this.base = parsed.toString().replace(/\/+$/, '');
  }

  /** Answers the silence's id. */
  async createSilence(silence: NewSilence): Promise<string> {
    const body = {
      matchers: Object.entries(silence.matchers).map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
      startsAt: silence.startsAt.toISOString(),
      endsAt: silence.endsAt.toISOString(),
      createdBy: silence.createdBy,
      comment: silence.comment,
    };
    let answer;
    try {
      answer = await request(`${this.base}/api/v2/silences`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...(this.authorization ? { authorization: this.authorization } : {}) },
        body: JSON.stringify(body),
        headersTimeout: TIMEOUT_MS,
        bodyTimeout: TIMEOUT_MS,
      });
    } catch (error) {
      throw new SilenceError(`Alertmanager unreachable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, true);
    }
    const text = (await answer.body.text()).slice(0, 300);
    if (answer.statusCode >= 200 && answer.statusCode < 300) {
      const id = parseSilenceId(text);
      if (id) return id;
      throw new SilenceError('Alertmanager answered without a silenceID', true);
    }
    const retry = answer.statusCode >= 500 || answer.statusCode === 429;
    throw new SilenceError(`Alertmanager answered HTTP ${answer.statusCode}: ${text.trim().replace(/\s+/g, ' ')}`, retry);
  }
}

/**
 * Where each alert group's silences go: the Alertmanager that owns its alerts.
 * Grafana's alerts live in Grafana's own Alertmanager (GRAFANA_ALERTMANAGER_URL),
 * Prometheus' in ALERTMANAGER_URL; a route's `alertmanager:` overrides both. A
 * group records the name of its target (never the URL, which may hold credentials),
 * and a group with none gets a card without silence buttons.
 */
export class SilenceTargets {
  private readonly clients = new Map<string, AlertmanagerClient>();

  constructor(settings: { alertmanagerUrl?: string; grafanaAlertmanagerUrl?: string; routes: { name: string; alertmanager?: string }[] }) {
    if (settings.alertmanagerUrl) this.clients.set('alertmanager', new AlertmanagerClient(settings.alertmanagerUrl));
    if (settings.grafanaAlertmanagerUrl) this.clients.set('grafana', new AlertmanagerClient(settings.grafanaAlertmanagerUrl));
    for (const route of settings.routes)
      if (route.alertmanager) this.clients.set(`route:${route.name}`, new AlertmanagerClient(route.alertmanager));
  }

  /** Whether any alert can be silenced from a card. */
  get any(): boolean {
    return this.clients.size > 0;
  }

  /** The target a group of this source and route silences in; undefined: none is configured. */
  for(source: 'alertmanager' | 'grafana', route?: string): string | undefined {
    const name = route !== undefined && this.clients.has(`route:${route}`) ? `route:${route}` : source;
    return this.clients.has(name) ? name : undefined;
  }

  client(name: string | undefined): AlertmanagerClient | undefined {
    return name === undefined ? undefined : this.clients.get(name);
  }
}
