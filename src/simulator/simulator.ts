import type { Server } from 'node:http';
import express, { type Express } from 'express';
import type { CallbackTarget } from '../wecom/callback/push';
import { agentRejection, agentRoutes } from './agent';
import { AppChats, type ChatSentMessage, type SimulatedChat } from './appchat';
import { CardClicks, type ClickOutcome, type SimulatedClick } from './card-clicks';
import { Cards, type SimulatedCard } from './cards';
import { type Chaos, Controls, controlRoutes, type Fault, type SimulatedApi, type SimulatedCall } from './controls';
import { SimulatedDirectory } from './directory';
import { type ContactWay, ExternalContact, type WelcomeSent } from './externalcontact';
import type { ApiHost } from './host';
import { localOnly } from './local-only';
import { Media } from './media';
import { MemberEvents } from './member-events';
import { messageBodyCheck, Messages, type SentMessage } from './messages';
import { WebLogin } from './oauth';
import { PhoneCalls } from './pstncc';
import type { SimulatorOptions } from './options';
import { type RobotSentMessage, Robots } from './robots';
import { type ScanOutcome, Scans } from './scan';
import { DEFAULT_APP, Tokens } from './token';

export type { ChatSentMessage, SimulatedChat } from './appchat';
export type { RobotSentMessage } from './robots';
export type { CardUpdateRecord, SimulatedCard } from './cards';
export { ClickRefused, type ClickOutcome, type SimulatedClick } from './card-clicks';
export type { Fault, SimulatedApi, SimulatedCall } from './controls';
export type { DirectoryOptions, SimulatedDepartment, SimulatedMember } from './directory';
export type { ContactWay, WelcomeSent } from './externalcontact';
export { type ContactChangeOutcome, type MemberMessageOutcome, PushRefused } from './member-events';
export type { SentMessage } from './messages';
export { type ScanOutcome, ScanRefused } from './scan';
export type { SimulatorOptions } from './options';
export type { SimulatorApp } from './host';

/**
 * A WeCom server faithful to the reference (gettoken, message/send, media/upload, customer-contact
 * calls, group robots, app group chats, interactive cards, 紧急通知 calls and web login), with fault injection.
 * Tests and sandbox mode send here over real HTTP; nothing else knows. Each API family is a file of this folder, composed here.
 */
export class WecomSimulator {
  readonly app: Express = express();
  readonly sent: SentMessage[];
  readonly calls: SimulatedCall[];
  readonly welcomes: WelcomeSent[];
  /** 紧急通知 calls: those it got (`calls`), and the next ones' outcome (`chooseNext`). */
  readonly phone: PhoneCalls;
  readonly tagMarks: Record<string, unknown>[];
  readonly contactWays: Map<string, ContactWay>;
  /** Welcome codes the simulator will accept once, within 20 s of being issued. */
  readonly welcomeCodes: Map<string, number>;
  url = '';

  private server?: Server;
  private stopped = false;
  private callbackTarget?: CallbackTarget;
  private readonly tokens: Tokens;
  private readonly controls: Controls;
  private readonly media: Media;
  private readonly messages: Messages;
  private readonly contacts: ExternalContact;
  private readonly scans: Scans;
  private readonly robots: Robots;
  private readonly appChats: AppChats;
  private readonly interactiveCards: Cards;
  private readonly cardClicks: CardClicks;
  private readonly directory: SimulatedDirectory;
  private readonly memberEvents: MemberEvents;

