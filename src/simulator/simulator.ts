import { randomBytes } from 'node:crypto';
import type { Server } from 'node:http';
import { setTimeout as sleep } from 'node:timers/promises';
import express, { type Express, type Request, type Response } from 'express';
import QRCode from 'qrcode';
import { deliverPush, eventXml, type CallbackTarget } from '../wecom/callback/push';
import { markupProblems } from '../wecom/markup/check';
import { textcardSeen } from '../wecom/markup/text';
import { Cards, type ClickOutcome, type SimulatedCard, type SimulatedClick } from './cards';
import { type ChatSentMessage, GroupChats, type RobotSentMessage, type SimulatedChat } from './group-chats';
import { SimulatedDirectory, type DirectoryOptions } from './directory';
import { MemberEvents } from './member-events';
import { localOnly } from './local-only';
import { readMediaPart } from './media-part';
import { markupRejection, type Rejection, validateMessageBody } from './validate-message';

export type { ChatSentMessage, RobotSentMessage, SimulatedChat } from './group-chats';
export { type CardUpdateRecord, ClickRefused, type ClickOutcome, type SimulatedCard, type SimulatedClick } from './cards';
export type { DirectoryOptions, SimulatedDepartment, SimulatedMember } from './directory';
export { type ContactChangeOutcome, type MemberMessageOutcome, PushRefused } from './member-events';

/**
 * A WeCom server faithful to the reference (gettoken, message/send,
 * media/upload, customer-contact calls, group robots, app group chats and
 * interactive cards), with fault injection. Tests and sandbox mode send here
 * over real HTTP; nothing else in the gateway knows.
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
  /**
   * The corp's members, departments and tags: message/send answers unknown ones in
   * invaliduser (81013 when none is left), as WeCom does. An omitted list = every
   * well-formed id exists (tests that send to anyone); the sandbox gives its members.
   */
  directory?: DirectoryOptions;
  /**
   * Given (sandbox mode), a message/send with markup WeCom does not render is
   * accepted, as WeCom does, and reported here. Omitted (tests), it is refused
   * with 40058 so the test fails loudly.
   */
  onMarkupProblem?: (problems: string[], body: Record<string, unknown>) => void;
  /**
   * The simulator's address as a phone on the LAN reaches it (sandbox
   * SIMULATOR_PUBLIC_URL): contact-way QR codes point there. Given, the
   * simulator listens on all interfaces, so its /__sim controls (messages,
   * faults, reset, scans) are reachable from the LAN too: for sandbox demos only.
   */
  publicUrl?: string;
  /** The group robots' keys that exist (webhook/send); omitted = every key of [A-Za-z0-9-]{1,128}. */
  robotKeys?: string[];
  /** Accepted messages per robot key per rolling window (default 20 per 60 000 ms, reference §13); beyond, 45009. */
  robotLimit?: { count: number; windowMs: number };
  /** How long an interactive card's response_code is valid (default 72 h, reference §2.3); small in tests that expire codes. */
  responseCodeTtlMs?: number;
}

export type Fault = { errcode: number; errmsg?: string } | { httpStatus: number } | { delayMs: number } | { reset: true };
export type SimulatedApi =
  | 'gettoken'
  | 'message/send'
  | 'media/upload'
  | 'externalcontact/send_welcome_msg'
  | 'externalcontact/mark_tag'
  | 'externalcontact/add_contact_way'
  | 'externalcontact/del_contact_way'
  | 'webhook/send'
  | 'webhook/upload_media'
  | 'appchat/create'
  | 'appchat/update'
  | 'appchat/get'
  | 'appchat/send'
  | 'message/update_template_card';

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

/** What a simulated scan of a 「联系我」 code did: GET /__sim/scan/{configId} answers it. */
export interface ScanOutcome {
  configId: string;
  state?: string;
  /** The employee the customer added. */
  employee: string;
  externalUserId: string;
  welcomeCode: string;
  /** The gateway's HTTP answer to the push. */
  callbackStatus: number;
  /** What the gateway sent with the code while it was valid; null when nothing came. */
  welcome: { text?: string; attachments: Record<string, unknown>[]; afterMs: number } | null;
}

/** A scan the simulator cannot carry out, with the HTTP status that says why. */
export class ScanRefused extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}

interface IssuedToken {
  app: SimulatorApp;
  expiresAt: number;
  state: 'valid' | 'expired' | 'revoked';
}

