/**
 * Newsletter: a customer who subscribes upstream becomes a subscriber of a list on the e-mail marketing platform. The
 * hub acts on the customer's own platform account, which authorized the hub's app once (authorization-code grant):
 * the catalog entry's auth is `oauth2_refresh_token` (docs/oauth-refresh-tokens.md), so the platform's short-lived
 * access tokens are refreshed once across every instance and its rotated refresh tokens are kept in the secret.
 *
 * The platform deduplicates `POST /subscribers` on the `Idempotency-Key` header the runtime sends (one per operation),
 * so a retried call after a timeout subscribes the contact once.
 */
// zod/mini: functions take the schema (`z.optional(s)`, `s.check(z.minLength(1))`), so the bundler keeps only the zod
// code used — about 25 KB against 90 KB for classic zod's method-laden schemas (functions/runtime/schema.ts).
import * as z from 'zod/mini';
import { defineIntegration } from '../runtime/define-integration.js';

/** The list a subscription goes to when the event names none. */
export const DEFAULT_LIST = 'newsletter';

const LIST_ID = /^[a-z0-9][a-z0-9_-]{0,63}$/;

/** `CustomerSubscribed` event, schemaVersion 1. */
export const customerSubscribedSchema = z.object({
  schemaVersion: z.optional(z.literal('1')),
  customerId: z.string().check(z.minLength(1), z.maxLength(128)),
  /** Grows with every change of the customer's subscription; an older one is never sent after a newer one. */
  version: z.int().check(z.nonnegative()),
  email: z.email(),
  /** The platform's list id. @default DEFAULT_LIST */
  list: z.optional(z.string().check(z.regex(LIST_ID, 'must be a list id like weekly-digest (a-z, 0-9, _ and -, up to 64)'))),
  firstName: z.optional(z.string().check(z.maxLength(100))),
  /** When the customer gave consent: the platform keeps it as the proof of opt-in. */
  subscribedAt: z.iso.datetime({ offset: true }),
});

export type CustomerSubscribed = z.infer<typeof customerSubscribedSchema>;

/** The platform's subscriber as it accepts it. */
export interface NewsletterSubscriber {
  externalRef: string;
  list: string;
  email: string;
  firstName: string | null;
  status: 'subscribed';
  consentedAt: string;
}

/** Maps the event to the platform's subscriber: lower-case e-mail, the default list, the consent time in UTC. */
export function toNewsletterSubscriber(event: CustomerSubscribed): NewsletterSubscriber {
  const firstName = event.firstName?.trim();
  return {
    externalRef: event.customerId,
    list: listOf(event),
    email: event.email.toLowerCase(),
    firstName: firstName ? firstName : null,
    status: 'subscribed',
    consentedAt: new Date(event.subscribedAt).toISOString(),
  };
}

function listOf(event: CustomerSubscribed): string {
  return event.list ?? DEFAULT_LIST;
}

const subscriberCreated = z.object({ id: z.string().check(z.minLength(1)) });

export const newsletter = defineIntegration({
  input: customerSubscribedSchema,
  // One subscription per customer and list: the list is part of the operation and of the ledger entity.
  idempotencyKey: (event) => `subscriber:${listOf(event)}:${event.customerId}:v${event.version}`,
  entity: (event) => ({ type: 'subscriber', id: `${listOf(event)}:${event.customerId}`, version: event.version }),
  async send(event, { http }) {
    // An answer without the subscriber id fails the attempt (and counts against the circuit), not the message after it.
    const response = await http.post('/subscribers', toNewsletterSubscriber(event), { schema: subscriberCreated });
    return { externalId: response.body.id };
  },
  async probe({ http }) {
    await http.get('/health');
  },
  example: (n) => ({
    schemaVersion: '1',
    customerId: `cus-${n}`,
    version: 1,
    email: `reader-${n}@example.com`,
    list: n % 2 === 0 ? 'weekly-digest' : 'product-news',
    firstName: 'Ana',
    subscribedAt: '2026-12-01T09:00:00Z',
  }),
});

/** The Lambda entry. */
export const handler = newsletter.sqsHandler;
