import { chatPayload, robotImage, robotPayload, splitLongText, toChatMessages, toRobotMessages } from '../../src/wecom/chat-message';
import { expectLimit } from '../support/limits';
import { TRUNCATION_MARK } from '../../src/wecom/limits';

const bytes = (text: string) => Buffer.byteLength(text, 'utf8');
const SUFFIX = /\n\((\d+)\/(\d+)\)$/;

/** Checks what every split must hold, and returns the parts without their numbers. */
function checkParts(text: string, parts: string[], maxBytes: number): string[] {
  const pieces = parts.map((part, i) => {
    expect(bytes(part)).toBeLessThanOrEqual(maxBytes);
    // Round-trips through UTF-8: no half of a surrogate pair, no U+FFFD.
    expect(Buffer.from(part, 'utf8').toString('utf8')).toBe(part);
    expect(part).not.toContain('\uFFFD');
    const suffix = SUFFIX.exec(part);
    expect(suffix).not.toBeNull();
    expect([Number(suffix![1]), Number(suffix![2])]).toEqual([i + 1, parts.length]);
    return part.slice(0, suffix!.index);
  });
  // Joined, the pieces are the text less one line break at each line cut.
  let pos = 0;
  pieces.forEach((piece, i) => {
    expect(text.startsWith(piece, pos)).toBe(true);
    pos += piece.length;
    if (i < pieces.length - 1 && text[pos] === '\n') pos++;
  });
  expect(pos).toBe(text.length);
  return pieces;
}

