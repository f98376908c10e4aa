import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { ConfigurationError } from './errors.js';
import type { AdapterDefinition, IntegrationDefinition, SendResult } from './integration-definition.js';
import { IntegrationRuntime, type RuntimeDependencies } from './integration-runtime.js';
import { nameProblem } from './names.js';
import { dependenciesFromEnvironment } from './runtime-environment.js';
import { assertSchemaEvolution } from './schema-evolution.js';

/** The environment variable that names the catalog integration a function serves (set by the CDK stack). */
export const INTEGRATION_NAME_VARIABLE = 'INTEGRATION_NAME';

const ADAPTER_BRAND = Symbol.for('integration-hub.adapter');

/**
 * A defined adapter: its declaration, its Lambda entry, and a way to build the runtime of one integration it serves.
 * The adapter has no name of its own: it is its file (functions/integrations/<adapter>.ts), and each catalog
 * integration that uses it gives the name its circuit, ledger rows, metrics and idempotency keys are kept under.
 */
export interface Integration<TInput> {
  readonly definition: AdapterDefinition<TInput, SendResult>;
  /**
   * The SQS Lambda entry (partial batch response). The runtime is built from the environment on the first
   * invocation of a container (`INTEGRATION_NAME` names the integration) and reused; a configuration problem fails
   * that invocation with every problem listed.
   */
  readonly sqsHandler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  /** The adapter's declaration bound to the integration called `integrationName`. */
  bind(integrationName: string): IntegrationDefinition<TInput, SendResult>;
  /** Builds the runtime of integration `integrationName` with explicit dependencies (tests, local hub, benchmarks). */
  createRuntime(integrationName: string, dependencies: RuntimeDependencies): IntegrationRuntime<TInput>;
}

/** Declares an adapter; see docs/adapter-guide.md. */
export function defineIntegration<TInput, TResult extends SendResult>(definition: AdapterDefinition<TInput, TResult>): Integration<TInput> {
  // When the adapter's module loads, so a broken upcaster chain fails every import (tests first), not a message.
  assertSchemaEvolution(definition, 'the adapter');
  const declared = definition as unknown as AdapterDefinition<TInput, SendResult>;
  const bind = (integrationName: string): IntegrationDefinition<TInput, SendResult> => {
    const badName = nameProblem(integrationName, 'integration name');
    if (badName) throw new TypeError(badName);
    return { ...declared, name: integrationName };
  };
  let runtime: IntegrationRuntime<TInput> | undefined;
  const adapter: Integration<TInput> = {
    definition: declared,
    bind,
    createRuntime: (integrationName, dependencies) => new IntegrationRuntime(bind(integrationName), dependencies),
    sqsHandler: async (event, context) => {
      if (!runtime) {
        const bound = bind(integrationNameFromEnvironment(process.env));
        runtime = new IntegrationRuntime(bound, dependenciesFromEnvironment(bound, process.env));
      }
      return runtime.handleBatch(event, context);
    },
  };
  Object.defineProperty(adapter, ADAPTER_BRAND, { value: true });
  return adapter;
}

/** True when `value` was made by {@link defineIntegration} (how the adapter loader finds it among a module's exports). */
export function isIntegrationAdapter(value: unknown): value is Integration<unknown> {
  return typeof value === 'object' && value !== null && (value as Record<symbol, unknown>)[ADAPTER_BRAND] === true;
}

/** The integration a function serves, from `INTEGRATION_NAME`; a missing or malformed name fails the init. */
export function integrationNameFromEnvironment(env: Record<string, string | undefined>): string {
  const name = env[INTEGRATION_NAME_VARIABLE]?.trim();
  const problem = nameProblem(name, INTEGRATION_NAME_VARIABLE);
  if (problem) throw new ConfigurationError(`Invalid configuration for the integration runtime:\n- ${problem}: the catalog integration this function serves`, [problem]);
  return name!;
}
