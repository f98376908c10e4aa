import { ExecutionAlreadyExists, InvalidExecutionInput, SFNClient, SFNServiceException, StartExecutionCommand } from '@aws-sdk/client-sfn';
import { SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { Logger } from '@aws-lambda-powertools/logger';
import { mockClient } from 'aws-sdk-client-mock';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { RecordingMetricsSink } from '../../../functions/runtime/telemetry.js';
import { executionNameFor, handler, OrderSagaStarter, starterFromEnvironment } from '../../../functions/workflows/order-saga-starter.js';
import { SfnExecutionStarter } from '../../../functions/workflows/sfn-execution-starter.js';
import type { OrderPlaced } from '../../../functions/workflows/workflow-contract.js';
import { eventBridgeBody, lambdaContext, type LocalMessage, sqsEvent } from '../../../local/lambda-events.js';
import { RecordingDeadLetterQueue } from '../../../local/recording-queues.js';

const STATE_MACHINE_ARN = 'arn:aws:states:us-east-1:000000000000:stateMachine:order-saga';
const sfnMock = mockClient(SFNClient);

function order(orderId: string): OrderPlaced {
  return {
    orderId,
    customerId: 'cust-1',
    email: 'ana@example.com',
    items: [{ sku: 'SKU-1', quantity: 1 }],
    amount: 12.5,
    currency: 'EUR',
    shippingAddress: { name: 'Ana', line1: 'Rua 1', city: 'Lisboa', postalCode: '1100', country: 'PT' },
  };
}

const orderPlaced = (o: OrderPlaced, extra: Partial<LocalMessage> = {}): LocalMessage => ({ body: eventBridgeBody('OrderPlaced', o, 'orders.service'), ...extra });

function serviceError(name: string, fault: 'client' | 'server', status: number): SFNServiceException {
  return new SFNServiceException({ name, $fault: fault, message: `${name} happened`, $metadata: { httpStatusCode: status } });
}

let deadLetters: RecordingDeadLetterQueue;
let metrics: RecordingMetricsSink;
let starter: OrderSagaStarter;

beforeEach(() => {
  sfnMock.reset();
  deadLetters = new RecordingDeadLetterQueue();
  metrics = new RecordingMetricsSink();
  starter = new OrderSagaStarter({
    executions: new SfnExecutionStarter(new SFNClient({ region: 'us-east-1' }), STATE_MACHINE_ARN),
    deadLetters,
    logger: new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }),
    metrics,
  });
});

const run = (messages: LocalMessage[]) => starter.handleBatch(sqsEvent(messages), lambdaContext('order-saga-starter'));

