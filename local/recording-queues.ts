import type { DeadLetterQueue, DeadLetterReason, MessageParker, QueueMessageRef } from '../functions/runtime/ports.js';

/** A message the runtime sent to the DLQ, with its reason. */
export interface DeadLetter {
  message: QueueMessageRef;
  reason: DeadLetterReason;
}

/** A DLQ kept in memory: what the runtime sent, in order (local hub, tests, benchmarks). */
export class RecordingDeadLetterQueue implements DeadLetterQueue {
  readonly messages: DeadLetter[] = [];

  async send(message: QueueMessageRef, reason: DeadLetterReason): Promise<void> {
    this.messages.push({ message, reason });
  }
}

/** A parked message and when it becomes visible again. */
export interface ParkedMessage {
  message: QueueMessageRef;
  delaySeconds: number;
}

/** Remembers every park request (the local queue honours them; tests assert on them). */
export class RecordingMessageParker implements MessageParker {
  readonly parked: ParkedMessage[] = [];

  /** Copies handed back to the queue with a fresh receive count. */
  readonly requeued: (ParkedMessage & { attributes: Record<string, string> })[] = [];

  async park(message: QueueMessageRef, delaySeconds: number): Promise<void> {
    this.parked.push({ message, delaySeconds });
  }

  async requeue(message: QueueMessageRef, delaySeconds: number, attributes: Record<string, string>): Promise<void> {
    this.requeued.push({ message, delaySeconds, attributes });
  }
}
