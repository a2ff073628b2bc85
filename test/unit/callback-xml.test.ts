import { envelopeEncrypt, parseCallbackXml, XmlError } from '../../src/wecom/callback/xml';

function codeOf(fn: () => unknown): string | undefined {
  try {
    fn();
    return undefined;
  } catch (error) {
    return error instanceof XmlError ? error.code : `not an XmlError: ${(error as Error).constructor.name} ${(error as Error).message}`;
  }
}

const nested = (depth: number, open = '<a>', close = '</a>') => `<xml>${open.repeat(depth)}x${close.repeat(depth)}</xml>`;

describe('the envelope scan (before the signature is checked)', () => {
  it('when the envelope is as WeCom sends it, then Encrypt is its CDATA text, and plaintext siblings are ignored', () => {
    expect(
      envelopeEncrypt(
        '<xml><ToUserName><![CDATA[ww1]]></ToUserName><Encrypt><![CDATA[abc+/=]]></Encrypt><AgentID><![CDATA[1]]></AgentID></xml>',
      ),
    ).toBe('abc+/=');
    expect(envelopeEncrypt('<xml><ToUserName>ww1</ToUserName>\n<Encrypt>abc=</Encrypt><MsgType><![CDATA[text]]></MsgType></xml>')).toBe(
      'abc=',
    );
  });

  it('when there is no Encrypt, an empty one or an unclosed one, then missing_encrypt', () => {
    for (const body of [
      '',
      'not xml',
      '<xml><ToUserName>x</ToUserName></xml>',
      '<xml><Encrypt></Encrypt></xml>',
      '<xml><Encrypt><![CDATA[]]></Encrypt></xml>',
      '<xml><Encrypt>abc',
    ]) {
      expect(codeOf(() => envelopeEncrypt(body))).toBe('missing_encrypt');
    }
  });

  it('when a hostile envelope is deep, huge or full of DTDs, then the scan answers without parsing, in linear time', () => {
    const started = performance.now();
    expect(envelopeEncrypt(`<!DOCTYPE x [<!ENTITY a "b">]>${'<a>'.repeat(100_000)}<Encrypt>&a;</Encrypt>`)).toBe('&a;');
    expect(codeOf(() => envelopeEncrypt('<Encrypt>'.repeat(200_000)))).toBe('missing_encrypt');
    expect(codeOf(() => envelopeEncrypt('<'.repeat(1_000_000)))).toBe('missing_encrypt');
    expect(performance.now() - started).toBeLessThan(1_000);
  });
});

describe('parsing a decrypted push', () => {
  it("when a push nests as deep as WeCom's deepest (a card's selected options), then it parses", () => {
    const xml =
      '<xml><Event><![CDATA[template_card_event]]></Event><SelectedItems><SelectedItem>' +
      '<QuestionKey><![CDATA[q1]]></QuestionKey><OptionIds><OptionId><![CDATA[o1]]></OptionId>' +
      '<OptionId><![CDATA[o2]]></OptionId></OptionIds></SelectedItem></SelectedItems></xml>';
    expect(parseCallbackXml(xml)).toEqual({
      Event: 'template_card_event',
      SelectedItems: { SelectedItem: { QuestionKey: 'q1', OptionIds: { OptionId: ['o1', 'o2'] } } },
    });
  });

  it('when a document nests 100,000 elements deep, then it is malformed XML, not a stack overflow', () => {
    expect(codeOf(() => parseCallbackXml(nested(100_000)))).toBe('malformed');
    // Attributes that look like self-closing tags do not hide the depth.
    expect(codeOf(() => parseCallbackXml(nested(100_000, '<a x="/>">')))).toBe('malformed');
    // The limit is a few times WeCom's depth, well below the parser's own default (100).
    expect(codeOf(() => parseCallbackXml(nested(50)))).toBe('malformed');
    expect(parseCallbackXml(nested(12))).toHaveProperty('a');
  });

  it('when the document is not XML, has a DTD or another root, then a typed error says so', () => {
    expect(codeOf(() => parseCallbackXml('<xml><a></xml>'))).toBe('malformed');
    expect(codeOf(() => parseCallbackXml('<root><a>1</a></root>'))).toBe('malformed');
    expect(codeOf(() => parseCallbackXml('<xml></xml>'))).toBe('malformed');
    expect(codeOf(() => parseCallbackXml('<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "b">]><xml><a>&a;</a></xml>'))).toBe(
      'dtd_forbidden',
    );
  });
});