describe('splitLongText', () => {
  it('when the text fits, then it is the one part, unnumbered', () => {
    expect(splitLongText('abc', 3)).toEqual(['abc']);
    expect(splitLongText('一', 3)).toEqual(['一']);
  });

  it('when lines fit, then parts are cut at the last line break that fits, which is dropped', () => {
    // 13 bytes less 6 for "\n(i/3)" leave 7: one 4-byte line per part, never two (9).
    expect(splitLongText('aaaa\nbbbb\ncccc', 13)).toEqual(['aaaa\n(1/3)', 'bbbb\n(2/3)', 'cccc\n(3/3)']);
    // The text is 19 bytes; 16 leave 10: "aaaa\nbbbb" (9) fits, a third line (14) does not.
    expect(splitLongText('aaaa\nbbbb\ncccc\ndddd', 16)).toEqual(['aaaa\nbbbb\n(1/2)', 'cccc\ndddd\n(2/2)']);
  });

  it('when a single line is longer than the budget, then it is cut between 3-byte Chinese characters', () => {
    // 16 - 6 = 10 bytes: three characters (9), never three and a third.
    const parts = splitLongText('一二三四五六七八九十', 16);
    expect(parts).toEqual(['一二三\n(1/4)', '四五六\n(2/4)', '七八九\n(3/4)', '十\n(4/4)']);
    checkParts('一二三四五六七八九十', parts, 16);
  });

  it('when an emoji (4 bytes, a surrogate pair) meets the boundary, then it is never split', () => {
    // 14 - 6 = 8 bytes: "a😀" is 5, "a😀😀" would be 9.
    const text = `a${'😀'.repeat(5)}`;
    const parts = splitLongText(text, 14);
    expect(parts).toEqual(['a😀\n(1/3)', '😀😀\n(2/3)', '😀😀\n(3/3)']);
    checkParts(text, parts, 14);
  });

  it('when a line break sits right after the fitting run, then the cut is there', () => {
    // 11 bytes; budget 4 (10 - 6): "abcd" fits and is followed by the break; "efghij" has none and is cut.
    expect(splitLongText('abcd\nefghij', 10)).toEqual(['abcd\n(1/3)', 'efgh\n(2/3)', 'ij\n(3/3)']);
  });

  it('when the text holds mixed scripts, emoji and line breaks, then every part fits, in order, and nothing is lost', () => {
    const alphabet = ['a', 'Z', ' ', '\n', '\n\n', 'é', '一', '警', '😀', '👍🏽', '𝄞', '#'];
    let seed = 42;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    for (let round = 0; round < 200; round++) {
      const length = 20 + Math.floor(random() * 400);
      let text = '';
      for (let i = 0; i < length; i++) text += alphabet[Math.floor(random() * alphabet.length)];
      // 24 bytes hold a 4-digit number (12) and 12 bytes of text.
      const maxBytes = 24 + Math.floor(random() * 120);
      const parts = splitLongText(text, maxBytes, 10_000);
      if (bytes(text) <= maxBytes) expect(parts).toEqual([text]);
      else checkParts(text, parts, maxBytes);
    }
  });

  it('when there are 10 parts, then each reserves the two-digit number "(10/10)"', () => {
    // With one digit reserved (14 bytes), each 12-byte line is a part: 10 parts, so two digits are needed: 20 - 8 = 12 still holds a line.
    const text = Array.from({ length: 10 }, () => 'x'.repeat(12)).join('\n');
    const parts = splitLongText(text, 20, 20);
    expect(parts).toHaveLength(10);
    expect(parts[0]).toBe(`${'x'.repeat(12)}\n(1/10)`);
    expect(parts[9]).toBe(`${'x'.repeat(12)}\n(10/10)`);
    checkParts(text, parts, 20);
  });

  it('when two digits leave no room for a whole line, then lines are cut and each part still fits', () => {
    // 13-byte lines fit 14 bytes (10 parts) but not 12: each line becomes 12 + 1 bytes, 20 parts.
    const text = Array.from({ length: 10 }, () => 'x'.repeat(13)).join('\n');
    const parts = splitLongText(text, 20, 20);
    expect(parts).toHaveLength(20);
    expect(parts[0]).toBe(`${'x'.repeat(12)}\n(1/20)`);
    expect(parts[1]).toBe('x\n(2/20)');
    checkParts(text, parts, 20);
  });

  it('when more than maxParts parts are needed, then the last is cut with the truncation mark before its number', () => {
    // Budget 7: one line a part, 7 needed; the fifth holds "eeee" and the mark (3 bytes).
    const parts = splitLongText('aaaa\nbbbb\ncccc\ndddd\neeee\nffff\ngggg', 13);
    expect(parts).toEqual(['aaaa\n(1/5)', 'bbbb\n(2/5)', 'cccc\n(3/5)', 'dddd\n(4/5)', `eeee${TRUNCATION_MARK}\n(5/5)`]);
    parts.forEach((part) => expect(bytes(part)).toBeLessThanOrEqual(13));
  });

  it('when maxParts is given, then it is the cap', () => {
    const text = '一'.repeat(100);
    const parts = splitLongText(text, 16, 3);
    expect(parts).toHaveLength(3);
    expect(parts[2]).toMatch(new RegExp(`${TRUNCATION_MARK}\\n\\(3/3\\)$`));
    parts.forEach((part) => expect(bytes(part)).toBeLessThanOrEqual(16));
  });

  it('when maxParts is 1, then the text is only cut, without a number', () => {
    expect(splitLongText('abcdef', 4, 1)).toEqual([`a${TRUNCATION_MARK}`]);
  });

  it('when maxBytes leaves no room for a character and a number, then it throws', () => {
    expect(() => splitLongText('abcdefghijkl', 9)).toThrow(RangeError);
  });
});

