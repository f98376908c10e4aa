import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import {
  IdempotencyAlreadyInProgressError,
  IdempotencyConfig,
  IdempotencyInconsistentStateError,
  IdempotencyPersistenceLayerError,
  IdempotencyValidationError,
  makeIdempotent,
} from '@aws-lambda-powertools/idempotency';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ConcurrencyLimit } from './concurrency.js';
import {
  DuplicateInFlightError,
  IdempotencyKeyReuseError,
  type IntegrationError,
  NotAttemptedError,
  PoisonMessageError,
  ThrottledError,
  toIntegrationError,
} from './errors.js';
import { createHttpClient, type HttpClient } from './http-client.js';
import { describeIssues, eventVersionOf, type InboundRecord, readInboundRecord } from './inbound-record.js';
import type { IntegrationDefinition, SendResult } from './integration-definition.js';
import type { CallGuard, CallPermit, Clock, CredentialsProvider, DeadLetterQueue, MessageParker } from './ports.js';
import type { RuntimeSettings } from './runtime-settings.js';
import { type EntityRef, type SyncAttempt, withSyncAttempt } from './sync-ledger.js';
import type { DynamoDBSyncLedger } from './dynamodb-sync-ledger.js';
import { type MetricsSink, RuntimeMetric } from './telemetry.js';

/** What the runtime needs from the shared circuit breaker. */
export interface RuntimeCircuitBreaker extends CallGuard {
  /** Throws a NotAttemptedError when calls must not be made now; no I/O while the cached state is fresh. */
  check(): Promise<void>;
  /** Writes the batch's accumulated counters (failure-ratio mode); called once per batch. */
  flush(): Promise<void>;
  /** Becomes the single half-open probe if one is due; undefined otherwise. */
  tryAcquireProbeLease(): Promise<CallPermit | undefined>;
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

/** How one record ended; reported to the optional observer (local hub, benchmarks). */
export type RecordOutcome =
  | 'synced'
  | 'replayed'
  | 'skipped_stale'
  | 'dead_lettered'
  | 'parked'
  | 'retry_later';

/** The data Powertools hashes: `key` selects the idempotency record, `payload` is validated against it. */
interface IdempotentWork {
  key: string;
  payload: JSONValue;
}

const REPLAY_MARKER = '__idempotentReplay';

/**
 * The per-record pipeline of an integration, as an SQS batch handler with a partial batch response:
 * read → validate → circuit pre-check → idempotent claim (+ ledger) → credentials → HTTP → classify → respond.
 *
 * The circuit is checked BEFORE the idempotency claim (the handbook lists it after) so that a message parked
 * during an outage costs no DynamoDB write; the HTTP client checks the breaker again on every attempt.
 */
export class IntegrationRuntime<TInput> {
  readonly #definition: IntegrationDefinition<TInput, SendResult>;
  readonly #deps: RuntimeDependencies;
  readonly #idempotencyConfig: IdempotencyConfig;
  readonly #sendIdempotently: (work: IdempotentWork, input: TInput, context: RecordContext) => Promise<JSONValue>;
  readonly #supportedVersions: ReadonlySet<string>;

