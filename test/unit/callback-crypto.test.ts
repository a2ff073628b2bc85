import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import fc from 'fast-check';
import { CallbackCrypto, CallbackCryptoError } from '../../src/wecom/callback/crypto';
import { envelopeEncrypt } from '../../src/wecom/callback/xml';

interface Vector {
  name: string;
  token: string;
  encodingAESKey: string;
  receiveId: string;
  msgSignature: string;
  timestamp: string;
  nonce: string;
  echostr?: string;
  postData?: string;
  expectedPlaintext: string;
  random?: string;
  expectedEncrypt?: string;
}

const vectors = JSON.parse(readFileSync(join(__dirname, '..', 'fixtures', 'wecom-vectors.json'), 'utf8')) as Vector[];
const cryptoFor = (v: Vector, receiveId = v.receiveId) =>
  new CallbackCrypto({ token: v.token, encodingAesKey: v.encodingAESKey, receiveId });
const encryptedOf = (v: Vector) => v.echostr ?? envelopeEncrypt(v.postData!);

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof CallbackCryptoError ? error.code : `not typed: ${(error as Error).message}`;
  }
}

describe('published WXBizMsgCrypt vectors', () => {
  it('when the vectors load, then there are ten of them', () => {
    expect(vectors).toHaveLength(10);
  });

  it.each(vectors.map((v) => [v.name, v] as const))(
    'when %s is checked, then its signature verifies and it decrypts to the published plaintext',
    (_name, v) => {
      const crypto = cryptoFor(v);
      expect(crypto.verifySignature(v.msgSignature, v.timestamp, v.nonce, encryptedOf(v))).toBe(true);
      expect(
        crypto.verifyAndDecrypt({ msgSignature: v.msgSignature, timestamp: v.timestamp, nonce: v.nonce, encrypted: encryptedOf(v) }),
      ).toBe(v.expectedPlaintext);
    },
  );

  it.each(vectors.filter((v) => v.random).map((v) => [v.name, v] as const))(
    'when %s is encrypted with its published random, then the ciphertext is byte for byte the published one',
    (_name, v) => {
      expect(cryptoFor(v).encrypt(v.expectedPlaintext, Buffer.from(v.random!))).toBe(v.expectedEncrypt);
    },
  );

  it('when the configured ReceiveId differs, then receive_id_mismatch', () => {
    const v = vectors[1];
    expect(codeOf(() => cryptoFor(v, 'wwsomeoneelse').decrypt(encryptedOf(v)))).toBe('receive_id_mismatch');
  });

  it('when the ReceiveId differs, then the error names the corp id the message was for (not a secret: set-up mistakes need it)', () => {
    const v = vectors[1];
    try {
      cryptoFor(v, 'wwsomeoneelse').decrypt(encryptedOf(v));
      throw new Error('decrypted');
    } catch (error) {
      expect(error).toBeInstanceOf(CallbackCryptoError);
      expect((error as CallbackCryptoError).receivedId).toBe(v.receiveId);
    }
  });

  it('when the signature is wrong, then signature_mismatch and nothing is decrypted', () => {
    const v = vectors[1];
    expect(
      codeOf(() =>
        cryptoFor(v).verifyAndDecrypt({ msgSignature: 'f'.repeat(40), timestamp: v.timestamp, nonce: v.nonce, encrypted: encryptedOf(v) }),
      ),
    ).toBe('signature_mismatch');
  });
});

