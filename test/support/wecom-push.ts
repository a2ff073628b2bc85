import { randomBytes } from 'node:crypto';
import { CallbackCrypto } from '../../src/wecom/callback-crypto';

/** A WeCom push as WeCom would send it: encrypted, signed, in the XML envelope (reference §5.4). */
export function encryptedPush(crypto: CallbackCrypto, corpId: string, plaintextXml: string, timestamp = String(Math.floor(Date.now() / 1000))) {
  const nonce = String(randomBytes(4).readUInt32BE());
  const encrypt = crypto.encrypt(plaintextXml);
  const signature = crypto.signature(timestamp, nonce, encrypt);
  return {
    query: `msg_signature=${signature}&timestamp=${timestamp}&nonce=${nonce}`,
    body: `<xml><ToUserName><![CDATA[${corpId}]]></ToUserName><Encrypt><![CDATA[${encrypt}]]></Encrypt><AgentID><![CDATA[1000002]]></AgentID></xml>`,
    encrypt,
    signature,
    timestamp,
    nonce,
  };
}

/** The event XML of reference §7, with the fields given. */
export function eventXml(fields: Record<string, string>): string {
  const inner = Object.entries(fields)
    .map(([name, value]) => (/^\d+$/.test(value) ? `<${name}>${value}</${name}>` : `<${name}><![CDATA[${value}]]></${name}>`))
    .join('');
  return `<xml>${inner}</xml>`;
}
