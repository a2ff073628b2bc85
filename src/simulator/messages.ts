import { randomBytes } from 'node:crypto';
import express, { type Express, type Response } from 'express';
import { markupProblems } from '../wecom/markup/check';
import { textcardSeen } from '../wecom/markup/text';
import type { ApiHost, SimulatorApp } from './host';
import { markupRejection, type Rejection, validateMessageBody } from './validate-message';

/**
 * App messages to members (message/send, message/recall, reference §2): the
 * checks WeCom makes, who a message reached, WeCom's duplicate check and its
 * silent per-member limits.
 */
export interface SentMessage {
  msgid: string;
  recalled?: boolean;
  agentid: number;
  msgtype: string;
  touser: string[];
  toparty: string[];
  totag: string[];
  body: Record<string, unknown>;
  at: number;
}

/** What the simulator lends message/send beyond answers and tokens. */
export interface MessageHost extends ApiHost {
  /** message/send's agentid check: the token's own app, else 41011, 301002 or 40056. */
  agentRejection(agentId: number, agentid: unknown): Rejection | undefined;
  /** The body and markup checks message/send shares with appchat/send and cards. */
  checkMessageBody(body: Record<string, unknown>): Rejection | undefined;
  exists(kind: 'users' | 'parties' | 'tags', id: string): boolean;
  /** A card's task_id already used by this app (40058), checked after the duplicate check. */
  taskIdRejection(agentId: number, body: Record<string, unknown>): Rejection | undefined;
  /** Records an interactive card; its response_code, if it is one. */
  delivered(message: SentMessage): string | undefined;
}

export interface MessageOptions {
  /** WeCom's silent per-member limits (default 30 a minute and 1000 an hour). */
  memberLimits?: { count: number; windowMs: number }[];
}

const reject = (errcode: number, errmsg: string) => ({ errcode, errmsg });
const split = (value: unknown) => (typeof value === 'string' && value !== '' ? value.split('|') : []);

/** message/send's answer carries response_code for interactive cards only (reference §2.3). */
const responseCodeOf = (code: string | undefined) => (code ? { response_code: code } : {});

/** For GET /__sim/messages: what a reader sees of a textcard's description. */
function seenOf(message: SentMessage): { seen?: string } {
  const description = (message.body.textcard as { description?: unknown } | undefined)?.description;
  return message.msgtype === 'textcard' && typeof description === 'string' ? { seen: textcardSeen(description) } : {};
}

/**
 * A message body (message/send, appchat/send) as WeCom checks it: fields,
 * media/upload ids, then markup. Real WeCom accepts markup it does not know and
 * shows it as plain text (an alert loses its emphasis, reference §2.2); the
 * simulator refuses it unless onMarkupProblem is given, so a template rendering
 * it fails its tests.
 */
export function messageBodyCheck(
  mediaUsable: (mediaId: string) => boolean,
  onMarkupProblem?: (problems: string[], body: Record<string, unknown>) => void,
): (body: Record<string, unknown>) => Rejection | undefined {
  return (body) => {
    const invalid = validateMessageBody(body, mediaUsable);
    if (invalid) return invalid;
    const problems = markupProblems(body);
    if (problems.length === 0) return undefined;
    if (!onMarkupProblem) return markupRejection(problems);
    onMarkupProblem(problems, body);
    return undefined;
  };
}

export class Messages {
  readonly sent: SentMessage[] = [];
  /** Member deliveries WeCom dropped silently (over the per-member limit). */
  dropped = 0;
  /** Byte-identical sends WeCom's duplicate check dropped (retries of sends that had been delivered). */
  duplicatesAbsorbed = 0;
  /** A byte-identical resend answers as the first send did: its msgid, and a card's response_code. */
  private readonly duplicates = new Map<string, { msgid: string; responseCode?: string; until: number }>();
  private readonly memberDeliveries = new Map<string, number[]>();

  constructor(
    private readonly host: MessageHost,
    private readonly options: MessageOptions = {},
  ) {}

  /** When each delivery to a member happened (ms), for tests of the budgets. */
  deliveriesTo(user: string, agentId: number): number[] {
    return [...(this.memberDeliveries.get(`${agentId}:${user.toLowerCase()}`) ?? [])];
  }

  /** The newest `limit` messages, a textcard with what a reader sees of it. */
  listing(limit: number): (SentMessage & { seen?: string })[] {
    return this.sent.slice(-limit).map((m) => ({ ...m, ...seenOf(m) }));
  }

  reset(): void {
    this.sent.length = 0;
    this.duplicates.clear();
    this.duplicatesAbsorbed = 0;
    this.dropped = 0;
    this.memberDeliveries.clear();
  }

