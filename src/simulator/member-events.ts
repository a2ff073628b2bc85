import { randomBytes } from 'node:crypto';
import express, { type Express, type Response } from 'express';
import { deliverPush, eventFields, eventXml, readPassiveReply, type CallbackTarget, type PassiveReply } from '../wecom/callback/push';
import { ContactChangeRefused, directoryProblem, type ChangeFields, type DirectoryOptions, type SimulatedDirectory } from './directory';

/**
 * What people do in WeCom that an app hears of through its callback URL: a
 * member writes to the app (reference §7.1), an admin changes the directory
 * (change_contact, §7.3). POST /__sim/member-message and POST
 * /__sim/contact-change play them, pushing the event encrypted and signed to the
 * gateway's /wecom/callback as WeCom does (like a scan or a card click).
 */
export interface MemberMessageOutcome {
  user: string;
  msgId: string;
  /** The gateway's HTTP answer to the push. */
  callbackStatus: number;
  /** The passive reply the member sees (null: none), read as WeCom reads it. */
  reply: PassiveReply | null;
}

export interface ContactChangeOutcome {
  changeType: string;
  /** The change_contact fields pushed, as WeCom names them. */
  pushed: ChangeFields;
  callbackStatus: number;
}

/** A push the simulator cannot make, with the HTTP status that says why (like ScanRefused). */
export class PushRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** The envelope fields the simulator sets itself; a caller names only the change's own. */
const HEADER_FIELDS = new Set(['ToUserName', 'FromUserName', 'CreateTime', 'MsgType', 'Event']);
const FIELD_NAME = /^[A-Za-z][A-Za-z0-9_]{0,63}$/;
const NO_TARGET =
  "the simulator does not know where the gateway's callback is: nothing told it (deliverCallbacksTo); " +
  'in sandbox mode the gateway does once it listens';

/** A JSON body's fields as XML text: "1,2" lists may come as arrays, ids as numbers. */
function changeFields(body: unknown): ChangeFields {
  if (!body || typeof body !== 'object' || Array.isArray(body))
    throw new PushRefused(
      400,
      'expected a JSON object of change_contact fields, e.g. {"ChangeType":"create_user","UserID":"zhaoliu","Name":"赵六","Department":[3]}',
    );
  const fields: ChangeFields = {};
  for (const [name, value] of Object.entries(body as Record<string, unknown>)) {
    if (HEADER_FIELDS.has(name)) continue;
    const scalar = (v: unknown) => typeof v === 'string' || (typeof v === 'number' && Number.isFinite(v));
    if (!FIELD_NAME.test(name) || !(scalar(value) || (Array.isArray(value) && value.every(scalar))))
      throw new PushRefused(400, `field ${name.slice(0, 64)}: expected a string, a number or a list of them`);
    fields[name] = Array.isArray(value) ? value.join(',') : String(value);
  }
  return fields;
}

/** A MsgId as WeCom's: a 64-bit unsigned integer in decimal (kept as a string end to end). */
const msgId = () => (randomBytes(8).readBigUInt64BE() >> 1n).toString();

export class MemberEvents {
  constructor(
    private readonly directory: SimulatedDirectory,
    private readonly callbackTarget: () => CallbackTarget | undefined,
  ) {}

  /** A member writes a text to the app: pushed as MsgType text (§7.1), with the reply they would see. */
  async memberMessage(user: unknown, content: unknown): Promise<MemberMessageOutcome> {
    if (typeof user !== 'string' || user === '' || typeof content !== 'string' || content === '')
      throw new PushRefused(400, "expected {user, content}: a member's userid and the text they send");
    if (!this.directory.exists('users', user))
      throw new PushRefused(404, `${user} is not a member of the corp (GET /__sim/members lists them): only members can write to the app`);
    const target = this.target();
    const id = msgId();
    const xml = eventXml({
      ToUserName: target.corpId,
      FromUserName: user,
      CreateTime: String(Math.floor(Date.now() / 1000)),
      MsgType: 'text',
      Content: content,
      MsgId: id,
      AgentID: String(target.agentId ?? ''),
    });
    const answer = await this.push(target, xml);
    return { user, msgId: id, callbackStatus: answer.status, reply: readPassiveReply(target, answer.body) };
  }

  /**
   * An admin changes the directory: the change is made (checked whole first, so a
   * refused one changes nothing and is not pushed), then change_contact is pushed.
   */
  async contactChange(body: unknown): Promise<ContactChangeOutcome> {
    const fields = changeFields(body);
    const target = this.target();
    this.directory.apply(fields);
    const xml = eventXml({
      ...eventFields(target.corpId, 'sys', 'change_contact'),
      ...fields,
    });
    const answer = await this.push(target, xml);
    return { changeType: fields.ChangeType, pushed: fields, callbackStatus: answer.status };
  }

  /** GET and PUT /__sim/members, POST /__sim/member-message and POST /__sim/contact-change. */
  controlRoutes(app: Express): void {
    app.get('/__sim/members', (_req, res) => void res.json(this.directory.listing()));
    app.put('/__sim/members', express.json(), (req, res) => {
      const users = req.body?.members === '*' ? undefined : req.body?.members;
      const problem =
        users === undefined && req.body?.members !== '*'
          ? 'expected {"members": "*" or [userid or {userid, name, department}], "departments"?: [id or {id, name, parentid}]}'
          : directoryProblem(users, req.body?.departments);
      if (problem) return void res.status(400).json({ error: problem });
      this.directory.replace({ users: users as DirectoryOptions['users'], parties: req.body?.departments as DirectoryOptions['parties'] });
      res.json(this.directory.listing());
    });
    app.post('/__sim/member-message', express.json(), (req, res) =>
      this.answer(res, () => this.memberMessage(req.body?.user, req.body?.content)),
    );
    app.post('/__sim/contact-change', express.json(), (req, res) => this.answer(res, () => this.contactChange(req.body)));
  }

  private target(): CallbackTarget {
    const target = this.callbackTarget();
    if (!target) throw new PushRefused(409, NO_TARGET);
    return target;
  }

  private async push(target: CallbackTarget, xml: string): Promise<{ status: number; body: string }> {
    const answer = await deliverPush(target, xml).catch((error: Error) => {
      throw new PushRefused(502, `the push to the gateway's callback ${target.url} failed: ${error.message}`);
    });
    if (answer.status < 200 || answer.status > 299)
      throw new PushRefused(502, `the gateway answered the push with HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
    return answer;
  }

  private async answer(res: Response, play: () => Promise<unknown>): Promise<void> {
    try {
      res.json(await play());
    } catch (error) {
      if (!(error instanceof PushRefused || error instanceof ContactChangeRefused)) throw error;
      res.status(error.status).json({ error: error.message });
    }
  }
}
