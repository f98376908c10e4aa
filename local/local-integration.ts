/**
 * Builds an integration's runtime on this machine: the real runtime and adapters against dynalite tables, a
 * provider URL (the sandbox), secrets held in memory and recording queues. Used by the tests, the benchmarks
 * and the local hub — the same composition as `runtime-environment.ts`, with local parts in place of AWS.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { AuthConfig } from '../functions/runtime/auth-config.js';
import type { CircuitBreaker } from '../functions/runtime/circuit-breaker.js';
import type { CircuitBreakerSettingsInput } from '../functions/runtime/circuit-settings.js';
import type { Integration } from '../functions/runtime/define-integration.js';
import type { DynamoDBSyncLedger } from '../functions/runtime/dynamodb-sync-ledger.js';
import type { IntegrationRuntime } from '../functions/runtime/integration-runtime.js';
import type { Clock, DeadLetterQueue, MessageParker, SecretSource } from '../functions/runtime/ports.js';
import { buildRuntimeDependencies } from '../functions/runtime/runtime-environment.js';
import { DEFAULT_SETTINGS, type RuntimeSettings } from '../functions/runtime/runtime-settings.js';
import { RecordingMetricsSink } from '../functions/runtime/telemetry.js';
import { createTable, type LocalDynamo } from './local-dynamo.js';
import { RecordingDeadLetterQueue, RecordingMessageParker } from './recording-queues.js';

/** The hub's table names on a local dynalite. */
export interface LocalTables {
  ledger: string;
  circuits: string;
}

/** Creates the ledger (`pk`/`sk`) and circuits (`circuitId`) tables. */
export async function createHubTables(dynamo: Pick<LocalDynamo, 'client'>, tables: LocalTables): Promise<void> {
  await createTable(dynamo.client, tables.ledger, { partitionKey: 'pk', sortKey: 'sk' });
  await createTable(dynamo.client, tables.circuits, { partitionKey: 'circuitId' });
}

/** What {@link createLocalIntegration} needs. */
export interface LocalIntegrationOptions {
  /** The integration's name: circuit id, ledger integration, metric dimension, idempotency namespace. */
  name: string;
  dynamo: Pick<LocalDynamo, 'client'>;
  tables: LocalTables;
  /** The provider's base URL (a sandbox provider URL). */
  baseUrl: string;
  /** How the provider is authenticated (what the catalog entry's `auth` says in a deployment). */
  auth: AuthConfig;
  secrets: SecretSource;
  secretName?: string;
  /** Overrides of the runtime settings (HTTP, concurrency, ...). */
  settings?: Partial<Omit<RuntimeSettings, 'http'>> & { http?: Partial<RuntimeSettings['http']> };
  circuit?: CircuitBreakerSettingsInput;
  clock?: Clock;
  logger?: Logger;
  metrics?: RecordingMetricsSink;
  deadLetters?: DeadLetterQueue;
  parker?: MessageParker;
  fetch?: typeof fetch;
}

/** A runtime built locally, with handles on its parts. */
export interface LocalIntegration<TInput> {
  runtime: IntegrationRuntime<TInput>;
  ledger: DynamoDBSyncLedger;
  breaker: CircuitBreaker;
  metrics: RecordingMetricsSink;
  deadLetters: DeadLetterQueue;
  parker: MessageParker;
}

/**
 * Builds the runtime of `integration` against local parts (one "Lambda instance": its own caches), composed by
 * the same `buildRuntimeDependencies` as a deployed function.
 */
export function createLocalIntegration<TInput>(integration: Integration<TInput>, options: LocalIntegrationOptions): LocalIntegration<TInput> {
  const definition = integration.bind(options.name);
  const settings: RuntimeSettings = {
    baseUrl: options.baseUrl,
    auth: options.auth,
    secretName: options.secretName ?? `${definition.name}/credentials`,
    secretMaxAgeSeconds: DEFAULT_SETTINGS.secretMaxAgeSeconds,
    recordConcurrency: DEFAULT_SETTINGS.recordConcurrency,
    idempotencyTtlSeconds: DEFAULT_SETTINGS.idempotencyTtlSeconds,
    parkJitterSeconds: DEFAULT_SETTINGS.parkJitterSeconds,
    retryBaseDelaySeconds: DEFAULT_SETTINGS.retryBaseDelaySeconds,
    retryMaxDelaySeconds: DEFAULT_SETTINGS.retryMaxDelaySeconds,
    maxReceiveCount: 0,
    ledgerTableName: options.tables.ledger,
    circuitsTableName: options.tables.circuits,
    deadLetterQueueUrl: `local://${definition.name}-dlq`,
    ...options.settings,
    http: {
      ...DEFAULT_SETTINGS.http,
      ...options.settings?.http,
    },
  };
  const metrics = options.metrics ?? new RecordingMetricsSink();
  const deps = buildRuntimeDependencies(definition, settings, {
    dynamodb: options.dynamo.client,
    secrets: options.secrets,
    deadLetters: options.deadLetters ?? new RecordingDeadLetterQueue(),
    parker: options.parker ?? new RecordingMessageParker(),
    logger: options.logger ?? new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }),
    metrics,
    circuit: options.circuit,
    clock: options.clock,
    fetch: options.fetch,
  });
  return {
    runtime: integration.createRuntime(options.name, deps),
    ledger: deps.ledger,
    breaker: deps.breaker,
    metrics,
    deadLetters: deps.deadLetters,
    parker: deps.parker,
  };
}
