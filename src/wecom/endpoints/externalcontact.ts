import { truncateUtf8 } from '../limits';
import type { NotFound } from '../outcome';
import { accepted, type Endpoint } from '../transport';

/** One attachment of a new-customer welcome, in WeCom's shape (reference §8). */
export type WelcomeAttachment =
  | { msgtype: 'image'; image: { media_id?: string; pic_url?: string } }
  | { msgtype: 'link'; link: { title: string; url: string; picurl?: string; desc?: string } }
  | { msgtype: 'miniprogram'; miniprogram: { title: string; pic_media_id: string; appid: string; page: string } }
  | { msgtype: 'video'; video: { media_id: string } }
  | { msgtype: 'file'; file: { media_id: string } };

/** A welcome: text and up to 9 attachments, not both empty; they reach the customer as separate messages. */
export interface WelcomeMessage {
  text?: string;
  attachments: WelcomeAttachment[];
}

/** Corp tags (ids, reference §9.1) for an employee's customer. */
export interface TagMarks {
  employee: string;
  customer: string;
  add: string[];
}

/** A 「联系我」 QR code (reference §9.2): one member, or several taking turns. */
export interface ContactWayRequest {
  /** At most 30 characters are kept. */
  remark?: string;
  /** Echoed as `State` in the add events of customers who scan it. */
  state?: string;
  users: string[];
  /** Customers are added without the member confirming (WeCom's default). */
  skipVerify?: boolean;
}

export interface CreatedContactWay {
  /** Keep it: WeCom does not list API-created codes in its console. */
  configId: string;
  qrCode: string;
}

/** del_contact_way: the config_id is unknown, or deleted already. */
const UNKNOWN_CONFIG_ID = 41044;

/**
 * send_welcome_msg (reference §8) has outcomes of its own: 41051 means the
 * welcome was already delivered (done, not an error); 41096 means another app
 * is sending it right now (retry inside the 20 s window); 41050/41049 are final.
 * `alreadyDelivered` is done too; the code lives 20 s.
 */
export const sendWelcome = (welcomeCode: string, message: WelcomeMessage): Endpoint<'sent' | 'alreadyDelivered'> => ({
  api: 'externalcontact/send_welcome_msg',
  json: {
    welcome_code: welcomeCode,
    // text.content is at most 4000 bytes.
    ...(message.text ? { text: { content: truncateUtf8(message.text, 4000) } } : {}),
    attachments: message.attachments,
  },
  read: () => ({ kind: 'ok', value: 'sent' }),
  refused: (refusal) => {
    if (refusal.error.errcode === 41051) return { kind: 'ok', value: 'alreadyDelivered' };
    if (refusal.error.errcode === 41096) return { kind: 'retry', error: refusal.error };
    return refusal;
  },
});

/** mark_tag (reference §9.1): adds corp tags to an employee's customer. */
export const markTags = (marks: TagMarks): Endpoint<true> => ({
  api: 'externalcontact/mark_tag',
  json: { userid: marks.employee, external_userid: marks.customer, add_tag: marks.add },
  read: accepted,
});

/** add_contact_way (reference §9.2) as a QR code (scene 2): type 1 for one member, 2 for several. */
export const addContactWay = (way: ContactWayRequest): Endpoint<CreatedContactWay> => ({
  api: 'externalcontact/add_contact_way',
  json: {
    type: way.users.length === 1 ? 1 : 2,
    scene: 2,
    remark: way.remark === undefined ? undefined : [...way.remark].slice(0, 30).join(''),
    skip_verify: way.skipVerify,
    state: way.state,
    user: way.users,
  },
  read: (body) => ({ kind: 'ok', value: { configId: String(body.config_id), qrCode: String(body.qr_code ?? '') } }),
});

/** del_contact_way (reference §9.2): `notFound` when WeCom does not know the config_id (unknown, or deleted already). */
export const deleteContactWay = (configId: string): Endpoint<true, NotFound> => ({
  api: 'externalcontact/del_contact_way',
  json: { config_id: configId },
  read: accepted,
  refused: (refusal) => (refusal.error.errcode === UNKNOWN_CONFIG_ID ? { kind: 'notFound', error: refusal.error } : refusal),
});
