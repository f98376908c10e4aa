import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import type { Context } from 'aws-lambda';
import { type IntegrationError, NotAttemptedError, PoisonMessageError, type StaleEventError, toIntegrationError } from './errors.js';
import { fromIdempotencyError } from './idempotency-errors.js';
import { IdempotencyKeyFunctions } from './idempotency-key-functions.js';
import { checkSchema } from './schema.js';
import { createHttpClient, type HttpClient } from './http-client.js';
import { describeIssues } from './inbound-record.js';
import type { IntegrationDefinition, SendResult } from './integration-definition.js';
import type { CallGuard, CallPermit, Clock, CredentialsProvider, DeadLetterQueue, MessageParker } from './ports.js';
import type { RuntimeSettings } from './runtime-settings.js';
import { SchemaEvolution } from './schema-evolution.js';
import { type EntityRef, type SyncAttempt, withSyncAttempt } from './sync-ledger.js';
import type { DynamoDBSyncLedger } from './dynamodb-sync-ledger.js';
import { type MetricsSink, type RecordLogger, recordLogger, RuntimeMetric } from './telemetry.js';

/** What the runtime needs from the shared circuit breaker. */
export interface RuntimeCircuitBreaker extends CallGuard {
  /** Throws a NotAttemptedError when calls must not be made now; no I/O while the cached state is fresh. */
  check(): Promise<void>;
  /** Writes the batch's accumulated counters (failure-ratio mode); called once per batch. */
  flush(): Promise<void>;
  /** Becomes the single half-open probe if one is due; undefined otherwise. */
  tryAcquireProbeLease(): Promise<CallPermit | undefined>;
  /** The breaker's settings: `maxThrottleMs` caps how long a provider's Retry-After is honoured. */
  readonly settings: { readonly maxThrottleMs: number };
}

/** How a probe run ended. */
export type ProbeOutcome = 'no_probe_defined' | 'not_due' | 'succeeded' | 'failed';

/** Everything the runtime talks to; built from the environment in Lambda, from fakes or dynalite in tests. */
export interface RuntimeDependencies {
  settings: RuntimeSettings;
  ledger: DynamoDBSyncLedger;
  breaker: RuntimeCircuitBreaker;
  credentials: CredentialsProvider;
  deadLetters: DeadLetterQueue;
  parker: MessageParker;
  logger: Logger;
  metrics: MetricsSink;
  clock: Clock;
  /** @default globalThis.fetch */
  fetch?: typeof fetch;
}

/** A validated operation: the adapter's input, its namespaced idempotency key and its ledger entity. */
export interface Operation<TInput> {
  input: TInput;
  /** `<definition name>:<adapter key>`: the idempotency key, also sent as `Idempotency-Key`. */
  idempotencyKey: string;
  entity: EntityRef;
  /** The payload at the adapter's current schemaVersion (upcast when it arrived older): what a duplicate is compared with. */
  payload: unknown;
}

/** Where an operation comes from: what the ledger, the logs and the provider's headers need. */
export interface OperationContext {
  correlationId: string;
  /** Delivery count (SQS receive count, Step Functions attempt). */
  attempt: number;
  /** Compared with the idempotency record of a duplicate: the operation's payload, less what differs between deliveries. */
  payload: unknown;
  detailType?: string;
  logger: RecordLogger;
  lambda: Context;
}

/** How an operation ended. */
export type OperationOutcome =
  | { kind: 'done'; result: SendResult; replayed: boolean }
  | { kind: 'stale'; error: StaleEventError }
  /** `precheck`: refused by the circuit before anything was claimed or written. */
  | { kind: 'failed'; error: IntegrationError; precheck: boolean };

/** The data Powertools hashes: `key` selects the idempotency record, `payload` is validated against it. */
interface IdempotentWork {
  key: string;
  payload: JSONValue;
}

/** What the send step gets through Powertools idempotency once the claim is held. */
interface ClaimedOperation {
  operation: OperationContext;
  idempotencyKey: string;
  attempt: SyncAttempt;
}

const REPLAY_MARKER = '__idempotentReplay';

/**
 * One operation against a provider, exactly once: circuit pre-check → idempotent claim (+ ledger) → credentials →
 * HTTP through the adapter → classified outcome. Shared by the SQS runtime and the Step Functions task runtime;
 * what to do with each outcome (DLQ, park, throw a typed error) is theirs.
 *
 * The circuit is checked BEFORE the idempotency claim (docs/architecture.md "One record, in order", step 3) so that
 * an operation refused during an outage costs no DynamoDB write; the HTTP client checks the breaker again on every
 * attempt.
 */
export class OperationExecutor<TInput> {
  readonly definition: IntegrationDefinition<TInput, SendResult>;
  readonly #deps: RuntimeDependencies;
  readonly #idempotencyConfig: IdempotencyConfig;
  readonly #sendIdempotently: (work: IdempotentWork, input: TInput, context: ClaimedOperation) => Promise<JSONValue>;
  readonly #versions: SchemaEvolution;

