import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RenderError } from '../../src/messages/template-body';
import { TemplateLoadError } from '../../src/messages/template-source';
import { buildTemplate, loadTemplates } from '../../src/messages/templates';
import { byteLength, TRUNCATION_MARK, truncateUtf8 } from '../../src/wecom/limits';

const templates = loadTemplates(join(__dirname, '..', '..', 'templates'));
const programAlert = templates.get('program.alert')!;
const data = {
  title: 'CPU <b>high</b> & hot',
  content: 'load "5" on <web-3>',
  level: 'warning',
  url: 'https://grafana.example/d/cpu?a=1&b=2',
};

describe('shipped templates', () => {
  it('when the templates folder loads, then program.alert offers text and textcard and a second event exists', () => {
    expect(programAlert.msgtypes).toEqual(expect.arrayContaining(['text', 'textcard']));
    expect(programAlert.data.map((f) => [f.name, f.required])).toEqual([
      ['title', true],
      ['content', true],
      ['level', true],
      ['url', false],
    ]);
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
    expect(body.content).toBe(
      '【WARNING】CPU <b>high</b> & hot\nload "5" on <web-3>\n<a href="https://grafana.example/d/cpu?a=1&b=2">详情</a>',
    );
  });

  it('when the optional url is absent, then text renders without the link', () => {
    const { url: _url, ...withoutUrl } = data;
    expect(programAlert.render('text', withoutUrl).content).toBe('【WARNING】CPU <b>high</b> & hot\nload "5" on <web-3>');
  });
});

