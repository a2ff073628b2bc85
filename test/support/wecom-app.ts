import { WecomClient } from '../../src/wecom/client';

/**
 * Calls WeCom (the simulator at `apiBase`) as an app does, through the gateway's
 * own client: a token first, then `call` with it.
 */
export async function asApp<T>(apiBase: string, app: { corpId: string; secret: string }, call: (client: WecomClient, token: string) => Promise<T>): Promise<T> {
  const client = new WecomClient({ apiBase, timeoutMs: 5_000 });
  try {
    const grant = await client.getToken(app.corpId, app.secret);
    if (grant.kind !== 'ok') throw new Error(`gettoken: ${grant.error.errcode} ${grant.error.errmsg}`);
    return await call(client, grant.value.accessToken);
  } finally {
    await client.close();
  }
}