  constructor(definition: IntegrationDefinition<TInput, SendResult>, deps: RuntimeDependencies) {
    this.definition = definition;
    this.#deps = deps;
    this.#versions = new SchemaEvolution(definition, definition.name);
    this.#idempotencyConfig = new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      payloadValidationJmesPath: 'payload',
      jmesPathOptions: new IdempotencyKeyFunctions(),
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: deps.settings.idempotencyTtlSeconds,
      responseHook: (response) => ({ ...(response as Record<string, JSONValue>), [REPLAY_MARKER]: true }),
    });
    this.#sendIdempotently = makeIdempotent(
      // The first argument is what Powertools hashes; the others ride along unhashed.
      (_work: IdempotentWork, input: TInput, context: ClaimedOperation) => this.#send(input, context) as Promise<JSONValue>,
      { persistenceStore: deps.ledger, config: this.#idempotencyConfig, keyPrefix: definition.name },
    );
  }

  /** Call once per invocation: the idempotency claim's lease follows the Lambda's remaining time. */
  startInvocation(context: Context): void {
    this.#idempotencyConfig.registerLambdaContext(context);
    this.#deps.logger.addContext(context);
  }

  /**
   * Brings the payload to the current schemaVersion, checks it and derives the key and entity from the result (so an
   * old and a new version of one operation share a key); a failure is poison.
   */
  validate(payload: unknown): Operation<TInput> | PoisonMessageError {
    const name = this.definition.name;
    const versioned = this.#versions.toCurrent(payload);
    if (versioned instanceof PoisonMessageError) return versioned;
    const parsed = checkSchema(this.definition.input, versioned.payload);
    if (!parsed.success) return new PoisonMessageError('ValidationFailed', `Invalid ${name} event: ${describeIssues(parsed.error)}`);
    let entity: { type: string; id: string; version?: number };
    let key: string;
    try {
      entity = this.definition.entity(parsed.data);
      key = this.definition.idempotencyKey(parsed.data);
    } catch (error) {
      // The same message would fail the same way on every retry.
      return new PoisonMessageError('ValidationFailed', `Could not derive the entity or idempotency key: ${(error as Error).message}`);
    }
    if (entity.type.includes('#') || entity.type === '' || entity.id === '' || key === '') {
      return new PoisonMessageError('ValidationFailed', "Invalid entity or key: entity type non-empty without '#', id and key non-empty");
    }
    const entityVersion = entity.version ?? 0;
    if (!Number.isFinite(entityVersion)) return new PoisonMessageError('ValidationFailed', 'Entity version must be a finite number');
    return {
      input: parsed.data,
      idempotencyKey: operationIdempotencyKey(name, key),
      entity: { type: entity.type, id: entity.id, version: entityVersion },
      payload: versioned.payload,
    };
  }

  /** Runs the operation; never throws: every failure comes back classified. */
  async execute(operation: Operation<TInput>, context: OperationContext): Promise<OperationOutcome> {
    const { ledger, metrics } = this.#deps;
    const { logger } = context;
    const attempt: SyncAttempt = {
      integration: this.definition.name,
      entity: operation.entity,
      correlationId: context.correlationId,
      attempt: context.attempt,
    };

    try {
      await this.#deps.breaker.check();
    } catch (error) {
      const failure = toIntegrationError(error);
      if (failure instanceof NotAttemptedError) {
        await ledger.markPending(attempt, failure.errorClass).catch((cause: unknown) =>
          logger.warn('Could not record pending_sync', { error: cause }),
        );
      }
      return { kind: 'failed', error: failure, precheck: true };
    }

    try {
      const sendContext = { operation: context, idempotencyKey: operation.idempotencyKey, attempt };
      const result = await withSyncAttempt(attempt, () =>
        this.#sendIdempotently({ key: operation.idempotencyKey, payload: context.payload as JSONValue }, operation.input, sendContext),
      );
      if (isReplay(result)) {
        metrics.count(RuntimeMetric.IdempotentReplay);
        logger.info('Duplicate: returned the stored result without calling the provider');
        const { [REPLAY_MARKER]: _marker, ...stored } = result as Record<string, JSONValue>;
        return { kind: 'done', result: stored as SendResult, replayed: true };
      }
      return { kind: 'done', result: result as SendResult, replayed: false };
    } catch (error) {
      const failure = fromIdempotencyError(error);
      if (failure.category === 'stale') {
        metrics.count(RuntimeMetric.StaleSkipped);
        logger.info('Skipped stale event', { reason: failure.message });
        await ledger.recordSkippedStale(attempt).catch((cause: unknown) => logger.warn('Could not record skipped_stale', { error: cause }));
        return { kind: 'stale', error: failure as StaleEventError };
      }
      return { kind: 'failed', error: failure, precheck: false };
    }
  }

  /**
   * Runs the adapter's `probe()` as the single half-open probe, if one is due (the prober calls this every minute
   * while the circuit is open). The outcome is reported to the circuit: a success may close it, a failure re-opens
   * it with a longer break. One attempt, no retries: the probe is a question, not a delivery.
   */
  async runProbe(remainingTimeMs: () => number = () => 30_000): Promise<ProbeOutcome> {
    const { probe } = this.definition;
    if (!probe) return 'no_probe_defined';
    const permit = await this.#deps.breaker.tryAcquireProbeLease();
    if (!permit) return 'not_due';
    const logger = recordLogger(this.#deps.logger, { probe: true });
    const http = this.#httpClient({
      correlationId: `probe-${this.definition.name}-${this.#deps.clock.now()}`,
      remainingTimeMs,
      maxAttempts: 1,
      // Every attempt of the probe (the one after a 401 refresh included) reports to the probe's own permit.
      guard: {
        acquire: async () => permit,
        throttle: (untilMs) => this.#deps.breaker.throttle(untilMs),
        isolateAndRefuse: (reason) => this.#deps.breaker.isolateAndRefuse(reason),
      },
      logger,
    });
    try {
      await probe({ http, logger });
      logger.info('Probe succeeded');
      return 'succeeded';
    } catch (error) {
      logger.warn('Probe failed', { error: toIntegrationError(error).message });
      return 'failed';
    }
  }

  /** The idempotent part: only runs when this delivery holds the claim. */
  async #send(input: TInput, context: ClaimedOperation): Promise<SendResult> {
    const { operation } = context;
    const http = this.#httpClient({
      correlationId: operation.correlationId,
      idempotencyKey: context.idempotencyKey,
      remainingTimeMs: () => operation.lambda.getRemainingTimeInMillis(),
      guard: this.#deps.breaker,
      logger: operation.logger,
    });
    try {
      const result = await this.definition.send(input, {
        http,
        logger: operation.logger,
        correlationId: operation.correlationId,
        idempotencyKey: context.idempotencyKey,
        detailType: operation.detailType,
      });
      // Stored for replays: it must survive a JSON round trip unchanged.
      return JSON.parse(JSON.stringify(result ?? {})) as SendResult;
    } catch (error) {
      const failure = toIntegrationError(error);
      context.attempt.failure = failure; // the ledger's release reads it
      throw failure;
    }
  }

  /** The provider client of one record (or probe), reporting attempts and retries as metrics. */
  #httpClient(options: ProviderClientOptions): HttpClient {
    return createProviderHttpClient(this.#deps, options);
  }
}

