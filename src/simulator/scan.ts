import { randomBytes } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Express } from 'express';
import QRCode from 'qrcode';
import { deliverPush, eventFields, eventXml, type CallbackTarget } from '../wecom/callback/push';
import { type ContactWay, type ExternalContact, WELCOME_CODE_TTL_MS, type WelcomeSent } from './externalcontact';
import { scanFailedPage, scanPage } from './scan-page';

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
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** What scans borrow from the simulator. */
export interface ScanHost {
  contacts: ExternalContact;
  callbackTarget(): CallbackTarget | undefined;
  /** True once the simulator stops: a scan waiting for its welcome gives up. */
  stopped(): boolean;
  /** The address for people (browsers, phones); the gateway keeps calling the simulator's url. */
  publicBase(): string;
}

/** Medium error correction and a wide quiet zone: read at a glance from a laptop screen. */
const QR_OPTIONS = { type: 'png', errorCorrectionLevel: 'M', margin: 4, scale: 8 } as const;

/** The text and attachments a customer sees, from a send_welcome_msg body (§8). */
function welcomeContent(body: Record<string, unknown>): { text?: string; attachments: Record<string, unknown>[] } {
  const text = (body.text as { content?: unknown } | undefined)?.content;
  const attachments = Array.isArray(body.attachments) ? (body.attachments as Record<string, unknown>[]) : [];
  return { ...(typeof text === 'string' && text !== '' ? { text } : {}), attachments };
}

/**
 * Customers scanning 「联系我」 codes (reference §7.4, §9.2): the QR image, the
 * page a phone camera opens, and the add_external_contact push it makes.
 */
export class Scans {
  /** Scans per contact way, to rotate a type 2 code's customers through its members. */
  private readonly scans = new Map<string, number>();

  constructor(private readonly host: ScanHost) {}

  reset(): void {
    this.scans.clear();
  }

  /** What a contact way's QR code encodes: the page a phone camera opens to "scan" it. */
  scanUrl(configId: string): string {
    return `${this.host.publicBase()}/__sim/scan/${configId}`;
  }

  /**
   * A new customer scanning a 「联系我」 code (reference §7.4, §9.2): WeCom adds
   * them to the code's employee and pushes add_external_contact, with the code's
   * state and a fresh WelcomeCode, to the app's callback URL; the gateway then has
   * 20 s to send the welcome. Answers what happened, the welcome included.
   */
  async scan(configId: string): Promise<ScanOutcome> {
    const way = this.host.contacts.liveContactWay(configId);
    if (!way) throw new ScanRefused(404, `no contact way ${configId} (unknown, or deleted with del_contact_way)`);
    const target = this.host.callbackTarget();
    if (!target) {
      const why =
        "the simulator does not know where the gateway's callback is: nothing told it (deliverCallbacksTo); " +
        'in sandbox mode the gateway does once it listens';
      throw new ScanRefused(409, why);
    }
    const employee = this.employeeFor(way);
    if (!employee) throw new ScanRefused(422, `contact way ${configId} names departments only: the simulator knows no members to add`);
    const state = typeof way.body.state === 'string' && way.body.state !== '' ? way.body.state : undefined;
    const externalUserId = `wm${randomBytes(15).toString('hex')}`;
    const welcomeCode = this.host.contacts.issueWelcomeCode();
    const issuedAt = Date.now();
    // add_external_contact, as the gateway sees a customer who scanned (§7.4: verification-free adds come as either).
    const xml = eventXml({
      ...eventFields(target.corpId, 'sys', 'change_external_contact', issuedAt),
      ChangeType: 'add_external_contact',
      UserID: employee,
      ExternalUserID: externalUserId,
      ...(state ? { State: state } : {}),
      WelcomeCode: welcomeCode,
    });
    const answer = await deliverPush(target, xml).catch((error: Error) => {
      throw new ScanRefused(502, `the push to the gateway's callback ${target.url} failed: ${error.message}`);
    });
    if (answer.status < 200 || answer.status > 299) {
      throw new ScanRefused(502, `the gateway answered the push with HTTP ${answer.status}: ${answer.body.slice(0, 300)}`);
    }
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

  /** The 「联系我」 QR image, and what scanning it does; HTML for people, JSON when asked. */
  routes(app: Express): void {
    app.get('/__sim/qr/:configId.png', async (req, res) => {
      const way = this.host.contacts.liveContactWay(req.params.configId);
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
        else res.status(error.status).type('html').send(scanFailedPage(error.message));
      }
    });
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
      const welcome = this.host.contacts.welcomes.find((w) => w.welcomeCode === code);
      if (welcome || Date.now() >= deadline || this.host.stopped()) return welcome;
      await sleep(50);
    }
  }
}
