/**
 * Starts the order-fulfilment saga for every `OrderPlaced` event. The CDK routes the events from the hub's bus to a
 * queue feeding this SQS handler (partial batch responses). Per record: read (EventBridge envelope or raw JSON) →
 * validate the OrderPlaced detail (poison → the queue's DLQ with the reason, never retried) → StartExecution with
 * `name = executionNameFor(orderId)` and input `{ order, steps: {} }`.
 *
 * Exactly one saga per order: the execution name is derived from the order id only, so a duplicate event (SQS
 * redelivery, EventBridge retry, a producer that publishes twice) meets ExecutionAlreadyExists, which counts as
 * success. Throttling, 5xx and network failures leave the record in the queue (batch item failure).
 *
 * Environment: STATE_MACHINE_ARN (required), DLQ_URL (required: the starter queue's DLQ); optional SFN_ENDPOINT,
 * SQS_ENDPOINT (local endpoints).
 */
import { createHash } from 'node:crypto';
import { SFNClient } from '@aws-sdk/client-sfn';
import { SQSClient } from '@aws-sdk/client-sqs';
import { BatchProcessor, EventType, processPartialResponse } from '@aws-lambda-powertools/batch';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { ConfigurationError, type IntegrationError, PoisonMessageError, toIntegrationError } from '../runtime/errors.js';
import { describeIssues, eventVersionOf, type InboundRecord, readInboundRecord } from '../runtime/inbound-record.js';
import type { DeadLetterQueue } from '../runtime/ports.js';
import { checkSchema } from '../runtime/schema.js';
import { SqsDeadLetterQueue } from '../runtime/sqs-dead-letter-queue.js';
import { createRuntimeLogger, type MetricsSink, PowertoolsMetricsSink, RuntimeMetric } from '../runtime/telemetry.js';
import { orderPlacedSchema } from './order-placed.js';
import { type ExecutionStarter, SfnExecutionStarter } from './sfn-execution-starter.js';
import type { SagaState } from './workflow-contract.js';

/** The name the starter (and metrics) go by. */
export const ORDER_SAGA_STARTER = 'order-saga-starter';
/** The detail-type the starter accepts from the bus (a raw SQS message has none). */
export const ORDER_PLACED = 'OrderPlaced';

const VALID_EXECUTION_NAME = /^[A-Za-z0-9_-]{1,80}$/;

/**
 * The execution name of an order's saga: the order id itself when it is a valid name (1–80 of [A-Za-z0-9-_]);
 * otherwise the id with every other character replaced by `_`, cut to fit, plus a hash of the whole id, so two
 * orders never share a name and one order always gets the same.
 */
export function executionNameFor(orderId: string): string {
  if (VALID_EXECUTION_NAME.test(orderId)) return orderId;
  const hash = createHash('sha256').update(orderId, 'utf8').digest('hex').slice(0, 16);
  return `${orderId.replace(/[^A-Za-z0-9_-]/g, '_').slice(0, 80 - hash.length - 1)}-${hash}`;
}

/** How one record ended. */
export type StarterOutcome = 'started' | 'already_running' | 'dead_lettered' | 'retry_later';

/** What the starter talks to. */
export interface OrderSagaStarterDependencies {
  readonly executions: ExecutionStarter;
  readonly deadLetters: DeadLetterQueue;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
}

/** The starter's logic, against ports. */
export class OrderSagaStarter {
  constructor(private readonly deps: OrderSagaStarterDependencies) {}

  /** The SQS handler body: returns the partial batch response. */
  async handleBatch(event: SQSEvent, context: Context): Promise<SQSBatchResponse> {
    this.deps.logger.addContext(context);
    const processor = new BatchProcessor(EventType.SQS);
    try {
      return await processPartialResponse(
        event,
        async (record: SQSRecord) => {
          const outcome = await this.processRecord(record);
          if (outcome === 'retry_later') throw new Error('Record not done: retry later');
        },
        processor,
        { context, throwOnFullBatchFailure: false },
      );
    } finally {
      this.deps.metrics.flush();
    }
  }

