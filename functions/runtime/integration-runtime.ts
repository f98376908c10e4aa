import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ConcurrencyLimit } from './concurrency.js';
import { DependencyError, DuplicateInFlightError, type IntegrationError, NotAttemptedError, PoisonMessageError, ThrottledError, TransientError } from './errors.js';
import { FIRST_SENT_AT_ATTRIBUTE, HAND_BACKS_ATTRIBUTE, type InboundRecord, readInboundRecord } from './inbound-record.js';
import type { IntegrationDefinition, SendResult } from './integration-definition.js';
import { OperationExecutor, type ProbeOutcome, type RuntimeDependencies } from './operation-executor.js';
import { type RecordLogger, recordLogger, RuntimeMetric } from './telemetry.js';

export type { ProbeOutcome, RuntimeCircuitBreaker, RuntimeDependencies } from './operation-executor.js';

/** How one record ended; reported to the optional observer (local hub, benchmarks). */
export type RecordOutcome =
  | 'synced'
  | 'replayed'
  | 'skipped_stale'
  | 'dead_lettered'
  | 'parked'
  /** Only waited (circuit open, throttled) on its last receive before the redrive: a copy went back to the queue. */
  | 'handed_back'
  | 'retry_later';

/**
 * The per-record pipeline of an integration, as an SQS batch handler with a partial batch response:
 * read → validate → (operation executor: circuit pre-check → idempotent claim + ledger → HTTP) → DLQ, park or
 * retry according to the outcome.
 */
export class IntegrationRuntime<TInput> {
  readonly #executor: OperationExecutor<TInput>;
  readonly #deps: RuntimeDependencies;

  constructor(definition: IntegrationDefinition<TInput, SendResult>, deps: RuntimeDependencies) {
    this.#deps = deps;
    this.#executor = new OperationExecutor(definition, deps);
  }

  /** The SQS handler body: returns the partial batch response. */
  async handleBatch(event: SQSEvent, context: Context, observe?: (record: SQSRecord, outcome: RecordOutcome) => void): Promise<SQSBatchResponse> {
    this.#executor.startInvocation(context);
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
    const logger = recordLogger(this.#deps.logger, {
      correlationId: inbound.correlationId,
      messageId: inbound.message.messageId,
      receiveCount: inbound.receiveCount,
    });
    if (inbound.unreadable) return this.#deadLetter(inbound, inbound.unreadable, logger);

    const operation = this.#executor.validate(inbound.payload);
    if (operation instanceof PoisonMessageError) return this.#deadLetter(inbound, operation, logger);
    const { entity, idempotencyKey } = operation;
    logger.appendKeys({ idempotencyKey, entity: `${entity.type}#${entity.id}`, entityVersion: entity.version });

