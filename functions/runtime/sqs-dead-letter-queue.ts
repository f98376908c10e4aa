import { type MessageAttributeValue, SendMessageCommand, type SQSClient } from '@aws-sdk/client-sqs';
import { DependencyError } from './errors.js';
import type { DeadLetterQueue, DeadLetterReason, QueueMessageRef } from './ports.js';

/** SQS allows 10 message attributes; the reason takes these, the original message's keep the rest. */
const REASON_ATTRIBUTES = ['errorClass', 'errorMessage', 'correlationId', 'sourceMessageId', 'integration', 'failedAt'];
const MAX_ATTRIBUTES = 10;
const MAX_ERROR_MESSAGE_LENGTH = 1024;

/** Sends a message straight to the integration's DLQ with the reason as message attributes (SQS adapter). */
export class SqsDeadLetterQueue implements DeadLetterQueue {
  constructor(
    private readonly sqs: SQSClient,
    private readonly deadLetterQueueUrl: string,
    private readonly integration: string,
  ) {}

  async send(message: QueueMessageRef, reason: DeadLetterReason): Promise<void> {
    const attributes: Record<string, MessageAttributeValue> = {
      errorClass: text(reason.errorClass),
      errorMessage: text(truncate(reason.errorMessage, MAX_ERROR_MESSAGE_LENGTH)),
      correlationId: text(reason.correlationId),
      sourceMessageId: text(message.messageId),
      integration: text(this.integration),
      failedAt: text(new Date().toISOString()),
    };
    // Keep the producer's own attributes (trace ids, tenant...) where room is left, never overwriting the reason.
    for (const [name, value] of Object.entries(message.attributes ?? {})) {
      if (Object.keys(attributes).length >= MAX_ATTRIBUTES) break;
      if (!REASON_ATTRIBUTES.includes(name) && value !== '') attributes[name] = text(value);
    }
    try {
      await this.sqs.send(
        new SendMessageCommand({ QueueUrl: this.deadLetterQueueUrl, MessageBody: message.body, MessageAttributes: attributes }),
      );
    } catch (error) {
      throw new DependencyError('DeadLetterQueue', `Could not send message ${message.messageId} to the DLQ`, { cause: error });
    }
  }
}

function text(value: string): MessageAttributeValue {
  return { DataType: 'String', StringValue: value };
}

function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}
