import { answeredWithout, type Endpoint } from '../transport';

/** Who opened a page through WeCom's web login: a member of the corp, or someone outside it (reference §17). */
export type WebLoginIdentity = { kind: 'member'; userid: string } | { kind: 'outsider' };

/**
 * auth/getuserinfo (reference §17): the code WeCom's web login put on the redirect, for
 * whoever opened the page. A code works once, within 5 minutes; any other answers 40029.
 */
export const getUserInfo = (code: string): Endpoint<WebLoginIdentity> => ({
  api: 'auth/getuserinfo',
  query: { code },
  read: (body) => {
    if (typeof body.userid === 'string' && body.userid !== '') return { kind: 'ok', value: { kind: 'member', userid: body.userid } };
    // Not a member (a WeChat user, a customer): WeCom answers an openid instead.
    if (typeof body.openid === 'string') return { kind: 'ok', value: { kind: 'outsider' } };
    return answeredWithout('auth/getuserinfo', 'userid', 'permanent');
  },
});