describe('toRobotMessages', () => {
  const everyone = { users: ['zhangsan', '@all'], mobiles: ['13800000000'] };

  it('when a text mentions users, @all and mobiles, then the lists ride along', () => {
    expect(toRobotMessages('text', { content: 'hi' }, everyone)).toEqual([
      { msgtype: 'text', body: { content: 'hi', mentioned_list: ['zhangsan', '@all'], mentioned_mobile_list: ['13800000000'] } },
    ]);
    expect(toRobotMessages('text', { content: 'hi' })).toEqual([{ msgtype: 'text', body: { content: 'hi' } }]);
  });

  it('when a text is over 2048 bytes, then it is split there and only the last part pings', () => {
    const messages = toRobotMessages('text', { content: '一'.repeat(1000) }, { users: ['zhangsan'] });
    expect(messages).toHaveLength(2);
    expect(messages[0].body).toEqual({ content: expect.stringMatching(/\n\(1\/2\)$/) });
    expect(messages[1].body).toEqual({ content: expect.stringMatching(/\n\(2\/2\)$/), mentioned_list: ['zhangsan'] });
    messages.forEach((m) => expect(bytes(m.body.content as string)).toBeLessThanOrEqual(2048));
  });

  it('when a text is empty, then it is refused', () => {
    expectLimit(() => toRobotMessages('text', { content: ' ' }), 'text.content', /must not be empty/);
  });

  it('when a markdown mentions users, then <@userid> ends it on a line of its own', () => {
    expect(toRobotMessages('markdown', { content: '# Disk full' }, { users: ['a', 'b'] })).toEqual([
      { msgtype: 'markdown', body: { content: '# Disk full\n<@a> <@b>' } },
    ]);
  });

  it('when a markdown is over 4096 bytes (not 2048), then it is split and the mentions stay at the end of the last part', () => {
    expect(toRobotMessages('markdown', { content: 'x'.repeat(4000) })).toHaveLength(1);
    const content = Array.from({ length: 300 }, (_, i) => `- line ${i} ${'警'.repeat(10)}`).join('\n');
    const messages = toRobotMessages('markdown', { content }, { users: ['zhangsan'] });
    expect(messages.length).toBeGreaterThan(1);
    messages.forEach((m, i) => {
      expect(m.msgtype).toBe('markdown');
      expect(bytes(m.body.content as string)).toBeLessThanOrEqual(4096);
      expect((m.body.content as string).includes('<@zhangsan>')).toBe(i === messages.length - 1);
    });
    expect(messages[messages.length - 1].body.content).toMatch(new RegExp(`\\n<@zhangsan>\\n\\(${messages.length}/${messages.length}\\)$`));
  });

  it.each([{ users: ['@all'] }, { mobiles: ['13800000000'] }])('when a markdown mentions %j, then it is refused', (mentions) => {
    expectLimit(
      () => toRobotMessages('markdown', { content: 'x' }, mentions),
      'mentions',
      'a robot markdown message can @mention userids only, not @all or mobiles: send it as text',
    );
  });

  it('when a markdown_v2 comes, then it stays markdown_v2, split at 4096; with mentions it is refused', () => {
    expect(toRobotMessages('markdown_v2', { content: '| a | b |' })).toEqual([{ msgtype: 'markdown_v2', body: { content: '| a | b |' } }]);
    expect(toRobotMessages('markdown_v2', { content: 'y'.repeat(5000) })).toHaveLength(2);
    expectLimit(
      () => toRobotMessages('markdown_v2', { content: 'x' }, { users: ['a'] }),
      'mentions',
      'markdown_v2 cannot @mention anyone: send it as text or markdown',
    );
  });

  it('when a textcard comes, then it becomes markdown: bold title, colored divs on their own lines, decoded entities, a link', () => {
    const description =
      '<div class="gray">2024-01-01</div> <div class="normal">db1 at 95%</div><div class="highlight">act &amp; fix &lt;now&gt;</div>';
    expect(toRobotMessages('textcard', { title: 'Disk full', description, url: 'https://grafana.example/d', btntxt: '查看' })).toEqual([
      {
        msgtype: 'markdown',
        body: {
          content:
            '**Disk full**\n<font color="comment">2024-01-01</font>\ndb1 at 95%\n' +
            '<font color="warning">act & fix <now></font>\n\n[查看](https://grafana.example/d)',
        },
      },
    ]);
  });

  it('when a textcard has <br>, other tags and no btntxt, then breaks are lines, tags go, and the button reads 详情', () => {
    const description = 'line1<br/>line2 <b>bold</b><br>x &quot;q&quot; &#39;s&#39; 1 < 2';
    expect(toRobotMessages('textcard', { title: 'T', description, url: 'https://x.example' }, { users: ['lisi'] })).toEqual([
      { msgtype: 'markdown', body: { content: '**T**\nline1\nline2 bold\nx "q" \'s\' 1 < 2\n\n[详情](https://x.example)\n<@lisi>' } },
    ]);
  });

  it('when a textcard has no http(s) url or mentions @all, then it is refused', () => {
    expectLimit(() => toRobotMessages('textcard', { title: 'T', description: 'd', url: 'ftp://x' }), 'textcard.url', /http\(s\)/);
    expectLimit(
      () => toRobotMessages('textcard', { title: 'T', description: 'd', url: 'https://x' }, { users: ['@all'] }),
      'mentions',
      /userids only/,
    );
  });

  it('when a news comes, then articles keep title, description, url and picurl, with the app truncation', () => {
    const article = {
      title: 't',
      description: 'd',
      url: 'https://a.example',
      picurl: 'https://p.example/1.png',
      appid: 'wx1',
      pagepath: 'pages/x',
    };
    const [message] = toRobotMessages('news', { articles: [article, { title: '标'.repeat(50), url: 'http://b.example' }] });
    expect(message.msgtype).toBe('news');
    const articles = message.body.articles as Array<Record<string, unknown>>;
    expect(articles[0]).toEqual({ title: 't', description: 'd', url: 'https://a.example', picurl: 'https://p.example/1.png' });
    expect(Object.keys(articles[0]).sort()).toEqual(['description', 'picurl', 'title', 'url']);
    // 150 bytes of title cut to 128: 41 characters (123 bytes) and the 3-byte mark.
    expect(articles[1]).toEqual({ title: `${'标'.repeat(41)}${TRUNCATION_MARK}`, url: 'http://b.example' });
  });

  it('when a news article opens a mini program only, or there are 0 or 9 articles, then it is refused', () => {
    const ok = { title: 't', url: 'https://a.example' };
    expectLimit(
      () => toRobotMessages('news', { articles: [ok, { title: 'm', appid: 'wx1', pagepath: 'p' }] }),
      'news.articles.1.url',
      'a robot news article needs a url (robots cannot open mini programs)',
    );
    expectLimit(() => toRobotMessages('news', { articles: [] }), 'news.articles', /1 to 8/);
    expectLimit(() => toRobotMessages('news', { articles: Array.from({ length: 9 }, () => ok) }), 'news.articles', /1 to 8/);
  });

  it('when an image comes with its picture, then the body is the source alone (the worker makes base64+md5)', () => {
    expect(toRobotMessages('image', { media: { url: 'https://x/p.png' }, media_id: 'm1' })).toEqual([
      { msgtype: 'image', body: { media: { url: 'https://x/p.png' } } },
    ]);
    expect(toRobotMessages('image', { media: { base64: 'iVBO', filename: 'p.png' } }, { users: [], mobiles: [] })).toEqual([
      { msgtype: 'image', body: { media: { base64: 'iVBO', filename: 'p.png' } } },
    ]);
  });

  it('when an image has only a media_id, then it is refused', () => {
    expectLimit(
      () => toRobotMessages('image', { media_id: 'm1' }),
      'image',
      'a robot image needs the picture itself (url or base64), not a media_id',
    );
  });

  it.each(['file', 'voice'])('when a %s comes, then it stays that type from its source; a media_id alone is refused', (msgtype) => {
    expect(toRobotMessages(msgtype, { media: { url: 'https://x/f', filename: 'f.amr' } })).toEqual([
      { msgtype, body: { media: { url: 'https://x/f', filename: 'f.amr' } } },
    ]);
    expectLimit(() => toRobotMessages(msgtype, { media_id: 'm1' }), msgtype, /not a media_id/);
  });

  it('when a video comes, then it goes as a file; a media_id alone is refused', () => {
    expect(toRobotMessages('video', { media: { url: 'https://x/v.mp4' }, title: 'v' })).toEqual([
      { msgtype: 'file', body: { media: { url: 'https://x/v.mp4' } } },
    ]);
    expectLimit(() => toRobotMessages('video', { media_id: 'm1' }), 'video', /not a media_id/);
  });

  it.each(['text_notice', 'news_notice'])('when a %s card comes, then it passes as it is', (card_type) => {
    const body = { card_type, main_title: { title: 'CPU high' }, card_action: { type: 1, url: 'https://x' } };
    expect(toRobotMessages('template_card', body)).toEqual([{ msgtype: 'template_card', body }]);
  });

  it('when an interactive card comes, or a notice with an action menu, then it is refused', () => {
    expectLimit(
      () => toRobotMessages('template_card', { card_type: 'button_interaction' }),
      'template_card.card_type',
      'robots take text_notice and news_notice cards only, not interactive cards',
    );
    expectLimit(
      () => toRobotMessages('template_card', { card_type: 'text_notice', action_menu: { desc: 'x', action_list: [] } }),
      'template_card.action_menu',
      /action menu/,
    );
  });

  it.each([
    ['news', { articles: [{ title: 't', url: 'https://a' }] }],
    ['image', { media: { url: 'https://x/p.png' } }],
    ['file', { media: { url: 'https://x/f' } }],
    ['voice', { media: { url: 'https://x/f' } }],
    ['video', { media: { url: 'https://x/f' } }],
    ['template_card', { card_type: 'text_notice' }],
  ])('when a %s mentions someone, then it is refused', (msgtype, body) => {
    expectLimit(
      () => toRobotMessages(msgtype, body, { users: ['a'] }),
      'mentions',
      `a robot ${msgtype} message cannot @mention: send it as text or markdown`,
    );
  });

  it.each(['mpnews', 'miniprogram_notice', 'link'])('when a %s comes, then robots cannot take it', (msgtype) => {
    expectLimit(() => toRobotMessages(msgtype, {}), 'msgtype', `robots cannot take ${msgtype}`);
  });
});

