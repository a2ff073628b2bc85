import { randomBytes } from 'node:crypto';
import express, { type Express, type Request, type Response } from 'express';
import { isInteractiveCard, isStringList, jsonObject, type Rejection, reject } from './validate-message';

/**
 * Interactive template cards on the simulator (reference §2.3, §2.4, §15): the
 * cards sent, the response codes message/send and clicks answer (single use,
 * 72 h), and message/update_template_card. Clicks are card-clicks.ts's. The
 * simulator owns the shared machinery and lends it through CardHost.
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

/** What message/send delivered, as the simulator records it. */
export interface DeliveredMessage {
  msgid: string;
  agentid: number;
  touser: string[];
  toparty: string[];
  totag: string[];
  body: Record<string, unknown>;
}

/** What the simulator lends: its answers (latency, call log, errmsg), faults, tokens and message/send's checks. */
export interface CardHost {
  answer(res: Response, api: string, body: Record<string, unknown>): Promise<void>;
  injectFault(api: string, req: Request, res: Response): Promise<boolean>;
  authorize(req: Request): { agentId: number } | Rejection;
  /** message/send's agentid check: the token's own app, else 41011, 301002 or 40056. */
  agentRejection(agentId: number, agentid: unknown): Rejection | undefined;
  /** message/send's body and markup checks. */
  checkMessageBody(body: Record<string, unknown>): Rejection | undefined;
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
const LIMITS = { userids: 1000, partyids: 100, tagids: 100 } as const;
const CODE_REFUSED = 'invalid parameter: response_code used or expired';

/** Party and tag ids are integers; a numeric string is taken too. */
const isIdList = (value: unknown): value is (string | number)[] =>
  Array.isArray(value) && value.every((id) => Number.isInteger(id) || (typeof id === 'string' && /^\d+$/.test(id)));

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

  routes(app: Express): void {
    app.post('/cgi-bin/message/update_template_card', express.text({ type: () => true, limit: '2mb' }), (req, res) =>
      this.update(req, res),
    );
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

  /** A random, single-use code, valid for responseCodeTtlMs (§2.3, §15): a send's, or a click's (card-clicks.ts). */
  issueCode(card: SimulatedCard, kind: 'send' | 'click'): string {
    const code = randomBytes(24).toString('base64url');
    this.codes.set(code, { card, kind, expiresAt: Date.now() + (this.options.responseCodeTtlMs ?? RESPONSE_CODE_TTL_MS), used: false });
    return code;
  }
}
