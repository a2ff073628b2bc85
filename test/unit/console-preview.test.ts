import { markdownHtml, previewHtml } from '../../src/console/preview';

describe('WeCom-looking previews', () => {
  it('when data carries HTML or script links, then the preview shows them as text and links only http(s)', () => {
    const html = previewHtml({
      msgtype: 'markdown',
      markdown: { content: '<script>alert(1)</script> [click](javascript:alert(1)) [ok](https://example.com/?a=1&b=2)' },
    });
    expect(html).not.toContain('<script');
    expect(html).toContain('&lt;script&gt;');
    expect(html).not.toContain('href="javascript');
    expect(html).toContain('<a href="https://example.com/?a=1&amp;b=2"');
    const text = previewHtml({
      msgtype: 'text',
      text: { content: '<a href="javascript:x">bad</a> <a href="https://ok.example">good</a><img src=x onerror=alert(1)>' },
    });
    expect(text).not.toMatch(/<img|href="javascript/);
    expect(text).toContain('<a href="https://ok.example" rel="noreferrer noopener" target="_blank">good</a>');
  });

  it("when markdown uses WeCom's subset, then headings, bold, quotes, code and font colours are drawn", () => {
    expect(markdownHtml('# Title\n**bold** `code`\n> quoted <font color="warning">hot</font>')).toBe(
      '<div class="h1">Title</div><div><b>bold</b> <code>code</code></div>' +
        '<div class="quote">quoted <span class="font-warning">hot</span></div>',
    );
  });

  it('when a textcard, news or template_card is previewed, then its parts are where the client puts them', () => {
    const card = previewHtml({
      msgtype: 'textcard',
      textcard: {
        title: 'T',
        description: '<div class="highlight">hot</div><div class="evil" onclick="x">no</div>',
        url: 'https://x.example',
        btntxt: 'More',
      },
    });
    expect(card).toContain('<div class="tc-highlight">hot</div>');
    expect(card).not.toContain('onclick="x"');
    expect(card).toContain('>More</a>');
    const news = previewHtml({
      msgtype: 'news',
      news: {
        articles: [
          { title: 'A', url: 'https://a.example', description: 'first' },
          { title: 'B', url: 'https://b.example' },
        ],
      },
    });
    expect(news.match(/class="article/g)).toHaveLength(2);
    const tc = previewHtml({
      msgtype: 'template_card',
      template_card: {
        card_type: 'button_interaction',
        main_title: { title: 'Disk full' },
        button_list: [{ text: 'Ack', style: 1, key: 'ack' }],
        replace_text: undefined,
      },
    });
    expect(tc).toContain('<span class="button primary">Ack</span>');
  });
});
