import { CallbackCrypto, CallbackCryptoError } from './crypto';
import { dedupeKeyFor, eventHeader, type CallbackEvent } from './event';
import { buildPassiveTextReply, buildReplyEnvelope, envelopeEncrypt, parseCallbackXml, XmlError } from './xml';

/**
 * The callback URL's contract (reference §5): what WeCom puts in the query and
 * the body, how a URL check and a push are opened, how a passive reply is sealed.
 * Plain values in and out; the HTTP route only carries them.
 */

/** An app's callback settings, as its 接收消息 page holds them. */
export interface CallbackSecrets {
  token: string;
  aesKey: string;
  /** The id a plaintext ends with (§5.2): the corp id unless said otherwise. */
  receiveId: string;
}

/** Where an operator set each value, so that a diagnosis can name the one to check. */
export interface SettingNames {
  token: string;
  aesKey: string;
  receiveId: string;
  maxSkew: string;
}

export interface CallbackOptions {
  nowMs: number;
  /** Seconds a timestamp may be off this host's clock; 0: no window. */
  maxSkewSeconds: number;
  names: SettingNames;
}

/**
 * A request that is not WeCom's, or that WeCom signed with other settings. The
 * caller may be an attacker, so `message` stays short; `diagnosis` says what
 * failed and which setting to check, never a token, key or plaintext.
 */
export interface CallbackRefusal {
  refusal: string;
  message: string;
  diagnosis: string;
  fields?: { field: string; message: string }[];
  details?: Record<string, string>;
}

export const isRefusal = (value: object): value is CallbackRefusal => 'refusal' in value;

/** A push opened: its event, and the nonce its passive reply is signed with. */
export interface OpenedPush {
  event: CallbackEvent;
  nonce: string;
}

const refuse = (refusal: string, message: string, diagnosis: string, extra: Pick<CallbackRefusal, 'fields' | 'details'> = {}) => ({
  refusal,
  message,
  diagnosis,
  ...extra,
});

/** Thrown inside this file only: each check below stops at its first refusal. */
class Refused {
  constructor(readonly refusal: CallbackRefusal) {}
}

/** Built once per settings object: deriving the key is not a per-request cost. */
const cryptos = new WeakMap<CallbackSecrets, CallbackCrypto>();
function cryptoOf(secrets: CallbackSecrets): CallbackCrypto {
  let crypto = cryptos.get(secrets);
  if (!crypto) {
    crypto = new CallbackCrypto({ token: secrets.token, encodingAesKey: secrets.aesKey, receiveId: secrets.receiveId });
    cryptos.set(secrets, crypto);
  }
  return crypto;
}

/**
 * The query exactly as WeCom sent it, percent-decoded once: echostr is base64,
 * and a form decoder would turn its literal `+` into a space (reference §5.3).
 */
function parseQuery(query: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const pair of query.split('&')) {
    if (!pair) continue;
    const eq = pair.indexOf('=');
    const key = eq < 0 ? pair : pair.slice(0, eq);
    try {
      out[decodeURIComponent(key)] = eq < 0 ? '' : decodeURIComponent(pair.slice(eq + 1));
    } catch {
      throw new Refused(
        refuse(
          'bad_query',
          'query is not validly percent-encoded',
          'the query is not validly percent-encoded: not a request from WeCom, or a proxy altered it',
        ),
      );
    }
  }
  return out;
}

function requireParams(query: Record<string, string>, names: string[]): void {
  const missing = names.filter((n) => !query[n]);
  if (missing.length > 0) {
    const diagnosis = `missing ${missing.join(', ')}: not a request from WeCom, or a proxy dropped the query string`;
    throw new Refused(
      refuse('missing_parameters', `missing ${missing.join(', ')}`, diagnosis, {
        fields: missing.map((n) => ({ field: n, message: 'required' })),
      }),
    );
  }
}