describe('helpers', () => {
  const render = (content: string, data: Record<string, unknown>) =>
    buildTemplate(
      { event: 'x', data: Object.fromEntries(Object.keys(data).map((name) => [name, {}])), msgtypes: { text: { content } } },
      'inline',
    ).render('text', data).content;

  it('when eq is used as a block, then it renders the matching branch, not a boolean', () => {
    expect(render('{{#eq level "critical"}}highlight{{else}}normal{{/eq}}', { level: 'critical' })).toBe('highlight');
    expect(render('{{#eq level "critical"}}highlight{{else}}normal{{/eq}}', { level: 'warning' })).toBe('normal');
  });

  it('when eq is used inline or as a sub-expression, then it is the comparison', () => {
    expect(render('{{#if (eq level "critical")}}yes{{else}}no{{/if}} {{eq level "warning"}}', { level: 'critical' })).toBe('yes false');
  });

  it('when a block eq sits inside each, then its branches see the element', () => {
    expect(
      render('{{#each alerts}}{{#eq status "firing"}}!{{name}}{{else}}{{name}}{{/eq}} {{/each}}', {
        alerts: [
          { status: 'firing', name: 'a' },
          { status: 'resolved', name: 'b' },
        ],
      }),
    ).toBe('!a b ');
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

  it('when a declared object lacks a field the template reads, then the render error names it', () => {
    const template = buildTemplate({ event: 'x', data: { who: {} }, msgtypes: { text: { content: 'hello {{who.name}}' } } }, 'inline');
    try {
      template.render('text', { who: {} });
      throw new Error('rendered');
    } catch (error) {
      expect(error).toBeInstanceOf(RenderError);
      expect((error as RenderError).field).toBe('data.name');
    }
  });
});

/** Loads a folder holding this one template file; the problem lines of its TemplateLoadError, or 'loaded'. */
function loadProblems(text: string, name = 'event.yaml'): { file: string; message: string } {
  const dir = mkdtempSync(join(tmpdir(), 'wgw-templates-'));
  const file = join(dir, name);
  writeFileSync(file, text);
  try {
    loadTemplates(dir);
    return { file, message: 'loaded' };
  } catch (error) {
    expect(error).toBeInstanceOf(TemplateLoadError);
    return { file, message: (error as Error).message };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** A template file with one text template (a block: its line 1 is the file's line 11) and the data it declares. */
const withText = (content: string, data = 'title: {}\n  content: {}\n  url: { required: false }') =>
  `event: custom.event\ndata:\n  ${data}\npartials:\n  footer: "{{#if url}}{{url}}{{/if}}"\nmsgtypes:\n  text:\n    content: |-\n${content
    .split('\n')
    .map((line) => `      ${line}`)
    .join('\n')}\n`;

describe('template files: what a mistake says', () => {
  it('when a template has a syntax error, then the whole Handlebars message is shown (excerpt, caret, what was expected) with the file and its line', () => {
    const { file, message } = loadProblems(
      `event: broken\ndata:\n  x: {}\nmsgtypes:\n  text:\n    content: |-\n      line one\n      oops {{#if x}}\n`,
    );
    expect(message).toContain(`${file}:8: msgtypes.text.content: Parse error on line 2:`);
    expect(message).toContain('oops {{#if x}}');
    expect(message).toMatch(/\n\s+-+\^\n/);
    expect(message).toMatch(/Expecting .*got 'EOF'/);
  });

  it('when a block is closed with another name, then the file, its line and both names are shown', () => {
    const { file, message } = loadProblems(withText('{{title}}\n{{#if url}}x{{/iff}}'));
    expect(message).toContain(`${file}:12: msgtypes.text.content: if doesn't match iff - 2:3`);
  });

  it('when a message type is not one WeCom has (card:), then the problem names it, its line and the message types there are', () => {
    const { file, message } = loadProblems(`event: x\nmsgtypes:\n  text:\n    content: hi\n  card:\n    title: hi\n`);
    expect(message).toContain(
      `${file}:5: msgtypes.card: not a message type; use one of text, markdown, ` +
        `markdown_v2, textcard, news, image, file, voice, video, template_card`,
    );
  });

  it('when a key is misspelt at the top or in a data field, then the problem names it and the keys there are', () => {
    const { file, message } = loadProblems(
      `event: x\ndatas:\n  a: {}\ndata:\n  b: { requried: false }\nmsgtypes:\n  text:\n    content: hi\n`,
    );
    expect(message).toContain(
      `${file}:2: datas: not a key of a template file; use one of event, description, ` +
        `defaultMsgtype, priority, callbackUrl, data, mentions, escalation, partials, example, msgtypes`,
    );
    expect(message).toContain(`${file}:5: data.b.requried: not a key of a data field; use one of required, description`);
  });

  it('when a template uses a variable its data does not declare, then it does not load, and the problem names the file, the line and the variable', () => {
    const { file, message } = loadProblems(withText('{{title}}\n{{contnt}}'));
    expect(message).toContain(`${file}:12: msgtypes.text.content: {{contnt}} is not declared under data: (declared: title, content, url)`);
  });

  it('when a partial, a sub-expression, a helper argument or a hash uses an undeclared variable, then each is named', () => {
    const { message } = loadProblems(
      withText('{{title}}{{upper levl}}{{#if (eq sevrity "x")}}!{{/if}}{{> footer}}{{> footer url=lnk}}').replace(
        'footer: "{{#if url}}{{url}}{{/if}}"',
        'footer: "{{#if url}}{{url}}{{/if}}{{hostname}}"',
      ),
    );
    expect(message).toContain('{{levl}} is not declared');
    expect(message).toContain('{{sevrity}} is not declared');
    expect(message).toContain('{{lnk}} is not declared');
    expect(message).toContain('partials.footer (used by msgtypes.text.content): {{hostname}} is not declared');
  });

  it("when a template reads the data's root from inside a block (../title, @root.title), then that name must be declared too", () => {
    const { message } = loadProblems(withText('{{#each content}}{{../titel}}{{@root.titl}}{{/each}}'));
    expect(message).toContain('{{../titel}} is not declared');
    expect(message).toContain('{{@root.titl}} is not declared');
  });

  it('when a template uses a helper or a partial that does not exist, then the problem names it and the ones there are', () => {
    const { message } = loadProblems(withText('{{uper title}} {{> foter}} {{#if (isCritical)}}!{{/if}}'));
    expect(message).toContain('{{isCritical}} is not a helper');
    expect(message).toContain(
      '{{uper}} is not a helper (helpers: default, each, eq, if, join, json, log, lookup, lower, lt, unless, upper, with)',
    );
    expect(message).toContain('{{> foter}}: no partial is named foter (partials: footer)');
  });

  it("when a template reads helpers, this, @index, an element's fields inside each/with, a partial's own arguments or a list item's fields, then it loads", () => {
    const { message } = loadProblems(
      withText(
        '{{upper title}} {{default url "-"}} {{this.title}} {{#each content}}{{@index}} {{name}} {{this}} {{../title}}{{/each}}' +
          '{{#with content}}{{anything}}{{else}}{{title}}{{/with}}{{#each content as |c i|}}{{c.x}}{{i}}{{/each}} {{> footer}} ' +
          '{{> footer url=title}} {{#if (eq title "a")}}{{@root.content}}{{/if}}{{#eq title "b"}}{{content}}{{/eq}}',
      ),
    );
    expect(message).toBe('loaded');
    const list = loadProblems(
      `event: x\ndata:\n  reports: {}\n  card: { required: false }\nmsgtypes:\n  news:\n` +
        `    articles: { each: reports, item: { title: "{{title}}", url: "{{url}}" } }\n` +
        `  template_card:\n    card_type: text_notice\n    task_id: { from: card.taskId }\n`,
    );
    expect(list.message).toBe('loaded');
  });

  it('when a list or a from: reads data that is not declared, then it is named', () => {
    const { file, message } = loadProblems(
      `event: x\ndata:\n  reports: {}\nmsgtypes:\n  news:\n    articles: { each: report, item: { title: "{{title}}" } }\n` +
        `  template_card:\n    card_type: text_notice\n    task_id: { from: crd.taskId }\n`,
    );
    expect(message).toContain(`${file}:6: msgtypes.news.articles.each: report is not declared under data: (declared: reports)`);
    expect(message).toContain(`${file}:9: msgtypes.template_card.task_id.from: crd.taskId is not declared under data: (declared: reports)`);
  });

  it('when templates are mounted as symlinks (a Kubernetes ConfigMap: x.yaml -> ..data/x.yaml), then they load and the ..data folder is not read as a template', () => {
    const dir = mkdtempSync(join(tmpdir(), 'wgw-configmap-'));
    try {
      mkdirSync(join(dir, '..2026_12_07_10_00_00.1'));
      writeFileSync(join(dir, '..2026_12_07_10_00_00.1', 'custom.event.yaml'), withText('{{title}}'));
      symlinkSync('..2026_12_07_10_00_00.1', join(dir, '..data'));
      symlinkSync(join('..data', 'custom.event.yaml'), join(dir, 'custom.event.yaml'));
      expect([...loadTemplates(dir).keys()]).toEqual(['custom.event']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
