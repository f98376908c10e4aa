/**
 * The composition root of a Lambda container: reads the settings from the environment once and builds the AWS
 * adapters (DynamoDB, SQS, Secrets Manager) behind the runtime's ports. Clients live for the container's life.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { SQSClient } from '@aws-sdk/client-sqs';
import type { Logger } from '@aws-lambda-powertools/logger';
import { CircuitBreaker } from './circuit-breaker.js';
import type { CircuitStore } from './circuit-store.js';
import { resolveCircuitBreakerSettings, type CircuitBreakerSettingsInput } from './circuit-settings.js';
import { systemClock } from './clock.js';
import type { Clock, DeadLetterQueue, MessageParker, SecretSource, WritableSecretSource } from './ports.js';
import { type AuthConfig, createCredentialsProvider } from './credentials.js';
import { isOAuth2 } from './auth-config.js';
import { DynamoDbCircuitStore } from './dynamodb-circuit-store.js';
import { DynamoDbRefreshLeases } from './dynamodb-refresh-leases.js';
import { RUNTIME_DYNAMODB_CLIENT_CONFIG } from './dynamodb-items.js';
import { DynamoDBSyncLedger } from './dynamodb-sync-ledger.js';
import { ConfigurationError } from './errors.js';
import type { IntegrationDefinition, SendResult } from './integration-definition.js';
import type { RuntimeDependencies } from './integration-runtime.js';
import { type RuntimeSettings, settingsFromEnvironment } from './runtime-settings.js';
import { SecretsManagerSecretSource } from './secrets-manager-secret-source.js';
import { SqsDeadLetterQueue } from './sqs-dead-letter-queue.js';
import { SqsMessageParker } from './sqs-message-parker.js';
import { createRuntimeLogger, type MetricsSink, PowertoolsMetricsSink, RuntimeMetric } from './telemetry.js';

/** Builds every dependency of an integration's runtime from `env` (Lambda's process.env). */
export function dependenciesFromEnvironment<TInput>(
  definition: IntegrationDefinition<TInput, SendResult>,
  env: Record<string, string | undefined>,
): RuntimeDependencies {
  const settings = settingsFromEnvironment(env);
  const circuit = resolveCircuitBreakerSettings(circuitOverrides(env.CIRCUIT_SETTINGS), `${definition.name} circuit`);
  const logger = createRuntimeLogger(definition.name);
  const sqs = new SQSClient({ endpoint: env.SQS_ENDPOINT || undefined });
  return buildRuntimeDependencies(definition, settings, {
    dynamodb: new DynamoDBClient({ ...RUNTIME_DYNAMODB_CLIENT_CONFIG, endpoint: env.DYNAMODB_ENDPOINT || undefined }),
    secrets: new SecretsManagerSecretSource({
      client: new SecretsManagerClient({ endpoint: env.SECRETS_MANAGER_ENDPOINT || undefined }),
      maxAgeSeconds: settings.secretMaxAgeSeconds,
    }),
    deadLetters: new SqsDeadLetterQueue(sqs, settings.deadLetterQueueUrl, definition.name),
    parker: new SqsMessageParker(sqs, env.SQS_ENDPOINT || undefined),
    logger,
    metrics: new PowertoolsMetricsSink(definition.name),
    circuit,
    authTokenUrl: env.AUTH_TOKEN_URL,
  });
}