/** What WeCom sends as timestamp: Unix seconds. */
const UNIX_SECONDS = /^\d{1,12}$/;

/** Both URL check and push: a timestamp is Unix seconds, and inside the replay window unless it is off (0). */
function checkTimestamp(timestamp: string, options: CallbackOptions): void {
  const skew = options.maxSkewSeconds;
  if (!UNIX_SECONDS.test(timestamp)) {
    const fields = [{ field: 'timestamp', message: 'must be Unix seconds' }];
    throw new Refused(
      refuse('bad_timestamp', 'timestamp must be Unix seconds', 'the timestamp is not Unix seconds: not a request from WeCom', { fields }),
    );
  }
  const offBy = Number(timestamp) - options.nowMs / 1000;
  if (skew > 0 && Math.abs(offBy) > skew) {
    const off = `${Math.round(Math.abs(offBy))} s ${offBy < 0 ? 'behind' : 'ahead of'} this host's clock`;
    const diagnosis =
      `the timestamp is ${off}, beyond ${options.names.maxSkew} (${skew}): ` + "check this host's clock (NTP), or the request was replayed";
    throw new Refused(
      refuse('stale_timestamp', `timestamp is more than ${skew}s from now`, diagnosis, {
        fields: [{ field: 'timestamp', message: `more than ${skew}s from now` }],
      }),
    );
  }
}

/** A corp or suite id looks like this; anything else came out of a wrong key, and is not worth printing. */
const PRINTABLE_ID = /^[A-Za-z0-9_.@-]{0,64}$/;

/**
 * Crypto and XML errors as refusals: in the order they are checked (signature,
 * decryption, ReceiveId, XML) each one clears the settings checked before it,
 * so the diagnosis can name the one setting that is wrong (reference §5.2, §5.6).
 */
function cryptoRefusal(error: unknown, secrets: CallbackSecrets, names: SettingNames): CallbackRefusal {
  const cannotDecrypt = (code: string) =>
    refuse(
      code,
      'cannot decrypt the message',
      'the signature matches (the Token is right) but the message does not decrypt: ' +
        `check ${names.aesKey} (the EncodingAESKey in the app's 接收消息 settings)`,
    );
  if (error instanceof CallbackCryptoError) {
    switch (error.code) {
      case 'signature_mismatch':
        return refuse(
          'bad_signature',
          'msg_signature does not match',
          `msg_signature does not match: check ${names.token} (the Token in the app's 接收消息 settings)`,
        );
      case 'receive_id_mismatch': {
        const received = error.receivedId ?? '';
        if (!PRINTABLE_ID.test(received)) return cannotDecrypt('bad_padding');
        const diagnosis =
          `decrypted, but for corp id ${received || '(empty)'}, not ${names.receiveId} (${secrets.receiveId}): ` +
          'the Token and EncodingAESKey are right; ' +
          `set ${names.receiveId} to the corp id of the app whose 接收消息 settings point here`;
        return refuse('receive_id_mismatch', 'cannot accept the message', diagnosis, { details: { receivedCorpId: received } });
      }
      case 'bad_base64':
      case 'bad_ciphertext':
        return refuse(
          error.code,
          'cannot decrypt the message',
          `the signature matches but the ciphertext is not valid (${error.message}): ` +
            'something between WeCom and the gateway altered the request (a proxy re-encoding the query or the body?)',
        );
      default:
        return cannotDecrypt(error.code);
    }
  }
  if (error instanceof XmlError) {
    const diagnosis =
      error.code === 'missing_encrypt'
        ? 'the body has no <Encrypt> element: not an encrypted WeCom push'
        : `decrypted, but the event is not acceptable XML (${error.message}): refused unparsed`;
    return refuse(`xml_${error.code}`, 'malformed callback XML', diagnosis);
  }
  throw error;
}

/** Runs the checks; a refusal is the answer, any other error is a bug and is thrown. */
function answer<T extends object>(run: () => T): T | CallbackRefusal {
  try {
    return run();
  } catch (error) {
    if (error instanceof Refused) return error.refusal;
    throw error;
  }
}