  constructor(definition: IntegrationDefinition<TInput, SendResult>, deps: RuntimeDependencies) {
    this.#definition = definition;
    this.#deps = deps;
    this.#supportedVersions = new Set(definition.supportedVersions ?? ['1']);
    this.#idempotencyConfig = new IdempotencyConfig({
      eventKeyJmesPath: 'key',
      payloadValidationJmesPath: 'payload',
      throwOnNoIdempotencyKey: true,
      expiresAfterSeconds: deps.settings.idempotencyTtlSeconds,
      responseHook: (response) => ({ ...(response as Record<string, JSONValue>), [REPLAY_MARKER]: true }),
    });
    this.#sendIdempotently = makeIdempotent(
      // The first argument is what Powertools hashes; the others ride along unhashed.
      (_work: IdempotentWork, input: TInput, context: RecordContext) => this.#send(input, context) as Promise<JSONValue>,
      { persistenceStore: deps.ledger, config: this.#idempotencyConfig, keyPrefix: definition.name },
    );
  }

  /** The SQS handler body: returns the partial batch response. */
  async handleBatch(event: SQSEvent, context: Context, observe?: (record: SQSRecord, outcome: RecordOutcome) => void): Promise<SQSBatchResponse> {
    this.#idempotencyConfig.registerLambdaContext(context);
    this.#deps.logger.addContext(context);
    const limit = new ConcurrencyLimit(this.#deps.settings.recordConcurrency);
    const processor = new BatchProcessor(EventType.SQS);
    try {
      return await processPartialResponse(
        event,
        (record: SQSRecord) =>
          limit.run(async () => {
            const outcome = await this.processRecord(record, context);
            observe?.(record, outcome);
            if (outcome === 'parked' || outcome === 'retry_later') {
              // Powertools reports a record as failed when its handler throws; the reason is already logged.
              throw new RecordNotDoneError(outcome);
            }
          }),
        processor,
        { context, throwOnFullBatchFailure: false },
      );
    } finally {
      await this.#deps.breaker.flush().catch((error: unknown) => this.#deps.logger.warn('Circuit flush failed', { error }));
      this.#deps.metrics.flush();
    }
  }

  /** Processes one record and says how it ended. Never throws: every failure is classified. */
  async processRecord(record: SQSRecord, context: Context): Promise<RecordOutcome> {
    const inbound = readInboundRecord(record);
    const logger = this.#deps.logger.createChild({
      persistentKeys: {
        correlationId: inbound.correlationId,
        messageId: inbound.message.messageId,
        receiveCount: inbound.receiveCount,
      },
    });
    if (inbound.unreadable) return this.#deadLetter(inbound, inbound.unreadable, logger);

    const validated = this.#validate(inbound);
    if (validated instanceof PoisonMessageError) return this.#deadLetter(inbound, validated, logger);

    const { input, entity } = validated;
    const idempotencyKey = `${this.#definition.name}:${validated.key}`;
    logger.appendKeys({ idempotencyKey, entity: `${entity.type}#${entity.id}`, entityVersion: entity.version });
    const attempt: SyncAttempt = {
      integration: this.#definition.name,
      entity,
      correlationId: inbound.correlationId,
      attempt: inbound.receiveCount,
    };

    try {
      await this.#deps.breaker.check();
    } catch (error) {
      const failure = toIntegrationError(error);
      if (failure instanceof NotAttemptedError) {
        await this.#deps.ledger.markPending(attempt, failure.errorClass).catch((cause: unknown) =>
          logger.warn('Could not record pending_sync', { error: cause }),
        );
        return this.#park(inbound, failure, logger);
      }
      return this.#retryLater(failure, logger);
    }

    try {
      const context_ = { inbound, logger, idempotencyKey, attempt, lambda: context };
      const result = await withSyncAttempt(attempt, () =>
        this.#sendIdempotently({ key: idempotencyKey, payload: inbound.payload as JSONValue }, input, context_),
      );
      if (isReplay(result)) {
        this.#deps.metrics.count(RuntimeMetric.IdempotentReplay);
        logger.info('Duplicate delivery: returned the stored result without calling the provider');
        return 'replayed';
      }
      logger.info('Synced', { externalId: (result as SendResult | null)?.externalId });
      return 'synced';
    } catch (error) {
      const failure = fromIdempotencyError(error);
      switch (failure.category) {
        case 'stale':
          this.#deps.metrics.count(RuntimeMetric.StaleSkipped);
          logger.info('Skipped stale event', { reason: failure.message });
          await this.#deps.ledger.recordSkippedStale(attempt).catch((cause: unknown) =>
            logger.warn('Could not record skipped_stale', { error: cause }),
          );
          return 'skipped_stale';
        case 'permanent':
          return this.#deadLetter(inbound, failure, logger);
        case 'not_attempted':
          return this.#park(inbound, failure as NotAttemptedError, logger);
        default:
          return this.#retryLater(failure, logger);
      }
    }
  }

  /**
   * Runs the adapter's `probe()` as the single half-open probe, if one is due (the prober calls this every minute
   * while the circuit is open). The outcome is reported to the circuit: a success may close it, a failure re-opens
   * it with a longer break. One attempt, no retries: the probe is a question, not a delivery.
   */
  async runProbe(remainingTimeMs: () => number = () => 30_000): Promise<ProbeOutcome> {
    const { probe } = this.#definition;
    if (!probe) return 'no_probe_defined';
    const permit = await this.#deps.breaker.tryAcquireProbeLease();
    if (!permit) return 'not_due';
    const logger = this.#deps.logger.createChild({ persistentKeys: { probe: true } });
    const http = this.#httpClient({
      correlationId: `probe-${this.#definition.name}-${this.#deps.clock.now()}`,
      remainingTimeMs,
      maxAttempts: 1,
      // Every attempt of the probe (the one after a 401 refresh included) reports to the probe's own permit.
      guard: { acquire: async () => permit, throttle: (untilMs) => this.#deps.breaker.throttle(untilMs) },
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
  async #send(input: TInput, context: RecordContext): Promise<SendResult> {
    const http = this.#httpClient({
      correlationId: context.inbound.correlationId,
      idempotencyKey: context.idempotencyKey,
      remainingTimeMs: () => context.lambda.getRemainingTimeInMillis(),
      guard: this.#deps.breaker,
      logger: context.logger,
    });
    try {
      const result = await this.#definition.send(input, {
        http,
        logger: context.logger,
        correlationId: context.inbound.correlationId,
        idempotencyKey: context.idempotencyKey,
        detailType: context.inbound.detailType,
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
  #httpClient(options: {
    correlationId: string;
    idempotencyKey?: string;
    remainingTimeMs: () => number;
    guard: CallGuard;
    logger: Logger;
    maxAttempts?: number;
  }): HttpClient {
    const { settings, clock, metrics } = this.#deps;
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
      credentials: this.#deps.credentials,
      guard: options.guard,
      correlationId: options.correlationId,
      idempotencyKey: options.idempotencyKey,
      clock,
      fetch: this.#deps.fetch,
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

  #validate(inbound: InboundRecord): { input: TInput; key: string; entity: EntityRef } | PoisonMessageError {
    const version = eventVersionOf(inbound.payload);
    if (!this.#supportedVersions.has(version)) {
      return new PoisonMessageError(
        'UnsupportedEventVersion',
        `Event schemaVersion ${JSON.stringify(version)} is not supported by ${this.#definition.name} (supported: ${[...this.#supportedVersions].join(', ')})`,
      );
    }
    const parsed = this.#definition.input.safeParse(inbound.payload);
    if (!parsed.success) {
      return new PoisonMessageError('ValidationFailed', `Invalid ${this.#definition.name} event: ${describeIssues(parsed.error)}`);
    }
    let entity: { type: string; id: string; version?: number };
    let key: string;
    try {
      entity = this.#definition.entity(parsed.data);
      key = this.#definition.idempotencyKey(parsed.data);
    } catch (error) {
      // The same message would fail the same way on every retry.
      return new PoisonMessageError('ValidationFailed', `Could not derive the entity or idempotency key: ${(error as Error).message}`);
    }
    if (entity.type.includes('#') || entity.type === '' || entity.id === '' || key === '') {
      return new PoisonMessageError('ValidationFailed', "Invalid entity or key: entity type non-empty without '#', id and key non-empty");
    }
    const entityVersion = entity.version ?? 0;
    if (!Number.isFinite(entityVersion)) return new PoisonMessageError('ValidationFailed', 'Entity version must be a finite number');
    return { input: parsed.data, key, entity: { type: entity.type, id: entity.id, version: entityVersion } };
  }

  async #deadLetter(inbound: InboundRecord, error: IntegrationError, logger: Logger): Promise<RecordOutcome> {
    if (error instanceof PoisonMessageError) this.#deps.metrics.count(RuntimeMetric.PoisonMessage, 1, error.errorClass);
    logger.error('Sending message to the DLQ', { errorClass: error.errorClass, reason: error.message });
    try {
      await this.#deps.deadLetters.send(inbound.message, {
        errorClass: error.errorClass,
        errorMessage: error.message,
        correlationId: inbound.correlationId,
      });
      return 'dead_lettered';
    } catch (cause) {
      // Nothing is lost: the message stays in the source queue and comes back (and reaches the DLQ by redrive).
      logger.error('DLQ send failed; leaving the message in the queue', { error: cause });
      return 'retry_later';
    }
  }

  async #park(inbound: InboundRecord, error: NotAttemptedError, logger: Logger): Promise<RecordOutcome> {
    const { clock, metrics, settings } = this.#deps;
    metrics.count(error instanceof ThrottledError ? RuntimeMetric.Throttled : RuntimeMetric.CircuitRejected);
    // Jitter spreads the parked backlog so it does not return as one burst when the circuit closes.
    const jitterSeconds = clock.random() * settings.parkJitterSeconds;
    const delaySeconds = Math.max(1, (error.retryAt - clock.now()) / 1000 + jitterSeconds);
    try {
      await this.#deps.parker.park(inbound.message, delaySeconds);
      logger.info('Parked message until the provider may be called again', { errorClass: error.errorClass, delaySeconds: Math.ceil(delaySeconds) });
    } catch (cause) {
      logger.warn('Could not extend visibility; the message returns after the queue visibility timeout', { error: cause });
    }
    return 'parked';
  }

  #retryLater(error: IntegrationError, logger: Logger): RecordOutcome {
    logger.warn('Transient failure; the message will be retried', { errorClass: error.errorClass, reason: error.message });
    return 'retry_later';
  }
}

