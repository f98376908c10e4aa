/**
 * What the sandbox providers' webhooks are about: events a provider would really send, made from its own state, for
 * the local hub's demo (local/hub/demo-webhooks.ts) to deliver with a webhook sender (webhook-sender.ts).
 *
 *   payments  `charge.succeeded` / `charge.refunded`, data `{ object: <the charge as GET /charges/:id returns it> }`.
 *             Some of the charges are first refunded through the gateway's own API (`POST /refunds`, in full or in
 *             part), as a merchant does from its dashboard: those get `charge.refunded`, the others
 *             `charge.succeeded`.
 *   crm       `contact.updated`, data `{ id }`: a contact the CRM holds.
 *   others    each declared event type in turn, data `{ id: 'demo-<n>' }`.
 *
 * Deterministic under the random stream given (which charges, contacts and refunds); an event type the integration
 * does not declare is never made.
 */
import type { Sandbox } from './index.js';
import type { SeededRandom } from './random.js';
import type { WebhookEvent } from './webhook-sender.js';

/** What an event maker gets. */
export interface ProviderWebhookContext {
  /** The started sandbox (the provider's state, its URL and credentials). */
  readonly sandbox: Sandbox;
  readonly random: SeededRandom;
  /** The event types the hub expects from the provider (catalog `webhooks.events`). */
  readonly types: readonly string[];
  /** How many events to make (fewer when the provider has fewer things to tell about). */
  readonly count: number;
}

/** Makes a provider's webhook events from its state; may change that state first, through its API. */
export type ProviderWebhookEvents = (context: ProviderWebhookContext) => Promise<WebhookEvent[]>;

/** The event makers of the sandbox providers that have their own, by provider name. */
export const PROVIDER_WEBHOOK_EVENTS: Readonly<Record<string, ProviderWebhookEvents>> = {
  payments: paymentsWebhookEvents,
  crm: crmWebhookEvents,
};

/** The events of the provider called `provider`: its own maker, or {@link genericWebhookEvents}. */
export function providerWebhookEvents(provider: string, context: ProviderWebhookContext): Promise<WebhookEvent[]> {
  return (PROVIDER_WEBHOOK_EVENTS[provider] ?? genericWebhookEvents)(context);
}

/** Each declared type in turn, about `demo-<n>`. */
export async function genericWebhookEvents({ types, count }: ProviderWebhookContext): Promise<WebhookEvent[]> {
  if (types.length === 0) return [];
  return Array.from({ length: count }, (_, n) => ({ type: types[n % types.length]!, data: { id: `demo-${n + 1}` } }));
}

/** Succeeded charges, a third of them refunded through the gateway first (every other one of those in part). */
export async function paymentsWebhookEvents({ sandbox, random, types, count }: ProviderWebhookContext): Promise<WebhookEvent[]> {
  const candidates = sandbox.payments.charges().filter((charge) => charge.status === 'succeeded' && charge.amountRefunded === 0);
  const picked = sample(candidates, count, random);
  const refunding = types.includes('charge.refunded') ? picked.slice(0, Math.ceil(picked.length / 3)) : [];
  for (const [n, charge] of refunding.entries()) {
    const partial = n % 2 === 1 && charge.amount > 1;
    await merchantCall(sandbox, 'payments', '/refunds', `merchant-refund-${charge.id}`, {
      chargeId: charge.id,
      ...(partial ? { amount: Math.floor(charge.amount / 2) } : {}),
      reason: 'requested_by_customer',
    });
  }
  const refunded = new Set(refunding.map((charge) => charge.id));
  return picked.flatMap((charge): WebhookEvent[] => {
    const type = refunded.has(charge.id) ? 'charge.refunded' : 'charge.succeeded';
    if (!types.includes(type)) return [];
    const { idempotencyKey: _key, ...object } = sandbox.payments.charge(charge.id)!;
    return [{ type, data: { object } }];
  });
}

/** Contacts the CRM holds (none yet: the generic events). */
export async function crmWebhookEvents(context: ProviderWebhookContext): Promise<WebhookEvent[]> {
  if (!context.types.includes('contact.updated')) return genericWebhookEvents(context);
  const contacts = sample(context.sandbox.crm.contacts(), context.count, context.random);
  if (contacts.length === 0) return genericWebhookEvents(context);
  return contacts.map((contact) => ({ type: 'contact.updated', data: { id: contact.id } }));
}

/** Up to `count` items of `items`, chosen and ordered by `random`. */
function sample<T>(items: readonly T[], count: number, random: SeededRandom): T[] {
  const pool = [...items];
  const out: T[] = [];
  while (out.length < count && pool.length > 0) out.push(pool.splice(random.int(pool.length), 1)[0]!);
  return out;
}

/** A call to a provider's API with its own credentials, as its customer makes it; throws unless 2xx. */
async function merchantCall(sandbox: Sandbox, provider: 'payments', path: string, idempotencyKey: string, body: unknown): Promise<void> {
  const response = await fetch(`${sandbox.providerUrl(provider)}${path}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${sandbox.credentials(provider).secretKey}`, 'content-type': 'application/json', 'idempotency-key': idempotencyKey },
    body: JSON.stringify(body),
  });
  if (!response.ok) throw new Error(`sandbox ${provider} POST ${path}: HTTP ${response.status} ${await response.text()}`);
}