describe('toChatMessages', () => {
  it('when a text mentions users and @all, then mentioned_list rides on the last part; mobiles are refused', () => {
    expect(toChatMessages('text', { content: 'hi' }, { users: ['a', '@all'] })).toEqual([
      { msgtype: 'text', body: { content: 'hi', mentioned_list: ['a', '@all'] } },
    ]);
    const parts = toChatMessages('text', { content: 'z'.repeat(3000) }, { users: ['a'] });
    expect(parts.map((p) => p.body.mentioned_list)).toEqual([undefined, ['a']]);
    expectLimit(
      () => toChatMessages('text', { content: 'hi' }, { mobiles: ['13800000000'] }),
      'mentions',
      'app group chats mention by userid only',
    );
  });

  it('when a markdown is over 2048 bytes, then it is split at 2048 (the app limit), with <@userid> at the end', () => {
    const parts = toChatMessages('markdown', { content: 'z'.repeat(3000) }, { users: ['a'] });
    expect(parts).toHaveLength(2);
    parts.forEach((p) => expect(bytes(p.body.content as string)).toBeLessThanOrEqual(2048));
    expect(parts[1].body.content).toMatch(/\n<@a>\n\(2\/2\)$/);
    expect(toChatMessages('markdown', { content: '**x**' }, { users: ['a'] })).toEqual([
      { msgtype: 'markdown', body: { content: '**x**\n<@a>' } },
    ]);
  });

  it('when a markdown mentions @all or mobiles, then it is refused', () => {
    expectLimit(() => toChatMessages('markdown', { content: 'x' }, { users: ['@all'] }), 'mentions', /userids only, not @all/);
    expectLimit(
      () => toChatMessages('markdown', { content: 'x' }, { mobiles: ['1'] }),
      'mentions',
      'app group chats mention by userid only',
    );
  });

  it('when a textcard or news comes, then the app limits apply and the type stays', () => {
    const [card] = toChatMessages('textcard', {
      title: 'T',
      description: '<div class="gray">d</div>',
      url: 'https://x',
      btntxt: '查看详情啊',
    });
    expect(card).toEqual({
      msgtype: 'textcard',
      body: { title: 'T', description: '<div class="gray">d</div>', url: 'https://x', btntxt: '查看详情' },
    });
    // App group chats take mini-program articles.
    const article = { title: 't', appid: 'wx1', pagepath: 'p' };
    expect(toChatMessages('news', { articles: [article] })).toEqual([{ msgtype: 'news', body: { articles: [article] } }]);
    expectLimit(() => toChatMessages('textcard', { title: 'T', url: 'https://x' }), 'textcard.description', /must not be empty/);
  });

  it.each(['image', 'file', 'voice', 'video'])('when a %s comes, then it passes (media_id or source) and cannot @mention', (msgtype) => {
    expect(toChatMessages(msgtype, { media_id: 'm1' })).toEqual([{ msgtype, body: { media_id: 'm1' } }]);
    expectLimit(
      () => toChatMessages(msgtype, { media_id: 'm1' }, { users: ['a'] }),
      'mentions',
      `an app group chat ${msgtype} message cannot @mention: send it as text or markdown`,
    );
  });

  it.each(['template_card', 'markdown_v2', 'mpnews', 'miniprogram_notice'])(
    'when a %s comes, then app group chats cannot take it',
    (msgtype) => {
      expectLimit(
        () => toChatMessages(msgtype, { content: 'x', card_type: 'text_notice' }),
        'msgtype',
        `app group chats cannot take ${msgtype}`,
      );
    },
  );
});

