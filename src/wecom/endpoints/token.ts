import { answeredWithout, type Endpoint } from '../transport';

export interface TokenGrant {
  accessToken: string;
  expiresInSeconds: number;
}

/** gettoken (reference §1): called with no credential, the corp id and secret are its query. */
export const getToken = (corpId: string, secret: string): Endpoint<TokenGrant> => ({
  api: 'gettoken',
  query: { corpid: corpId, corpsecret: secret },
  read: (body) =>
    typeof body.access_token === 'string' && body.access_token !== ''
      ? { kind: 'ok', value: { accessToken: body.access_token, expiresInSeconds: Number(body.expires_in) || 7200 } }
      : answeredWithout('gettoken', 'access_token'),
  // At gettoken, 40001/40013/41004 are configuration errors, never a reason to refetch.
  refused: (refusal) => (refusal.kind === 'refreshToken' ? { kind: 'permanent', error: refusal.error } : refusal),
});
