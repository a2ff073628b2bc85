import { randomBytes } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { deliverPush, eventXml, type CallbackTarget } from '../wecom/callback/push';
import { isInteractiveCard, jsonObject, type Rejection } from './validate-message';

/**
 * Interactive template cards on the simulator (reference §2.3, §2.4, §15): the
 * response_code message/send answers for them, message/update_template_card,
 * and members clicking a card's buttons (POST /__sim/click), which pushes
 * template_card_event to the app's callback URL as WeCom does. The simulator
 * owns the shared machinery and lends it through CardHost.
 */

/** One message/update_template_card that WeCom accepted. */
export interface CardUpdateRecord {
  responseCode: string;
  /** Where the code came from: message/send's answer, or a click's push. */
  kind: 'send' | 'click';
  template_card?: Record<string, unknown>;
  replace_name?: string;
  userids: string[];
  partyids: (string | number)[];
  tagids: (string | number)[];
  atall?: true;
  at: number;
}

/** An interactive card as sent, and as updates changed it since. */
export interface SimulatedCard {
  taskId: string;
  agentid: number;
  msgid: string;
  /** The current card's card_type. */
  cardType: string;
  /** Who got it: the members reached (not those over their limit), or "@all", and the parties and tags named. */
  to: { users: string[]; parties: string[]; tags: string[] };
  /** The card members see now: as sent, or as the last whole-card update made it. */
  card: Record<string, unknown>;
  /** The clicked button's text after an update with button.replace_name (a whole-card update clears it). */
  buttonText?: string;
  updates: CardUpdateRecord[];
}

/** A member clicking a button: POST /__sim/click takes the same. */
export interface SimulatedClick {
  user: string;
  key: string;
  /** Omitted: the newest interactive card the user received. */
  taskId?: string;
  /** The identical push delivered this many times in a row, as WeCom retries (1 to 5, default 1). */
  repeat?: number;
}

export interface ClickOutcome {
  taskId: string;
  key: string;
  user: string;
  /** The click's own response code (not the send's): single use, 72 h. */
  responseCode: string;
  /** The gateway's HTTP answer to each push. */
  callbackStatuses: number[];
}

/** A click the simulator cannot carry out, with the HTTP status that says why (like ScanRefused). */
export class ClickRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** What message/send delivered, as the simulator records it. */
export interface DeliveredMessage {
  msgid: string;
  agentid: number;
  touser: string[];
  toparty: string[];
  totag: string[];
  body: Record<string, unknown>;
}

/** What the simulator lends: its answers (latency, call log, errmsg), faults, tokens, message/send's checks and the callback target. */
export interface CardHost {
  answer(res: Response, api: string, body: Record<string, unknown>): Promise<void>;
  injectFault(api: string, req: Request, res: Response): Promise<boolean>;
  authorize(req: Request): { agentId: number } | Rejection;
  /** message/send's agentid check: the token's own app, else 41011, 301002 or 40056. */
  agentRejection(agentId: number, agentid: unknown): Rejection | undefined;
  /** message/send's body and markup checks. */
  checkMessageBody(body: Record<string, unknown>): Rejection | undefined;
  callbackTarget(): CallbackTarget | undefined;
}

export interface CardOptions {
  /** How long a response_code is valid (default 72 h, the 2025-07-24 doc; §2.3). */
  responseCodeTtlMs?: number;
}

interface IssuedCode {
  card: SimulatedCard;
  kind: 'send' | 'click';
  expiresAt: number;
  used: boolean;
}

const API = 'message/update_template_card';
const RESPONSE_CODE_TTL_MS = 72 * 3_600_000;
const MAX_REPEAT = 5;
const LIMITS = { userids: 1000, partyids: 100, tagids: 100 } as const;
const CODE_REFUSED = 'invalid parameter: response_code used or expired';

const reject = (errcode: number, errmsg: string) => ({ errcode, errmsg });
const isStringList = (value: unknown): value is string[] => Array.isArray(value) && value.every((item) => typeof item === 'string');
/** Party and tag ids are integers; a numeric string is taken too. */
const isIdList = (value: unknown): value is (string | number)[] =>
  Array.isArray(value) && value.every((id) => Number.isInteger(id) || (typeof id === 'string' && /^\d+$/.test(id)));

/** The keys whose buttons call back (template_card_event, §7.2): callback buttons and a submit button; url buttons (type 1) open a page. */
function callbackKeys(card: Record<string, unknown>): string[] {
  const buttons = Array.isArray(card.button_list) ? (card.button_list as Record<string, unknown>[]) : [];
  const keys = buttons.filter((b) => b && typeof b === 'object' && b.type !== 1 && typeof b.key === 'string').map((b) => b.key as string);
  const submitKey = (card.submit_button as Record<string, unknown> | undefined)?.key;
  return typeof submitKey === 'string' ? [...keys, submitKey] : keys;
}

/** A card sent to parties, tags or @all may be clicked by anyone; one sent to members, by those it reached. */
function received(card: SimulatedCard, user: string): boolean {
  if (card.to.parties.length > 0 || card.to.tags.length > 0) return true;
  return card.to.users.some((u) => u === '@all' || u.toLowerCase() === user.toLowerCase());
}

