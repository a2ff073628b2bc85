import express, { type Express } from 'express';
import { deliverPush, eventFields, eventXml, type CallbackTarget } from '../wecom/callback/push';
import type { Cards, SimulatedCard } from './cards';

/**
 * Members clicking an interactive card's buttons (reference §7.2, §15): POST
 * /__sim/click pushes template_card_event, with a new single-use response
 * code, to the app's callback URL as WeCom does. The cards and their codes
 * are the card store's (cards.ts); this file only clicks.
 */

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

const MAX_REPEAT = 5;

/**
 * The keys whose buttons call back (template_card_event, §7.2): callback
 * buttons and a submit button; url buttons (type 1) open a page.
 */
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

export class CardClicks {
  constructor(
    private readonly cards: Cards,
    /** Where WeCom pushes the corp's events: known once the gateway listens. */
    private readonly callbackTarget: () => CallbackTarget | undefined,
  ) {}

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
    const keys = callbackKeys(card.card);
    if (!keys.includes(key)) {
      throw new ClickRefused(
        422,
        `card ${card.taskId} has no callback button with key ${key} ` +
          `(its callback keys: ${keys.join(', ') || 'none'}; url buttons open a page instead)`,
      );
    }
    const target = this.callbackTarget();
    if (!target)
      throw new ClickRefused(
        409,
        "the simulator does not know where the gateway's callback is: nothing told it (deliverCallbacksTo); " +
          'in sandbox mode the gateway does once it listens',
      );
    const responseCode = this.cards.issueCode(card, 'click');
    const xml = eventXml({
      ...eventFields(target.corpId, user, 'template_card_event'),
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

  /** POST /__sim/click and GET /__sim/cards, for sandbox users and tests over HTTP. */
  controlRoutes(app: Express): void {
    app.get('/__sim/cards', (_req, res) => void res.json({ cards: this.cards.cards }));
    app.post('/__sim/click', express.json(), async (req, res) => {
      try {
        res.json(await this.click((req.body ?? {}) as SimulatedClick));
      } catch (error) {
        if (!(error instanceof ClickRefused)) throw error;
        res.status(error.status).json({ error: error.message });
      }
    });
  }

  /** The card clicked: the one named by taskId, else the newest the user received. */
  private cardClickedBy(user: string, taskId: string | undefined): SimulatedCard {
    const newestFirst = this.cards.cards.filter((c) => taskId === undefined || c.taskId === taskId).reverse();
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
