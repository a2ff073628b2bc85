import type { Endpoint } from '../transport';

/** agent/get: the app's name and visible range (for the doctor). */
export const getAgent = (agentId: number): Endpoint<Record<string, unknown>> => ({
  api: 'agent/get',
  query: { agentid: String(agentId) },
  read: (body) => ({ kind: 'ok', value: body }),
});

/** WeCom's callback source addresses (reference §10), for the optional callback IP allowlist. */
export const getCallbackIps = (): Endpoint<string[]> => ({
  api: 'getcallbackip',
  read: ({ ip_list: list }) => ({
    kind: 'ok',
    value: Array.isArray(list) ? list.filter((ip): ip is string => typeof ip === 'string') : [],
  }),
});
