import { join } from 'node:path';
import { buildTemplate, loadTemplates, RenderError } from '../../src/messages/templates';
import { byteLength, TRUNCATION_MARK, truncateUtf8 } from '../../src/wecom/message-limits';

const templates = loadTemplates(join(__dirname, '..', '..', 'templates'));
const programAlert = templates.get('program.alert')!;
const data = { title: 'CPU <b>high</b> & hot', content: 'load "5" on <web-3>', level: 'warning', url: 'https://grafana.example/d/cpu?a=1&b=2' };

describe('shipped templates', () => {
  it('when the templates folder loads, then program.alert offers text and textcard and a second event exists', () => {
    expect(programAlert.msgtypes).toEqual(expect.arrayContaining(['text', 'textcard']));
    expect(programAlert.data.map((f) => [f.name, f.required])).toEqual([['title', true], ['content', true], ['level', true], ['url', false]]);
    expect(templates.size).toBeGreaterThanOrEqual(2);
  });
});

describe('escaping per message type', () => {
  it('when data holds HTML characters, then a textcard description escapes only & < > (what can start markup in HTML text)', () => {
    const body = programAlert.render('textcard', data);
    expect(body.description).toContain('load "5" on &lt;web-3&gt;');
    expect(programAlert.render('textcard', { ...data, content: "a=1 & b='2' `c`" }).description).toContain("a=1 &amp; b='2' `c`");
    expect(body.description).toMatch(/^<div class="gray">/);
    // titles and URLs are not HTML: shown as given
    expect(body.title).toBe('[WARNING] CPU <b>high</b> & hot');
    expect(body.url).toBe('https://grafana.example/d/cpu?a=1&b=2');
  });

  it('when data holds HTML characters, then text content keeps them as written', () => {
    const body = programAlert.render('text', data);
    expect(body.content).toBe('【WARNING】CPU <b>high</b> & hot\nload "5" on <web-3>\n<a href="https://grafana.example/d/cpu?a=1&b=2">详情</a>');
  });

  it('when the optional url is absent, then text renders without the link', () => {
    const { url: _url, ...withoutUrl } = data;
    expect(programAlert.render('text', withoutUrl).content).toBe('【WARNING】CPU <b>high</b> & hot\nload "5" on <web-3>');
  });
});

describe('helpers', () => {
  const render = (content: string, data: Record<string, unknown>) => buildTemplate({ event: 'x', msgtypes: { text: { content } } }, 'inline').render('text', data).content;

  it('when eq is used as a block, then it renders the matching branch, not a boolean', () => {
    expect(render('{{#eq level "critical"}}highlight{{else}}normal{{/eq}}', { level: 'critical' })).toBe('highlight');
    expect(render('{{#eq level "critical"}}highlight{{else}}normal{{/eq}}', { level: 'warning' })).toBe('normal');
  });

  it('when eq is used inline or as a sub-expression, then it is the comparison', () => {
    expect(render('{{#if (eq level "critical")}}yes{{else}}no{{/if}} {{eq level "warning"}}', { level: 'critical' })).toBe('yes false');
  });

  it('when a block eq sits inside each, then its branches see the element', () => {
    expect(render('{{#each alerts}}{{#eq status "firing"}}!{{name}}{{else}}{{name}}{{/eq}} {{/each}}', { alerts: [{ status: 'firing', name: 'a' }, { status: 'resolved', name: 'b' }] })).toBe('!a b ');
  });
});

describe('limits', () => {
  it('when text content is over 2048 bytes, then it is cut on a character boundary with a visible mark', () => {
    const body = programAlert.render('text', { ...data, content: '磁盘'.repeat(1000) });
    const content = body.content as string;
    expect(byteLength(content)).toBeLessThanOrEqual(2048);
    expect(content.endsWith(TRUNCATION_MARK)).toBe(true);
    expect(content).not.toContain('\uFFFD');
  });

  it('when a textcard description is over 512 bytes, then no half tag is left behind', () => {
    const description = programAlert.render('textcard', { ...data, content: 'x'.repeat(600) }).description as string;
    expect(byteLength(description)).toBeLessThanOrEqual(512);
    expect(description).not.toMatch(/<[^>]*…$/);
  });

  it('when a string is cut, then multi-byte characters are never split', () => {
    for (let max = 4; max < 40; max++) {
      const cut = truncateUtf8('表情😀符号🎉汉字', max);
      expect(byteLength(cut)).toBeLessThanOrEqual(max);
      expect(Buffer.from(cut, 'utf8').toString('utf8')).toBe(cut);
    }
  });

  it('when a news message has more than 8 articles in its template, then it cannot render', () => {
    const article = { title: 'a', url: 'https://x.example' };
    const template = buildTemplate({ event: 'many', msgtypes: { news: { articles: Array(9).fill(article) } } }, 'inline');
    expect(() => template.render('news', {})).toThrow(RenderError);
  });

  it('when a variable the template uses is not declared or given, then the error names it', () => {
    const template = buildTemplate({ event: 'x', msgtypes: { text: { content: 'hello {{who}}' } } }, 'inline');
    try {
      template.render('text', {});
      throw new Error('rendered');
    } catch (error) {
      expect(error).toBeInstanceOf(RenderError);
      expect((error as RenderError).field).toBe('data.who');
    }
  });
});

describe('template files', () => {
  it('when a template has a syntax error, then loading names the file and field', () => {
    expect(() => buildTemplate({ event: 'broken', msgtypes: { text: { content: 'oops {{#if x}}' } } }, 'broken.yaml')).toThrow(/broken.yaml: text.content/);
  });
});
