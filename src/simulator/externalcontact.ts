import { randomBytes } from 'node:crypto';
import express, { type Express } from 'express';
import type { ApiHost } from './host';

/**
 * Customer contact (reference §7.4, §8, §9.2): welcome messages with their
 * single-use codes, customer tags, and 「联系我」 contact ways. Scanning a
 * contact way's code is scan.ts.
 */
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

const reject = (errcode: number, errmsg: string) => ({ errcode, errmsg });

/** A WelcomeCode is usable once, for 20 seconds (reference §8). */
export const WELCOME_CODE_TTL_MS = 20_000;

export interface ExternalContactOptions {
  /** The corp's customer tags (get_corp_tag_list); omitted = two sample tags. */
  tags?: string[];
  /** The address for people (browsers, phones): a contact way's QR code is served there. */
  publicBase: () => string;
}

export class ExternalContact {
  readonly welcomes: WelcomeSent[] = [];
  readonly tagMarks: Record<string, unknown>[] = [];
  readonly contactWays = new Map<string, ContactWay>();
  /** Welcome codes the simulator will accept once, within 20 s of being issued. */
  readonly welcomeCodes = new Map<string, number>();

  constructor(
    private readonly host: ApiHost,
    private readonly options: ExternalContactOptions,
  ) {}

  /** A WelcomeCode as WeCom puts in add_external_contact: usable once, for 20 seconds. */
  issueWelcomeCode(): string {
    const code = randomBytes(12).toString('hex');
    this.welcomeCodes.set(code, Date.now());
    return code;
  }

  liveContactWay(configId: string): ContactWay | undefined {
    const way = this.contactWays.get(configId);
    return way && !way.deleted ? way : undefined;
  }

  reset(): void {
    this.welcomes.length = 0;
    this.tagMarks.length = 0;
    this.contactWays.clear();
    this.welcomeCodes.clear();
  }

  routes(app: Express): void {
    const host = this.host;
    app.post('/cgi-bin/externalcontact/send_welcome_msg', express.json({ limit: '1mb' }), async (req, res) => {
      const api = 'externalcontact/send_welcome_msg';
      if (await host.injectFault(api, req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, api, auth);
      const code = req.body?.welcome_code;
      if (typeof code !== 'string' || code === '') return host.answer(res, api, { errcode: 41049, errmsg: 'welcome_code missing' });
      const issued = this.welcomeCodes.get(code);
      if (issued === undefined) {
        const used = this.welcomes.some((w) => w.welcomeCode === code);
        const rejection = used ? reject(41051, 'customer already chatting or welcome sent') : reject(41050, 'invalid welcome_code');
        return host.answer(res, api, rejection);
      }
      if (Date.now() - issued > WELCOME_CODE_TTL_MS) return host.answer(res, api, { errcode: 41050, errmsg: 'welcome_code expired' });
      const attachments = req.body.attachments;
      if (!req.body.text?.content && !(Array.isArray(attachments) && attachments.length > 0)) {
        return host.answer(res, api, { errcode: 40058, errmsg: 'text and attachments both empty' });
      }
      if (Array.isArray(attachments) && attachments.length > 9) return host.answer(res, api, reject(40058, 'too many attachments'));
      this.welcomeCodes.delete(code);
      this.welcomes.push({ welcomeCode: code, body: req.body, at: Date.now() });
      return host.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });

    app.post('/cgi-bin/externalcontact/mark_tag', express.json(), async (req, res) => {
      const api = 'externalcontact/mark_tag';
      if (await host.injectFault(api, req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, api, auth);
      const { userid, external_userid, add_tag, remove_tag } = req.body ?? {};
      if (!userid || !external_userid) return host.answer(res, api, reject(40058, 'userid and external_userid required'));
      if (!(add_tag?.length > 0) && !(remove_tag?.length > 0)) {
        return host.answer(res, api, reject(40058, 'add_tag and remove_tag both empty'));
      }
      this.tagMarks.push(req.body);
      return host.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });

    this.contactWayRoutes(app);

    app.post('/cgi-bin/externalcontact/get_corp_tag_list', express.json(), async (req, res) => {
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, 'externalcontact/get_corp_tag_list', auth);
      const tagIds = this.options.tags ?? ['etVIP', 'etExpo2026'];
      const tags = tagIds.map((id, order) => ({ id, name: id.replace(/^et/, ''), create_time: 1700000000, order }));
      const group = { group_id: 'etGROUP', group_name: 'campaigns', create_time: 1700000000, order: 0, tag: tags };
      return host.answer(res, 'externalcontact/get_corp_tag_list', { errcode: 0, errmsg: 'ok', tag_group: [group] });
    });
  }

  private contactWayRoutes(app: Express): void {
    const host = this.host;
    app.post('/cgi-bin/externalcontact/add_contact_way', express.json(), async (req, res) => {
      const api = 'externalcontact/add_contact_way';
      if (await host.injectFault(api, req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, api, auth);
      const body = req.body ?? {};
      const rejection = contactWayRejection(body);
      if (rejection) return host.answer(res, api, rejection);
      const configId = randomBytes(16).toString('hex');
      // A real PNG (GET /__sim/qr/…) whose code opens the scan page: a demo works with a phone camera.
      const qrCode = body.scene === 2 ? `${this.options.publicBase()}/__sim/qr/${configId}.png` : undefined;
      this.contactWays.set(configId, { configId, body, qrCode: qrCode ?? '', deleted: false });
      return host.answer(res, api, { errcode: 0, errmsg: 'ok', config_id: configId, ...(qrCode ? { qr_code: qrCode } : {}) });
    });

    app.post('/cgi-bin/externalcontact/del_contact_way', express.json(), async (req, res) => {
      const api = 'externalcontact/del_contact_way';
      if (await host.injectFault(api, req, res)) return;
      const auth = host.authorize(req);
      if ('errcode' in auth) return host.answer(res, api, auth);
      const way = this.contactWays.get(req.body?.config_id);
      if (!way || way.deleted) return host.answer(res, api, { errcode: 41044, errmsg: 'invalid config_id' });
      way.deleted = true;
      return host.answer(res, api, { errcode: 0, errmsg: 'ok' });
    });
  }
}

/** add_contact_way's checks: type, scene, the state's length, type 1's one member. */
function contactWayRejection(body: Record<string, unknown>): { errcode: number; errmsg: string } | undefined {
  if (body.type !== 1 && body.type !== 2) return reject(41037, 'invalid type');
  if (body.scene !== 1 && body.scene !== 2) return reject(41038, 'invalid scene');
  if (typeof body.state === 'string' && [...body.state].length > 30) return reject(40058, 'state too long');
  if (body.type === 1 && (!Array.isArray(body.user) || body.user.length !== 1)) return reject(41039, 'type 1 needs exactly one user');
  return undefined;
}
