import Handlebars from 'handlebars';

/**
 * The Handlebars every event template is compiled with: its own instance, with
 * the helpers templates may call (eq, lt, default, upper, lower, join, json),
 * and the escaping of the fields WeCom renders as HTML.
 */

/**
 * A comparison usable both ways: as a block, `{{#eq a b}}yes{{else}}no{{/eq}}`
 * renders one branch; inline, `{{#if (eq a b)}}`, it is the boolean. (A plain
 * helper used as a block printed `true`/`false` into the markup.)
 */
function comparison(test: (a: unknown, b: unknown) => boolean) {
  return function (this: unknown, a: unknown, b: unknown, options?: Handlebars.HelperOptions) {
    const result = test(a, b);
    if (typeof options?.fn !== 'function') return result;
    return result ? options.fn(this) : options.inverse(this);
  };
}

/**
 * WeCom's textcard description only needs `& < >` escaped (they are what can
 * start markup in HTML text, reference §2.2); it shows the entities Handlebars
 * also makes of `" ' \` =` as written (`instance&#x3D;db1`). Handlebars has no
 * per-instance escape function: there is no compile option for it
 * (handlebars.js#1746) and `hb.Utils` is the module every instance shares, so
 * overriding it would change escaping process-wide. HTML fields therefore use
 * the default escaping and these four are put back: exact on data, whose own
 * `&` is always escaped to `&amp;` (only a template writing these entities
 * itself gets the characters instead).
 */
const RESTORED_ENTITIES: Record<string, string> = { '&quot;': '"', '&#x27;': "'", '&#x60;': '`', '&#x3D;': '=' };
export function escapeOnlyMarkup(html: string): string {
  return html.replace(/&quot;|&#x27;|&#x60;|&#x3D;/g, (entity) => RESTORED_ENTITIES[entity]);
}

/** A line break in an HTML field is mere whitespace to WeCom; a reader expects the break (content "may span several lines"). */
export const asHtmlLines = (html: string) => html.replace(/\r?\n/g, '<br>');

export function createHandlebars(): typeof Handlebars {
  const hb = Handlebars.create();
  hb.registerHelper(
    'eq',
    comparison((a, b) => a === b),
  );
  hb.registerHelper(
    'lt',
    comparison((a, b) => Number(a) < Number(b)),
  );
  hb.registerHelper('default', (value: unknown, fallback: unknown) =>
    value === undefined || value === null || value === '' ? fallback : value,
  );
  hb.registerHelper('upper', (value: unknown) => String(value ?? '').toUpperCase());
  hb.registerHelper('lower', (value: unknown) => String(value ?? '').toLowerCase());
  hb.registerHelper('join', (value: unknown, separator: unknown) =>
    Array.isArray(value) ? value.join(typeof separator === 'string' ? separator : ', ') : String(value ?? ''),
  );
  hb.registerHelper('json', (value: unknown) => JSON.stringify(value));
  return hb;
}