  constructor(private readonly options: SimulatorOptions = {}) {
    this.tokens = new Tokens(options.apps ?? [DEFAULT_APP], options.tokenTtlSeconds, options.trustedIps);
    this.controls = new Controls(options.latencyMs ?? 0, () => this.expireTokens());
    const host: ApiHost = {
      answer: (res, api, body) => this.controls.answer(res, api, body),
      injectFault: (api, req, res) => this.controls.injectFault(api, req, res),
      authorize: (req) => this.tokens.authorize(req),
    };
    const checkMessageBody = messageBodyCheck((mediaId) => this.media.usable(mediaId), options.onMarkupProblem);
    const agentCheck = (agentId: number, agentid: unknown) => agentRejection(this.tokens.apps, agentId, agentid);
    this.directory = new SimulatedDirectory(options.directory);
    this.memberEvents = new MemberEvents(this.directory, () => this.callbackTarget);
    this.media = new Media(host);
    this.robots = new Robots(host, { robotKeys: options.robotKeys, robotLimit: options.robotLimit });
    this.appChats = new AppChats({ ...host, checkMessageBody, userExists: (userid) => this.directory.exists('users', userid) });
    this.interactiveCards = new Cards(
      { ...host, agentRejection: agentCheck, checkMessageBody },
      { responseCodeTtlMs: options.responseCodeTtlMs },
    );
    this.phone = new PhoneCalls(host, (userid) => this.directory.exists('users', userid));
    this.cardClicks = new CardClicks(this.interactiveCards, () => this.callbackTarget);
    this.messages = new Messages(
      {
        ...host,
        agentRejection: agentCheck,
        checkMessageBody,
        exists: (kind, id) => this.directory.exists(kind, id),
        taskIdRejection: (agentId, body) => this.interactiveCards.taskIdRejection(agentId, body),
        delivered: (message) => this.interactiveCards.delivered(message),
      },
      { memberLimits: options.memberLimits },
    );
    this.contacts = new ExternalContact(host, { tags: options.directory?.tags, publicBase: () => this.publicBase() });
    this.scans = new Scans({
      contacts: this.contacts,
      callbackTarget: () => this.callbackTarget,
      stopped: () => this.stopped,
      publicBase: () => this.publicBase(),
    });
    // The families own their records; the simulator shows the same arrays and maps.
    this.sent = this.messages.sent;
    this.calls = this.controls.calls;
    this.welcomes = this.contacts.welcomes;
    this.tagMarks = this.contacts.tagMarks;
    this.contactWays = this.contacts.contactWays;
    this.welcomeCodes = this.contacts.welcomeCodes;
    this.routes(host);
  }

  /** Robot messages delivered into their groups (webhook/send). */
  get robotSent(): RobotSentMessage[] {
    return this.robots.sent;
  }

  /** App messages delivered into app group chats (appchat/send). */
  get chatSent(): ChatSentMessage[] {
    return this.appChats.sent;
  }

  /** App group chats by chatid, each with the app that created it. */
  get chats(): Map<string, SimulatedChat> {
    return this.appChats.chats;
  }

  /** Interactive cards sent (message/send), oldest first, each as updates left it: GET /__sim/cards answers the same. */
  get cards(): SimulatedCard[] {
    return this.interactiveCards.cards;
  }

  /** Member deliveries WeCom dropped silently (over the per-member limit). */
  get dropped(): number {
    return this.messages.dropped;
  }

  /** Byte-identical sends WeCom's duplicate check dropped (retries of sends that had been delivered). */
  get duplicatesAbsorbed(): number {
    return this.messages.duplicatesAbsorbed;
  }

  /** How many times tokens were expired (by a test or by chaos): each may cost one gettoken. */
  get tokenExpiries(): number {
    return this.tokens.tokenExpiries;
  }

  /** A member clicks a button of a card they received: template_card_event goes to the callback (POST /__sim/click). */
  click(click: SimulatedClick): Promise<ClickOutcome> {
    return this.cardClicks.click(click);
  }

  /** The robot was removed from its group: its key answers 93000 from now on. */
  revokeRobotKey(key: string): void {
    this.robots.revokeKey(key);
  }

  /** What a robot's key delivered, oldest first (tests of robot pools and budgets). */
  robotDeliveriesTo(key: string): RobotSentMessage[] {
    return this.robots.deliveriesTo(key);
  }

