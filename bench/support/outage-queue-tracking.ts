/**
 * Where every produced message went, observed from the queues themselves (not from what the handlers claim):
 *
 * - {@link TrackedQueue}: a {@link LocalQueue} that remembers when each message was sent and when a consumer
 *   actually deleted it (a delete with a stale receipt handle deletes nothing and is not counted).
 * - {@link DeadLetterCollector}: drains the DLQ as it fills (nobody else consumes it), so that every dead-lettered
 *   message is seen once with its arrival time, whether SQS redrove it or the runtime sent it with a reason.
 */
import { LocalQueue, type LocalQueueSettings, type ReceivedMessage, type SendMessageInput } from '../../local/local-queue.js';

/** A local SQS queue that records sends and effective deletes by message id. */
export class TrackedQueue extends LocalQueue {
  /** Message id → epoch ms sent. */
  readonly sentAt = new Map<string, number>();
  /** Message id → epoch ms of the delete that removed it. */
  readonly deletedAt = new Map<string, number>();
  readonly #handles = new Map<string, string>();

  constructor(settings: LocalQueueSettings) {
    super(settings);
  }

  override send(input: SendMessageInput): string {
    const messageId = super.send(input);
    this.sentAt.set(messageId, this.clock.now());
    return messageId;
  }

  override receive(maxMessages?: number, options?: { visibilityTimeoutSeconds?: number }): ReceivedMessage[] {
    const received = super.receive(maxMessages, options);
    for (const message of received) this.#handles.set(message.receiptHandle, message.messageId);
    return received;
  }

  override delete(receiptHandle: string): boolean {
    const deleted = super.delete(receiptHandle);
    const messageId = this.#handles.get(receiptHandle);
    this.#handles.delete(receiptHandle);
    if (deleted && messageId !== undefined) this.deletedAt.set(messageId, this.clock.now());
    return deleted;
  }
}

/** One message found in the DLQ. */
export interface DeadLetterSighting {
  readonly messageId: string;
  readonly body: string;
  /** `errorClass` when the runtime sent it with a reason; undefined when SQS redrove it. */
  readonly errorClass?: string;
  /** `sourceMessageId` (runtime) or the message id itself (redrive keeps it). */
  readonly sourceMessageId: string;
  /** When the collector saw it: within one collection interval of its arrival. */
  readonly seenAt: number;
}

/** Receives everything from a DLQ on an interval and keeps it (in flight for 12 h, so never seen twice). */
export class DeadLetterCollector {
  readonly sightings: DeadLetterSighting[] = [];
  /** Source message ids seen so far. */
  readonly sourceMessageIds = new Set<string>();
  #timer?: NodeJS.Timeout;

  constructor(
    private readonly dlq: LocalQueue,
    private readonly intervalMs = 100,
  ) {}

  /** Takes whatever is in the DLQ now. */
  collect(): void {
    for (;;) {
      const batch = this.dlq.receive(10, { visibilityTimeoutSeconds: 43_200 });
      if (batch.length === 0) return;
      const seenAt = this.dlq.clock.now();
      for (const message of batch) {
        const sourceMessageId = message.attributes.sourceMessageId ?? message.messageId;
        this.sourceMessageIds.add(sourceMessageId);
        this.sightings.push({ messageId: message.messageId, body: message.body, errorClass: message.attributes.errorClass, sourceMessageId, seenAt });
      }
    }
  }

  start(): void {
    this.#timer ??= setInterval(() => this.collect(), this.intervalMs);
  }

  /** Stops and takes what is left. */
  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.collect();
  }
}
