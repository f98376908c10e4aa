/**
 * The demo's traffic: a seeded, realistic mix of what upstream systems send the hub — for every catalog integration
 * the examples its adapter declares (`example(n)`, functions/runtime/integration-definition.ts), orders placed
 * (→ the order saga) and contacts changed in the source system (→ the contact sync reads them from its change feed)
 * — spread evenly over the publishing window. The integrations come from the catalog (lib/catalog.ts), so a new
 * entry is exercised by `npm start` with no edit here (docs/adapter-guide.md: an integration is one adapter file and one catalog entry).
 *
 * A small share is deliberately bad so the run shows the DLQ and a compensation doing their job: of each
 * integration, every {@link INVALID_EVERY}-th event is its example with `schemaVersion: '0'` — versions are whole
 * numbers from 1 (functions/runtime/schema-evolution.ts), so no adapter accepts it whatever its schema, and it
 * must be dead-lettered with its reason, never sent — and a few orders go to an undeliverable address. Same seed,
 * same plan.
 */
import { loadAdapters } from '../../functions/ops/integration-adapters.js';
import { ConfigurationError } from '../../functions/runtime/errors.js';
import { EVENT_VERSION_FIELD } from '../../functions/runtime/inbound-record.js';
import type { IntegrationDefinition } from '../../functions/runtime/integration-definition.js';
import { SchemaEvolution } from '../../functions/runtime/schema-evolution.js';
import { INTEGRATIONS, type ResolvedIntegration, resolveCatalog } from '../../lib/catalog.js';
import { WORKFLOWS } from '../../lib/workflow-catalog.js';
import { SeededRandom } from '../sandbox/random.js';
import { UNDELIVERABLE_POSTAL_CODE } from '../sandbox/index.js';
import { checkSchema } from '../../functions/runtime/schema.js';

/** One planned event. */
export type DemoEvent =
  | {
      readonly kind: 'integration';
      /** The catalog integration whose queue the event is routed to. */
      readonly integration: string;
      readonly atMs: number;
      /**
       * The Idempotency-Key its call carries (`<integration>:<adapter key>`, functions/runtime/operation-executor.ts):
       * what the accounting looks for among the provider's side effects. An invalid event has the key its valid
       * twin would have, so it is caught if it ever reaches the provider.
       */
      readonly key: string;
      readonly valid: boolean;
      readonly source: string;
      readonly detailType: string;
      readonly detail: unknown;
      /**
       * The entity and version the event carries, when several versions of one entity are published (fault-events.ts):
       * an older one not sent because a newer one was is skipped as stale, not lost.
       */
      readonly entity?: { readonly id: string; readonly version: number };
    }
  | { readonly kind: 'order'; readonly atMs: number; readonly key: string; readonly valid: boolean; readonly detail: unknown }
  | { readonly kind: 'contact'; readonly atMs: number; readonly key: string; readonly valid: true; readonly change: 'upsert' | 'delete' };

/** Where orders go on the bus: the order saga's trigger (lib/workflow-catalog.ts). */
export const ORDER_ROUTE = {
  source: WORKFLOWS.orderSaga.trigger.sources[0]!,
  detailType: WORKFLOWS.orderSaga.trigger.detailTypes[0]!,
  workflow: WORKFLOWS.orderSaga.name,
} as const;

/** A catalog integration with its adapter bound to it: what the plan needs to make its events. */
export interface DemoIntegration {
  readonly entry: Pick<ResolvedIntegration, 'name' | 'adapter' | 'routes'>;
  /** The adapter bound to the integration (`adapter.bind(name)`); it declares `example(n)`. */
  readonly definition: IntegrationDefinition<unknown>;
}

/**
 * The catalog's integrations with their adapters loaded, in catalog order. Throws a ConfigurationError listing
 * every adapter that cannot be loaded or declares no examples.
 */
export async function loadDemoIntegrations(catalog: readonly ResolvedIntegration[] = resolveCatalog(INTEGRATIONS)): Promise<DemoIntegration[]> {
  const adapters = await loadAdapters(catalog.map((entry) => entry.adapter));
  const problems: string[] = [];
  const integrations = catalog.map((entry) => {
    const definition = adapters.get(entry.adapter)!.bind(entry.name) as IntegrationDefinition<unknown>;
    if (typeof definition.example !== 'function') problems.push(`integration '${entry.name}': adapter '${entry.adapter}' declares no example(n)`);
    return { entry, definition };
  });
  if (problems.length > 0) throw ConfigurationError.listing('demo integrations', problems);
  return integrations;
}

/** Options of {@link planDemoEvents}. */
export interface DemoPlanOptions {
  readonly events: number;
  readonly seed: number;
  /** Events are spread evenly over this window. */
  readonly publishForMs: number;
  /** The integrations to publish events for ({@link loadDemoIntegrations}). */
  readonly integrations: readonly DemoIntegration[];
  /** Contacts seeded in the source before the run (the first sync copies them). @default 40 */
  readonly initialContacts?: number;
}

/** Shares of the mix (the rest are contact changes); the integrations share theirs evenly. */
const MIX = { integrations: 0.7, order: 0.15 } as const;
/** Of each integration, every INVALID_EVERY-th event (≈3 %) is invalid: counted per integration so each one shows its DLQ. */
export const INVALID_EVERY = 32;
/** Which event of each run of INVALID_EVERY is the invalid one: early, so even a short demo has one per integration. */
const INVALID_AT = 3;
/** Share of orders to an undeliverable address. */
const BAD_SHARE = 0.03;

