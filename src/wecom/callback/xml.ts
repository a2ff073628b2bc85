import { XMLParser, XMLValidator } from 'fast-xml-parser';
import { truncateUtf8 } from '../limits';

/** XML that WeCom's callbacks should never contain, or that cannot be read. */
export type XmlErrorCode = 'malformed' | 'dtd_forbidden' | 'missing_encrypt';

export class XmlError extends Error {
  constructor(
    readonly code: XmlErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/**
 * WeCom's pushes nest a few levels (xml > SelectedItems > SelectedItem > OptionIds >
 * OptionId, §7); far deeper is an attack on the parser. fast-xml-parser reads tags
 * iteratively and refuses depth beyond this as it goes, before its own recursive
 * tree-building and before dropFormatting below: both recurse at most this deep.
 */
const MAX_NESTING = 16;

// Values stay strings exactly as sent (MsgId is a 64-bit integer), entities are
// never expanded, and whitespace inside values is kept (reference §5.5, §7).
const parser = new XMLParser({
  ignoreAttributes: true,
  parseTagValue: false,
  processEntities: false,
  trimValues: false,
  ignoreDeclaration: true,
  maxNestedTags: MAX_NESTING,
});

/** Whitespace between elements shows up as "#text"; it is not data. Recursion is bounded by MAX_NESTING. */
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

/** The children of a decrypted callback's <xml>: strings, nested objects, arrays for repeated elements. */
export function parseCallbackXml(xml: string): Record<string, unknown> {
  // No DTD means no entity can be defined: refuse before any parser sees it (billion laughs, XXE).
  if (/<!DOCTYPE|<!ENTITY/i.test(xml)) throw new XmlError('dtd_forbidden', 'XML with a DTD or entities is refused');
  if (XMLValidator.validate(xml) !== true) throw new XmlError('malformed', 'malformed XML');
  let parsed: Record<string, unknown>;
  try {
    parsed = parser.parse(xml) as Record<string, unknown>;
  } catch {
    // The parser's own refusals (nesting beyond MAX_NESTING) are bad input, not a crash.
    throw new XmlError('malformed', 'malformed or too deeply nested XML');
  }
  const root = parsed.xml;
  if (root === undefined || root === null || typeof root !== 'object' || Array.isArray(root))
    throw new XmlError('malformed', 'the root element must be <xml>');
  return dropFormatting(root) as Record<string, unknown>;
}

const ENCRYPT_OPEN = '<Encrypt>';
const ENCRYPT_CLOSE = '</Encrypt>';
const CDATA_OPEN = '<![CDATA[';
const CDATA_CLOSE = ']]>';

/**
 * The <Encrypt> text of a push's envelope (§5.4), found by a plain scan in linear
 * time: the body is not authenticated yet, so no parser may see it before its
 * signature is checked. Plaintext siblings ("compat mode") are ignored.
 */
export function envelopeEncrypt(xml: string): string {
  const open = xml.indexOf(ENCRYPT_OPEN);
  const close = open < 0 ? -1 : xml.indexOf(ENCRYPT_CLOSE, open);
  let value = close < 0 ? '' : xml.slice(open + ENCRYPT_OPEN.length, close);
  if (value.startsWith(CDATA_OPEN) && value.endsWith(CDATA_CLOSE)) value = value.slice(CDATA_OPEN.length, -CDATA_CLOSE.length);
  if (value === '') throw new XmlError('missing_encrypt', 'no <Encrypt> element');
  return value;
}

/** CDATA cannot contain "]]>": split it across two sections. */
function cdata(value: string): string {
  return `<![CDATA[${value.replace(/]]>/g, ']]]]><![CDATA[>')}]]>`;
}

export function buildReplyEnvelope(p: { encrypt: string; msgSignature: string; timestamp: string; nonce: string }): string {
  return (
    `<xml><Encrypt>${cdata(p.encrypt)}</Encrypt><MsgSignature>${cdata(p.msgSignature)}</MsgSignature>` +
    `<TimeStamp>${p.timestamp}</TimeStamp><Nonce>${cdata(p.nonce)}</Nonce></xml>`
  );
}

/** A passive text reply (§5.5): to the member, from the corp; WeCom keeps 2048 bytes of it. */
export function buildPassiveTextReply(p: { toUser: string; fromUser: string; createTime: number; content: string }): string {
  return (
    `<xml><ToUserName>${cdata(p.toUser)}</ToUserName><FromUserName>${cdata(p.fromUser)}</FromUserName>` +
    `<CreateTime>${p.createTime}</CreateTime><MsgType>${cdata('text')}</MsgType>` +
    `<Content>${cdata(truncateUtf8(p.content, 2048))}</Content></xml>`
  );
}
