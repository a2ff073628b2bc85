import { escapeHtml } from '../ops/html';
import { LANGS, scriptStrings, translator, type ConsoleLocale } from './locale';

export interface NavItem {
  path: string;
  title: string;
}

/** `<html lang>` per console language. */
const HTML_LANG = { en: 'en', zh: 'zh-CN' } as const;

/**
 * The console's page shell: one stylesheet, the navigation, the language switch and
 * the time zone every time on the page is in, scripts from `assets/` only (helmet's
 * CSP allows no inline script; console.js hands them the page's strings), no CDN:
 * it works offline. `here` is the page's own query, kept when switching language.
 */
export function consolePage(options: {
  basePath: string;
  nav: NavItem[];
  active: string;
  title: string;
  body: string;
  locale: ConsoleLocale;
  here?: URLSearchParams;
  scripts?: string[];
  stylesheets?: string[];
  notice?: string;
  refreshSeconds?: number;
}): string {
  const { basePath, nav, active, locale } = options;
  const links = nav
    .map(
      (n) => `<a href="${basePath}${n.path}"${n.path === active ? ' class="active" aria-current="page"' : ''}>${escapeHtml(n.title)}</a>`,
    )
    .join('');
  const switches = LANGS.filter((lang) => lang !== locale.lang).map((lang) => {
    const query = new URLSearchParams(options.here);
    query.set('lang', lang);
    const name = escapeHtml(translator(lang)('lang.name'));
    return `<a href="?${escapeHtml(query.toString())}" hreflang="${lang}" lang="${HTML_LANG[lang]}">${name}</a>`;
  });
  const stylesheets = (options.stylesheets ?? []).map((s) => `<link rel="stylesheet" href="${basePath}/assets/${s}">`).join('');
  const scripts = ['console.js', ...(options.scripts ?? [])].map((s) => `<script src="${basePath}/assets/${s}" defer></script>`).join('');
  const viewport = '<meta name="viewport" content="width=device-width, initial-scale=1">';
  const refresh = options.refreshSeconds ? `<meta http-equiv="refresh" content="${options.refreshSeconds}">` : '';
  const strings = escapeHtml(JSON.stringify(scriptStrings(locale.lang)));
  const body = `<body data-base="${escapeHtml(basePath)}" data-time-zone="${escapeHtml(locale.timeZone)}" data-strings="${strings}">`;
  const times = escapeHtml(locale.t('times.note', { zone: locale.timeZone }));
  const header =
    `<header><b class="brand">wecom-gateway</b><nav>${links}</nav><span class="meta times">${times}</span>` +
    `<span class="langs">${switches.join(' ')}</span></header>`;
  return `<!doctype html>
<html lang="${HTML_LANG[locale.lang]}"><head><meta charset="utf-8">${viewport}${refresh}
<title>${escapeHtml(options.title)} · wecom-gateway</title>
<link rel="icon" href="data:,"><link rel="stylesheet" href="${basePath}/assets/console.css">${stylesheets}${scripts}</head>
${body}${header}
<main>${options.notice ? `<p class="notice" role="status">${escapeHtml(options.notice)}</p>` : ''}<h1>${escapeHtml(options.title)}</h1>
${options.body}</main></body></html>`;
}

/** A POST button (a form of its own): actions that change something never hide behind a link. */
export function actionButton(action: string, label: string, className = '', fields: Record<string, string> = {}): string {
  const hidden = Object.entries(fields)
    .map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`)
    .join('');
  const button = `<button type="submit" class="${escapeHtml(className)}">${escapeHtml(label)}</button>`;
  return `<form method="post" action="${escapeHtml(action)}" class="inline">${hidden}${button}</form>`;
}

export function table(headers: string[], rows: string[], empty: string): string {
  return (
    `<table><thead><tr>${headers.map((h) => `<th>${escapeHtml(h)}</th>`).join('')}</tr></thead>` +
    `<tbody>${rows.join('\n') || `<tr><td colspan="${headers.length}" class="empty">${escapeHtml(empty)}</td></tr>`}</tbody></table>`
  );
}

export const json = (value: unknown) => `<pre class="payload">${escapeHtml(JSON.stringify(value, null, 2))}</pre>`;
