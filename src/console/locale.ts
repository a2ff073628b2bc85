import { STRINGS, type StringKey } from './strings';

export type Lang = keyof typeof STRINGS;
export const LANGS = Object.keys(STRINGS) as Lang[];
export type { StringKey };

/** The cookie that keeps a language chosen with `?lang=` (the browser's own choice otherwise). */
export const LANG_COOKIE = 'wgw_console_lang';

export type Translate = (key: StringKey, vars?: Record<string, string | number>) => string;

/**
 * What a console page is drawn with: its language, and the one time convention of
 * every table, card and chart on it (24-hour, in ALERT_TIMEZONE, as alert cards are).
 */
export interface ConsoleLocale {
  lang: Lang;
  t: Translate;
  timeZone: string;
  /** `2026-11-24 10:00:05` in the time zone. */
  time(at: number | string): string;
}

const isLang = (value: unknown): value is Lang => typeof value === 'string' && (LANGS as string[]).includes(value);

/**
 * The language a request asks for: `?lang=`, else the cookie a `?lang=` left, else
 * the first of the browser's languages (Accept-Language, by weight) that is Chinese
 * (`zh`, `zh-CN`, `zh-Hant`…) or English; English when neither is there.
 */
export function requestedLang(query: unknown, cookieHeader: string | undefined, acceptLanguage: string | undefined): Lang {
  if (isLang(query)) return query;
  const cookie = new RegExp(`(?:^|;\\s*)${LANG_COOKIE}=([a-z]+)`).exec(cookieHeader ?? '')?.[1];
  if (isLang(cookie)) return cookie;
  const ranked = (acceptLanguage ?? '')
    .split(',')
    .map((part, order) => {
      const [tag, ...params] = part.trim().toLowerCase().split(';');
      const q = Number(/^\s*q=([\d.]+)/.exec(params.join(';'))?.[1] ?? 1);
      return { tag, q: Number.isFinite(q) ? q : 0, order };
    })
    .filter((l) => l.q > 0)
    .sort((a, b) => b.q - a.q || a.order - b.order);
  const first = ranked.find((l) => /^(zh|en)\b/.test(l.tag));
  return first?.tag.startsWith('zh') ? 'zh' : 'en';
}

export function translator(lang: Lang): Translate {
  const table: Record<StringKey, string> = STRINGS[lang];
  // A key missing at run time (a value cast to a key, e.g. a new outcome) is shown as the key rather than failing the page.
  return (key, vars = {}) =>
    (table[key] ?? key).replace(/\{(\w+)\}/g, (whole, name: string) => (name in vars ? String(vars[name]) : whole));
}

export function consoleLocale(lang: Lang, timeZone: string): ConsoleLocale {
  // sv-SE writes ISO-like dates and 24-hour times; h23 so that midnight is 00, never 24.
  const format = new Intl.DateTimeFormat('sv-SE', {
    timeZone,
    year: 'numeric',
    month: '2-digit',
    day: '2-digit',
    hour: '2-digit',
    minute: '2-digit',
    second: '2-digit',
    hourCycle: 'h23',
  });
  return { lang, t: translator(lang), timeZone, time: (at) => format.format(new Date(at)) };
}

/** The strings the pages' scripts use (the `js.` keys), for the page to hand them over. */
export function scriptStrings(lang: Lang): Record<string, string> {
  return Object.fromEntries(Object.entries(STRINGS[lang]).filter(([key]) => key.startsWith('js.')));
}
