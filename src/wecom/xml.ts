import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { truncateUtf8 } from './message-limits';

/** XML that WeCom's callbacks should never contain, or that cannot be read. */
export type XmlErrorCode = 'malformed' | 'dtd_forbidden' | 'missing_encrypt';

export class XmlError extends Error {
  constructor(readonly code: XmlErrorCode, message: string) {
    super(message);
  }
}

// Values stay strings exactly as sent (MsgId is a 64-bit integer), entities are
// never expanded, and whitespace inside values is kept (reference §5.5, §7).
const parser = new XMLParser({ ignoreAttributes: true, parseTagValue: false, processEntities: false, trimValues: false, ignoreDeclaration: true });

/** Whitespace between elements shows up as "#text"; it is not data. */
function dropFormatting(node: unknown): unknown {
  if (Array.isArray(node)) return node.map(dropFormatting);
  if (node && typeof node === 'object') {
    return Object.fromEntries(
      Object.entries(node as Record<string, unknown>)
        .filter(([key]) => key !== '#text')
        .map(([key, value]) => [key, dropFormatting(value)]),
    );
  }
  return node;
}

function parseXmlRoot(xml: string): Record<string, unknown> {
  // No DTD means no entity can be defined: refuse before any parser sees it (billion laughs, XXE).
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlError('dtd_forbidden', 'XML with a DTD or entities is refused');
  if (XMLValidator.validate(xml) !== true) throw new XmlError('malformed', 'malformed XML');
  const root = (parser.parse(xml) as Record<string, unknown>).xml;
  if (root === undefined || typeof root !== 'object' || Array.isArray(root)) throw new XmlError('malformed', 'the root element must be <xml>');
  return dropFormatting(root) as Record<string, unknown>;
}

/** The envelope of a push (§5.4); plaintext siblings of <Encrypt> ("compat mode") are ignored. */
export function parseEnvelope(xml: string): { encrypt: string; toUserName?: string; agentId?: string } {
  const root = parseXmlRoot(xml);
  if (typeof root.Encrypt !== 'string' || root.Encrypt === '') throw new XmlError('missing_encrypt', 'no <Encrypt> element');
  return {
    encrypt: root.Encrypt,
    toUserName: typeof root.ToUserName === 'string' ? root.ToUserName : undefined,
    agentId: typeof root.AgentID === 'string' && root.AgentID !== '' ? root.AgentID : undefined,
  };
}

/** The children of a decrypted callback's <xml>: strings, nested objects, arrays for repeated elements. */
export function parseCallbackXml(xml: string): Record<string, unknown> {
  return parseXmlRoot(xml);
}

/** CDATA cannot contain "]]>": split it across two sections. */
function cdata(value: string): string {
  return `<![CDATA[${value.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

export function buildReplyEnvelope(p: { encrypt: string; msgSignature: string; timestamp: string; nonce: string }): string {
  return `<xml><Encrypt>${cdata(p.encrypt)}</Encrypt><MsgSignature>${cdata(p.msgSignature)}</MsgSignature><TimeStamp>${p.timestamp}</TimeStamp><Nonce>${cdata(p.nonce)}</Nonce></xml>`;
}

/** A passive text reply (§5.5): to the member, from the corp; WeCom keeps 2048 bytes of it. */
export function buildPassiveTextReply(p: { toUser: string; fromUser: string; createTime: number; content: string }): string {
  return `<xml><ToUserName>${cdata(p.toUser)}</ToUserName><FromUserName>${cdata(p.fromUser)}</FromUserName><CreateTime>${p.createTime}</CreateTime><MsgType>${cdata('text')}</MsgType><Content>${cdata(truncateUtf8(p.content, 2048))}</Content></xml>`;
}
