/**
 * Builds workflow task runtimes for tests: the real task runtime against dynalite tables, a sandbox provider and an
 * in-memory Secrets Manager (the real Powertools-backed secret source), composed with `buildTaskDependencies` —
 * the same composition the Lambda entry uses.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { CircuitBreakerSettingsInput } from '../../../functions/runtime/circuit-settings.js';
import type { SendResult } from '../../../functions/runtime/integration-definition.js';
import { DEFAULT_SETTINGS, DEFAULT_TASK_IDEMPOTENCY_TTL_SECONDS, type RuntimeSettings } from '../../../functions/runtime/runtime-settings.js';
import { SecretsManagerSecretSource } from '../../../functions/runtime/secrets-manager-secret-source.js';
import { RecordingMetricsSink } from '../../../functions/runtime/telemetry.js';
import { buildTaskDependencies, type WorkflowTask } from '../../../functions/workflows/define-workflow-task.js';
import type { LocalDynamo } from '../../../local/local-dynamo.js';
import type { LocalTables } from '../../../local/local-integration.js';
import { createLocalSecretsManager, type LocalSecretsManager } from '../../../local/local-secrets-manager.js';
import type { ProviderName, Sandbox } from '../../../local/sandbox/index.js';
import { resolveCatalog } from '../../../lib/catalog.js';
import { resolveWorkflows } from '../../../lib/workflow-catalog.js';

/** The secret of each provider as the deployed secret holds it (the runtime's auth scheme fields). */
export function providerSecrets(sandbox: Sandbox): LocalSecretsManager {
  return createLocalSecretsManager({
    'inventory/credentials': { apiKey: sandbox.credentials('inventory').apiKey },
    'payments/credentials': { token: sandbox.credentials('payments').secretKey },
    'shipping/credentials': { ...sandbox.credentials('shipping') },
    'email/credentials': { token: sandbox.credentials('email').token },
    'contacts/credentials': { token: sandbox.credentials('contacts').token },
    'crm/credentials': { ...sandbox.credentials('crm') },
  });
}

/** Fast in-process retries, so a 503 test does not wait for real backoff. */
export const FAST_HTTP = { baseDelayMs: 1, maxDelayMs: 5 } as const;

/** The runtime settings of a task against a sandbox provider. */
export function taskSettings(
  provider: ProviderName,
  sandbox: Sandbox,
  tables: LocalTables,
  http: Partial<RuntimeSettings['http']> = {},
): RuntimeSettings {
  return {
    baseUrl: sandbox.providerUrl(provider),
    auth: resolveWorkflows(resolveCatalog()).providers.get(provider)!.auth,
    secretName: `${provider}/credentials`,
    secretMaxAgeSeconds: DEFAULT_SETTINGS.secretMaxAgeSeconds,
    http: { ...DEFAULT_SETTINGS.http, ...FAST_HTTP, ...http },
    recordConcurrency: 1,
    idempotencyTtlSeconds: DEFAULT_TASK_IDEMPOTENCY_TTL_SECONDS,
    parkJitterSeconds: 0,
    retryBaseDelaySeconds: 0,
    retryMaxDelaySeconds: 1,
    maxReceiveCount: 0,
    ledgerTableName: tables.ledger,
    circuitsTableName: tables.circuits,
    deadLetterQueueUrl: '',
  };
}

/** What {@link buildTask} needs. */
export interface TaskEnvironment {
  dynamo: Pick<LocalDynamo, 'client'>;
  tables: LocalTables;
  sandbox: Sandbox;
  secretsManager: LocalSecretsManager;
}

/** Builds one "Lambda container" of `task`, with handles on its breaker, ledger and metrics. */
export function buildTask<TInput, TResult extends SendResult, TOutput>(
  task: WorkflowTask<TInput, TResult, TOutput>,
  env: TaskEnvironment,
  options: { circuit?: CircuitBreakerSettingsInput; http?: Partial<RuntimeSettings['http']> } = {},
) {
  const metrics = new RecordingMetricsSink();
  const deps = buildTaskDependencies(task, taskSettings(task.provider as ProviderName, env.sandbox, env.tables, options.http), {
    dynamodb: env.dynamo.client,
    secrets: new SecretsManagerSecretSource({ client: env.secretsManager.client }),
    logger: new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }),
    metrics,
    circuit: options.circuit,
  });
  return { runtime: task.createRuntime(deps), breaker: deps.breaker, ledger: deps.ledger, metrics };
}

/** Runs `promise` to its rejection and returns the error (fails the test when it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<Error & { errorClass?: string; retryAt?: string }> {
  try {
    await promise;
  } catch (error) {
    return error as Error & { errorClass?: string; retryAt?: string };
  }
  throw new Error('Expected the task to fail, but it succeeded');
}
