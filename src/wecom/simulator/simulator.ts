import { createHash, randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import busboy from 'busboy';
import express, { type Express, type Request, type Response } from 'express';
import { markupProblems, textcardSeen } from '../markup';
import { markupRejection, type Rejection, validateMessageBody } from './validate-message';

/**
 * A WeCom server faithful to the reference (gettoken, message/send,
 * media/upload, customer-contact calls), with fault injection. Tests and
 * sandbox mode send here over real HTTP; nothing else in the gateway knows.
 */
export interface SimulatorApp {
  corpId: string;
  agentId: number;
  secret: string;
}

export interface SimulatorOptions {
  apps?: SimulatorApp[];
  tokenTtlSeconds?: number;
  latencyMs?: number;
  /**
   * WeCom's silent per-member limit on app messages (default 30 per minute and
   * 1000 per hour): beyond it the send answers ok and the member gets nothing.
   */
  memberLimits?: { count: number; windowMs: number }[];
  /** Omitted list = every well-formed id exists. */
  directory?: { users?: string[]; parties?: string[]; tags?: string[] };
  /**
   * Given (sandbox mode), a message/send with markup WeCom does not render is
   * accepted, as WeCom does, and reported here. Omitted (tests), it is refused
   * with 40058 so the test fails loudly.
   */
  onMarkupProblem?: (problems: string[], body: Record<string, unknown>) => void;
}

export type Fault = { errcode: number; errmsg?: string } | { httpStatus: number } | { delayMs: number } | { reset: true };
export type SimulatedApi = 'gettoken' | 'message/send' | 'media/upload' | 'externalcontact/send_welcome_msg' | 'externalcontact/mark_tag' | 'externalcontact/add_contact_way';

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

export interface WelcomeSent {
  welcomeCode: string;
  body: Record<string, unknown>;
  at: number;
}

export interface ContactWay {
  configId: string;
  body: Record<string, unknown>;
  qrCode: string;
  deleted: boolean;
}

interface IssuedToken {
  app: SimulatorApp;
  expiresAt: number;
  state: 'valid' | 'expired' | 'revoked';
}

const DEFAULT_APP: SimulatorApp = { corpId: 'wwsandbox000000001', agentId: 1000002, secret: 'sandbox-secret' };
const MEDIA_LIMITS: Record<string, number> = { image: 10 << 20, voice: 2 << 20, video: 10 << 20, file: 20 << 20 };
const USER_ID = /^[A-Za-z0-9_.@-]{1,64}$/;
const split = (value: unknown) => (typeof value === 'string' && value !== '' ? value.split('|') : []);

/** For GET /__sim/messages: what a reader sees of a textcard's description. */
function seenOf(message: SentMessage): { seen?: string } {
  const description = (message.body.textcard as { description?: unknown } | undefined)?.description;
  return message.msgtype === 'textcard' && typeof description === 'string' ? { seen: textcardSeen(description) } : {};
}

export class WecomSimulator {
  readonly app: Express = express();
  readonly sent: SentMessage[] = [];
  readonly calls: { api: string; at: number; errcode: number }[] = [];
  readonly welcomes: WelcomeSent[] = [];
  readonly tagMarks: Record<string, unknown>[] = [];
  readonly contactWays = new Map<string, ContactWay>();
  /** Welcome codes the simulator will accept once, within 20 s of being issued. */
  readonly welcomeCodes = new Map<string, number>();
  url = '';

  private readonly apps: SimulatorApp[];
  private readonly tokens = new Map<string, IssuedToken>();
  private readonly media = new Map<string, { createdAt: number; size: number; sha256: string }>();
  private readonly duplicates = new Map<string, { msgid: string; until: number }>();
  private faults = new Map<string, Fault[]>();
  private chaos?: { rate: number; faults: (Fault | 'expireTokens')[] };
  private latencyMs: number;
  private server?: Server;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.apps = options.apps ?? [DEFAULT_APP];
    this.latencyMs = options.latencyMs ?? 0;
    this.routes();
  }

  static async start(options: SimulatorOptions = {}, port = 0): Promise<WecomSimulator> {
    const simulator = new WecomSimulator(options);
    await new Promise<void>((resolve, reject) => {
      simulator.server = simulator.app.listen(port, '127.0.0.1', () => resolve());
      simulator.server.once('error', reject); // e.g. the sandbox's SIMULATOR_PORT is taken
    });
    const address = simulator.server!.address();
    simulator.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
    return simulator;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise((resolve) => this.server!.close(resolve));
  }

  gettokenCount(): number {
    return this.calls.filter((c) => c.api === 'gettoken' && c.errcode === 0).length;
  }

  failNext(n: number, fault: Fault, api: SimulatedApi = 'message/send'): void {
    this.faults.set(api, [...(this.faults.get(api) ?? []), ...Array<Fault>(n).fill(fault)]);
  }

  /** Member deliveries WeCom dropped silently (over the per-member limit). */
  dropped = 0;
  private readonly memberDeliveries = new Map<string, number[]>();
  /** Byte-identical sends WeCom's duplicate check dropped (retries of sends that had been delivered). */
  duplicatesAbsorbed = 0;
  /** How many times tokens were expired (by a test or by chaos): each may cost one gettoken. */
  tokenExpiries = 0;

  expireTokens(): void {
    this.tokenExpiries++;
    for (const token of this.tokens.values()) if (token.state === 'valid') token.state = 'expired';
  }

  revokeTokens(): void {
    for (const token of this.tokens.values()) token.state = 'revoked';
  }

  /** Random trouble on every API: with probability `rate`, one of `faults` (or a token expiry) instead of a normal answer. */
  setChaos(chaos?: { rate: number; faults: (Fault | 'expireTokens')[] }): void {
    this.chaos = chaos;
  }

  setLatency(ms: number): void {
    this.latencyMs = ms;
  }

  /** A WelcomeCode as WeCom puts in add_external_contact: usable once, for 20 seconds. */
  issueWelcomeCode(): string {
    const code = randomBytes(12).toString('hex');
    this.welcomeCodes.set(code, Date.now());
    return code;
  }

  reset(): void {
    this.sent.length = 0;
    this.calls.length = 0;
    this.welcomes.length = 0;
    this.tagMarks.length = 0;
    this.contactWays.clear();
    this.welcomeCodes.clear();
    this.tokens.clear();
    this.media.clear();
    this.duplicates.clear();
    this.faults.clear();
    this.chaos = undefined;
    this.tokenExpiries = 0;
    this.duplicatesAbsorbed = 0;
    this.dropped = 0;
    this.memberDeliveries.clear();
  }

  private errmsg(text: string, errcode: number): string {
    return `${text}, hint: [${Math.floor(Date.now() / 1000)}_${randomBytes(3).toString('hex')}], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${errcode}`;
  }

  /** Every answer goes through here: latency, call log. */
  private async answer(res: Response, api: string, body: Record<string, unknown>): Promise<void> {
    if (this.latencyMs > 0) await sleep(this.latencyMs);
    const errcode = typeof body.errcode === 'number' ? body.errcode : 0;
    this.calls.push({ api, at: Date.now(), errcode });
    res.json(errcode === 0 ? body : { ...body, errmsg: this.errmsg(String(body.errmsg), errcode) });
  }

  /** Consumes the next injected fault of `api`; true when the fault answered the request. */
  private async injectFault(api: string, req: Request, res: Response): Promise<boolean> {
    let fault = this.faults.get(api)?.shift();
    if (!fault && this.chaos && Math.random() < this.chaos.rate) {
      const pick = this.chaos.faults[Math.floor(Math.random() * this.chaos.faults.length)];
      if (pick === 'expireTokens') this.expireTokens();
      else fault = pick;
    }
    if (!fault) return false;
    if ('delayMs' in fault) {
      await sleep(fault.delayMs);
      return false;
    }
    this.calls.push({ api, at: Date.now(), errcode: 'errcode' in fault ? fault.errcode : -2 });
    if ('reset' in fault) req.socket.destroy();
    else if ('httpStatus' in fault) res.status(fault.httpStatus).send('simulated failure');
    else res.json({ errcode: fault.errcode, errmsg: this.errmsg(fault.errmsg ?? 'simulated error', fault.errcode) });
    return true;
  }

  /** The app a token belongs to, or the errcode WeCom answers for it. */
  private authorize(req: Request): SimulatorApp | { errcode: number; errmsg: string } {
    const token = typeof req.query.access_token === 'string' ? req.query.access_token : '';
    if (!token) return { errcode: 41001, errmsg: 'access_token missing' };
    const issued = this.tokens.get(token);
    if (!issued || issued.state === 'revoked') return { errcode: 40014, errmsg: 'invalid access_token' };
    if (issued.state === 'expired' || issued.expiresAt < Date.now()) return { errcode: 42001, errmsg: 'access_token expired' };
    return issued.app;
  }

  private exists(kind: 'users' | 'parties' | 'tags', id: string): boolean {
    const list = this.options.directory?.[kind];
    if (kind === 'users' && !USER_ID.test(id)) return false;
    return list === undefined || list.some((known) => known.toLowerCase() === id.toLowerCase());
  }

  private routes(): void {
    const app = this.app;
    app.disable('x-powered-by');

    app.get('/cgi-bin/gettoken', async (req, res) => {
      if (await this.injectFault('gettoken', req, res)) return;
      const { corpid, corpsecret } = req.query as Record<string, string | undefined>;
      if (!corpsecret) return this.answer(res, 'gettoken', { errcode: 41004, errmsg: 'corpsecret missing' });
      const corpApps = this.apps.filter((a) => a.corpId === corpid);
      if (corpApps.length === 0) return this.answer(res, 'gettoken', { errcode: 40013, errmsg: 'invalid corpid' });
      const match = corpApps.find((a) => a.secret === corpsecret);
      if (!match) return this.answer(res, 'gettoken', { errcode: 40001, errmsg: 'invalid credential' });
      // Within its validity WeCom hands out the same token again (reference §1).
      const ttl = this.options.tokenTtlSeconds ?? 7200;
      let token = [...this.tokens.entries()].find(([, t]) => t.app === match && t.state === 'valid' && t.expiresAt > Date.now())?.[0];
      if (!token) {
        token = randomBytes(48).toString('base64url');
        this.tokens.set(token, { app: match, expiresAt: Date.now() + ttl * 1000, state: 'valid' });
      }
      const remaining = Math.round((this.tokens.get(token)!.expiresAt - Date.now()) / 1000);
      return this.answer(res, 'gettoken', { errcode: 0, errmsg: 'ok', access_token: token, expires_in: remaining });
    });

    app.get('/cgi-bin/agent/get', async (req, res) => {
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, 'agent/get', auth);
      if (Number(req.query.agentid) !== auth.agentId) return this.answer(res, 'agent/get', { errcode: 301002, errmsg: 'not allow operate another agent with this accesstoken' });
      return this.answer(res, 'agent/get', {
        errcode: 0,
        errmsg: 'ok',
        agentid: auth.agentId,
        name: 'Gateway (simulated)',
        allow_userinfos: { user: (this.options.directory?.users ?? ['zhangsan', 'lisi']).slice(0, 100).map((userid) => ({ userid })) },
        allow_partys: { partyid: [1] },
        allow_tags: { tagid: [] },
        close: 0,
      });
    });

    app.get('/cgi-bin/getcallbackip', async (req, res) => {
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, 'getcallbackip', auth);
      return this.answer(res, 'getcallbackip', { errcode: 0, errmsg: 'ok', ip_list: ['127.0.0.1', '::1'] });
    });

    app.post('/cgi-bin/message/send', express.text({ type: () => true, limit: '2mb' }), async (req, res) => {
      if (await this.injectFault('message/send', req, res)) return;
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, 'message/send', auth);
      const raw = typeof req.body === 'string' ? req.body : '';
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(raw) as Record<string, unknown>;
      } catch {
        return this.answer(res, 'message/send', { errcode: 40058, errmsg: 'invalid json' });
      }
      const rejection = this.checkSend(auth, body);
      if (rejection) return this.answer(res, 'message/send', rejection);
      const interval = Number(body.duplicate_check_interval ?? 1800) * 1000;
      const duplicate = body.enable_duplicate_check === 1 ? this.duplicates.get(raw) : undefined;
      if (duplicate && duplicate.until > Date.now()) this.duplicatesAbsorbed++;
      if (duplicate && duplicate.until > Date.now()) return this.answer(res, 'message/send', { errcode: 0, errmsg: 'ok', invaliduser: '', invalidparty: '', invalidtag: '', msgid: duplicate.msgid });
      return this.deliver(res, auth, body, raw, interval);
    });

    app.post('/cgi-bin/media/upload', (req, res) => void this.upload(req, res));

    // Recall (reference §2.4): only this app's messages, only within 24 h.
    app.post('/cgi-bin/message/recall', express.json(), async (req, res) => {
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, 'message/recall', auth);
      const message = this.sent.find((m) => m.msgid === req.body?.msgid);
      if (!message || message.agentid !== auth.agentId) return this.answer(res, 'message/recall', { errcode: 40058, errmsg: 'invalid msgid' });
      if (Date.now() - message.at > 86_400_000) return this.answer(res, 'message/recall', { errcode: 40058, errmsg: 'msg can not be recalled after 24 hours' });
      message.recalled = true;
      return this.answer(res, 'message/recall', { errcode: 0, errmsg: 'ok' });
    });

    app.post('/cgi-bin/externalcontact/send_welcome_msg', express.json({ limit: '1mb' }), async (req, res) => {
      const api = 'externalcontact/send_welcome_msg';
      if (await this.injectFault(api, req, res)) return;
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, api, auth);
      const code = req.body?.welcome_code;
      if (typeof code !== 'string' || code === '') return this.answer(res, api, { errcode: 41049, errmsg: 'welcome_code missing' });
      const issued = this.welcomeCodes.get(code);
      if (issued === undefined) {
        const used = this.welcomes.some((w) => w.welcomeCode === code);
        return this.answer(res, api, used ? { errcode: 41051, errmsg: 'customer already chatting or welcome sent' } : { errcode: 41050, errmsg: 'invalid welcome_code' });
      }
      if (Date.now() - issued > 20_000) return this.answer(res, api, { errcode: 41050, errmsg: 'welcome_code expired' });
      const attachments = req.body.attachments;
      if (!req.body.text?.content && !(Array.isArray(attachments) && attachments.length > 0)) return this.answer(res, api, { errcode: 40058, errmsg: 'text and attachments both empty' });
      if (Array.isArray(attachments) && attachments.length > 9) return this.answer(res, api, { errcode: 40058, errmsg: 'too many attachments' });
      this.welcomeCodes.delete(code);
      this.welcomes.push({ welcomeCode: code, body: req.body, at: Date.now() });
      return this.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });

    app.post('/cgi-bin/externalcontact/mark_tag', express.json(), async (req, res) => {
      const api = 'externalcontact/mark_tag';
      if (await this.injectFault(api, req, res)) return;
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, api, auth);
      const { userid, external_userid, add_tag, remove_tag } = req.body ?? {};
      if (!userid || !external_userid) return this.answer(res, api, { errcode: 40058, errmsg: 'userid and external_userid required' });
      if (!(add_tag?.length > 0) && !(remove_tag?.length > 0)) return this.answer(res, api, { errcode: 40058, errmsg: 'add_tag and remove_tag both empty' });
      this.tagMarks.push(req.body);
      return this.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });

    app.post('/cgi-bin/externalcontact/add_contact_way', express.json(), async (req, res) => {
      const api = 'externalcontact/add_contact_way';
      if (await this.injectFault(api, req, res)) return;
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, api, auth);
      const body = req.body ?? {};
      if (body.type !== 1 && body.type !== 2) return this.answer(res, api, { errcode: 41037, errmsg: 'invalid type' });
      if (body.scene !== 1 && body.scene !== 2) return this.answer(res, api, { errcode: 41038, errmsg: 'invalid scene' });
      if (typeof body.state === 'string' && [...body.state].length > 30) return this.answer(res, api, { errcode: 40058, errmsg: 'state too long' });
      if (body.type === 1 && (!Array.isArray(body.user) || body.user.length !== 1)) return this.answer(res, api, { errcode: 41039, errmsg: 'type 1 needs exactly one user' });
      const configId = randomBytes(16).toString('hex');
      const qrCode = body.scene === 2 ? `${this.url}/__sim/qr/${configId}.png` : undefined;
      this.contactWays.set(configId, { configId, body, qrCode: qrCode ?? '', deleted: false });
      return this.answer(res, api, { errcode: 0, errmsg: 'ok', config_id: configId, ...(qrCode ? { qr_code: qrCode } : {}) });
    });

    app.post('/cgi-bin/externalcontact/del_contact_way', express.json(), async (req, res) => {
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, 'externalcontact/del_contact_way', auth);
      const way = this.contactWays.get(req.body?.config_id);
      if (!way || way.deleted) return this.answer(res, 'externalcontact/del_contact_way', { errcode: 41044, errmsg: 'invalid config_id' });
      way.deleted = true;
      return this.answer(res, 'externalcontact/del_contact_way', { errcode: 0, errmsg: 'ok' });
    });

    app.post('/cgi-bin/externalcontact/get_corp_tag_list', express.json(), async (req, res) => {
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, 'externalcontact/get_corp_tag_list', auth);
      const tags = (this.options.directory?.tags ?? ['etVIP', 'etExpo2026']).map((id, order) => ({ id, name: id.replace(/^et/, ''), create_time: 1700000000, order }));
      return this.answer(res, 'externalcontact/get_corp_tag_list', { errcode: 0, errmsg: 'ok', tag_group: [{ group_id: 'etGROUP', group_name: 'campaigns', create_time: 1700000000, order: 0, tag: tags }] });
    });

    // WeCom answers unknown APIs with 404 pages, not JSON.
    app.use('/cgi-bin', (_req, res) => void res.status(404).send('not found'));
    this.controlRoutes();
  }

  private checkSend(app: SimulatorApp, body: Record<string, unknown>): { errcode: number; errmsg: string } | undefined {
    if (body.agentid === undefined || body.agentid === '') return { errcode: 41011, errmsg: 'missing agentid' };
    if (Number(body.agentid) !== app.agentId) {
      return this.apps.some((a) => a.agentId === Number(body.agentid)) ? { errcode: 301002, errmsg: 'not allow operate another agent with this accesstoken' } : { errcode: 40056, errmsg: 'invalid agentid' };
    }
    const users = split(body.touser);
    const parties = split(body.toparty);
    const tags = split(body.totag);
    if (users.length + parties.length + tags.length === 0) return { errcode: 82001, errmsg: 'All touser & toparty & totag invalid' };
    if (users.length > 1000) return { errcode: 40032, errmsg: 'invalid size of userid list' };
    if (parties.length > 100 || tags.length > 100) return { errcode: 40058, errmsg: 'invalid parameter: toparty or totag over 100' };
    const invalid = validateMessageBody(body, (mediaId) => {
      const media = this.media.get(mediaId);
      return media !== undefined && Date.now() - media.createdAt < 3 * 86_400_000;
    });
    return invalid ?? this.checkMarkup(body);
  }

  /**
   * Real WeCom accepts markup it does not know and shows it as plain text (an
   * alert loses its emphasis, reference §2.2); the simulator refuses it unless
   * onMarkupProblem is given, so a template rendering it fails its tests.
   */
  private checkMarkup(body: Record<string, unknown>): Rejection | undefined {
    const problems = markupProblems(body);
    if (problems.length === 0) return undefined;
    if (!this.options.onMarkupProblem) return markupRejection(problems);
    this.options.onMarkupProblem(problems, body);
    return undefined;
  }

  private deliver(res: Response, app: SimulatorApp, body: Record<string, unknown>, raw: string, duplicateIntervalMs: number): Promise<void> {
    const users = split(body.touser);
    const everyone = users.length === 1 && users[0] === '@all';
    const invalidUsers = everyone ? [] : users.filter((u) => !this.exists('users', u)).map((u) => u.toLowerCase());
    const invalidParties = split(body.toparty).filter((p) => !this.exists('parties', p));
    const invalidTags = split(body.totag).filter((t) => !this.exists('tags', t));
    const valid = (everyone ? 1 : 0) + users.length - invalidUsers.length + split(body.toparty).length - invalidParties.length + split(body.totag).length - invalidTags.length;
    if (valid === 0) return this.answer(res, 'message/send', { errcode: 81013, errmsg: 'user & party & tag all invalid', invaliduser: invalidUsers.join('|'), invalidparty: invalidParties.join('|'), invalidtag: invalidTags.join('|') });
    const msgid = randomBytes(24).toString('base64url');
    if (body.enable_duplicate_check === 1) this.duplicates.set(raw, { msgid, until: Date.now() + duplicateIntervalMs });
    const reached = everyone ? ['@all'] : users.filter((u) => this.exists('users', u) && this.memberAccepts(app, u));
    this.sent.push({
      msgid,
      agentid: app.agentId,
      msgtype: String(body.msgtype),
      touser: reached,
      toparty: split(body.toparty),
      totag: split(body.totag),
      body,
      at: Date.now(),
    });
    return this.answer(res, 'message/send', { errcode: 0, errmsg: 'ok', invaliduser: invalidUsers.join('|'), invalidparty: invalidParties.join('|'), invalidtag: invalidTags.join('|'), msgid });
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

  /** When each delivery to a member happened (ms), for tests of the budgets. */
  deliveriesTo(user: string, agentId = this.apps[0].agentId): number[] {
    return [...(this.memberDeliveries.get(`${agentId}:${user.toLowerCase()}`) ?? [])];
  }

  private async upload(req: Request, res: Response): Promise<void> {
    const api = 'media/upload';
    if (await this.injectFault(api, req, res)) return;
    const auth = this.authorize(req);
    if ('errcode' in auth) return this.answer(res, api, auth);
    const type = String(req.query.type ?? '');
    if (!(type in MEDIA_LIMITS)) return this.answer(res, api, { errcode: 40005, errmsg: 'invalid file type' });
    const limit = MEDIA_LIMITS[type];
    let parser: busboy.Busboy;
    try {
      parser = busboy({ headers: req.headers, limits: { files: 1, fileSize: limit + 1 } });
    } catch {
      return this.answer(res, api, { errcode: 40058, errmsg: 'invalid parameter: multipart body expected' });
    }
    let part: { size: number; hash: string; filename: string; tooLarge: boolean } | undefined;
    parser.on('file', (name, stream, info) => {
      if (name !== 'media') return void stream.resume();
      const hash = createHash('sha256');
      let size = 0;
      stream.on('data', (chunk: Buffer) => {
        size += chunk.length;
        hash.update(chunk);
      });
      stream.on('end', () => {
        part = { size, hash: hash.digest('hex'), filename: info.filename ?? '', tooLarge: (stream as unknown as { truncated?: boolean }).truncated === true };
      });
    });
    parser.on('close', () => {
      if (!part || !part.filename) return void this.answer(res, api, { errcode: 40058, errmsg: 'invalid parameter: media part with a filename expected' });
      if (part.size === 0) return void this.answer(res, api, { errcode: 44001, errmsg: 'empty media data' });
      if (part.tooLarge) return void this.answer(res, api, { errcode: 45001, errmsg: 'media size out of limit' });
      if (part.size <= 5) return void this.answer(res, api, { errcode: 40006, errmsg: 'invalid file size' });
      const mediaId = `3${randomBytes(30).toString('base64url')}`;
      this.media.set(mediaId, { createdAt: Date.now(), size: part.size, sha256: part.hash });
      return void this.answer(res, api, { errcode: 0, errmsg: '', type, media_id: mediaId, created_at: String(Math.floor(Date.now() / 1000)) });
    });
    parser.on('error', () => void this.answer(res, api, { errcode: 40058, errmsg: 'invalid parameter: malformed multipart body' }));
    req.pipe(parser);
  }

  /** The same controls over HTTP, for sandbox users and benchmarks. */
  private controlRoutes(): void {
    const app = this.app;
    app.get('/__sim/messages', (req, res) => {
      const limit = Number(req.query.limit) || 100;
      res.json({ messages: this.sent.slice(-limit).map((m) => ({ ...m, ...seenOf(m) })) });
    });
    app.get('/__sim/stats', (_req, res) => void res.json({ gettoken: this.gettokenCount(), calls: this.calls.length, sent: this.sent.length, welcomes: this.welcomes.length }));
    app.post('/__sim/faults', express.json(), (req, res) => {
      const { n, fault, api } = req.body ?? {};
      if (!Number.isInteger(n) || n < 1 || typeof fault !== 'object') return void res.status(400).json({ error: 'expected {n, fault, api?}' });
      this.failNext(n, fault as Fault, api);
      res.json({ ok: true });
    });
    app.post('/__sim/expire-tokens', (_req, res) => {
      this.expireTokens();
      res.json({ ok: true });
    });
    app.post('/__sim/latency', express.json(), (req, res) => {
      this.setLatency(Number(req.body?.ms) || 0);
      res.json({ ok: true });
    });
    app.post('/__sim/reset', (_req, res) => {
      this.reset();
      res.json({ ok: true });
    });
  }
}