  /** Processes one record; never throws. */
  async processRecord(record: SQSRecord): Promise<StarterOutcome> {
    const inbound = readInboundRecord(record);
    const logger = this.deps.logger.createChild({
      persistentKeys: { correlationId: inbound.correlationId, messageId: inbound.message.messageId, receiveCount: inbound.receiveCount },
    });
    if (inbound.unreadable) return this.#deadLetter(inbound, inbound.unreadable, logger);
    if (inbound.detailType !== undefined && inbound.detailType !== ORDER_PLACED) {
      return this.#deadLetter(inbound, new PoisonMessageError('ValidationFailed', `Expected detail-type ${ORDER_PLACED}, got ${JSON.stringify(inbound.detailType)}`), logger);
    }
    const version = eventVersionOf(inbound.payload);
    if (version !== '1') {
      return this.#deadLetter(inbound, new PoisonMessageError('UnsupportedEventVersion', `OrderPlaced schemaVersion ${JSON.stringify(version)} is not supported (supported: 1)`), logger);
    }
    const parsed = checkSchema(orderPlacedSchema, inbound.payload);
    if (!parsed.success) {
      return this.#deadLetter(inbound, new PoisonMessageError('ValidationFailed', `Invalid OrderPlaced event: ${describeIssues(parsed.error)}`), logger);
    }

    const order = parsed.data;
    const name = executionNameFor(order.orderId);
    logger.appendKeys({ orderId: order.orderId, executionName: name });
    const input: SagaState = { order, steps: {} };
    try {
      const outcome = await this.deps.executions.start(name, input);
      if (outcome.kind === 'already_exists') {
        logger.info('The saga already exists for this order: duplicate event ignored');
        return 'already_running';
      }
      logger.info('Saga started', { executionArn: outcome.executionArn });
      return 'started';
    } catch (error) {
      const failure = toIntegrationError(error);
      if (failure.category === 'permanent') return this.#deadLetter(inbound, failure, logger);
      logger.warn('Could not start the saga; the message will be retried', { errorClass: failure.errorClass, reason: failure.message });
      return 'retry_later';
    }
  }

  async #deadLetter(inbound: InboundRecord, error: IntegrationError, logger: Logger): Promise<StarterOutcome> {
    this.deps.metrics.count(RuntimeMetric.PoisonMessage, 1, error.errorClass);
    logger.error('Sending message to the DLQ', { errorClass: error.errorClass, reason: error.message });
    try {
      await this.deps.deadLetters.send(inbound.message, { errorClass: error.errorClass, errorMessage: error.message, correlationId: inbound.correlationId });
      return 'dead_lettered';
    } catch (cause) {
      // Nothing is lost: the message stays in the queue and reaches the DLQ by redrive.
      logger.error('DLQ send failed; leaving the message in the queue', { error: cause });
      return 'retry_later';
    }
  }
}

/** Builds the starter from `env` (Lambda's process.env), failing fast with every missing variable. */
export function starterFromEnvironment(env: Record<string, string | undefined>): OrderSagaStarter {
  const missing = ['STATE_MACHINE_ARN', 'DLQ_URL'].filter((name) => !env[name]?.trim());
  if (missing.length > 0) throw new ConfigurationError(`Invalid configuration for ${ORDER_SAGA_STARTER}: ${missing.map((name) => `${name} is required`).join('; ')}`);
  const sqs = new SQSClient({ endpoint: env.SQS_ENDPOINT || undefined });
  return new OrderSagaStarter({
    executions: new SfnExecutionStarter(new SFNClient({ endpoint: env.SFN_ENDPOINT || undefined }), env.STATE_MACHINE_ARN!.trim()),
    deadLetters: new SqsDeadLetterQueue(sqs, env.DLQ_URL!.trim(), ORDER_SAGA_STARTER),
    logger: createRuntimeLogger(ORDER_SAGA_STARTER),
    metrics: new PowertoolsMetricsSink(ORDER_SAGA_STARTER),
  });
}

let starter: OrderSagaStarter | undefined;

/** The Lambda entry (SQS event source with ReportBatchItemFailures). */
export const handler = async (event: SQSEvent, context: Context): Promise<SQSBatchResponse> => {
  starter ??= starterFromEnvironment(process.env);
  return starter.handleBatch(event, context);
};
