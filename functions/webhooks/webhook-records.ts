/**
 * What the webhook endpoint leaves behind for an operator (docs/webhooks.md "Listing deliveries and rejections"), shared
 * by the endpoint (webhook-ingress.ts) that writes it and the operator CLI (local/cli/aws-hub-operator.ts) that reads
 * it, so the two cannot drift apart:
 *
 * - the delivery-id table's records: Powertools idempotency keys each by `<prefix>#<hash of the webhook id>` and keeps
 *   the forward's result in `data` ({@link WebhookDeliveryRecord});
 * - the log lines an operator filters on: a rejection and a replay, each with its fields ({@link WEBHOOK_LOG}).
 *
 * Nothing here holds a secret or a signature: the rejection's detail comes from the scheme's errors, which never quote
 * either (webhook-scheme.ts).
 */

/** The idempotency key prefix of a provider's delivery records: the record's `id` is `<prefix>#<hash>`. */
export function webhookKeyPrefix(provider: string): string {
  return `webhook-${provider}`;
}

/** The provider of a delivery record's `id`, or undefined when it is not one of a webhook endpoint's. */
export function providerOfRecordId(id: string): string | undefined {
  return /^webhook-(.+)#[^#]*$/.exec(id)?.[1];
}

/** The result a forward stores in the delivery-id table (`data`), and what a replay is answered from. */
export interface WebhookDeliveryRecord {
  readonly webhookId: string;
  readonly provider: string;
  /** The provider's event type: the forwarded event's detail-type. */
  readonly type: string;
  /** ISO 8601: when the event was put on the bus. */
  readonly forwardedAt: string;
}

/** The messages of the endpoint's log lines an operator lists (Powertools Logger JSON: `message` plus the fields). */
export const WEBHOOK_LOG = {
  /** A refused delivery; fields `provider`, `reason`, `detail`, and `webhookId` when the request claims one. */
  rejected: 'Webhook rejected',
  /** A replay of a forwarded delivery, acknowledged and not forwarded again; fields `provider`, `webhookId`, `type`, `forwardedAt`. */
  replay: 'Webhook replay acknowledged, not forwarded again',
  /** A delivery put on the bus; fields `provider`, `webhookId`, `type`. */
  forwarded: 'Webhook forwarded',
} as const;

/** Longest delivery id put in a log line: a claimed (unverified) id is the sender's input. */
export const MAX_LOGGED_ID_LENGTH = 256;