/** The parts an integration's runtime is composed from besides its settings (clients live for the container's life). */
export interface RuntimeParts {
  /**
   * Client of the ledger and circuits tables. The functions build it with {@link RUNTIME_DYNAMODB_CLIENT_CONFIG}:
   * never wrap it in a DynamoDBDocumentClient.
   */
  readonly dynamodb: DynamoDBClient;
  /** Where the provider credentials are read (and, for `oauth2_refresh_token`, the rotated tokens written). */
  readonly secrets: SecretSource | WritableSecretSource;
  readonly deadLetters: DeadLetterQueue;
  readonly parker: MessageParker;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** Circuit breaker overrides. @default {} */
  readonly circuit?: CircuitBreakerSettingsInput;
  /** OAuth2 token URL override (a path is relative to the base URL). @default the adapter's */
  readonly authTokenUrl?: string;
  /**
   * The shared circuit the calls report to. A workflow task names its provider here, so a saga step and the
   * provider's SQS integration open and close one circuit together. @default the definition's name
   */
  readonly circuitId?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * Composes an integration's runtime dependencies from resolved settings and the given parts: the sync ledger,
 * the shared breaker on the circuits table, and the credentials. Shared by the integration functions and the
 * circuit prober, which builds one runtime per integration from its own configuration.
 */
export function buildRuntimeDependencies<TInput>(
  definition: IntegrationDefinition<TInput, SendResult>,
  settings: RuntimeSettings,
  parts: RuntimeParts,
): RuntimeDependencies & { breaker: CircuitBreaker } {
  const { logger, metrics } = parts;
  const clock = parts.clock ?? systemClock;
  return {
    settings,
    logger,
    metrics,
    clock,
    ledger: new DynamoDBSyncLedger({
      tableName: settings.ledgerTableName,
      client: parts.dynamodb,
      clock,
      onClaimLost: (details) => logger.warn('Ledger claim lost to another delivery; its writes win', details),
    }),
    breaker: createBreaker({
      circuitId: parts.circuitId ?? definition.name,
      settings: parts.circuit ?? {},
      store: new DynamoDbCircuitStore({ tableName: settings.circuitsTableName, client: parts.dynamodb }),
      metrics,
      logger,
      clock,
    }),
    credentials: createCredentialsProvider({
      auth: resolveAuth(settings.auth, settings.baseUrl, parts.authTokenUrl),
      secretName: settings.secretName,
      secrets: parts.secrets,
      // Items of the circuits table, beside the circuit they belong to (dynamodb-refresh-leases.ts).
      leases: new DynamoDbRefreshLeases({ tableName: settings.circuitsTableName, client: parts.dynamodb }),
      clock,
      fetch: parts.fetch,
    }),
    deadLetters: parts.deadLetters,
    parker: parts.parker,
    fetch: parts.fetch,
  };
}

/** The shared breaker of an integration, reporting its transitions as metrics and log lines. */
export function createBreaker(options: {
  circuitId: string;
  settings: CircuitBreakerSettingsInput;
  store: CircuitStore;
  metrics: MetricsSink;
  logger?: Logger;
  clock?: Clock;
  instanceId?: string;
}): CircuitBreaker {
  const { metrics, logger } = options;
  return new CircuitBreaker({
    circuitId: options.circuitId,
    settings: options.settings,
    store: options.store,
    clock: options.clock ?? systemClock,
    instanceId: options.instanceId,
    hooks: {
      // Rejections are counted where the message is parked (CircuitRejected / Throttled), not here.
      onEvent: (event) => {
        if (event.type === 'opened') metrics.count(RuntimeMetric.CircuitOpened);
        if (event.type !== 'rejected') logger?.info(`Circuit ${event.type}`, { circuit: event });
      },
      onStoreFallback: (error) => {
        metrics.count(RuntimeMetric.BreakerStoreFallback);
        logger?.error('Circuits table unavailable: using a per-instance breaker', { error });
      },
      onStoreRecovered: () => logger?.info('Circuits table reachable again: back to the shared breaker'),
    },
  });
}

/**
 * An OAuth2 token URL given as a path is relative to the provider's base URL, so one adapter default serves
 * every environment; `AUTH_TOKEN_URL` overrides it (and the secret may override both).
 */
export function resolveAuth(auth: AuthConfig, baseUrl: string, tokenUrlOverride?: string): AuthConfig {
  if (!isOAuth2(auth)) return auth;
  const tokenUrl = tokenUrlOverride?.trim() || auth.tokenUrl;
  return { ...auth, tokenUrl: tokenUrl.startsWith('/') ? `${baseUrl.replace(/\/+$/, '')}${tokenUrl}` : tokenUrl };
}

/**
 * Parses a JSON object of circuit breaker overrides from an environment variable (`CIRCUIT_SETTINGS`, or the
 * variable named by `variable`); empty means none. Validation of the values is {@link resolveCircuitBreakerSettings}'s.
 */
export function circuitOverrides(raw: string | undefined, variable = 'CIRCUIT_SETTINGS'): CircuitBreakerSettingsInput {
  if (!raw?.trim()) return {};
  try {
    const parsed: unknown = JSON.parse(raw);
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
    return parsed as CircuitBreakerSettingsInput;
  } catch (error) {
    throw new ConfigurationError(`${variable} must be a JSON object of circuit breaker settings: ${(error as Error).message}`);
  }
}