export class Cards {
  /** Every interactive card sent, oldest first. */
  readonly cards: SimulatedCard[] = [];
  private readonly codes = new Map<string, IssuedCode>();

  constructor(
    private readonly host: CardHost,
    private readonly options: CardOptions = {},
  ) {}

  reset(): void {
    this.cards.length = 0;
    this.codes.clear();
  }

  /** A message/send whose interactive card reuses a task_id of the app (§15: unique per app, for good). */
  taskIdRejection(agentId: number, body: Record<string, unknown>): Rejection | undefined {
    const card = this.interactiveCardOf(body);
    if (!card) return undefined;
    const taskId = String(card.task_id);
    if (!this.cards.some((c) => c.agentid === agentId && c.taskId === taskId)) return undefined;
    return reject(40058, `invalid parameter: task_id ${taskId} already used`);
  }

  /** Records a delivered interactive card; answers the send's response_code (undefined for other messages). */
  delivered(message: DeliveredMessage): string | undefined {
    const card = this.interactiveCardOf(message.body);
    if (!card) return undefined;
    const sent: SimulatedCard = {
      taskId: String(card.task_id),
      agentid: message.agentid,
      msgid: message.msgid,
      cardType: String(card.card_type),
      to: { users: [...message.touser], parties: [...message.toparty], tags: [...message.totag] },
      card: structuredClone(card),
      updates: [],
    };
    this.cards.push(sent);
    return this.issueCode(sent, 'send');
  }

  /**
   * A member clicking a callback button of an interactive card they received
   * (§7.2, §15): WeCom pushes template_card_event with a new single-use
   * response code to the app's callback URL, `repeat` times when it retries.
   */
  async click({ user, key, taskId, repeat = 1 }: SimulatedClick): Promise<ClickOutcome> {
    if (
      typeof user !== 'string' ||
      user === '' ||
      typeof key !== 'string' ||
      key === '' ||
      (taskId !== undefined && typeof taskId !== 'string')
    ) {
      throw new ClickRefused(400, 'expected {user, key, taskId?, repeat?} with user, key and taskId strings');
    }
    if (!Number.isInteger(repeat) || repeat < 1 || repeat > MAX_REPEAT) throw new ClickRefused(400, `repeat must be 1 to ${MAX_REPEAT}`);
    const card = this.cardClickedBy(user, taskId);
    if (!callbackKeys(card.card).includes(key)) {
      throw new ClickRefused(
        422,
        `card ${card.taskId} has no callback button with key ${key} (its callback keys: ${callbackKeys(card.card).join(', ') || 'none'}; url buttons open a page instead)`,
      );
    }
    const target = this.host.callbackTarget();
    if (!target)
      throw new ClickRefused(
        409,
        "the simulator does not know where the gateway's callback is: nothing told it (deliverCallbacksTo); in sandbox mode the gateway does once it listens",
      );
    const responseCode = this.issueCode(card, 'click');
    const xml = eventXml({
      ToUserName: target.corpId,
      FromUserName: user,
      CreateTime: String(Math.floor(Date.now() / 1000)),
      MsgType: 'event',
      Event: 'template_card_event',
      EventKey: key,
      TaskId: card.taskId,
      CardType: card.cardType,
      ResponseCode: responseCode,
      AgentID: String(card.agentid),
    });
    const callbackStatuses: number[] = [];
    for (let push = 1; push <= repeat; push++) {
      const answer = await deliverPush(target, xml).catch((error: Error) => {
        throw new ClickRefused(502, `the push to the gateway's callback ${target.url} failed: ${error.message}`);
      });
      callbackStatuses.push(answer.status);
      if (answer.status < 200 || answer.status > 299)
        throw new ClickRefused(
          502,
          `the gateway answered push ${push} of ${repeat} with HTTP ${answer.status}: ${answer.body.slice(0, 300)}`,
        );
    }
    return { taskId: card.taskId, key, user, responseCode, callbackStatuses };
  }

  routes(app: Express): void {
    app.post('/cgi-bin/message/update_template_card', express.text({ type: () => true, limit: '2mb' }), (req, res) =>
      this.update(req, res),
    );
  }

  /** POST /__sim/click and GET /__sim/cards, for sandbox users and tests over HTTP. */
  controlRoutes(app: Express): void {
    app.get('/__sim/cards', (_req, res) => void res.json({ cards: this.cards }));
    app.post('/__sim/click', express.json(), async (req, res) => {
      try {
        res.json(await this.click((req.body ?? {}) as SimulatedClick));
      } catch (error) {
        if (!(error instanceof ClickRefused)) throw error;
        res.status(error.status).json({ error: error.message });
      }
    });
  }

