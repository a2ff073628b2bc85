import { timingSafeEqual } from 'node:crypto';
import { ApiError } from '../../http/errors';
import type { Route } from '../../http/route';
import type { CallResult } from '../../wecom/endpoints/pstncc';
import { signWebhook } from '../../webhooks/webhook-outbox';
import type { AlertCalls } from './alert-calls';
import type { CallStore } from './call-store';

/** How far the adapter's timestamp may be from ours: an old answer is not replayed as new. */
const MAX_SKEW_SECONDS = 300;

/** The adapter signs its answer as the gateway signs the call: hex HMAC-SHA256 over `${timestamp}.${body}`. */
function signedBy(secret: string, timestamp: string | undefined, signature: string | undefined, body: string): boolean {
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp)) return false;
  // The wall clock, as the adapter's.
  if (Math.abs(Date.now() / 1000 - Number(timestamp)) > MAX_SKEW_SECONDS) return false;
  const expected = Buffer.from(signWebhook(secret, timestamp, body));
  const given = Buffer.from(signature);
  return given.length === expected.length && timingSafeEqual(given, expected);
}

/** `answered: false` with `reason: "unanswered"` rang unheard (the level's time runs); any other failure sends the next level at once. */
function resultOf(body: unknown): CallResult {
  const answer = body as { answered?: unknown; reason?: unknown } | null;
  if (typeof answer?.answered !== 'boolean')
    throw new ApiError(400, 'invalid_request', 'answered must be true or false', [{ field: 'answered', message: 'true or false' }]);
  if (answer.reason !== undefined && typeof answer.reason !== 'string')
    throw new ApiError(400, 'invalid_request', 'reason must be a string', [{ field: 'reason', message: 'a string' }]);
  if (answer.answered) return 'answered';
  return answer.reason === 'unanswered' ? 'unanswered' : 'failed';
}

/**
 * POST /v1/phone/calls/{id}: the phone adapter's answer (ALERT_PHONE=webhook), signed with
 * ALERT_PHONE_WEBHOOK_SECRET; served always, a 404 without the webhook (as openapi.yaml lists it).
 */
export function callRoutes(webhook?: { calls: AlertCalls; store: CallStore; secret: string }): Route[] {
  return [
    {
      method: 'post',
      path: '/v1/phone/calls/{id}',
      // No API key: the adapter proves itself by the signature.
      auth: 'none',
      body: 'text',
      handler: async (req, res) => {
        if (!webhook) throw new ApiError(404, 'not_found', 'no phone adapter answers here (ALERT_PHONE=webhook is not set)');
        const { calls, store, secret } = webhook;
        const raw = typeof req.body === 'string' ? req.body : '';
        if (!signedBy(secret, req.get('x-gateway-timestamp'), req.get('x-gateway-signature'), raw))
          throw new ApiError(401, 'unauthorized', 'X-Gateway-Signature does not match the body and X-Gateway-Timestamp (or is too old)');
        let body: unknown;
        try {
          body = JSON.parse(raw);
        } catch {
          throw new ApiError(400, 'invalid_request', 'the body is not JSON', [{ field: 'body', message: 'a JSON object' }]);
        }
        const result = resultOf(body);
        const id = String(req.params.id);
        const call = await store.get(id);
        if (!call) throw new ApiError(404, 'not_found', `no call ${id} (unknown or older than the retention)`);
        const recorded = await calls.ended(call, result);
        res.json({ id, result, recorded });
      },
    },
  ];
}
