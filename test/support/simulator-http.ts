/** What the simulator answers, as WeCom does: an errcode, an errmsg and the call's fields. */
export type Answer = Record<string, unknown> & { errcode: number; errmsg: string };

/** POSTs JSON (or a raw string) to the simulator; WeCom answers 200 even when it refuses, so the status is checked here. */
export async function post(url: string, body: unknown): Promise<Answer> {
  const res = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  expect(res.status).toBe(200);
  return (await res.json()) as Answer;
}