/** Per-record context handed through Powertools idempotency to the send step. */
interface RecordContext {
  inbound: InboundRecord;
  logger: Logger;
  idempotencyKey: string;
  attempt: SyncAttempt;
  lambda: Context;
}

/** Thrown into Powertools batch so that a record is reported as a batch item failure. */
class RecordNotDoneError extends Error {
  constructor(outcome: RecordOutcome) {
    super(`Record not done: ${outcome}`);
    this.name = 'RecordNotDoneError';
  }
}

function isReplay(result: JSONValue): boolean {
  return result !== null && typeof result === 'object' && !Array.isArray(result) && REPLAY_MARKER in result;
}

/** Translates Powertools idempotency errors into the runtime's hierarchy. */
function fromIdempotencyError(error: unknown): IntegrationError {
  if (error instanceof IdempotencyValidationError) {
    return new IdempotencyKeyReuseError('Idempotency key reused with a different payload', { cause: error });
  }
  if (error instanceof IdempotencyAlreadyInProgressError || error instanceof IdempotencyInconsistentStateError) {
    return new DuplicateInFlightError('The same operation is being processed by another delivery', { cause: error });
  }
  if (error instanceof IdempotencyPersistenceLayerError && error.cause !== undefined) return toIntegrationError(error.cause);
  return toIntegrationError(error);
}
