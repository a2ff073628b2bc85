import { CompatErrcode, CompatError } from './answers';

/** Where WeCom's API lives: the gateway answers it under the same path, so a tool changes only its base URL. */
export const COMPAT_BASE = '/cgi-bin';

/** The WeCom APIs the gateway answers, by their path under /cgi-bin/, and the methods each takes. */
export const COMPAT_APIS = {
  gettoken: { path: 'gettoken', methods: ['get', 'post'] },
  messageSend: { path: 'message/send', methods: ['post'] },
  appchatSend: { path: 'appchat/send', methods: ['post'] },
  recall: { path: 'message/recall', methods: ['post'] },
  mediaUpload: { path: 'media/upload', methods: ['post'] },
  robotSend: { path: 'webhook/send', methods: ['post'] },
  robotUpload: { path: 'webhook/upload_media', methods: ['post'] },
} as const;

export type CompatApi = keyof typeof COMPAT_APIS;

/** The route path of one API (`/cgi-bin/message/send`). */
export const compatPath = (api: CompatApi) => `${COMPAT_BASE}/${COMPAT_APIS[api].path}`;

/** APIs left out on purpose, with the reason the caller reads. */
const NOT_OFFERED: Record<string, string> = {
  'message/update_template_card':
    "a card update names the response_code of WeCom's own answer to message/send, which the gateway keeps: the caller " +
    'never saw it (the gateway answers its own msgid and sends later), so no update could address the card',
};

/**
 * What WeCom-style answer a /cgi-bin/ request gets when no route took it: a known API
 * asked with another method is WeCom's 40058 ("GET instead of POST"); anything else
 * is an API the gateway does not offer (48001, naming what it offers).
 */
export function unmatchedApi(method: string, path: string): CompatError {
  const api = path.replace(/^\/cgi-bin\/?/i, '').replace(/\/+$/, '');
  const known = Object.values(COMPAT_APIS).find((a) => a.path === api.toLowerCase());
  if (known)
    return new CompatError(
      CompatErrcode.invalidParameter,
      `invalid parameter: ${known.path} takes ${known.methods.map((m) => m.toUpperCase()).join(' or ')}, not ${method}`,
    );
  const offered = Object.values(COMPAT_APIS)
    .map((a) => a.path)
    .join(', ');
  const reason = NOT_OFFERED[api.toLowerCase()];
  const what = reason ? `the gateway does not offer ${api}: ${reason}` : `the gateway does not offer the API ${api || '(none)'}`;
  return new CompatError(CompatErrcode.apiForbidden, `api forbidden: ${what}; it offers ${offered} (the rest: /v1, see /docs)`);
}
