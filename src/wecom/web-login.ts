/**
 * WeCom's web login (网页授权, reference §17): the link that sends a browser inside WeCom
 * to oauth2/authorize, which comes back to `redirectUri` with `code` and `state`.
 * snsapi_base: the member is identified without a consent screen.
 */
export function authorizeUrl(options: { oauthBase: string; corpId: string; agentId: number; redirectUri: string; state: string }): string {
  const query = new URLSearchParams({
    appid: options.corpId,
    redirect_uri: options.redirectUri,
    response_type: 'code',
    scope: 'snsapi_base',
    state: options.state,
    agentid: String(options.agentId),
  });
  // The fragment is WeCom's: without it the authorize page refuses to redirect.
  return `${options.oauthBase}/connect/oauth2/authorize?${query.toString()}#wechat_redirect`;
}

/** What WeCom allows in `state` (a-zA-Z0-9, at most 128 bytes). */
export const WEB_LOGIN_STATE = /^[A-Za-z0-9]{1,128}$/;
