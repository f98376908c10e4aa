/**
 * How the circuit prober probes the standalone workflow providers (inventory, shipping, email, the contacts
 * source): the connection and `probe()` their tasks use, under the provider's circuit id. The providers of an
 * integration (payments, crm) are probed as that integration. Adding a standalone provider = its tasks + one line
 * here + its catalog entry (lib/workflow-catalog.ts).
 */
import * as z from 'zod/mini';
import type { IntegrationDefinition, SendResult } from '../runtime/integration-definition.js';
import { CONTACT_SYNC_CIRCUITS } from './contact-sync.js';
import { ORDER_SAGA_TASKS } from './order-saga.js';

/** A provider as the prober sees it: a definition whose `probe()` is used, nothing else (its connection is the catalog's). */
export type ProviderProbe = IntegrationDefinition<unknown, SendResult>;

/** The contacts change feed has no task definition of its own (the sync task reads it directly): its probe. */
const contactsSourceProbe: ProviderProbe = {
  name: CONTACT_SYNC_CIRCUITS.source,
  input: z.unknown(),
  idempotencyKey: () => notADelivery(),
  entity: () => notADelivery(),
  send: () => notADelivery(),
  async probe({ http }) {
    await http.get('/health');
  },
};

/** The probe of each standalone workflow provider, by provider name (= circuit id). */
export const PROVIDER_PROBES: Readonly<Record<string, ProviderProbe>> = Object.freeze({
  inventory: ORDER_SAGA_TASKS.reserveInventory.definition as ProviderProbe,
  shipping: ORDER_SAGA_TASKS.createShipment.definition as ProviderProbe,
  email: ORDER_SAGA_TASKS.sendConfirmation.definition as ProviderProbe,
  [CONTACT_SYNC_CIRCUITS.source]: contactsSourceProbe,
});

/** The probe of provider `name`, or undefined when it has none. */
export function findProviderProbe(name: string): ProviderProbe | undefined {
  return Object.hasOwn(PROVIDER_PROBES, name) ? PROVIDER_PROBES[name] : undefined;
}

function notADelivery(): never {
  throw new Error('A provider probe only probes: it never delivers a message');
}
