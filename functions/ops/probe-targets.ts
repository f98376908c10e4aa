/**
 * Builds the prober's view of each integration and each standalone workflow provider: an operation executor on the
 * adapter's (or the provider probe's) definition, composed exactly like the function that calls the provider
 * (`buildRuntimeDependencies`: shared breaker on the circuits table, credentials from its secret), from the prober's
 * configuration. Only `runProbe()` and the breaker are used: the probe never claims an idempotency record, writes
 * the ledger or sends to a queue, so those parts are inert here.
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { AnyIntegration } from './integration-adapters.js';
import { ConfigurationError, ReauthorizationRequiredError } from '../runtime/errors.js';
import { RefreshTokenCredentials } from '../runtime/refresh-token-credentials.js';
import { type Clock, noQueue, type SecretSource, type WritableSecretSource } from '../runtime/ports.js';
import { buildRuntimeDependencies } from '../runtime/runtime-environment.js';
import { DEFAULT_SETTINGS, type RuntimeSettings } from '../runtime/runtime-settings.js';
import type { MetricsSink } from '../runtime/telemetry.js';
import type { IntegrationDefinition, SendResult } from '../runtime/integration-definition.js';
import { OperationExecutor } from '../runtime/operation-executor.js';
import type { ProbeTarget, ReauthorizationOutcome } from './circuit-probing.js';
import type { ProbedIntegration, ProbedProvider, ProberConfig } from './ops-config.js';

/** What {@link createProbeTargets} composes the runtimes from. */
export interface ProbeTargetParts {
  /** Finds an adapter by its name (functions/integrations/<adapter>.ts). */
  readonly adapters: (name: string) => AnyIntegration | undefined;
  /** Finds a standalone workflow provider's probe by name. @default none */
  readonly providerProbes?: (name: string) => IntegrationDefinition<unknown, SendResult> | undefined;
  /** Client of the circuits table. */
  readonly dynamodb: DynamoDBClient;
  readonly secrets: SecretSource | WritableSecretSource;
  /** The logger of one integration. */
  readonly logger: (integration: string) => Logger;
  /** The runtime metrics of one integration (the probe's calls are counted like any call). */
  readonly metrics: (integration: string) => MetricsSink;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

const NO_QUEUE = noQueue('The circuit prober delivers no message: it has no DLQ and parks nothing');

/** One {@link ProbeTarget} per configured integration, then one per configured provider. */
export function createProbeTargets(config: ProberConfig, parts: ProbeTargetParts): ProbeTarget[] {
  const integrations = config.integrations.map((integration) => {
    const adapter = parts.adapters(integration.adapter);
    if (!adapter) throw new ConfigurationError(`circuit prober: no adapter is called '${integration.adapter}'`);
    return probeTarget(integration, adapter.bind(integration.name), config, parts);
  });
  const providers = config.providers.map((provider) => {
    const probe = parts.providerProbes?.(provider.name);
    if (!probe) throw new ConfigurationError(`circuit prober: no provider probe is called '${provider.name}'`);
    return probeTarget(provider, probe, config, parts);
  });
  return [...integrations, ...providers];
}

function probeTarget(
  target: ProbedIntegration | ProbedProvider,
  definition: IntegrationDefinition<unknown, SendResult>,
  config: ProberConfig,
  parts: ProbeTargetParts,
): ProbeTarget {
  const metrics = parts.metrics(target.name);
  const deps = buildRuntimeDependencies(definition, probeSettings(target, config), {
    dynamodb: parts.dynamodb,
    secrets: parts.secrets,
    deadLetters: NO_QUEUE,
    parker: NO_QUEUE,
    logger: parts.logger(target.name),
    metrics,
    circuit: target.circuit,
    authTokenUrl: 'authTokenUrl' in target ? target.authTokenUrl : undefined,
    // A provider's tasks are named after their step; its circuit is the provider's.
    circuitId: target.name,
    clock: parts.clock,
    fetch: parts.fetch,
  });
  const executor = new OperationExecutor(definition, deps);
  const { credentials } = deps;
  return {
    integration: target,
    status: () => deps.breaker.status(),
    probe: (remainingTimeMs) => executor.runProbe(remainingTimeMs),
    ...(credentials instanceof RefreshTokenCredentials ? { reauthorize: () => reauthorize(credentials, deps.breaker) } : {}),
    flushMetrics: () => metrics.flush(),
  };
}

/** Refreshes with the secret's new refresh token, if there is one, and closes the circuit on success. */
async function reauthorize(credentials: RefreshTokenCredentials, breaker: { reset(): Promise<unknown> }): Promise<ReauthorizationOutcome> {
  try {
    if ((await credentials.recover()) === 'token_unchanged') return 'waiting';
  } catch (error) {
    // The new refresh token is refused too: it is recorded, so the next run waits for yet another one.
    if (error instanceof ReauthorizationRequiredError) return 'refused';
    throw error;
  }
  await breaker.reset();
  return 'reauthorized';
}

/** The runtime settings of a probe: the provider's URL, secret and timeout; one attempt (runProbe forces it anyway). */
function probeSettings(target: ProbedIntegration | ProbedProvider, config: ProberConfig): RuntimeSettings {
  return {
    baseUrl: target.baseUrl,
    auth: target.auth,
    secretName: target.secretName,
    secretMaxAgeSeconds: config.secretMaxAgeSeconds,
    http: { ...DEFAULT_SETTINGS.http, timeoutMs: target.httpTimeoutMs ?? DEFAULT_SETTINGS.http.timeoutMs, maxAttempts: 1 },
    recordConcurrency: 1,
    idempotencyTtlSeconds: DEFAULT_SETTINGS.idempotencyTtlSeconds,
    parkJitterSeconds: DEFAULT_SETTINGS.parkJitterSeconds,
    retryBaseDelaySeconds: DEFAULT_SETTINGS.retryBaseDelaySeconds,
    retryMaxDelaySeconds: DEFAULT_SETTINGS.retryMaxDelaySeconds,
    maxReceiveCount: 0,
    circuitsTableName: config.circuitsTableName,
    // Not used by a probe (see the file comment); empty so that any use would fail loudly.
    ledgerTableName: '',
    deadLetterQueueUrl: '',
  };
}
