import { accepted, type Endpoint } from '../transport';

export interface SendResult {
  msgid?: string;
  invalid: { users: string[]; parties: string[]; tags: string[] };
  unlicensedUsers: string[];
  responseCode?: string;
}

/** message/update_template_card (reference §2.4): one response_code, used once. */
export interface CardUpdate {
  agentId: number;
  responseCode: string;
  /** Whose card changes (at most 1000 users, 100 parties, 100 tags). */
  to: { users?: string[]; parties?: string[]; tags?: string[]; all?: boolean };
  /** A whole new card (the same task_id), or else the clicked button's new text. */
  card?: Record<string, unknown>;
  replaceName?: string;
}

function splitList(value: unknown): string[] {
  return typeof value === 'string' && value !== '' ? value.split('|') : [];
}

/** message/send (reference §2): the ids WeCom could not deliver to come back as `|` lists. */
export const sendMessage = (payload: object): Endpoint<SendResult> => ({
  api: 'message/send',
  json: payload,
  read: (body) => ({
    kind: 'ok',
    value: {
      msgid: typeof body.msgid === 'string' ? body.msgid : undefined,
      invalid: { users: splitList(body.invaliduser), parties: splitList(body.invalidparty), tags: splitList(body.invalidtag) },
      unlicensedUsers: splitList(body.unlicenseduser),
      responseCode: typeof body.response_code === 'string' ? body.response_code : undefined,
    },
  }),
});

/** message/recall (reference §2.4): WeCom allows it for 24 hours, for the sending app only. */
export const recallMessage = (msgid: string): Endpoint<true> => ({ api: 'message/recall', json: { msgid }, read: accepted });

/** Party and tag ids are integers in update_template_card's lists (unlike message/send's `|` strings). */
const idList = (ids: string[] | undefined) => (ids && ids.length > 0 ? ids.map((id) => (/^\d+$/.test(id) ? Number(id) : id)) : undefined);

/**
 * message/update_template_card (reference §2.4, §15): each response_code
 * (from message/send, or from a click) changes the card once; a used or
 * expired code is a 40058 refusal, permanent like any other.
 */
export const updateTemplateCard = (update: CardUpdate): Endpoint<true> => ({
  api: 'message/update_template_card',
  // Recipients, then either the new card or the clicked button's new text.
  json: {
    userids: update.to.users && update.to.users.length > 0 ? update.to.users : undefined,
    partyids: idList(update.to.parties),
    tagids: idList(update.to.tags),
    atall: update.to.all ? 1 : undefined,
    agentid: update.agentId,
    response_code: update.responseCode,
    ...(update.card ? { template_card: update.card } : { button: { replace_name: update.replaceName } }),
  },
  read: accepted,
});
