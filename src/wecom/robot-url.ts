/** WeCom's robot keys are UUIDs; anything of their alphabet is accepted. */
const ROBOT_KEY = /^[A-Za-z0-9-]{1,128}$/;
/** Where a robot's messages go (reference §13): `<API base>/cgi-bin/webhook/send?key=KEY`. */
const WEBHOOK_PATH = '/cgi-bin/webhook/send';

/**
 * One robot's key, from what users paste: the key itself, or the whole webhook
 * URL (`…/cgi-bin/webhook/send?key=KEY`), which must point at one of `bases`.
 * Answers the key and the base it is called at, or why not, never quoting the
 * value (a robot key is a credential).
 */
export function parseRobotKey(value: string, bases: string[], defaultBase: string): { key: string; apiBase: string } | string {
  const text = value.trim();
  if (ROBOT_KEY.test(text)) return { key: text, apiBase: defaultBase };
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return 'is neither a robot key nor a webhook URL';
  }
  const key = url.searchParams.get('key') ?? '';
  const apiBase = `${url.origin}${url.pathname.slice(0, -WEBHOOK_PATH.length)}`.replace(/\/+$/, '');
  if (!url.pathname.endsWith(WEBHOOK_PATH) || !bases.includes(apiBase))
    return `must be a webhook URL of ${bases.join(' or ')} (${bases[0]}${WEBHOOK_PATH}?key=…)`;
  if (!ROBOT_KEY.test(key)) return 'has no valid key= in its URL';
  return { key, apiBase };
}