  routes(app: Express): void {
    const host = this.host;
    app.post('/cgi-bin/message/send', express.text({ type: () => true, limit: '2mb' }), async (req, res) => {
      if (await host.injectFault('message/send', req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, 'message/send', auth);
      const raw = typeof req.body === 'string' ? req.body : '';
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return host.answer(res, 'message/send', { errcode: 40058, errmsg: 'invalid json' });
      }
      const rejection = this.checkSend(auth, body);
      if (rejection) return host.answer(res, 'message/send', rejection);
      const interval = Number(body.duplicate_check_interval ?? 1800) * 1000;
      const duplicate = body.enable_duplicate_check === 1 ? this.duplicates.get(raw) : undefined;
      if (duplicate && duplicate.until > Date.now()) {
        this.duplicatesAbsorbed++;
        const { msgid, responseCode } = duplicate;
        const none = { invaliduser: '', invalidparty: '', invalidtag: '' };
        return host.answer(res, 'message/send', { errcode: 0, errmsg: 'ok', ...none, msgid, ...responseCodeOf(responseCode) });
      }
      // After the duplicate check: a card's byte-identical resend finds its own task_id used, and must be absorbed, not refused.
      const taskIdUsed = host.taskIdRejection(auth.agentId, body);
      if (taskIdUsed) return host.answer(res, 'message/send', { ...taskIdUsed });
      return this.deliver(res, auth, body, raw, interval);
    });

    // Recall (reference §2.4): only this app's messages, only within 24 h.
    app.post('/cgi-bin/message/recall', express.json(), async (req, res) => {
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, 'message/recall', auth);
      const message = this.sent.find((m) => m.msgid === req.body?.msgid);
      if (!message || message.agentid !== auth.agentId) {
        return host.answer(res, 'message/recall', { errcode: 40058, errmsg: 'invalid msgid' });
      }
      if (Date.now() - message.at > 86_400_000) {
        return host.answer(res, 'message/recall', { errcode: 40058, errmsg: 'msg can not be recalled after 24 hours' });
      }
      message.recalled = true;
      return host.answer(res, 'message/recall', { errcode: 0, errmsg: 'ok' });
    });
  }

  private checkSend(app: SimulatorApp, body: Record<string, unknown>): { errcode: number; errmsg: string } | undefined {
    const agentProblem = this.host.agentRejection(app.agentId, body.agentid);
    if (agentProblem) return agentProblem;
    const users = split(body.touser);
    const parties = split(body.toparty);
    const tags = split(body.totag);
    if (users.length + parties.length + tags.length === 0) return reject(82001, 'All touser & toparty & totag invalid');
    if (users.length > 1000) return reject(40032, 'invalid size of userid list');
    if (parties.length > 100 || tags.length > 100) return reject(40058, 'invalid parameter: toparty or totag over 100');
    return this.host.checkMessageBody(body);
  }

  private deliver(
    res: Response,
    app: SimulatorApp,
    body: Record<string, unknown>,
    raw: string,
    duplicateIntervalMs: number,
  ): Promise<void> {
    const exists = this.host.exists.bind(this.host);
    const users = split(body.touser);
    const everyone = users.length === 1 && users[0] === '@all';
    const invalidUsers = everyone ? [] : users.filter((u) => !exists('users', u)).map((u) => u.toLowerCase());
    const invalidParties = split(body.toparty).filter((p) => !exists('parties', p));
    const invalidTags = split(body.totag).filter((t) => !exists('tags', t));
    const invalid = { invaliduser: invalidUsers.join('|'), invalidparty: invalidParties.join('|'), invalidtag: invalidTags.join('|') };
    const named = (everyone ? 1 : 0) + users.length + split(body.toparty).length + split(body.totag).length;
    const valid = named - invalidUsers.length - invalidParties.length - invalidTags.length;
    if (valid === 0) return this.host.answer(res, 'message/send', { errcode: 81013, errmsg: 'user & party & tag all invalid', ...invalid });
    const msgid = randomBytes(24).toString('base64url');
    const reached = everyone ? ['@all'] : users.filter((u) => exists('users', u) && this.memberAccepts(app, u));
    const message: SentMessage = {
      msgid,
      agentid: app.agentId,
      msgtype: String(body.msgtype),
      touser: reached,
      toparty: split(body.toparty),
      totag: split(body.totag),
      body,
      at: Date.now(),
    };
    this.sent.push(message);
    const responseCode = this.host.delivered(message);
    if (body.enable_duplicate_check === 1) this.duplicates.set(raw, { msgid, responseCode, until: Date.now() + duplicateIntervalMs });
    return this.host.answer(res, 'message/send', { errcode: 0, errmsg: 'ok', ...invalid, msgid, ...responseCodeOf(responseCode) });
  }

  /** Counts a delivery to a member, or drops it silently when over WeCom's per-member limits. */
  private memberAccepts(app: SimulatorApp, user: string): boolean {
    const limits = this.options.memberLimits ?? [
      { count: 30, windowMs: 60_000 },
      { count: 1000, windowMs: 3_600_000 },
    ];
    const key = `${app.agentId}:${user.toLowerCase()}`;
    const now = Date.now();
    const times = this.memberDeliveries.get(key) ?? [];
    if (limits.some((l) => times.filter((t) => t > now - l.windowMs).length >= l.count)) {
      this.dropped++;
      return false;
    }
    times.push(now);
    this.memberDeliveries.set(key, times);
    return true;
  }
}
