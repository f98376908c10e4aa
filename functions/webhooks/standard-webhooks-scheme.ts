/**
 * Standard Webhooks (the spec's `webhook-id`, `webhook-timestamp`, `webhook-signature: v1,<base64> [v1,<base64> …]`,
 * `whsec_<base64>` secrets, HMAC-SHA256 over `id.timestamp.body`), verified by the `standardwebhooks` library. The
 * library accepts any of the header's signatures; the scheme tries each of the secrets (newest first), so both keys
 * work while a rotation is under way. The library's own timestamp bound is 5 minutes either way; a tighter tolerance
 * is checked here first. The event type is the body's `type` (the spec's payload shape `{ type, timestamp, data }`).
 */
import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import { WebhookRejectedError } from '../runtime/errors.js';
import { checkTimestamp, DEFAULT_TOLERANCE_SECONDS, jsonObjectOf, stringField, type VerifiedWebhook, type WebhookRequest, type WebhookScheme } from './webhook-scheme.js';

const HEADERS = ['webhook-id', 'webhook-timestamp', 'webhook-signature'] as const;

/** The Standard Webhooks scheme; `toleranceSeconds` at most 300 (the library's bound). */
export function standardWebhooksScheme(options: { readonly toleranceSeconds?: number } = {}): WebhookScheme {
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!(toleranceSeconds > 0 && toleranceSeconds <= DEFAULT_TOLERANCE_SECONDS)) {
    throw new RangeError(`standard-webhooks: toleranceSeconds must be in 1-${DEFAULT_TOLERANCE_SECONDS} (got ${toleranceSeconds})`);
  }
  return {
    name: 'standard-webhooks',
    claimedId: (request) => request.headers['webhook-id'] || undefined,
    verify(request: WebhookRequest, secrets: readonly string[], now: Date): VerifiedWebhook {
      const missing = HEADERS.filter((header) => !request.headers[header]);
      if (missing.length > 0) throw new WebhookRejectedError('missing_headers', `missing header(s): ${missing.join(', ')}`);
      const headers = Object.fromEntries(HEADERS.map((header) => [header, request.headers[header]!]));
      const signedAt = checkTimestamp(Number(headers['webhook-timestamp']), now, toleranceSeconds);
      if (!secrets.some((secret) => signedWith(secret, request.body, headers))) {
        throw new WebhookRejectedError('bad_signature', 'no signature matches any of the signing secrets');
      }
      const payload = jsonObjectOf(request.body);
      return { id: headers['webhook-id']!, type: stringField(payload, 'type'), signedAt, payload };
    },
  };
}

/** Whether one of the header's signatures was made with `secret`. */
function signedWith(secret: string, body: string, headers: Record<string, string>): boolean {
  try {
    new Webhook(secret).verify(body, headers, { jsonParse: false });
    return true;
  } catch (error) {
    // A malformed secret is a configuration problem, not a bad request: let it surface.
    if (error instanceof WebhookVerificationError) return false;
    throw error;
  }
}
