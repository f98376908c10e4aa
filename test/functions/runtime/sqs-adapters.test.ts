import { ChangeMessageVisibilityCommand, SendMessageCommand, SQSClient } from '@aws-sdk/client-sqs';
import { mockClient } from 'aws-sdk-client-mock';
import { beforeEach, describe, expect, it } from 'vitest';
import { ConfigurationError, DependencyError } from '../../../functions/runtime/errors.js';
import type { QueueMessageRef } from '../../../functions/runtime/ports.js';
import { SqsDeadLetterQueue } from '../../../functions/runtime/sqs-dead-letter-queue.js';
import { MAX_VISIBILITY_TIMEOUT_SECONDS, SqsMessageParker } from '../../../functions/runtime/sqs-message-parker.js';
import { queueUrlFromArn } from '../../../functions/runtime/sqs-queue-url.js';

const sqs = new SQSClient({ region: 'eu-west-1' });
const sqsMock = mockClient(sqs);

const message: QueueMessageRef = {
  messageId: 'm-1',
  receiptHandle: 'rh-1',
  eventSourceArn: 'arn:aws:sqs:eu-west-1:123456789012:crm-queue',
  body: '{"fileId":"f"}',
  attributes: { traceparent: '00-abc', errorClass: 'spoofed', tenant: 't1' },
};

beforeEach(() => sqsMock.reset());

describe('SqsDeadLetterQueue', () => {
  it('sends the original body with the reason as message attributes, keeping producer attributes', async () => {
    sqsMock.on(SendMessageCommand).resolves({ MessageId: 'dlq-1' });
    const dlq = new SqsDeadLetterQueue(sqs, 'https://sqs.eu-west-1.amazonaws.com/123456789012/crm-dlq', 'crm');

    await dlq.send(message, { errorClass: 'ValidationFailed', errorMessage: 'name: Required', correlationId: 'c-1' });

    const input = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input;
    expect(input?.QueueUrl).toBe('https://sqs.eu-west-1.amazonaws.com/123456789012/crm-dlq');
    expect(input?.MessageBody).toBe(message.body);
    const attributes = Object.fromEntries(Object.entries(input?.MessageAttributes ?? {}).map(([k, v]) => [k, v.StringValue]));
    expect(attributes).toMatchObject({
      errorClass: 'ValidationFailed',
      errorMessage: 'name: Required',
      correlationId: 'c-1',
      sourceMessageId: 'm-1',
      integration: 'crm',
      traceparent: '00-abc',
      tenant: 't1',
    });
    expect(Object.keys(input?.MessageAttributes ?? {}).length).toBeLessThanOrEqual(10);
  });

  it('truncates a long reason to fit an attribute', async () => {
    sqsMock.on(SendMessageCommand).resolves({});
    const dlq = new SqsDeadLetterQueue(sqs, 'https://q', 'crm');
    await dlq.send(message, { errorClass: 'Http400', errorMessage: 'x'.repeat(5000), correlationId: 'c' });
    const value = sqsMock.commandCalls(SendMessageCommand)[0]?.args[0].input.MessageAttributes?.errorMessage?.StringValue;
    expect(value?.length).toBe(1024);
  });

  it('reports a failed send as a transient dependency error so the message stays in its queue', async () => {
    sqsMock.on(SendMessageCommand).rejects(new Error('AccessDenied'));
    const dlq = new SqsDeadLetterQueue(sqs, 'https://q', 'crm');
    await expect(dlq.send(message, { errorClass: 'x', errorMessage: 'y', correlationId: 'z' })).rejects.toBeInstanceOf(DependencyError);
  });
});

describe('SqsMessageParker', () => {
  it('extends the visibility of the message on its source queue, rounded up', async () => {
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    await new SqsMessageParker(sqs).park(message, 61.2);
    expect(sqsMock.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input).toEqual({
      QueueUrl: 'https://sqs.eu-west-1.amazonaws.com/123456789012/crm-queue',
      ReceiptHandle: 'rh-1',
      VisibilityTimeout: 62,
    });
  });

  it('caps the delay at the SQS maximum of 12 hours', async () => {
    sqsMock.on(ChangeMessageVisibilityCommand).resolves({});
    await new SqsMessageParker(sqs, 'http://127.0.0.1:9324').park(message, 10 * 24 * 3600);
    const input = sqsMock.commandCalls(ChangeMessageVisibilityCommand)[0]?.args[0].input;
    expect(input?.VisibilityTimeout).toBe(MAX_VISIBILITY_TIMEOUT_SECONDS);
    expect(input?.QueueUrl).toBe('http://127.0.0.1:9324/123456789012/crm-queue');
  });

  it('reports an SQS failure as a dependency error', async () => {
    sqsMock.on(ChangeMessageVisibilityCommand).rejects(new Error('ReceiptHandleIsInvalid'));
    await expect(new SqsMessageParker(sqs).park(message, 30)).rejects.toBeInstanceOf(DependencyError);
  });
});

describe('queueUrlFromArn', () => {
  it('builds the regional URL, including the China partition', () => {
    expect(queueUrlFromArn('arn:aws-cn:sqs:cn-north-1:123:q')).toBe('https://sqs.cn-north-1.amazonaws.com.cn/123/q');
  });

  it('rejects an ARN that is not an SQS queue', () => {
    expect(() => queueUrlFromArn('arn:aws:sns:us-east-1:123:topic')).toThrow(ConfigurationError);
  });
});
