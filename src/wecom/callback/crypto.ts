import { createCipheriv, createDecipheriv, createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * WXBizMsgCrypt, the scheme WeCom signs and encrypts callbacks with
 * (reference §5.2), on node:crypto only.
 */
export type CallbackCryptoErrorCode =
  'bad_aes_key' | 'signature_mismatch' | 'bad_base64' | 'bad_ciphertext' | 'bad_padding' | 'bad_length' | 'receive_id_mismatch';

/** One failure a caller can act on; the message never contains the token, key or plaintext. */
export class CallbackCryptoError extends Error {
  constructor(
    readonly code: CallbackCryptoErrorCode,
    message: string,
    /** receive_id_mismatch: the id the message was decrypted for (a corp id, not a secret), so a set-up mistake can be named. */
    readonly receivedId?: string,
  ) {
    super(message);
  }
}

export interface CallbackCryptoOptions {
  token: string;
  encodingAesKey: string;
  receiveId: string;
}

/** Standard alphabet, padded; a ciphertext is never empty. */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})+(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$|^[A-Za-z0-9+/]{2}==$|^[A-Za-z0-9+/]{3}=$/;
/** WeCom pads to 32-byte blocks, not AES's 16 (§5.2). */
const BLOCK = 32;

export class CallbackCrypto {
  private readonly key: Buffer;
  private readonly iv: Buffer;

  constructor(private readonly options: CallbackCryptoOptions) {
    if (!/^[A-Za-z0-9]{43}$/.test(options.encodingAesKey))
      throw new CallbackCryptoError('bad_aes_key', 'EncodingAESKey must be 43 letters or digits');
    // Lenient decoding on purpose: the official sample keys have non-zero trailing bits (§5.2 pitfall).
    this.key = Buffer.from(`${options.encodingAesKey}=`, 'base64');
    this.iv = this.key.subarray(0, 16);
  }

  signature(timestamp: string, nonce: string, encrypted: string): string {
    return createHash('sha1').update([this.options.token, timestamp, nonce, encrypted].sort().join('')).digest('hex');
  }

  verifySignature(msgSignature: string, timestamp: string, nonce: string, encrypted: string): boolean {
    const expected = Buffer.from(this.signature(timestamp, nonce, encrypted));
    const given = Buffer.from(msgSignature.toLowerCase());
    return given.length === expected.length && timingSafeEqual(given, expected);
  }

  decrypt(encrypted: string): string {
    if (!BASE64.test(encrypted)) throw new CallbackCryptoError('bad_base64', 'ciphertext is not base64');
    const ciphertext = Buffer.from(encrypted, 'base64');
    if (ciphertext.length === 0 || ciphertext.length % 16 !== 0)
      throw new CallbackCryptoError('bad_ciphertext', 'ciphertext is not a whole number of AES blocks');
    const decipher = createDecipheriv('aes-256-cbc', this.key, this.iv).setAutoPadding(false);
    const padded = Buffer.concat([decipher.update(ciphertext), decipher.final()]);
    const pad = padded[padded.length - 1];
    // Stricter than the official libraries, which ignore a bad pad byte: a bad pad means a bad key or a forged body.
    if (pad < 1 || pad > BLOCK || pad > padded.length || !padded.subarray(padded.length - pad).every((b) => b === pad)) {
      throw new CallbackCryptoError('bad_padding', 'invalid padding after decryption');
    }
    const plain = padded.subarray(0, padded.length - pad);
    if (plain.length < 20) throw new CallbackCryptoError('bad_length', 'decrypted message too short');
    const length = plain.readUInt32BE(16);
    if (20 + length > plain.length) throw new CallbackCryptoError('bad_length', 'message length exceeds the decrypted data');
    const receiveId = plain.subarray(20 + length).toString('utf8');
    if (receiveId !== this.options.receiveId)
      throw new CallbackCryptoError('receive_id_mismatch', 'message is for another corp or suite (ReceiveId)', receiveId);
    return plain.subarray(20, 20 + length).toString('utf8');
  }

  encrypt(msg: string, random: Buffer = randomBytes(16)): string {
    const body = Buffer.from(msg, 'utf8');
    const length = Buffer.alloc(4);
    length.writeUInt32BE(body.length);
    const plain = Buffer.concat([random, length, body, Buffer.from(this.options.receiveId, 'utf8')]);
    const pad = BLOCK - (plain.length % BLOCK);
    const cipher = createCipheriv('aes-256-cbc', this.key, this.iv).setAutoPadding(false);
    return Buffer.concat([cipher.update(Buffer.concat([plain, Buffer.alloc(pad, pad)])), cipher.final()]).toString('base64');
  }

  /** Checks the signature before decrypting: an unsigned body is never decrypted. */
  verifyAndDecrypt(p: { msgSignature: string; timestamp: string; nonce: string; encrypted: string }): string {
    if (!this.verifySignature(p.msgSignature, p.timestamp, p.nonce, p.encrypted))
      throw new CallbackCryptoError('signature_mismatch', 'msg_signature does not match');
    return this.decrypt(p.encrypted);
  }

  /** A passive reply (§5.5): encrypted with our key and ReceiveId, signed with the reply's own timestamp and nonce. */
  encryptReply(
    msg: string,
    timestamp: string,
    nonce: string,
    random?: Buffer,
  ): { encrypt: string; msgSignature: string; timestamp: string; nonce: string } {
    const encrypt = this.encrypt(msg, random);
    return { encrypt, msgSignature: this.signature(timestamp, nonce, encrypt), timestamp, nonce };
  }
}
