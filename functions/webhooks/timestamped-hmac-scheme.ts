/**
 * A provider-specific scheme used by payment gateways and others that predate Standard Webhooks: one header
 * `t=<unix seconds>,v1=<hex HMAC-SHA256>[,v1=<hex> …]`, the HMAC taken with the signing secret over
 * `<t>.<raw body>`. Several `v1` entries appear while the provider rolls its secret; each of our secrets (newest
 * first) is tried against each, compared in constant time. The delivery's id and event type are the body's `id` and
 * `type` fields (the provider retries a delivery with the same `id`).
 */
import { createHmac, timingSafeEqual } from 'node:crypto';
import { WebhookRejectedError } from '../runtime/errors.js';
import { checkTimestamp, DEFAULT_TOLERANCE_SECONDS, jsonObjectOf, stringField, type VerifiedWebhook, type WebhookRequest, type WebhookScheme } from './webhook-scheme.js';

/** Options of {@link timestampedHmacScheme}. */
export interface TimestampedHmacOptions {
  /** The signature header, lower case (e.g. `payments-signature`). */
  readonly header: string;
  /** @default 300 */
  readonly toleranceSeconds?: number;
}

/** The `t=…,v1=…` scheme; see the file comment. */
export function timestampedHmacScheme(options: TimestampedHmacOptions): WebhookScheme {
  const header = options.header.toLowerCase();
  const toleranceSeconds = options.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS;
  if (!(toleranceSeconds > 0 && toleranceSeconds <= 3_600)) throw new RangeError(`timestamped-hmac: toleranceSeconds must be in 1-3600 (got ${toleranceSeconds})`);
  return {
    name: 'timestamped-hmac',
    claimedId(request: WebhookRequest): string | undefined {
      try {
        const id = (JSON.parse(request.body) as { id?: unknown } | null)?.id;
        return typeof id === 'string' && id !== '' ? id : undefined;
      } catch {
        return undefined;
      }
    },
    verify(request: WebhookRequest, secrets: readonly string[], now: Date): VerifiedWebhook {
      const value = request.headers[header];
      if (!value) throw new WebhookRejectedError('missing_headers', `missing header: ${header}`);
      const { timestamp, signatures } = parseSignatureHeader(value, header);
      const signedAt = checkTimestamp(Number(timestamp), now, toleranceSeconds);
      const signed = `${timestamp}.${request.body}`;
      const matches = secrets.some((secret) => {
        const expected = createHmac('sha256', secret).update(signed).digest();
        return signatures.some((signature) => signature.length === expected.length && timingSafeEqual(signature, expected));
      });
      if (!matches) throw new WebhookRejectedError('bad_signature', 'no signature matches any of the signing secrets');
      const payload = jsonObjectOf(request.body);
      return { id: stringField(payload, 'id'), type: stringField(payload, 'type'), signedAt, payload };
    },
  };
}

/** Signs a body as a provider using this scheme does (the sandbox's webhook sender and the tests). */
export function timestampedHmacSignature(body: string, secret: string, signedAt: Date): string {
  const timestamp = Math.floor(signedAt.getTime() / 1000);
  return `t=${timestamp},v1=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`;
}

function parseSignatureHeader(value: string, header: string): { timestamp: string; signatures: Buffer[] } {
  let timestamp: string | undefined;
  const signatures: Buffer[] = [];
  for (const part of value.split(',')) {
    const [key, item] = part.trim().split('=', 2);
    if (key === 't') timestamp = item;
    else if (key === 'v1' && item && /^[0-9a-f]+$/i.test(item)) signatures.push(Buffer.from(item, 'hex'));
  }
  if (timestamp === undefined || signatures.length === 0) throw new WebhookRejectedError('missing_headers', `header ${header} needs t=<unix seconds> and at least one v1=<hex signature>`);
  return { timestamp, signatures };
}
