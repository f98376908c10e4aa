import { randomUUID } from 'node:crypto';
import type { Context, SQSEvent, SQSRecord } from 'aws-lambda';

/** The ARN the local queues use for an integration's source queue. */
export function localQueueArn(queueName: string): string {
  return `arn:aws:sqs:us-east-1:000000000000:${queueName}`;
}

/** What a local SQS record is built from. */
export interface LocalMessage {
  body: string;
  messageId?: string;
  receiptHandle?: string;
  /** ApproximateReceiveCount. @default 1 */
  receiveCount?: number;
  /** String message attributes, e.g. `correlationId`. */
  attributes?: Record<string, string>;
  queueArn?: string;
  /** SentTimestamp, epoch ms. @default now */
  sentTimestamp?: number;
}

/** Builds an SQS record as the Lambda event source mapping delivers it. */
export function sqsRecord(message: LocalMessage): SQSRecord {
  const messageId = message.messageId ?? randomUUID();
  return {
    messageId,
    receiptHandle: message.receiptHandle ?? `rh-${messageId}-${message.receiveCount ?? 1}`,
    body: message.body,
    attributes: {
      ApproximateReceiveCount: String(message.receiveCount ?? 1),
      SentTimestamp: String(message.sentTimestamp ?? Date.now()),
      SenderId: 'local',
      ApproximateFirstReceiveTimestamp: String(Date.now()),
    },
    messageAttributes: Object.fromEntries(
      Object.entries(message.attributes ?? {}).map(([name, value]) => [
        name,
        { stringValue: value, dataType: 'String', stringListValues: [], binaryListValues: [] },
      ]),
    ),
    md5OfBody: '',
    eventSource: 'aws:sqs',
    eventSourceARN: message.queueArn ?? localQueueArn('local-queue'),
    awsRegion: 'us-east-1',
  };
}

/** An SQS event of the given messages. */
export function sqsEvent(messages: LocalMessage[]): SQSEvent {
  return { Records: messages.map(sqsRecord) };
}

/** An EventBridge event as a rule delivers it to SQS (the message body). */
export function eventBridgeBody(detailType: string, detail: unknown, source = 'local.upstream'): string {
  return JSON.stringify({
    version: '0',
    id: randomUUID(),
    'detail-type': detailType,
    source,
    account: '000000000000',
    time: new Date().toISOString(),
    region: 'us-east-1',
    resources: [],
    detail,
  });
}

/** A Lambda context whose remaining time counts down from `timeoutMs` (from the moment it is created). */
export function lambdaContext(functionName: string, timeoutMs = 30_000, now: () => number = Date.now): Context {
  const deadline = now() + timeoutMs;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:000000000000:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}
