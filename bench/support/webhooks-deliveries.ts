/**
 * Signed webhook deliveries for the benchmark, made before the clock starts so the provider's signing cost is not
 * measured. Each has its own id and is signed exactly as local/sandbox/webhook-sender.ts signs a first attempt: the
 * same body shapes and headers, `Webhook.sign` of the `standardwebhooks` library or `timestampedHmacSignature`. The
 * sender itself signs at send time, which is why it is not used here.
 */
import { Webhook } from 'standardwebhooks';
import { timestampedHmacSignature } from '../../functions/webhooks/timestamped-hmac-scheme.js';
import type { WebhookSchemeDeclaration } from '../../functions/webhooks/webhook-declaration.js';
import type { LoadRequest } from './webhooks-load.js';

/** One pre-signed delivery. */
export interface SignedDelivery extends LoadRequest {
  /** The delivery id the endpoint deduplicates on. */
  readonly id: string;
}

/** The event type every benchmark delivery carries. */
export const BENCH_EVENT_TYPE = 'ticket.closed';

/** Pads the data so a body is about 1 KB, a typical provider event. */
const NOTE = 'Customer confirmed the fix on the staging system; closing after the agreed waiting period. '.repeat(8);

/** `count` deliveries with ids `<idPrefix>-<n>` (prefixed as the scheme's providers do), signed at `now()`. */
export function signedDeliveries(options: {
  readonly scheme: WebhookSchemeDeclaration;
  readonly signingSecret: string;
  readonly count: number;
  readonly idPrefix: string;
  readonly now?: () => number;
}): SignedDelivery[] {
  const { scheme, signingSecret, count, idPrefix } = options;
  const now = options.now ?? Date.now;
  const signer = scheme.scheme === 'standard-webhooks' ? new Webhook(signingSecret) : undefined;
  return Array.from({ length: count }, (_, n) => {
    const signedAtMs = now();
    const data = { ticketId: `${idPrefix}-${n}`, status: 'closed', agent: 'agent-17', note: NOTE };
    const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'integration-hub-bench-webhooks/1' };
    if (scheme.scheme === 'standard-webhooks') {
      const id = `msg_${idPrefix}-${n}`;
      const body = JSON.stringify({ type: BENCH_EVENT_TYPE, timestamp: new Date(signedAtMs).toISOString(), data });
      headers['webhook-id'] = id;
      headers['webhook-timestamp'] = String(Math.floor(signedAtMs / 1000));
      headers['webhook-signature'] = signer!.sign(id, new Date(signedAtMs), body);
      return { id, headers, body };
    }
    const id = `evt_${idPrefix}-${n}`;
    const body = JSON.stringify({ id, type: BENCH_EVENT_TYPE, created: Math.floor(signedAtMs / 1000), data });
    headers[scheme.header.toLowerCase()] = timestampedHmacSignature(body, signingSecret, new Date(signedAtMs));
    return { id, headers, body };
  });
}
