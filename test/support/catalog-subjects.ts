/**
 * The shipped catalogs (lib/catalog.ts, lib/workflow-catalog.ts) as the hub deploys them, for tests of generic hub
 * behaviour: their expectations follow the catalog instead of naming a shipped integration, so adding, renaming or
 * removing an integration or a workflow provider needs no test edit.
 *
 * - {@link CATALOG}, {@link STANDALONE_PROVIDERS}, {@link CIRCUITS}: what the hub has, in the order it lists it;
 * - {@link catalogSubjects}: per integration, what a test needs to send it events: its first route, its adapter's
 *   examples (valid events, a different operation for every n), a poison variant any adapter refuses, and the ledger
 *   entity and provider-side Idempotency-Key of each example.
 */
import { loadAdapters } from '../../functions/ops/integration-adapters.js';
import type { IntegrationDefinition } from '../../functions/runtime/integration-definition.js';
import { type CatalogCircuitSettings, INTEGRATIONS, type ResolvedIntegration, resolveCatalog } from '../../lib/catalog.js';
import { type ResolvedProvider, resolveWorkflows } from '../../lib/workflow-catalog.js';
import { parse } from 'zod/mini';

/** The shipped integrations, resolved, in catalog order. */
export const CATALOG: readonly ResolvedIntegration[] = resolveCatalog(INTEGRATIONS);

/** The shipped workflow providers with a circuit of their own (not an integration's provider), in catalog order. */
export const STANDALONE_PROVIDERS: readonly ResolvedProvider[] = [...resolveWorkflows(CATALOG).providers.values()].filter(
  (provider) => provider.integration === undefined,
);

/**
 * Every circuit with its catalog settings, in the order the hub lists them: one per integration, then one per
 * standalone workflow provider (lib/integration-hub-stack.ts `circuitSettings`, local/hub/local-hub.ts `circuitIds`).
 */
export const CIRCUITS: ReadonlyMap<string, CatalogCircuitSettings> = new Map<string, CatalogCircuitSettings>([
  ...CATALOG.map((integration) => [integration.name, integration.circuit] as const),
  ...STANDALONE_PROVIDERS.map((provider) => [provider.name, provider.circuit] as const),
]);

/** One integration of the catalog as a test's subject: where its events come from and what they are. */
export interface CatalogSubject {
  /** The integration's catalog entry. */
  readonly integration: ResolvedIntegration;
  /** Its adapter bound to it (`idempotencyKey`, `entity`, `input`, `example`). */
  readonly definition: IntegrationDefinition<unknown>;
  /** The source of its first route: `routes[0].sources[0]`. */
  readonly source: string;
  /** The detail type of its first route: `routes[0].detailTypes[0]`. */
  readonly detailType: string;
  /** The adapter's n-th example: a valid event detail, a different operation for every n. */
  example(n: number): Record<string, unknown>;
  /** The n-th example at schemaVersion '0', which no adapter accepts (versions start at 1): poison, DLQ'd at once. */
  poison(n: number): Record<string, unknown>;
  /** The ledger entity of the n-th example. */
  entity(n: number): { type: string; id: string; version?: number };
  /** The Idempotency-Key the runtime sends the provider for the n-th example: `<integration>:<adapter's key>`. */
  idempotencyKey(n: number): string;
}

/** A subject per integration of `catalog` (the shipped one by default), in catalog order. */
export async function catalogSubjects(catalog: readonly ResolvedIntegration[] = CATALOG): Promise<CatalogSubject[]> {
  const adapters = await loadAdapters(catalog.map((integration) => integration.adapter));
  return catalog.map((integration) => {
    const definition = adapters.get(integration.adapter)!.bind(integration.name) as IntegrationDefinition<unknown>;
    const example = (n: number) => definition.example!(n) as Record<string, unknown>;
    const parsed = (n: number) => parse(definition.input, example(n));
    return {
      integration,
      definition,
      source: integration.routes[0]!.sources[0]!,
      detailType: integration.routes[0]!.detailTypes[0]!,
      example,
      poison: (n) => ({ ...example(n), schemaVersion: '0' }),
      entity: (n) => definition.entity(parsed(n)),
      idempotencyKey: (n) => `${integration.name}:${definition.idempotencyKey(parsed(n))}`,
    };
  });
}
