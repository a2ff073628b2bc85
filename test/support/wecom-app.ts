import { getToken } from '../../src/wecom/endpoints/token';
import type { NotFound, Outcome } from '../../src/wecom/outcome';
import { WecomTransport, type Endpoint } from '../../src/wecom/transport';

/**
 * Calls WeCom (the simulator at `apiBase`) as an app does, through the gateway's
 * own transport: a token first, then `endpoint` with it.
 */
export async function asApp<T, Extra extends NotFound = never>(
  apiBase: string,
  app: { corpId: string; secret: string },
  endpoint: Endpoint<T, Extra>,
): Promise<Outcome<T> | Extra> {
  const transport = new WecomTransport({ apiBase, timeoutMs: 5_000 });
  try {
    const grant = await transport.call(getToken(app.corpId, app.secret));
    if (grant.kind !== 'ok') throw new Error(`gettoken: ${grant.error.errcode} ${grant.error.errmsg}`);
    return await transport.call(endpoint, { token: grant.value.accessToken });
  } finally {
    await transport.close();
  }
}
