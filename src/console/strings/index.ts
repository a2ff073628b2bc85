import { ALERT_PAGE } from './alert-page';
import { ALERTS } from './alerts';
import { MESSAGES } from './messages';
import { OVERVIEW } from './overview';
import { PLAYGROUND } from './playground';
import { SCRIPTS } from './scripts';
import { SHELL } from './shell';
import { SYNC } from './sync';

/**
 * Every word the console shows, in English and Chinese: one key, both languages,
 * a file for each page, its English and Chinese side by side. `{name}` is filled
 * in by the page (src/console/locale.ts). Keys under `js.` are handed to the
 * pages' scripts too (public/console/console.js). Names a caller types or reads
 * back (events, msgtypes, errcodes, userids, metric labels) stay as they are in
 * both languages. Each page's keys begin with prefixes of its own, so joining the
 * pages cannot hide one.
 */
const en = { ...SHELL.en, ...OVERVIEW.en, ...MESSAGES.en, ...PLAYGROUND.en, ...ALERTS.en, ...ALERT_PAGE.en, ...SYNC.en, ...SCRIPTS.en };

export type StringKey = keyof typeof en;

const zh: Record<StringKey, string> = {
  ...SHELL.zh,
  ...OVERVIEW.zh,
  ...MESSAGES.zh,
  ...PLAYGROUND.zh,
  ...ALERTS.zh,
  ...ALERT_PAGE.zh,
  ...SYNC.zh,
  ...SCRIPTS.zh,
};

export const STRINGS = { en, zh } as const;