/** What a provider client is built from: the runtime's settings, credentials, clock, metrics and fetch. */
export type ProviderClientParts = Pick<RuntimeDependencies, 'settings' | 'credentials' | 'clock' | 'metrics' | 'fetch'>;

/** The per-call facts of a provider client. */
export interface ProviderClientOptions {
  correlationId: string;
  idempotencyKey?: string;
  remainingTimeMs: () => number;
  guard: CallGuard;
  logger: RecordLogger;
  /** @default settings.http.maxAttempts */
  maxAttempts?: number;
}

/**
 * The HTTP client the runtime calls a provider with: the settings' base URL, timeout and retry policy, the
 * credentials, the circuit guard, and every attempt and retry reported as metrics (CallLatency, CallSucceeded,
 * CallFailed by class, RetryAttempts) and logged. Used by the executor, and by tasks that talk to several providers.
 */
export function createProviderHttpClient(parts: ProviderClientParts, options: ProviderClientOptions): HttpClient {
  const { settings, clock, metrics } = parts;
  return createHttpClient({
    baseUrl: settings.baseUrl,
    timeoutMs: settings.http.timeoutMs,
    retry: {
      maxAttempts: options.maxAttempts ?? settings.http.maxAttempts,
      baseDelayMs: settings.http.baseDelayMs,
      maxDelayMs: settings.http.maxDelayMs,
    },
    safetyMarginMs: settings.http.safetyMarginMs,
    remainingTimeMs: options.remainingTimeMs,
    credentials: parts.credentials,
    guard: options.guard,
    correlationId: options.correlationId,
    idempotencyKey: options.idempotencyKey,
    clock,
    fetch: parts.fetch,
    observer: {
      attempt: ({ latencyMs, error }) => {
        metrics.latency(RuntimeMetric.CallLatency, latencyMs);
        if (error) metrics.count(RuntimeMetric.CallFailed, 1, error.errorClass);
        else metrics.count(RuntimeMetric.CallSucceeded);
      },
      retry: ({ attempt, delayMs, error }) => {
        metrics.count(RuntimeMetric.RetryAttempts);
        options.logger.warn('Retrying provider call', { attempt, delayMs, errorClass: error.errorClass, error: error.message });
      },
    },
  });
}

function isReplay(result: JSONValue): boolean {
  return result !== null && typeof result === 'object' && !Array.isArray(result) && REPLAY_MARKER in result;
}

/**
 * The key an operation is claimed under and sent as `Idempotency-Key`: the integration's (or task's) name, then the
 * definition's key. A caller that lost an answer asks the provider by it (functions/workflows/order-saga.ts).
 */
export function operationIdempotencyKey(name: string, key: string): string {
  return `${name}:${key}`;
}