/** The seeded plan of `events` events. Throws when an adapter's example is not valid input of it. */
export function planDemoEvents(options: DemoPlanOptions): DemoEvent[] {
  const random = new SeededRandom(options.seed, 'demo-events');
  const plan: DemoEvent[] = [];
  const contactIds = Array.from({ length: options.initialContacts ?? 40 }, (_, i) => `c_${String(i + 1).padStart(6, '0')}`);
  const makers = options.integrations.map(eventMaker);
  for (let i = 0; i < options.events; i++) {
    const atMs = Math.round((i * options.publishForMs) / Math.max(1, options.events));
    const n = String(i + 1).padStart(5, '0');
    const roll = random.float();
    const bad = random.float() < BAD_SHARE;
    if (roll < MIX.integrations && makers.length > 0) {
      const make = makers[Math.min(makers.length - 1, Math.floor((roll / MIX.integrations) * makers.length))]!;
      plan.push(make(atMs));
    } else if (roll >= MIX.integrations && roll < MIX.integrations + MIX.order) {
      // An undeliverable order is valid input: the saga must compensate it, not lose it.
      plan.push({ kind: 'order', atMs, key: `ord-${n}`, valid: true, detail: orderPlaced(`ord-${n}`, random, bad) });
    } else {
      const deleting = random.float() < 0.15 && contactIds.length > 1;
      const id = contactIds[random.int(contactIds.length)]!;
      plan.push({ kind: 'contact', atMs, key: id, valid: true, change: deleting ? 'delete' : 'upsert' });
    }
  }
  return plan;
}

/** Makes the next event of one integration each call: example 0, 1, 2… so every event is a different operation. */
function eventMaker({ entry, definition }: DemoIntegration): (atMs: number) => DemoEvent {
  const [route] = entry.routes;
  const source = route?.sources[0];
  const detailType = route?.detailTypes[0];
  if (source === undefined || detailType === undefined) throw new ConfigurationError(`integration '${entry.name}' has no route to publish its examples on`);
  const versions = new SchemaEvolution(definition, entry.name);
  let n = 0;
  return (atMs) => {
    const example = definition.example!(n);
    const key = `${entry.name}:${adapterKeyOf(definition, versions, example, n)}`;
    const valid = n % INVALID_EVERY !== INVALID_AT;
    n += 1;
    const detail = valid ? example : { ...(example as object), [EVENT_VERSION_FIELD]: '0' };
    return { kind: 'integration', integration: entry.name, atMs, key, valid, source, detailType, detail };
  };
}

/** The adapter key the runtime derives from an example (upcast, validated: operation-executor.ts `validate`). */
function adapterKeyOf(definition: IntegrationDefinition<unknown>, versions: SchemaEvolution, example: unknown, n: number): string {
  const where = `${definition.name}: example(${n})`;
  // The invalid twin is made by changing the example's schemaVersion, which needs an object.
  if (example === null || typeof example !== 'object' || Array.isArray(example)) throw new ConfigurationError(`${where} is not an object`);
  const operation = operationOf(definition, versions, example);
  if (operation instanceof Error) throw new ConfigurationError(`${where} is not valid input: ${operation.message}`);
  return operation.adapterKey;
}

/**
 * What the runtime makes of an event's detail (upcast to the current version, validated: operation-executor.ts
 * `validate`): its adapter key and entity, or the Error that sends it to the DLQ.
 */
export function operationOf(
  definition: IntegrationDefinition<unknown>,
  versions: SchemaEvolution,
  detail: unknown,
): { adapterKey: string; entity: { id: string; version?: number } } | Error {
  const current = versions.toCurrent(detail);
  if (current instanceof Error) return current;
  const parsed = checkSchema(definition.input, current.payload);
  if (!parsed.success) return new Error(parsed.error.message);
  const entity = definition.entity(parsed.data);
  return { adapterKey: definition.idempotencyKey(parsed.data), entity: { id: `${entity.type}#${entity.id}`, version: entity.version } };
}

const CUSTOMERS = ['cus_ana', 'cus_bruno', 'cus_carla', 'cus_dmitri', 'cus_eve'];
const SKUS = ['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4', 'SKU-5'];

function orderPlaced(orderId: string, random: SeededRandom, undeliverable: boolean): unknown {
  return {
    orderId,
    customerId: CUSTOMERS[random.int(CUSTOMERS.length)],
    email: 'ana@example.com',
    items: [{ sku: SKUS[random.int(SKUS.length)], quantity: 1 + random.int(2) }],
    amount: `${10 + random.int(90)}.90`,
    currency: 'eur',
    shippingAddress: { name: 'Ana Lima', line1: 'Rua Augusta 1', city: 'Lisboa', postalCode: undeliverable ? UNDELIVERABLE_POSTAL_CODE : '1100-053', country: 'PT' },
  };
}

/**
 * JSON with object keys sorted, so a detail read back from a queue matches the planned one whatever the key order.
 * An invalid event cannot be keyed by its adapter (it never validates), so events are found in queues by detail.
 */
export function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v !== null && typeof v === 'object' && !Array.isArray(v)
      ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)))
      : v,
  );
}
