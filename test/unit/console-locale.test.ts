import { consoleLocale, requestedLang, scriptStrings, translator } from '../../src/console/locale';
import { STRINGS } from '../../src/console/strings';

const placeholders = (text: string) => [...text.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();

describe('the console in English and Chinese', () => {
  it('when a string is in one language, then it is in the other, with the same placeholders and not left empty', () => {
    expect(Object.keys(STRINGS.zh).sort()).toEqual(Object.keys(STRINGS.en).sort());
    for (const [key, english] of Object.entries(STRINGS.en)) {
      const chinese = STRINGS.zh[key as keyof typeof STRINGS.en];
      expect([key, placeholders(chinese)]).toEqual([key, placeholders(english)]);
      expect([key, chinese.trim() === '' || english.trim() === '']).toEqual([key, false]);
    }
  });

  it('when a Chinese string is a sentence, then it is written in Chinese, not left in English', () => {
    // Names and units may stay as they are (ID, JSON, 4xx); a Chinese line has some Chinese in it.
    const english = Object.entries(STRINGS.zh).filter(
      ([, text]) => !/[\u4e00-\u9fff]/.test(text.replace(/\{\w+\}/g, '')) && !/^(ID|\{\w+\})$/.test(text),
    );
    expect(english).toEqual([]);
  });

  it.each([
    ['zh-CN,zh;q=0.9,en;q=0.8', 'zh'],
    ['zh-TW', 'zh'],
    ['en-US,en;q=0.9', 'en'],
    ['en-US;q=0.5, zh-CN', 'zh'],
    ['fr-FR, zh;q=0.5', 'zh'],
    ['fr-FR, de', 'en'],
    ['', 'en'],
  ])('when the browser asks for %s, then the console speaks %s', (header, lang) => {
    expect(requestedLang(undefined, undefined, header)).toBe(lang);
  });

  it('when a language was chosen with ?lang= or is kept in the cookie, then it wins over the browser’s', () => {
    expect(requestedLang('en', 'wgw_console_lang=zh', 'zh-CN')).toBe('en');
    expect(requestedLang(undefined, 'other=1; wgw_console_lang=zh', 'en-US')).toBe('zh');
    expect(requestedLang('fr', 'wgw_console_lang=xx', 'zh-CN')).toBe('zh'); // neither is a language the console has
  });

  it('when a string has placeholders, then they are filled in', () => {
    expect(translator('en')('sync.replayed', { change: 'c1', sink: 'hr' })).toBe("change c1 is back in hr's line");
    expect(translator('zh')('sync.replayed', { change: 'c1', sink: 'hr' })).toBe('变更 c1 已重新排入 hr 的队列');
  });

  it('when a time is shown, then it is 24-hour in the configured zone, midnight as 00', () => {
    expect(consoleLocale('en', 'Asia/Shanghai').time('2026-11-24T07:05:09Z')).toBe('2026-11-24 15:05:09');
    expect(consoleLocale('zh', 'America/New_York').time(Date.UTC(2026, 0, 2, 5, 0, 0))).toBe('2026-01-02 00:00:00');
  });

  it('when a page hands its scripts their strings, then they are the js. ones of its language only', () => {
    const zh = scriptStrings('zh');
    expect(zh['js.nothing']).toBe(STRINGS.zh['js.nothing']);
    expect(Object.keys(zh).every((k) => k.startsWith('js.'))).toBe(true);
  });
});