describe('robotImage', () => {
  const png = Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), Buffer.from('hello')]);

  it('when a PNG comes, then it is base64 and the md5 of its raw bytes', () => {
    // Both computed with base64(1) and md5sum(1) over the same 13 bytes.
    expect(robotImage(png)).toEqual({ base64: 'iVBORw0KGgpoZWxsbw==', md5: '430f6c1039fa71d5bf7f1e717dfb5f63' });
  });

  it('when a JPG comes, then it is taken', () => {
    expect(typeof robotImage(Buffer.from([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]))).toBe('object');
  });

  it('when a GIF or nothing comes, then the answer says it must be JPG or PNG', () => {
    expect(robotImage(Buffer.from('GIF89a....'))).toMatch(/JPG or PNG/);
    expect(robotImage(Buffer.alloc(0))).toMatch(/JPG or PNG/);
  });

  it('when a picture is over 2 MB, then it is refused; 2 MB exactly is taken', () => {
    const sized = (size: number) => Buffer.concat([png.subarray(0, 8), Buffer.alloc(size - 8)]);
    expect(typeof robotImage(sized(2 * 1024 * 1024))).toBe('object');
    expect(robotImage(sized(2 * 1024 * 1024 + 1))).toMatch(/at most 2 MB/);
  });
});

describe('payloads', () => {
  const message = { msgtype: 'text', body: { content: 'hi' } };

  it('when a robot message is sent, then its body sits under its msgtype', () => {
    expect(robotPayload(message)).toEqual({ msgtype: 'text', text: { content: 'hi' } });
  });

  it('when a chat message is sent, then it names the chat and is shareable (safe 0)', () => {
    expect(chatPayload('ops1', message)).toEqual({ chatid: 'ops1', msgtype: 'text', text: { content: 'hi' }, safe: 0 });
  });
});