describe('order saga starter', () => {
  it('starts one execution per OrderPlaced, named after the order, with { order, steps: {} } as input', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: `${STATE_MACHINE_ARN}:ord-1`, startDate: new Date() });

    const response = await run([orderPlaced(order('ord-1')), { body: JSON.stringify(order('ord-2')) }]);

    expect(response.batchItemFailures).toEqual([]);
    const calls = sfnMock.commandCalls(StartExecutionCommand).map((call) => call.args[0].input);
    expect(calls.map((input) => [input.stateMachineArn, input.name])).toEqual([
      [STATE_MACHINE_ARN, 'ord-1'],
      [STATE_MACHINE_ARN, 'ord-2'],
    ]);
    expect(JSON.parse(calls[0]?.input ?? '')).toEqual({ order: order('ord-1'), steps: {} });
  });

  it('drops fields the saga does not know from the execution input', async () => {
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn' });
    await run([{ body: JSON.stringify({ ...order('ord-extra'), internalNote: 'x'.repeat(1000) }) }]);

    expect(JSON.parse(sfnMock.commandCalls(StartExecutionCommand)[0]?.args[0].input.input ?? '').order).toEqual(order('ord-extra'));
  });

  it('treats ExecutionAlreadyExists as success: a duplicate event never starts a second saga', async () => {
    sfnMock.on(StartExecutionCommand).rejects(new ExecutionAlreadyExists({ message: 'Execution Already Exists', $metadata: {} }));

    const response = await run([orderPlaced(order('ord-dup'), { receiveCount: 2 })]);

    expect(response.batchItemFailures).toEqual([]);
    expect(deadLetters.messages).toEqual([]);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(1);
  });

  it('reports throttling and Step Functions 5xx as batch item failures, keeping the other records', async () => {
    sfnMock
      .on(StartExecutionCommand, { name: 'ord-throttled' })
      .rejects(serviceError('ThrottlingException', 'client', 400))
      .on(StartExecutionCommand, { name: 'ord-5xx' })
      .rejects(serviceError('InternalServerError', 'server', 500))
      .on(StartExecutionCommand, { name: 'ord-ok' })
      .resolves({ executionArn: 'arn' });

    const response = await run([
      orderPlaced(order('ord-throttled'), { messageId: 'm-throttled' }),
      orderPlaced(order('ord-5xx'), { messageId: 'm-5xx' }),
      orderPlaced(order('ord-ok'), { messageId: 'm-ok' }),
    ]);

    expect(response.batchItemFailures.map((f) => f.itemIdentifier).sort()).toEqual(['m-5xx', 'm-throttled']);
    expect(deadLetters.messages).toEqual([]);
  });

  it('sends poison messages to the DLQ with the reason and starts nothing for them', async () => {
    const noItems = { ...order('ord-bad'), items: [] };
    const response = await run([
      { body: '{nope', messageId: 'm-json' },
      { body: JSON.stringify(noItems), messageId: 'm-schema', attributes: { correlationId: 'corr-schema' } },
      { body: JSON.stringify({ ...order('ord-v2'), schemaVersion: '2' }), messageId: 'm-version' },
      { body: eventBridgeBody('OrderCancelled', order('ord-x')), messageId: 'm-type' },
    ]);

    expect(response.batchItemFailures).toEqual([]);
    expect(sfnMock.commandCalls(StartExecutionCommand)).toHaveLength(0);
    expect(deadLetters.messages.map((d) => [d.message.messageId, d.reason.errorClass])).toEqual([
      ['m-json', 'InvalidJson'],
      ['m-schema', 'ValidationFailed'],
      ['m-version', 'UnsupportedEventVersion'],
      ['m-type', 'ValidationFailed'],
    ]);
    const schema = deadLetters.messages.find((d) => d.message.messageId === 'm-schema');
    expect(schema?.reason).toMatchObject({ correlationId: 'corr-schema', errorMessage: expect.stringContaining('items') });
    expect(metrics.total('PoisonMessage')).toBe(4);
  });

  it('sends an order Step Functions refuses as input to the DLQ', async () => {
    sfnMock.on(StartExecutionCommand).rejects(new InvalidExecutionInput({ message: 'input too large', $metadata: {} }));

    const response = await run([orderPlaced(order('ord-huge'), { messageId: 'm-huge' })]);

    expect(response.batchItemFailures).toEqual([]);
    expect(deadLetters.messages.map((d) => d.reason.errorClass)).toEqual(['ValidationFailed']);
  });

  it('leaves a poison message in the queue when the DLQ cannot be reached', async () => {
    const failing = new OrderSagaStarter({
      executions: new SfnExecutionStarter(new SFNClient({ region: 'us-east-1' }), STATE_MACHINE_ARN),
      deadLetters: { send: () => Promise.reject(new Error('SQS down')) },
      logger: new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }),
      metrics,
    });

    const response = await failing.handleBatch(sqsEvent([{ body: '{nope', messageId: 'm-stuck' }]), lambdaContext('starter'));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-stuck' }]);
  });
});

describe('execution names', () => {
  it('uses a valid order id as it is', () => {
    expect(executionNameFor('ord-123_A')).toBe('ord-123_A');
  });

  it('turns any order id into a valid, stable and distinct name', () => {
    const ids = ['order#1', 'order_1', 'order 1', 'Bestellung/Ä-7', 'x'.repeat(200), 'x'.repeat(199)];
    const names = ids.map(executionNameFor);

    for (const name of names) expect(name).toMatch(/^[A-Za-z0-9_-]{1,80}$/);
    expect(new Set(names).size).toBe(ids.length);
    expect(ids.map(executionNameFor)).toEqual(names);
  });
});

describe('order saga starter Lambda entry', () => {
  const sqsMock = mockClient(SQSClient);
  const saved = { ...process.env };

  afterEach(() => {
    process.env = { ...saved };
    sqsMock.reset();
  });

  it('fails fast naming every missing variable', () => {
    expect(() => starterFromEnvironment({})).toThrow(ConfigurationError);
    expect(() => starterFromEnvironment({})).toThrow(/STATE_MACHINE_ARN is required.*DLQ_URL is required/);
  });

  it('starts executions on the configured state machine and dead-letters poison to DLQ_URL with the reason', async () => {
    process.env.STATE_MACHINE_ARN = STATE_MACHINE_ARN;
    process.env.DLQ_URL = 'https://sqs.us-east-1.amazonaws.com/000000000000/order-saga-starter-dlq';
    sfnMock.on(StartExecutionCommand).resolves({ executionArn: 'arn' });
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });

    const response = await handler(sqsEvent([orderPlaced(order('ord-env')), { body: '[]', messageId: 'm-poison' }]), lambdaContext('starter'));

    expect(response.batchItemFailures).toEqual([]);
    expect(sfnMock.commandCalls(StartExecutionCommand)[0]?.args[0].input).toMatchObject({ stateMachineArn: STATE_MACHINE_ARN, name: 'ord-env' });
    const [dlq] = sqsMock.commandCalls(SendMessageCommand);
    expect(dlq?.args[0].input).toMatchObject({
      QueueUrl: process.env.DLQ_URL,
      MessageBody: '[]',
      MessageAttributes: { errorClass: { DataType: 'String', StringValue: 'ValidationFailed' }, sourceMessageId: { DataType: 'String', StringValue: 'm-poison' } },
    });
  });
});
