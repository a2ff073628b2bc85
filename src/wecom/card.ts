/**
 * What WeCom accepts in a template card (reference §2.3, §2.4, §15). Flows decide
 * what a card says; this file knows what WeCom takes and how long a card can be
 * updated. wecom/limits.ts applies these facts to a rendered card.
 */

/** A task_id: 1 to 128 of [0-9A-Za-z_-@], unique per app; all ASCII, so bytes are characters. */
export const TASK_ID = /^[0-9A-Za-z_\-@]{1,128}$/;

/** At most this many buttons and horizontal items on one card; a button key is echoed back as EventKey. */
export const CARD_LIMITS = { buttons: 6, horizontalItems: 6, keyBytes: 1024 } as const;

/** Characters of a card's texts, after WeCom's documented advice (an item key may hold a host:port, longer than its advice of 5). */
export const CARD_TEXT_CHARS = { title: 36, desc: 44, subTitle: 160, keyname: 24, value: 30 } as const;

/** A button's look: 1 primary, 2 secondary, 3 link-like. */
export const BUTTON_STYLE = { primary: 1, secondary: 2, link: 3 } as const;

/** A button of type 1 opens its url; every other button calls back with its key. */
export const BUTTON_OPENS_URL = 1;

/**
 * A send's or a click's response_code updates the card once (update_template_card),
 * for 72 h (reference §2.3; 24 h in older documents).
 */
export const RESPONSE_CODE_LIFETIME_MS = 72 * 3_600_000;
