import { ChangeMessageVisibilityCommand, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DependencyError } from './errors.js';
import type { MessageParker, QueueMessageRef } from './ports.js';
import { queueUrlFromArn } from './sqs-queue-url.js';

/** SQS's ceiling for a visibility timeout. */
export const MAX_VISIBILITY_TIMEOUT_SECONDS = 12 * 60 * 60;

/** SQS's ceiling for a message's delay. */
export const MAX_DELAY_SECONDS = 15 * 60;

/** Parks a message by extending its visibility timeout on the source queue (SQS adapter). */
export class SqsMessageParker implements MessageParker {
  constructor(
    private readonly sqs: SQSClient,
    /** Overrides the SQS endpoint used to build queue URLs from ARNs (local hub, VPC endpoints). */
    private readonly endpoint?: string,
  ) {}

  async park(message: QueueMessageRef, delaySeconds: number): Promise<void> {
    const visibilityTimeout = Math.min(MAX_VISIBILITY_TIMEOUT_SECONDS, Math.max(0, Math.ceil(delaySeconds)));
    try {
      await this.sqs.send(
        new ChangeMessageVisibilityCommand({
          QueueUrl: queueUrlFromArn(message.eventSourceArn, this.endpoint),
          ReceiptHandle: message.receiptHandle,
          VisibilityTimeout: visibilityTimeout,
        }),
      );
    } catch (error) {
      throw new DependencyError('SourceQueue', `Could not park message ${message.messageId}`, { cause: error });
    }
  }

  async requeue(message: QueueMessageRef, delaySeconds: number, attributes: Record<string, string>): Promise<void> {
    try {
      await this.sqs.send(
        new SendMessageCommand({
          QueueUrl: queueUrlFromArn(message.eventSourceArn, this.endpoint),
          MessageBody: message.body,
          DelaySeconds: Math.min(MAX_DELAY_SECONDS, Math.max(0, Math.ceil(delaySeconds))),
          MessageAttributes: Object.fromEntries(Object.entries(attributes).map(([name, value]) => [name, { DataType: 'String', StringValue: value }])),
        }),
      );
    } catch (error) {
      throw new DependencyError('SourceQueue', `Could not requeue message ${message.messageId}`, { cause: error });
    }
  }
}
