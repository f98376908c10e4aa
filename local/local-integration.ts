/**
 * Builds an integration's runtime on this machine: the real runtime and adapters against dynalite tables, a
 * provider URL (the sandbox), secrets held in memory and recording queues. Used by the tests, the benchmarks
 * and the local hub — the same composition as `runtime-environment.ts`, with local parts in place of AWS.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { CircuitBreaker } from '../functions/runtime/circuit-breaker.js';
import type { CircuitBreakerSettingsInput } from '../functions/runtime/circuit-settings.js';
import type { CircuitStore } from '../functions/runtime/circuit-store.js';
import { systemClock } from '../functions/runtime/clock.js';
import { createCredentialsProvider } from '../functions/runtime/credentials.js';
import type { Integration } from '../functions/runtime/define-integration.js';
import { DynamoDbCircuitStore } from '../functions/runtime/dynamodb-circuit-store.js';
import { DynamoDBSyncLedger } from '../functions/runtime/dynamodb-sync-ledger.js';
import type { IntegrationRuntime } from '../functions/runtime/integration-runtime.js';
import type { Clock, DeadLetterQueue, MessageParker, SecretSource } from '../functions/runtime/ports.js';
import { createBreaker, resolveAuth } from '../functions/runtime/runtime-environment.js';
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
  dynamo: Pick<LocalDynamo, 'client'>;
  tables: LocalTables;
  /** The provider's base URL (a sandbox provider URL). */
  baseUrl: string;
  secrets: SecretSource;
  secretName?: string;
  /** Overrides of the runtime settings (HTTP, concurrency, ...). */
  settings?: Partial<Omit<RuntimeSettings, 'http'>> & { http?: Partial<RuntimeSettings['http']> };
  circuit?: CircuitBreakerSettingsInput;
  /** Another store than the circuits table (tests of the fallback). */
  circuitStore?: CircuitStore;
  clock?: Clock;
  logger?: Logger;
  metrics?: RecordingMetricsSink;
  deadLetters?: DeadLetterQueue;
  parker?: MessageParker;
  instanceId?: string;
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

/** Builds the runtime of `integration` against local parts (one "Lambda instance": its own caches). */
export function createLocalIntegration<TInput>(integration: Integration<TInput>, options: LocalIntegrationOptions): LocalIntegration<TInput> {
  const { definition } = integration;
  const clock = options.clock ?? systemClock;
  const logger = options.logger ?? new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' });
  const metrics = options.metrics ?? new RecordingMetricsSink();
  const settings: RuntimeSettings = {
    baseUrl: options.baseUrl,
    secretName: options.secretName ?? `${definition.name}/credentials`,
    secretMaxAgeSeconds: DEFAULT_SETTINGS.secretMaxAgeSeconds,
    recordConcurrency: DEFAULT_SETTINGS.recordConcurrency,
    idempotencyTtlSeconds: DEFAULT_SETTINGS.idempotencyTtlSeconds,
    parkJitterSeconds: DEFAULT_SETTINGS.parkJitterSeconds,
    ledgerTableName: options.tables.ledger,
    circuitsTableName: options.tables.circuits,
    deadLetterQueueUrl: `local://${definition.name}-dlq`,
    ...options.settings,
    http: {
      ...DEFAULT_SETTINGS.http,
      timeoutMs: definition.connection.timeoutMs ?? DEFAULT_SETTINGS.http.timeoutMs,
      maxAttempts: definition.connection.maxAttempts ?? DEFAULT_SETTINGS.http.maxAttempts,
      ...options.settings?.http,
    },
  };
  const ledger = new DynamoDBSyncLedger({ tableName: settings.ledgerTableName, client: options.dynamo.client, clock });
  const breaker = createBreaker({
    circuitId: definition.name,
    settings: options.circuit ?? {},
    store: options.circuitStore ?? new DynamoDbCircuitStore({ tableName: settings.circuitsTableName, client: options.dynamo.client }),
    metrics,
    logger,
    clock,
    instanceId: options.instanceId,
  });
  const deadLetters = options.deadLetters ?? new RecordingDeadLetterQueue();
  const parker = options.parker ?? new RecordingMessageParker();
  const runtime = integration.createRuntime({
    settings,
    ledger,
    breaker,
    credentials: createCredentialsProvider({
      auth: resolveAuth(definition.connection.auth, settings.baseUrl),
      secretName: settings.secretName,
      secrets: options.secrets,
      clock,
      fetch: options.fetch,
    }),
    deadLetters,
    parker,
    logger,
    metrics,
    clock,
    fetch: options.fetch,
  });
  return { runtime, ledger, breaker, metrics, deadLetters, parker };
}