  static async start(options: SimulatorOptions = {}, port = 0): Promise<WecomSimulator> {
    const simulator = new WecomSimulator(options);
    await new Promise<void>((resolve, reject) => {
      // A public URL is for phones on the LAN: loopback alone would not reach them.
      // Express 5 hands listen's error (e.g. the sandbox's SIMULATOR_PORT is taken) to the callback.
      const host = options.publicUrl ? '0.0.0.0' : '127.0.0.1';
      simulator.server = simulator.app.listen(port, host, (error?: Error) => (error ? reject(error) : resolve()));
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
    this.controls.failNext(n, fault, api);
  }

  expireTokens(): void {
    this.tokens.expireTokens();
  }

  revokeTokens(): void {
    this.tokens.revokeTokens();
  }

  /** Random trouble on every API: with probability `rate`, one of `faults` (or a token expiry) instead of a normal answer. */
  setChaos(chaos?: Chaos): void {
    this.controls.setChaos(chaos);
  }

  setLatency(ms: number): void {
    this.controls.setLatency(ms);
  }

  /** A WelcomeCode as WeCom puts in add_external_contact: usable once, for 20 seconds. */
  issueWelcomeCode(): string {
    return this.contacts.issueWelcomeCode();
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
    return this.scans.scanUrl(configId);
  }

  /** A new customer scanning a 「联系我」 code: the gateway hears add_external_contact and has 20 s to welcome them. */
  scan(configId: string): Promise<ScanOutcome> {
    return this.scans.scan(configId);
  }

  /** When each delivery to a member happened (ms), for tests of the budgets. */
  deliveriesTo(user: string, agentId = this.tokens.apps[0].agentId): number[] {
    return this.messages.deliveriesTo(user, agentId);
  }

  reset(): void {
    const families = [this.messages, this.controls, this.tokens, this.media, this.contacts, this.scans, this.robots, this.appChats];
    for (const family of [...families, this.interactiveCards, this.directory, this.phone]) family.reset();
  }

  /** The address for people (browsers, phones); the gateway keeps calling `url`. */
  private publicBase(): string {
    return this.options.publicUrl?.replace(/\/+$/, '') ?? this.url;
  }

  private routes(host: ApiHost): void {
    const app = this.app;
    app.disable('x-powered-by');
    app.use(localOnly(this.options.publicUrl));
    this.tokens.routes(app, host);
    agentRoutes(app, host, () => this.visibleUserids());
    this.messages.routes(app);
    this.media.routes(app);
    this.contacts.routes(app);
    this.robots.routes(app);
    this.appChats.routes(app);
    this.interactiveCards.routes(app);
    new WebLogin(host, { apps: this.tokens.apps, directory: this.directory }).routes(app);
    this.phone.routes(app);
    // WeCom answers unknown APIs with 404 pages, not JSON.
    app.use('/cgi-bin', (_req, res) => void res.status(404).send('not found'));

    controlRoutes(app, {
      failNext: (n, fault, api) => this.failNext(n, fault, api),
      expireTokens: () => this.expireTokens(),
      setLatency: (ms) => this.setLatency(ms),
      reset: () => this.reset(),
      messages: (limit) => ({
        messages: this.messages.listing(limit),
        robots: this.robots.listing(limit),
        chats: this.appChats.listing(limit),
      }),
      stats: () => ({
        gettoken: this.gettokenCount(),
        calls: this.calls.length,
        sent: this.sent.length,
        welcomes: this.welcomes.length,
        robotSent: this.robotSent.length,
        chatSent: this.chatSent.length,
      }),
    });
    this.cardClicks.controlRoutes(app);
    this.phone.controlRoutes(app);
    this.memberEvents.controlRoutes(app);
    this.scans.routes(app);
  }

  /** The app's visible members (agent/get): the directory's, or two placeholders when any userid is one. */
  private visibleUserids(): string[] {
    const { anyUserid, members } = this.directory.listing();
    return anyUserid ? ['zhangsan', 'lisi'] : members.map((m) => m.userid);
  }
}