describe('round trips and tampering', () => {
  const crypto = new CallbackCrypto({
    token: 'QDG6eK',
    encodingAesKey: 'jWmYm7qr5nMoAUwZRjGtBxmz3KA1tkAj3ykkR6q2B2C',
    receiveId: 'ww1234567890',
  });

  it('when any UTF-8 text (Chinese, emoji, newlines) is encrypted, then it decrypts to itself', () => {
    fc.assert(
      fc.property(fc.string({ unit: 'grapheme', maxLength: 300 }), (text) => crypto.decrypt(crypto.encrypt(text)) === text),
      { numRuns: 300 },
    );
    expect(crypto.decrypt(crypto.encrypt('告警 🚨 恢复\n✅'))).toBe('告警 🚨 恢复\n✅');
  });

  it('when any single bit of the ciphertext is flipped, then the signed message is refused', () => {
    const encrypted = crypto.encrypt('<xml><Content>hello</Content></xml>');
    const signature = crypto.signature('1700000000', '42', encrypted);
    const bytes = Buffer.from(encrypted, 'base64');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bit) => {
        const tampered = Buffer.from(bytes);
        tampered[bit >> 3] ^= 1 << (bit & 7);
        return (
          codeOf(() =>
            crypto.verifyAndDecrypt({
              msgSignature: signature,
              timestamp: '1700000000',
              nonce: '42',
              encrypted: tampered.toString('base64'),
            }),
          ) === 'signature_mismatch'
        );
      }),
      { numRuns: 200 },
    );
  });

  it('when any character of the signature changes, then it is refused', () => {
    const encrypted = crypto.encrypt('x');
    const signature = crypto.signature('1', '2', encrypted);
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 39 }), fc.constantFrom(...'0123456789abcdef'), (i, c) => {
        fc.pre(signature[i] !== c);
        return !crypto.verifySignature(signature.slice(0, i) + c + signature.slice(i + 1), '1', '2', encrypted);
      }),
    );
  });

  it('when a flipped ciphertext is decrypted without its signature, then it is refused or never yields the original', () => {
    const original = '<xml><Content>hello</Content></xml>';
    const bytes = Buffer.from(crypto.encrypt(original), 'base64');
    fc.assert(
      fc.property(fc.integer({ min: 0, max: bytes.length * 8 - 1 }), (bit) => {
        const tampered = Buffer.from(bytes);
        tampered[bit >> 3] ^= 1 << (bit & 7);
        try {
          return crypto.decrypt(tampered.toString('base64')) !== original;
        } catch (error) {
          return error instanceof CallbackCryptoError;
        }
      }),
      { numRuns: 300 },
    );
  });
});

describe('bad input', () => {
  const crypto = new CallbackCrypto({
    token: 'secretToken',
    encodingAesKey: 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG',
    receiveId: 'ww1',
  });
  const good = crypto.encrypt('hello');

  it.each([
    ['empty', '', 'bad_base64'],
    ['not base64', 'not*base64!', 'bad_base64'],
    ['odd length', good.slice(0, -1), 'bad_base64'],
    ['truncated to a non-block length', Buffer.from(good, 'base64').subarray(0, 20).toString('base64'), 'bad_ciphertext'],
    ['one block of garbage', Buffer.alloc(32, 1).toString('base64'), 'bad_padding'],
  ])('when the ciphertext is %s, then a typed error says so', (_name, input, code) => {
    expect(codeOf(() => crypto.decrypt(input))).toBe(code);
  });

  it('when a ciphertext is cut to whole blocks, then it is refused with a typed error', () => {
    const long = Buffer.from(crypto.encrypt('x'.repeat(100)), 'base64');
    expect(codeOf(() => crypto.decrypt(long.subarray(0, 32).toString('base64')))).toMatch(/^(bad_padding|bad_length)$/);
  });

  it.each([
    ['42 characters', 'a'.repeat(42)],
    ['a symbol', `${'a'.repeat(42)}+`],
  ])('when the EncodingAESKey has %s, then bad_aes_key', (_name, key) => {
    expect(codeOf(() => new CallbackCrypto({ token: 't', encodingAesKey: key, receiveId: 'x' }))).toBe('bad_aes_key');
  });

  it('when errors are raised, then their messages carry neither token nor key', () => {
    for (const input of ['', 'zz', Buffer.alloc(32).toString('base64')]) {
      try {
        crypto.verifyAndDecrypt({ msgSignature: 'x', timestamp: '1', nonce: '2', encrypted: input });
      } catch (error) {
        expect((error as Error).message).not.toMatch(/secretToken|abcdefghijklmnop/);
      }
    }
  });
});