/** Verifies and decrypts; a failure becomes a refusal naming the setting to check. */
function open(
  crypto: CallbackCrypto,
  query: Record<string, string>,
  encrypted: () => string,
  secrets: CallbackSecrets,
  names: SettingNames,
): string {
  try {
    return crypto.verifyAndDecrypt({
      msgSignature: query.msg_signature,
      timestamp: query.timestamp,
      nonce: query.nonce,
      encrypted: encrypted(),
    });
  } catch (error) {
    throw new Refused(cryptoRefusal(error, secrets, names));
  }
}

/** WeCom's echostr decrypts to a short random number-like string (§5.3, e.g. 1616140317555161061). */
const ECHO_PLAINTEXT = /^[0-9A-Za-z]{1,64}$/;

/** The URL check WeCom makes when an app's callback URL is saved (§5.3): answers the plaintext to echo back. */
export function verifyUrl(query: string, secrets: CallbackSecrets, options: CallbackOptions): { echo: string } | CallbackRefusal {
  return answer(() => {
    const params = parseQuery(query);
    requireParams(params, ['msg_signature', 'timestamp', 'nonce', 'echostr']);
    checkTimestamp(params.timestamp, options);
    const plaintext = open(cryptoOf(secrets), params, () => params.echostr, secrets, options.names);
    // Signed and encrypted exactly as a push: without this, a captured push's
    // Encrypt sent back as echostr would be answered decrypted.
    if (!ECHO_PLAINTEXT.test(plaintext)) {
      const diagnosis = "decrypted, but the echostr is not a URL verification string (a push's ciphertext replayed as echostr?)";
      throw new Refused(
        refuse('bad_echostr', 'echostr is not a URL verification string', diagnosis, {
          fields: [{ field: 'echostr', message: 'not a URL verification string' }],
        }),
      );
    }
    return { echo: plaintext };
  });
}

/** A push (§5.4): checked, decrypted and parsed into the event `app` received at `options.nowMs`. */
export function openPush(
  query: string,
  body: string,
  secrets: CallbackSecrets,
  options: CallbackOptions & { app: string },
): OpenedPush | CallbackRefusal {
  return answer(() => {
    const params = parseQuery(query);
    requireParams(params, ['msg_signature', 'timestamp', 'nonce']);
    checkTimestamp(params.timestamp, options);
    if (body === '')
      throw new Refused(refuse('empty_body', 'empty body', 'the push has an empty body: not from WeCom, or a proxy dropped it'));
    // Signature first, then one decryption, then the only XML parse: a stranger's body never reaches the parser.
    const plaintext = open(cryptoOf(secrets), params, () => envelopeEncrypt(body), secrets, options.names);
    let fields: Record<string, unknown>;
    try {
      fields = parseCallbackXml(plaintext);
    } catch (error) {
      throw new Refused(cryptoRefusal(error, secrets, options.names));
    }
    const event: CallbackEvent = {
      app: options.app,
      receivedAt: options.nowMs,
      dedupeKey: dedupeKeyFor(options.app, fields, plaintext),
      fields,
    };
    return { event, nonce: params.nonce };
  });
}

/** A passive text reply to `push`'s sender (§5.5), from `corpId`, encrypted and signed in its envelope. */
export function sealReply(reply: { text: string; push: OpenedPush; corpId: string; nowMs: number }, secrets: CallbackSecrets): string {
  const timestamp = String(Math.floor(reply.nowMs / 1000));
  const xml = buildPassiveTextReply({
    toUser: eventHeader(reply.push.event).fromUser ?? '',
    fromUser: reply.corpId,
    createTime: Number(timestamp),
    content: reply.text,
  });
  return buildReplyEnvelope(cryptoOf(secrets).encryptReply(xml, timestamp, reply.push.nonce));
}
