import fc from 'fast-check';
import { markdownSource } from '../../src/wecom/markup/robot-markdown';
import { decodeEntities, descriptionTokens, markdownLines, splitTags, textTokens } from '../../src/wecom/markup/tokens';

describe('WeCom markup tokens', () => {
  it('when a source holds tags, then it is cut into tags and the text between, an unclosed tag running to the next <', () => {
    expect(splitTags('a <b>c</b> 1 < 2 <x y')).toEqual([
      { raw: 'a ', isTag: false },
      { raw: '<b>', isTag: true },
      { raw: 'c', isTag: false },
      { raw: '</b>', isTag: true },
      { raw: ' 1 < 2 ', isTag: false },
      { raw: '<x y', isTag: true },
    ]);
  });

  it('when text holds entities, then the four named ones (any case) and numeric ones are decoded, once', () => {
    const source = '&lt;b&GT; &amp;lt; &quot;q&quot; &#39;s&#39; &#61; &#x3D; &#x110000; &nbsp;';
    expect(decodeEntities(source)).toBe('<b> &lt; "q" \'s\' = = &#x110000; &nbsp;');
  });

  it('when a description has divs, breaks and other tags, then each is a token; a div and the first end after it make a block', () => {
    expect(descriptionTokens('<div class="gray">a &amp; b</div><br/><b>x</b><div class="evil">y</div>')).toEqual([
      { kind: 'div', raw: '<div class="gray">', paired: true, divClass: 'gray' },
      { kind: 'text', raw: 'a &amp; b', text: 'a & b' },
      { kind: 'divEnd', raw: '</div>', paired: true, divClass: 'gray' },
      { kind: 'break', raw: '<br/>' },
      { kind: 'tag', raw: '<b>' },
      { kind: 'text', raw: 'x', text: 'x' },
      { kind: 'tag', raw: '</b>' },
      { kind: 'div', raw: '<div class="evil">', paired: true, divClass: 'evil' },
      { kind: 'text', raw: 'y', text: 'y' },
      { kind: 'divEnd', raw: '</div>', paired: true, divClass: 'evil' },
    ]);
  });

  it('when divs nest or lack an end, then only the outer start and the first end pair; a div in another form names no class', () => {
    const kinds = descriptionTokens('<div class="gray"><div>a</div></div><div id="x">b').map((t) =>
      t.kind === 'div' || t.kind === 'divEnd' ? [t.kind, t.paired, t.divClass] : t.kind,
    );
    expect(kinds).toEqual([
      ['div', true, 'gray'],
      ['div', false, ''],
      'text',
      ['divEnd', true, 'gray'],
      ['divEnd', false, undefined],
      ['div', false, undefined],
      'text',
    ]);
  });

  it('when a markdown line starts with #…######, > or nothing, then it is a heading of that level, a quote or a paragraph', () => {
    expect(markdownLines('## Disk\n> q\n>\n>x\n####### no\n').map(({ block, level, marker }) => [block, level, marker])).toEqual([
      ['heading', 2, '## '],
      ['quote', 0, '> '],
      ['quote', 0, '>'],
      ['paragraph', 0, ''],
      ['paragraph', 0, ''],
      ['paragraph', 0, ''],
    ]);
  });

  it('when markdown has bold, code, links, colours and mentions, then each is an inline token, nested as written', () => {
    const [line] = markdownLines(
      '**a <font color="warning">hot</font>** `c` [go](https://x.example) <@zhangsan> <font color="red">r</font>',
    );
    expect(line.inline).toEqual([
      {
        kind: 'bold',
        children: [
          { kind: 'text', text: 'a ' },
          { kind: 'font', color: 'warning', open: '<font color="warning">', close: '</font>', children: [{ kind: 'text', text: 'hot' }] },
        ],
      },
      { kind: 'text', text: ' ' },
      { kind: 'code', children: [{ kind: 'text', text: 'c' }] },
      { kind: 'text', text: ' ' },
      { kind: 'link', url: 'https://x.example', children: [{ kind: 'text', text: 'go' }] },
      { kind: 'text', text: ' ' },
      { kind: 'mention', userid: 'zhangsan' },
      { kind: 'text', text: ' <font color="red">r</font>' },
    ]);
  });

  it('when a link URL has a space or markup in it, then it is no link', () => {
    expect(markdownLines('[a](https://x y) [b](https://x/**c**)')[0].inline.some((n) => n.kind === 'link')).toBe(false);
  });

  it('when a text content has <a href>, then it is a link token; other tags and an <a> without href are text', () => {
    expect(textTokens('see <a href="https://x.example">here</a> <b>x</b> <a name="n">y</a>')).toEqual([
      { kind: 'text', text: 'see ' },
      { kind: 'link', url: 'https://x.example', text: 'here', raw: '<a href="https://x.example">here</a>' },
      { kind: 'text', text: ' <b>x</b> <a name="n">y</a>' },
    ]);
  });

  it('when any markdown is read as tokens and written back as robot markdown, then it is the same text', () => {
    const pieces = [
      '**',
      '`',
      '[',
      '](',
      ')',
      '](https://x.example)',
      '# ',
      '> ',
      '\n',
      ' ',
      '<font color="info">',
      "<FONT  color='info' >",
      '</font>',
      '<@a>',
      '<',
      '>',
      'x',
      '中',
    ];
    const markdown = fc.oneof(
      fc.string({ unit: 'grapheme' }),
      fc.array(fc.constantFrom(...pieces)).map((p) => p.join('')),
    );
    fc.assert(
      fc.property(markdown, (source) => expect(markdownSource(markdownLines(source))).toBe(source)),
      { numRuns: 2000 },
    );
  });
});