    const outcome = await this.#executor.execute(operation, {
      correlationId: inbound.correlationId,
      attempt: inbound.receiveCount,
      // The upcast payload, so a v1 delivery and a v2 delivery of one operation count as duplicates.
      payload: operation.payload,
      detailType: inbound.detailType,
      logger,
      lambda: context,
    });
    switch (outcome.kind) {
      case 'done':
        if (!outcome.replayed) logger.info('Synced', { externalId: outcome.result.externalId });
        return outcome.replayed ? 'replayed' : 'synced';
      case 'stale':
        return 'skipped_stale';
      case 'failed': {
        const { error } = outcome;
        if (error.category === 'permanent') return this.#deadLetter(inbound, error, logger);
        if (error instanceof NotAttemptedError) return this.#park(inbound, error, logger);
        return this.#retryLater(inbound, error, logger);
      }
    }
  }

  /** See {@link OperationExecutor.runProbe}. */
  runProbe(remainingTimeMs?: () => number): Promise<ProbeOutcome> {
    return this.#executor.runProbe(remainingTimeMs);
  }

  async #deadLetter(inbound: InboundRecord, error: IntegrationError, logger: RecordLogger): Promise<RecordOutcome> {
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

  async #park(inbound: InboundRecord, error: NotAttemptedError, logger: RecordLogger): Promise<RecordOutcome> {
    const { clock, metrics, settings } = this.#deps;
    metrics.count(error instanceof ThrottledError ? RuntimeMetric.Throttled : RuntimeMetric.CircuitRejected);
    // Jitter spreads the parked backlog so it does not return as one burst when the circuit closes.
    const jitterSeconds = clock.random() * settings.parkJitterSeconds;
    const delaySeconds = Math.max(1, (error.retryAt - clock.now()) / 1000 + jitterSeconds);
    if (this.#lastReceiveBeforeRedrive(inbound) && (await this.#handBack(inbound, delaySeconds, logger))) return 'handed_back';
    try {
      await this.#deps.parker.park(inbound.message, delaySeconds);
      logger.info('Parked message until the provider may be called again', { errorClass: error.errorClass, delaySeconds: Math.ceil(delaySeconds) });
    } catch (cause) {
      logger.warn('Could not extend visibility; the message returns after the queue visibility timeout', { error: cause });
    }
    return 'parked';
  }

  /**
   * Whether this receive is the message's last before the queue's redrive policy moves it to the DLQ, and it is
   * young enough to be handed back (a copy restarts SQS's retention clock: the first-sent time bounds the wait).
   */
  #lastReceiveBeforeRedrive(inbound: InboundRecord): boolean {
    const { clock, settings } = this.#deps;
    return settings.maxReceiveCount > 0 && inbound.receiveCount >= settings.maxReceiveCount && clock.now() - inbound.firstSentAt < HAND_BACK_MAX_AGE_MS;
  }

  /**
   * Waiting must not dead-letter valid work, with or without the circuit controller pausing the event source: a
   * message that was not attempted on its last receive (or failed only on the hub's own dependencies, or met another
   * delivery of its operation in flight) goes back to its queue as a copy with a fresh receive count
   * (same body, so the same idempotency key and correlation id; its first-sent time carried along), and the original
   * is deleted as done. False when the copy could not be sent: the message is parked as before.
   */
  async #handBack(inbound: InboundRecord, delaySeconds: number, logger: RecordLogger): Promise<boolean> {
    const attributes = inbound.message.attributes ?? {};
    const handBacks = (Number(attributes[HAND_BACKS_ATTRIBUTE]) || 0) + 1;
    try {
      await this.#deps.parker.requeue(inbound.message, delaySeconds, {
        ...attributes,
        correlationId: inbound.correlationId,
        [FIRST_SENT_AT_ATTRIBUTE]: String(inbound.firstSentAt),
        [HAND_BACKS_ATTRIBUTE]: String(handBacks),
      });
    } catch (cause) {
      logger.warn('Could not hand the message back to its queue; parking it on its last receive', { error: cause });
      return false;
    }
    this.#deps.metrics.count(RuntimeMetric.HandedBack);
    logger.info('Handed the message back to its queue with a fresh receive count: it only waited', { handBacks, receiveCount: inbound.receiveCount });
    return true;
  }

  async #retryLater(inbound: InboundRecord, error: IntegrationError, logger: RecordLogger): Promise<RecordOutcome> {
    const { clock, settings } = this.#deps;
    const backoff = retryDelaySeconds(inbound.receiveCount, settings.retryBaseDelaySeconds, settings.retryMaxDelaySeconds, clock.random());
    // The provider said when to come back (429/503 with Retry-After, longer than this invocation could wait): back
    // sooner, the message would only be parked by the shared throttle and spend a receive for nothing. Capped like
    // the shared throttle (the circuit's maxThrottleMs): an hour-long Retry-After is not honoured for longer.
    const retryAfterMs = error instanceof TransientError && error.retryAfterMs !== undefined ? Math.min(error.retryAfterMs, this.#deps.breaker.settings.maxThrottleMs) : undefined;
    const delaySeconds =
      retryAfterMs === undefined ? backoff : Math.min(MAX_VISIBILITY_SECONDS, Math.max(backoff ?? 0, Math.ceil(retryAfterMs / 1000 + clock.random() * settings.parkJitterSeconds)));
    logger.warn('Transient failure; the message will be retried', { errorClass: error.errorClass, reason: error.message, delaySeconds });
    // Our own dependency failing (ledger, circuits, secret store) or another delivery holding the operation is
    // waiting, not a failure of the message: like a parked one, it must not be dead-lettered for it.
    const waitedOnly = error instanceof DependencyError || error instanceof DuplicateInFlightError;
    if (waitedOnly && this.#lastReceiveBeforeRedrive(inbound) && (await this.#handBack(inbound, delaySeconds ?? 0, logger))) return 'handed_back';
    if (delaySeconds === undefined) return 'retry_later';
    try {
      await this.#deps.parker.park(inbound.message, delaySeconds);
    } catch (cause) {
      logger.warn('Could not set the retry delay; the message returns after the queue visibility timeout', { error: cause });
    }
    return 'retry_later';
  }
}

/**
 * How long a message may wait in all, across hand-backs, before it follows the redrive policy like any other: a day
 * short of the work queues' 14 days of retention (lib/constructs/integration-pipeline.ts).
 */
const HAND_BACK_MAX_AGE_MS = 13 * 86_400_000;

/** SQS's longest visibility timeout: a message cannot be hidden longer (12 hours). */
const MAX_VISIBILITY_SECONDS = 43_200;

/**
 * The delay before the next delivery of a message that failed transiently on its `receiveCount`-th receive:
 * `base × 2^(receiveCount − 1)` capped at `max`, times a random factor in [0.5, 1) so a batch that failed together
 * does not return together. Undefined when retry delays are off (base 0): the visibility timeout decides.
 */
export function retryDelaySeconds(receiveCount: number, baseSeconds: number, maxSeconds: number, random: number): number | undefined {
  if (baseSeconds <= 0) return undefined;
  const exponential = Math.min(maxSeconds, baseSeconds * 2 ** Math.max(0, Math.min(30, receiveCount - 1)));
  return Math.max(1, Math.ceil(exponential * (0.5 + random / 2)));
}

/** Thrown into Powertools batch so that a record is reported as a batch item failure. */
class RecordNotDoneError extends Error {
  constructor(outcome: RecordOutcome) {
    super(`Record not done: ${outcome}`);
    this.name = 'RecordNotDoneError';
  }
}

