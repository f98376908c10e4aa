/**
 * How an inbound webhook is verified: a scheme is a small module per signature convention (docs/webhooks.md), like
 * adapters are per provider. Two ship: Standard Webhooks (standard-webhooks-scheme.ts: `webhook-id`,
 * `webhook-timestamp`, `webhook-signature`, `whsec_` secrets) and a provider-specific timestamped HMAC
 * (timestamped-hmac-scheme.ts: `t=…,v1=…` over `timestamp.body`). A scheme either returns the verified webhook or
 * throws a {@link WebhookRejectedError} whose reason says which 4xx to answer; it never sees more than the raw request
 * and the signing secrets, and never puts a secret or a signature in an error message.
 */
import { WebhookRejectedError } from '../runtime/errors.js';

/** A webhook as the endpoint received it: the raw body (signatures are over the exact bytes) and its headers. */
export interface WebhookRequest {
  /** Header names in lower case (API Gateway HTTP APIs and Function URLs deliver them so). */
  readonly headers: Readonly<Record<string, string | undefined>>;
  readonly body: string;
}

/** What a verified webhook says: the sender's id for it, its event type, when it was signed, and its JSON body. */
export interface VerifiedWebhook {
  /** The sender's id of this delivery; the same on every retry of it (the deduplication key). */
  readonly id: string;
  /** The provider's event type, e.g. `charge.refunded`: the forwarded event's detail-type. */
  readonly type: string;
  readonly signedAt: Date;
  readonly payload: Readonly<Record<string, unknown>>;
}

/** A signature convention; see the file comment. */
export interface WebhookScheme {
  /** Short name for logs, docs and the catalog (`standard-webhooks`, `timestamped-hmac`). */
  readonly name: string;
  /**
   * Verifies `request` against any of `secrets` (several during a rotation) at time `now`; throws a
   * WebhookRejectedError when it cannot be trusted or read.
   */
  verify(request: WebhookRequest, secrets: readonly string[], now: Date): VerifiedWebhook;
  /**
   * The delivery id the request claims, unverified, for the log line of a rejection (an operator matches it with the
   * provider's delivery log); undefined when it claims none.
   */
  claimedId?(request: WebhookRequest): string | undefined;
}

/** How far a signature's timestamp may be from now, either way, by default (Standard Webhooks' own bound). */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/** Throws unless `seconds` (a header's Unix time) is within `toleranceSeconds` of `now`, in either direction. */
export function checkTimestamp(seconds: number, now: Date, toleranceSeconds: number): Date {
  if (!Number.isSafeInteger(seconds) || seconds <= 0) throw new WebhookRejectedError('bad_timestamp', 'the signature timestamp is not a Unix time in seconds');
  const skew = Math.abs(now.getTime() / 1000 - seconds);
  if (skew > toleranceSeconds) {
    const direction = seconds * 1000 < now.getTime() ? 'old' : 'in the future';
    throw new WebhookRejectedError('timestamp_out_of_tolerance', `the signature timestamp is ${Math.round(skew)} s ${direction} (tolerance ${toleranceSeconds} s): a replay or a clock problem`);
  }
  return new Date(seconds * 1000);
}

/** The body as a JSON object, or a `not_json` rejection. */
export function jsonObjectOf(body: string): Record<string, unknown> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(body);
  } catch {
    throw new WebhookRejectedError('not_json', 'the body is not JSON');
  }
  if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new WebhookRejectedError('not_json', 'the body is not a JSON object');
  return parsed as Record<string, unknown>;
}

/** A non-empty string field of the payload, or a `missing_event_fields` rejection naming it. */
export function stringField(payload: Readonly<Record<string, unknown>>, field: string): string {
  const value = payload[field];
  if (typeof value !== 'string' || value.length === 0 || value.length > 256) {
    throw new WebhookRejectedError('missing_event_fields', `the body has no '${field}' (a string of 1-256 characters)`);
  }
  return value;
}

/**
 * The signing secrets held in a provider's webhook secret: `{ "signingSecrets": ["new", "old"] }` during a rotation,
 * or `{ "signingSecret": "…" }`. Throws a plain Error naming the field (never a value) when there is none.
 */
export function signingSecretsOf(secret: Readonly<Record<string, unknown>>, secretName: string): string[] {
  const many = secret.signingSecrets;
  const secrets = Array.isArray(many) ? many : secret.signingSecret !== undefined ? [secret.signingSecret] : [];
  const usable = secrets.filter((value): value is string => typeof value === 'string' && value.length > 0);
  if (usable.length === 0 || usable.length !== secrets.length) {
    throw new Error(`secret '${secretName}' needs 'signingSecrets' (a list of non-empty strings, newest first) or 'signingSecret'`);
  }
  return usable;
}