  /**
   * message/update_template_card (§2.4): the token's app, recipients within
   * WeCom's sizes, either a whole card or the clicked button's new text, and a
   * response code of this app that is unused and unexpired. Checked whole
   * before anything changes: a refused update leaves the code usable.
   */
  private async update(req: Request, res: Response): Promise<void> {
    const host = this.host;
    if (await host.injectFault(API, req, res)) return;
    const auth = host.authorize(req);
    if ('errcode' in auth) return host.answer(res, API, { ...auth });
    const body = jsonObject(req.body);
    if (!body) return host.answer(res, API, reject(40058, 'invalid json'));
    const rejection = host.agentRejection(auth.agentId, body.agentid) ?? this.recipientsRejection(body) ?? this.changeRejection(body);
    if (rejection) return host.answer(res, API, { ...rejection });
    const code = typeof body.response_code === 'string' ? this.codes.get(body.response_code) : undefined;
    if (!code || code.card.agentid !== auth.agentId || code.used || code.expiresAt <= Date.now())
      return host.answer(res, API, reject(40058, CODE_REFUSED));
    const card = code.card;
    const newCard = body.template_card as Record<string, unknown> | undefined;
    if (newCard && newCard.task_id !== card.taskId)
      return host.answer(res, API, reject(40058, `invalid parameter: template_card.task_id must be the card's (${card.taskId})`));
    code.used = true;
    const replaceName = newCard ? undefined : String((body.button as Record<string, unknown>).replace_name);
    card.updates.push({
      responseCode: body.response_code as string,
      kind: code.kind,
      ...(newCard ? { template_card: structuredClone(newCard) } : { replace_name: replaceName }),
      userids: (body.userids as string[] | undefined) ?? [],
      partyids: (body.partyids as (string | number)[] | undefined) ?? [],
      tagids: (body.tagids as (string | number)[] | undefined) ?? [],
      ...(body.atall === 1 ? { atall: true as const } : {}),
      at: Date.now(),
    });
    if (newCard) {
      card.card = structuredClone(newCard);
      card.cardType = String(newCard.card_type);
      delete card.buttonText;
    } else {
      card.buttonText = replaceName;
    }
    return host.answer(res, API, { errcode: 0, errmsg: 'ok' });
  }

  /** userids ≤ 1000 (40032, as message/send answers), partyids and tagids ≤ 100 integer ids. */
  private recipientsRejection(body: Record<string, unknown>): Rejection | undefined {
    if (body.userids !== undefined && !isStringList(body.userids))
      return reject(40058, 'invalid parameter: userids must be a list of userids');
    if (Array.isArray(body.userids) && body.userids.length > LIMITS.userids) return reject(40032, 'invalid size of userid list');
    for (const list of ['partyids', 'tagids'] as const) {
      const ids = body[list];
      if (ids === undefined) continue;
      if (!isIdList(ids)) return reject(40058, `invalid parameter: ${list} must be a list of integer ids`);
      if (ids.length > LIMITS[list]) return reject(40058, `invalid parameter: ${list} over ${LIMITS[list]}`);
    }
    return undefined;
  }

  /** Exactly one change: a whole template_card (checked as on message/send) or button.replace_name. */
  private changeRejection(body: Record<string, unknown>): Rejection | undefined {
    const hasCard = body.template_card !== undefined;
    if (hasCard === (body.button !== undefined))
      return reject(40058, 'invalid parameter: give either template_card or button.replace_name');
    if (!hasCard) {
      const replaceName = (body.button as Record<string, unknown> | null)?.replace_name;
      return typeof replaceName === 'string' && replaceName !== ''
        ? undefined
        : reject(40058, 'invalid parameter: button.replace_name required');
    }
    const card = body.template_card;
    if (!card || typeof card !== 'object' || Array.isArray(card)) return reject(40058, 'invalid parameter: template_card is missing');
    return this.host.checkMessageBody({ msgtype: 'template_card', template_card: card });
  }

  private interactiveCardOf(body: Record<string, unknown>): Record<string, unknown> | undefined {
    const card = body.msgtype === 'template_card' ? (body.template_card as Record<string, unknown> | undefined) : undefined;
    return card && typeof card === 'object' && isInteractiveCard(card) ? card : undefined;
  }

  /** A random, single-use code, valid for responseCodeTtlMs (§2.3, §15). */
  private issueCode(card: SimulatedCard, kind: 'send' | 'click'): string {
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, { card, kind, expiresAt: Date.now() + (this.options.responseCodeTtlMs ?? RESPONSE_CODE_TTL_MS), used: false });
    return code;
  }

  /** The card clicked: the one named by taskId, else the newest the user received. */
  private cardClickedBy(user: string, taskId: string | undefined): SimulatedCard {
    const newestFirst = this.cards.filter((c) => taskId === undefined || c.taskId === taskId).reverse();
    if (newestFirst.length === 0)
      throw new ClickRefused(
        404,
        taskId === undefined ? 'no interactive card has been sent' : `no interactive card with task_id ${taskId}`,
      );
    const card = newestFirst.find((c) => received(c, user));
    if (card) return card;
    throw new ClickRefused(
      taskId === undefined ? 404 : 403,
      taskId === undefined ? `no interactive card reached ${user}` : `${user} did not receive card ${taskId}`,
    );
  }
}
