import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { IntegrationDefinition, SendResult } from './integration-definition.js';
import { IntegrationRuntime, type RuntimeDependencies } from './integration-runtime.js';
import { nameProblem } from './names.js';
import { dependenciesFromEnvironment } from './runtime-environment.js';

/** A defined integration: its declaration, its Lambda entry, and a way to build its runtime with given parts. */
export interface Integration<TInput> {
  readonly name: string;
  readonly definition: IntegrationDefinition<TInput, SendResult>;
  /**
   * The SQS Lambda entry (partial batch response). The runtime is built from the environment on the first
   * invocation of a container and reused; a configuration problem fails that invocation with every problem listed.
   */
  readonly sqsHandler: (event: SQSEvent, context: Context) => Promise<SQSBatchResponse>;
  /** Builds the runtime with explicit dependencies (tests, local hub, benchmarks). */
  createRuntime(dependencies: RuntimeDependencies): IntegrationRuntime<TInput>;
}

/** Declares an adapter; see the README's adapter guide. */
export function defineIntegration<TInput, TResult extends SendResult>(
  definition: IntegrationDefinition<TInput, TResult>,
): Integration<TInput> {
  const badName = nameProblem(definition.name);
  if (badName) throw new TypeError(`Integration ${badName}`);
  const declared = definition as unknown as IntegrationDefinition<TInput, SendResult>;
  let runtime: IntegrationRuntime<TInput> | undefined;
  return {
    name: definition.name,
    definition: declared,
    createRuntime: (dependencies) => new IntegrationRuntime(declared, dependencies),
    sqsHandler: async (event, context) => {
      runtime ??= new IntegrationRuntime(declared, dependenciesFromEnvironment(declared, process.env));
      return runtime.handleBatch(event, context);
    },
  };
}
