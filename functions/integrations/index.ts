/**
 * Every adapter the hub ships, by name: how code that serves all integrations (the circuit prober) finds an
 * integration's definition. Adding an adapter = its file in this folder + one line here + its catalog entry.
 */
import type { Integration } from '../runtime/define-integration.js';
import { crm } from './crm.js';
import { payments } from './payments.js';

/**
 * Any adapter, whatever its input type. `any` because the registry holds adapters of different input types, and its
 * users (the prober) only use what does not depend on it: name, connection, probe, runtime construction.
 */
export type AnyIntegration = Integration<any>;

/** The adapters by their `name` (the circuit id, catalog name and metric dimension). */
export const INTEGRATION_ADAPTERS: Readonly<Record<string, AnyIntegration>> = Object.freeze(
  Object.fromEntries([crm, payments].map((adapter) => [adapter.name, adapter])),
);

/** The adapter called `name`, or undefined when the hub has none. */
export function findIntegrationAdapter(name: string): AnyIntegration | undefined {
  return Object.hasOwn(INTEGRATION_ADAPTERS, name) ? INTEGRATION_ADAPTERS[name] : undefined;
}