const DEFAULT_APP: SimulatorApp = { corpId: 'wwsandbox000000001', agentId: 1000002, secret: 'sandbox-secret' };
/** A WelcomeCode is usable once, for 20 seconds (reference §8). */
const WELCOME_CODE_TTL_MS = 20_000;
/** Medium error correction and a wide quiet zone: read at a glance from a laptop screen. */
const QR_OPTIONS = { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 8 } as const;
const MEDIA_LIMITS: Record<string, number> = { image: 10 << 20, voice: 2 << 20, video: 10 << 20, file: 20 << 20 };
const split = (value: unknown) => (typeof value === 'string' && value !== '' ? value.split('|') : []);

/** message/send's answer carries response_code for interactive cards only (reference §2.3). */
const responseCodeOf = (code: string | undefined) => (code ? { response_code: code } : {});

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
  /** A byte-identical resend answers as the first send did: its msgid, and a card's response_code. */
  private readonly duplicates = new Map<string, { msgid: string; responseCode?: string; until: number }>();
  private faults = new Map<string, Fault[]>();
  private chaos?: { rate: number; faults: (Fault | 'expireTokens')[] };
  private latencyMs: number;
  private server?: Server;
  private stopped = false;
  private callbackTarget?: CallbackTarget;
  /** Scans per contact way, to rotate a type 2 code's customers through its members. */
  private readonly scans = new Map<string, number>();
  private readonly groupChats: GroupChats;
  private readonly interactiveCards: Cards;
  private readonly directory: SimulatedDirectory;
  private readonly memberEvents: MemberEvents;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.apps = options.apps ?? [DEFAULT_APP];
    this.latencyMs = options.latencyMs ?? 0;
    this.directory = new SimulatedDirectory(options.directory);
    this.memberEvents = new MemberEvents(this.directory, () => this.callbackTarget);
    this.groupChats = new GroupChats(
      {
        answer: (res, api, body) => this.answer(res, api, body),
        injectFault: (api, req, res) => this.injectFault(api, req, res),
        authorize: (req) => this.authorize(req),
        checkMessageBody: (body) => this.checkMessageBody(body),
        userExists: (userid) => this.exists('users', userid),
      },
      { robotKeys: options.robotKeys, robotLimit: options.robotLimit },
    );
    this.interactiveCards = new Cards(
      {
        answer: (res, api, body) => this.answer(res, api, body),
        injectFault: (api, req, res) => this.injectFault(api, req, res),
        authorize: (req) => this.authorize(req),
        agentRejection: (agentId, agentid) => this.agentRejection(agentId, agentid),
        checkMessageBody: (body) => this.checkMessageBody(body),
        callbackTarget: () => this.callbackTarget,
      },
      { responseCodeTtlMs: options.responseCodeTtlMs },
    );
    this.routes();
  }

  /** Robot messages delivered into their groups (webhook/send). */
  get robotSent(): RobotSentMessage[] {
    return this.groupChats.robotSent;
  }

  /** App messages delivered into app group chats (appchat/send). */
  get chatSent(): ChatSentMessage[] {
    return this.groupChats.chatSent;
  }

  /** App group chats by chatid, each with the app that created it. */
  get chats(): Map<string, SimulatedChat> {
    return this.groupChats.chats;
  }

  /** Interactive cards sent (message/send), oldest first, each as updates left it: GET /__sim/cards answers the same. */
  get cards(): SimulatedCard[] {
    return this.interactiveCards.cards;
  }

  /** A member clicks a button of a card they received: template_card_event goes to the callback (POST /__sim/click). */
  click(click: SimulatedClick): Promise<ClickOutcome> {
    return this.interactiveCards.click(click);
  }

  /** The robot was removed from its group: its key answers 93000 from now on. */
  revokeRobotKey(key: string): void {
    this.groupChats.revokeRobotKey(key);
  }

  /** What a robot's key delivered, oldest first (tests of robot pools and budgets). */
  robotDeliveriesTo(key: string): RobotSentMessage[] {
    return this.groupChats.robotDeliveriesTo(key);
  }

  static async start(options: SimulatorOptions = {}, port = 0): Promise<WecomSimulator> {
    const simulator = new WecomSimulator(options);
    await new Promise<void>((resolve, reject) => {
      // A public URL is for phones on the LAN: loopback alone would not reach them.
      // Express 5 hands listen's error (e.g. the sandbox's SIMULATOR_PORT is taken) to the callback.
      simulator.server = simulator.app.listen(port, options.publicUrl ? '0.0.0.0' : '127.0.0.1', (error?: Error) => (error ? reject(error) : resolve()));
    });
    const address = simulator.server!.address();
    simulator.url = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`;
    return simulator;
  }

  async stop(): Promise<void> {
    this.stopped = true;
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

  /**
   * Where WeCom pushes this corp's events (the app's callback URL and keys, §5.1):
   * known only once the gateway listens, so it is told, not configured.
   */
  deliverCallbacksTo(target: CallbackTarget | undefined): void {
    this.callbackTarget = target;
  }

  /** What a contact way's QR code encodes: the page a phone camera opens to "scan" it. */
  scanUrl(configId: string): string {
    return `${this.publicBase()}/__sim/scan/${configId}`;
  }

  /** The address for people (browsers, phones); the gateway keeps calling `url`. */
  private publicBase(): string {
    return this.options.publicUrl?.replace(/\/+$/, '') ?? this.url;
  }

  private liveContactWay(configId: string): ContactWay | undefined {
    const way = this.contactWays.get(configId);
    return way && !way.deleted ? way : undefined;
  }

  /**
   * A new customer scanning a 「联系我」 code (reference §7.4, §9.2): WeCom adds
   * them to the code's employee and pushes add_external_contact, with the code's
   * state and a fresh WelcomeCode, to the app's callback URL; the gateway then has
   * 20 s to send the welcome. Answers what happened, the welcome included.
   */
  async scan(configId: string): Promise<ScanOutcome> {
    const way = this.liveContactWay(configId);
    if (!way) throw new ScanRefused(404, `no contact way ${configId} (unknown, or deleted with del_contact_way)`);
    const target = this.callbackTarget;
    if (!target) throw new ScanRefused(409, "the simulator does not know where the gateway's callback is: nothing told it (deliverCallbacksTo); in sandbox mode the gateway does once it listens");
    const employee = this.employeeFor(way);
    if (!employee) throw new ScanRefused(422, `contact way ${configId} names departments only: the simulator knows no members to add`);
    const state = typeof way.body.state === 'string' && way.body.state !== '' ? way.body.state : undefined;
    const externalUserId = `wm${randomBytes(15).toString('hex')}`;
    const welcomeCode = this.issueWelcomeCode();
    const issuedAt = Date.now();
    // add_external_contact, as the gateway sees a customer who scanned (§7.4: verification-free adds come as either).
    const xml = eventXml({
      ToUserName: target.corpId,
      FromUserName: 'sys',
      CreateTime: String(Math.floor(issuedAt / 1000)),
      MsgType: 'event',
      Event: 'change_external_contact',
      ChangeType: 'add_external_contact',
      UserID: employee,
      ExternalUserID: externalUserId,
      ...(state ? { State: state } : {}),
      WelcomeCode: welcomeCode,
    });
    const answer = await deliverPush(target, xml).catch((error: Error) => {
      throw new ScanRefused(502, `the push to the gateway's callback ${target.url} failed: ${error.message}`);
    });
    if (answer.status < 200 || answer.status > 299) throw new ScanRefused(502, `the gateway answered the push with HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
    const welcome = await this.welcomeFor(welcomeCode, issuedAt + WELCOME_CODE_TTL_MS);
    return {
      configId,
      ...(state ? { state } : {}),
      employee,
      externalUserId,
      welcomeCode,
      callbackStatus: answer.status,
      welcome: welcome ? { ...welcomeContent(welcome.body), afterMs: welcome.at - issuedAt } : null,
    };
  }

  /** Type 1: its one member; type 2: its members in turn (WeCom's own spreading is not documented). */
  private employeeFor(way: ContactWay): string | undefined {
    const users = Array.isArray(way.body.user) ? way.body.user.filter((u): u is string => typeof u === 'string' && u !== '') : [];
    if (users.length === 0) return undefined;
    const scans = this.scans.get(way.configId) ?? 0;
    this.scans.set(way.configId, scans + 1);
    return users[scans % users.length];
  }

  /** The welcome sent with `code`, waited for until the code expires (or the simulator stops). */
  private async welcomeFor(code: string, deadline: number): Promise<WelcomeSent | undefined> {
    for (;;) {
      const welcome = this.welcomes.find((w) => w.welcomeCode === code);
      if (welcome || Date.now() >= deadline || this.stopped) return welcome;
      await sleep(50);
    }
  }

  reset(): void {
    this.sent.length = 0;
    this.calls.length = 0;
    this.welcomes.length = 0;
    this.tagMarks.length = 0;
    this.contactWays.clear();
    this.scans.clear();
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
    this.groupChats.reset();
    this.interactiveCards.reset();
    this.directory.reset();
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
    return this.directory.exists(kind, id);
  }

  /** The app's visible members (agent/get): the directory's, or two placeholders when any userid is one. */
  private visibleUserids(): string[] {
    const { anyUserid, members } = this.directory.listing();
    return anyUserid ? ['zhangsan', 'lisi'] : members.map((m) => m.userid);
  }

  private routes(): void {
    const app = this.app;
    app.disable('x-powered-by');
    app.use(localOnly(this.options.publicUrl));

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
        allow_userinfos: { user: this.visibleUserids().slice(0, 100).map((userid) => ({ userid })) },
        allow_partys: { partyid: [1] },
        allow_tags: { tagid: [] },
        close: 0,
      });
    });

    app.get('/cgi-bin/getcallbackip', async (req, res) => {
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, 'getcallbackip', auth);
      // WeCom answers ranges (101.226.103.0/25) as well as addresses: the sandbox pushes from loopback, announced as a range.
      return this.answer(res, 'getcallbackip', { errcode: 0, errmsg: 'ok', ip_list: ['127.0.0.0/8', '::1'] });
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
      if (duplicate && duplicate.until > Date.now()) {
        return this.answer(res, 'message/send', { errcode: 0, errmsg: 'ok', invaliduser: '', invalidparty: '', invalidtag: '', msgid: duplicate.msgid, ...responseCodeOf(duplicate.responseCode) });
      }
      // After the duplicate check: a card's byte-identical resend finds its own task_id used, and must be absorbed, not refused.
      const taskIdUsed = this.interactiveCards.taskIdRejection(auth.agentId, body);
      if (taskIdUsed) return this.answer(res, 'message/send', { ...taskIdUsed });
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
      if (Date.now() - issued > WELCOME_CODE_TTL_MS) return this.answer(res, api, { errcode: 41050, errmsg: 'welcome_code expired' });
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
      // A real PNG (GET /__sim/qr/…) whose code opens the scan page: a demo works with a phone camera.
      const qrCode = body.scene === 2 ? `${this.publicBase()}/__sim/qr/${configId}.png` : undefined;
      this.contactWays.set(configId, { configId, body, qrCode: qrCode ?? '', deleted: false });
      return this.answer(res, api, { errcode: 0, errmsg: 'ok', config_id: configId, ...(qrCode ? { qr_code: qrCode } : {}) });
    });

    app.post('/cgi-bin/externalcontact/del_contact_way', express.json(), async (req, res) => {
      const api = 'externalcontact/del_contact_way';
      if (await this.injectFault(api, req, res)) return;
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, api, auth);
      const way = this.contactWays.get(req.body?.config_id);
      if (!way || way.deleted) return this.answer(res, api, { errcode: 41044, errmsg: 'invalid config_id' });
      way.deleted = true;
      return this.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });

    app.post('/cgi-bin/externalcontact/get_corp_tag_list', express.json(), async (req, res) => {
      const auth = this.authorize(req);
      if ('errcode' in auth) return this.answer(res, 'externalcontact/get_corp_tag_list', auth);
      const tags = (this.options.directory?.tags ?? ['etVIP', 'etExpo2026']).map((id, order) => ({ id, name: id.replace(/^et/, ''), create_time: 1700000000, order }));
      return this.answer(res, 'externalcontact/get_corp_tag_list', { errcode: 0, errmsg: 'ok', tag_group: [{ group_id: 'etGROUP', group_name: 'campaigns', create_time: 1700000000, order: 0, tag: tags }] });
    });

    this.groupChats.routes(app);
    this.interactiveCards.routes(app);

    // WeCom answers unknown APIs with 404 pages, not JSON.
    app.use('/cgi-bin', (_req, res) => void res.status(404).send('not found'));
    this.controlRoutes();
  }

  /** The agentid a call names must be the token's app: another app's is 301002, an unknown one 40056. */
  private agentRejection(agentId: number, agentid: unknown): Rejection | undefined {
    if (agentid === undefined || agentid === '') return { errcode: 41011, errmsg: 'missing agentid' };
    if (Number(agentid) === agentId) return undefined;
    return this.apps.some((a) => a.agentId === Number(agentid)) ? { errcode: 301002, errmsg: 'not allow operate another agent with this accesstoken' } : { errcode: 40056, errmsg: 'invalid agentid' };
  }

  private checkSend(app: SimulatorApp, body: Record<string, unknown>): { errcode: number; errmsg: string } | undefined {
    const agentProblem = this.agentRejection(app.agentId, body.agentid);
    if (agentProblem) return agentProblem;
    const users = split(body.touser);
    const parties = split(body.toparty);
    const tags = split(body.totag);
    if (users.length + parties.length + tags.length === 0) return { errcode: 82001, errmsg: 'All touser & toparty & totag invalid' };
    if (users.length > 1000) return { errcode: 40032, errmsg: 'invalid size of userid list' };
    if (parties.length > 100 || tags.length > 100) return { errcode: 40058, errmsg: 'invalid parameter: toparty or totag over 100' };
    return this.checkMessageBody(body);
  }

  /** A message body (message/send, appchat/send) as WeCom checks it: fields, media/upload ids, then markup. */
  private checkMessageBody(body: Record<string, unknown>): Rejection | undefined {
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
    const reached = everyone ? ['@all'] : users.filter((u) => this.exists('users', u) && this.memberAccepts(app, u));
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
    const responseCode = this.interactiveCards.delivered(message);
    if (body.enable_duplicate_check === 1) this.duplicates.set(raw, { msgid, responseCode, until: Date.now() + duplicateIntervalMs });
    return this.answer(res, 'message/send', { errcode: 0, errmsg: 'ok', invaliduser: invalidUsers.join('|'), invalidparty: invalidParties.join('|'), invalidtag: invalidTags.join('|'), msgid, ...responseCodeOf(responseCode) });
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
    const part = await readMediaPart(req, MEDIA_LIMITS[type]);
    if ('errcode' in part) return this.answer(res, api, { ...part });
    const mediaId = `3${randomBytes(30).toString('base64url')}`;
    this.media.set(mediaId, { createdAt: Date.now(), size: part.size, sha256: part.sha256 });
    return this.answer(res, api, { errcode: 0, errmsg: '', type, media_id: mediaId, created_at: String(Math.floor(Date.now() / 1000)) });
  }

  /** The same controls over HTTP, for sandbox users and benchmarks. */
  private controlRoutes(): void {
    const app = this.app;
    app.get('/__sim/messages', (req, res) => {
      const limit = Number(req.query.limit) || 100;
      res.json({ messages: this.sent.slice(-limit).map((m) => ({ ...m, ...seenOf(m) })), ...this.groupChats.listing(limit) });
    });
    app.get('/__sim/stats', (_req, res) =>
      void res.json({ gettoken: this.gettokenCount(), calls: this.calls.length, sent: this.sent.length, welcomes: this.welcomes.length, robotSent: this.robotSent.length, chatSent: this.chatSent.length }),
    );
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
    this.interactiveCards.controlRoutes(app);
    this.memberEvents.controlRoutes(app);
    this.contactWayRoutes();
  }

  /** The 「联系我」 QR image, and what scanning it does; HTML for people, JSON when asked. */
  private contactWayRoutes(): void {
    const app = this.app;
    app.get('/__sim/qr/:configId.png', async (req, res) => {
      const way = this.liveContactWay(req.params.configId);
      if (!way) return void res.status(404).type('text/plain').send('no such contact way (unknown, or deleted)');
      const png = await QRCode.toBuffer(this.scanUrl(way.configId), QR_OPTIONS);
      // no-store: a code deleted later must not live on in a browser's cache.
      res.type('image/png').set('cache-control', 'no-store').send(png);
    });
    app.get('/__sim/scan/:configId', async (req, res) => {
      // Link previews probe with HEAD: only a real GET adds a customer.
      if (req.method === 'HEAD') return void res.status(200).type('html').end();
      const asJson = req.accepts(['html', 'json']) === 'json';
      try {
        const outcome = await this.scan(req.params.configId);
        if (asJson) res.json(outcome);
        else res.type('html').send(scanPage(outcome));
      } catch (error) {
        if (!(error instanceof ScanRefused)) throw error;
        if (asJson) res.status(error.status).json({ error: error.message });
        else res.status(error.status).type('html').send(page('扫码失败 · Scan failed', `<h1>扫码失败<small>Scan failed</small></h1><p class="warn">${escapeHtml(error.message)}</p>`));
      }
    });
  }
}

/** The text and attachments a customer sees, from a send_welcome_msg body (§8). */
function welcomeContent(body: Record<string, unknown>): { text?: string; attachments: Record<string, unknown>[] } {
  const text = (body.text as { content?: unknown } | undefined)?.content;
  const attachments = Array.isArray(body.attachments) ? (body.attachments as Record<string, unknown>[]) : [];
  return { ...(typeof text === 'string' && text !== '' ? { text } : {}), attachments };
}

const escapeHtml = (value: unknown) => String(value).replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const linkTo = (url: unknown, label: unknown) => (typeof url === 'string' && /^https?:\/\//i.test(url) ? `<a href="${escapeHtml(url)}">${escapeHtml(label)}</a>` : escapeHtml(label));

/** A small page that reads well on a phone. */
function page(title: string, content: string): string {
  return `<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1"><title>${escapeHtml(title)}</title>
<style>body{font:16px/1.5 system-ui,-apple-system,"PingFang SC","Microsoft YaHei",sans-serif;max-width:32rem;margin:0 auto;padding:1rem;color:#1f2329;background:#f5f6f7}
h1{font-size:1.25rem;margin:.5rem 0}h1 small{display:block;font-size:.9rem;color:#646a73;font-weight:normal}.meta,.foot{color:#646a73;font-size:.85rem;word-break:break-all}
.bubble{background:#fff;border-radius:.5rem;padding:.75rem;margin:.5rem 0;box-shadow:0 1px 2px #0001;white-space:pre-wrap;word-break:break-word}.kind{color:#646a73;font-size:.8rem}.warn{color:#b42318}</style>
</head><body>${content}<p class="foot">企业微信模拟器（沙盒） · WeCom simulator (sandbox)</p></body></html>`;
}

/** One attachment as the customer would see it, roughly: its kind, title and where it leads. */
function attachmentHtml(attachment: Record<string, unknown>): string {
  const kind = String(attachment.msgtype);
  const item = (attachment[kind] ?? {}) as Record<string, unknown>;
  const labels: Record<string, string> = { link: '链接 · link', miniprogram: '小程序 · mini program', image: '图片 · image', video: '视频 · video', file: '文件 · file' };
  let shown: string;
  if (kind === 'link') shown = `${linkTo(item.url, item.title)}${item.desc ? `<br>${escapeHtml(item.desc)}` : ''}`;
  else if (kind === 'miniprogram') shown = `${escapeHtml(item.title)}<br><span class="kind">${escapeHtml(item.appid)} ${escapeHtml(item.page ?? '')}</span>`;
  else if (kind === 'image' && item.pic_url) shown = linkTo(item.pic_url, item.pic_url);
  else shown = escapeHtml(item.media_id ?? JSON.stringify(item));
  return `<div class="bubble"><div class="kind">${escapeHtml(labels[kind] ?? kind)}</div>${shown}</div>`;
}

function scanPage(outcome: ScanOutcome): string {
  const who = escapeHtml(outcome.employee);
  const head = `<h1>已添加 ${who} 为联系人<small>Added ${who} as a contact</small></h1>
<p class="meta">客户 · customer ${escapeHtml(outcome.externalUserId)}${outcome.state ? ` · 渠道 · state ${escapeHtml(outcome.state)}` : ''}</p>`;
  const welcome = outcome.welcome;
  if (!welcome) {
    return page(`已添加 ${outcome.employee} · Added ${outcome.employee}`, `${head}<p class="warn">20 秒内没有收到欢迎语 · No welcome within 20 s: the gateway's GET /v1/welcome/outcomes says why.</p>`);
  }
  const text = welcome.text ? `<div class="bubble">${escapeHtml(welcome.text)}</div>` : '';
  return page(
    `已添加 ${outcome.employee} · Added ${outcome.employee}`,
    `${head}<p>欢迎语 · Welcome <span class="kind">(${welcome.afterMs} ms)</span></p>${text}${welcome.attachments.map(attachmentHtml).join('')}`,
  );
}
