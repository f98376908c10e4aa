/**
 * An in-memory SQS standard queue for the local hub (`npm start`) and tests, on an injectable clock.
 *
 * It follows SQS's documented behaviour for standard queues; where SQS is vague or probabilistic ("may"), the
 * choice made here is deterministic and written down:
 *
 * - **Visibility**: a received message is in flight (invisible) for the visibility timeout, then visible again.
 * - **Receipt handles**: every receive issues a new handle; only the most recent handle of a message is current.
 *   - `delete` with the current handle deletes (also after the visibility expired, as long as nobody re-received
 *     the message: SQS documents that deleting with the latest handle works even then). With an *older* handle of
 *     a message that was re-received since, SQS's request succeeds "but the message might not be deleted"; here it
 *     is never deleted and `delete` returns false. A handle of an already deleted/expired/redriven message also
 *     returns false (DeleteMessage is idempotent in SQS). A handle this queue never issued throws
 *     {@link ReceiptHandleIsInvalidError}.
 *   - `changeVisibility` needs the current handle of a message that is in flight: a never-issued handle throws
 *     {@link ReceiptHandleIsInvalidError}; an older handle, or a message whose visibility already expired, or one
 *     that is gone, throws {@link MessageNotInflightError}. The new timeout counts from now (0 = visible at once);
 *     SQS caps the total in-flight time at 12 hours from the receive, so going past that throws
 *     {@link InvalidParameterValueError}.
 * - **Redrive**: on a receive attempt, a message whose receive count would become greater than `maxReceiveCount`
 *   (i.e. it was already received `maxReceiveCount` times) is moved to the DLQ instead of being returned. It keeps
 *   its message id, body, attributes and original sent time (SQS: the expiration of a redriven message in a
 *   standard queue is based on its original enqueue time). Its receive count restarts at 0 in the DLQ.
 * - **Delay**: the per-message delay overrides the queue's; delayed messages are neither visible nor in flight.
 * - **Retention**: a message older than the retention period disappears, whatever its state (counted as expired).
 * - **Order**: best-effort in SQS; here always the order messages became available (deterministic tests).
 */
import { randomUUID } from 'node:crypto';
import { DependencyError } from '../functions/runtime/errors.js';
import type { DeadLetterQueue, DeadLetterReason, MessageParker, QueueMessageRef } from '../functions/runtime/ports.js';
import { localQueueArn } from './lambda-events.js';

/** SQS's limits for standard queues. */
export const SQS_LIMITS = {
  maxDelaySeconds: 900,
  maxVisibilityTimeoutSeconds: 43_200,
  minRetentionSeconds: 60,
  maxRetentionSeconds: 1_209_600,
  maxReceiveMessages: 10,
  maxReceiveCount: 1000,
  maxMessageAttributes: 10,
} as const;

/** The time source of a local queue: epoch milliseconds. */
export interface QueueClock {
  now(): number;
}

/** How a {@link LocalQueue} behaves; the names follow SQS's queue attributes. */
export interface LocalQueueSettings {
  readonly name: string;
  /** @default the local ARN of `name` */
  readonly arn?: string;
  /** 0-43200. @default 30 */
  readonly visibilityTimeoutSeconds?: number;
  /** 0-900. @default 0 */
  readonly delaySeconds?: number;
  /** 60-1209600. @default 345600 (4 days) */
  readonly messageRetentionSeconds?: number;
  /** Redrive policy: receives allowed before the message moves to `deadLetterQueue` (1-1000). @default no redrive */
  readonly maxReceiveCount?: number;
  /** Where messages go after `maxReceiveCount` receives. Required with `maxReceiveCount`. */
  readonly deadLetterQueue?: LocalQueue;
  /** @default the system clock */
  readonly clock?: QueueClock;
}

/** What to send. */
export interface SendMessageInput {
  body: string;
  /** String message attributes (SQS allows 10). */
  attributes?: Record<string, string>;
  /** 0-900; overrides the queue's delay. */
  delaySeconds?: number;
}

/** A message as a receive returns it. */
export interface ReceivedMessage {
  messageId: string;
  receiptHandle: string;
  body: string;
  attributes: Record<string, string>;
  /** ApproximateReceiveCount, including this receive. */
  receiveCount: number;
  /** SentTimestamp, epoch ms. */
  sentTimestamp: number;
  /** ApproximateFirstReceiveTimestamp, epoch ms. */
  firstReceiveTimestamp: number;
  /** The queue's ARN (the event source ARN of a Lambda record). */
  queueArn: string;
}

/** Counters in the spirit of the SQS CloudWatch metrics / queue attributes. */
export interface LocalQueueStats {
  /** ApproximateNumberOfMessages. */
  visible: number;
  /** ApproximateNumberOfMessagesNotVisible. */
  inFlight: number;
  /** ApproximateNumberOfMessagesDelayed. */
  delayed: number;
  /** Messages this queue moved to its DLQ (redrive). */
  movedToDlq: number;
  /** Messages that outlived the retention period. */
  expired: number;
  /** Messages sent to this queue (including redriven ones arriving here). */
  sent: number;
  /** Messages deleted by a consumer. */
  deleted: number;
  /** ApproximateAgeOfOldestMessage over visible and in-flight messages (delayed ones are not yet in the queue); 0 when empty. */
  ageOfOldestMessageSeconds: number;
}

/** Base of the errors a local queue raises, named after the SQS error codes. */
export class LocalQueueError extends Error {
  constructor(message: string) {
    super(message);
    this.name = new.target.name;
  }
}
/** SQS `ReceiptHandleIsInvalid`: the handle was never issued by this queue. */
export class ReceiptHandleIsInvalidError extends LocalQueueError {}
/** SQS `MessageNotInflight`: the handle is not the current one of an in-flight message. */
export class MessageNotInflightError extends LocalQueueError {}
/** SQS `InvalidParameterValue`: a value outside SQS's limits. */
export class InvalidParameterValueError extends LocalQueueError {}

interface StoredMessage {
  messageId: string;
  body: string;
  attributes: Record<string, string>;
  sentAt: number;
  /** When the message may next be received (delay or visibility timeout). */
  visibleAt: number;
  receiveCount: number;
  firstReceivedAt?: number;
  /** When the current receive happened (the 12-hour visibility ceiling counts from it). */
  receivedAt?: number;
  receiptHandle?: string;
}

const systemClock: QueueClock = { now: () => Date.now() };

/** An in-memory SQS standard queue; see the file comment for the exact semantics. */
export class LocalQueue {
  readonly name: string;
  readonly arn: string;
  readonly visibilityTimeoutSeconds: number;
  readonly delaySeconds: number;
  readonly messageRetentionSeconds: number;
  readonly maxReceiveCount?: number;
  readonly deadLetterQueue?: LocalQueue;
  readonly clock: QueueClock;

  /** Insertion order = availability order for equal `visibleAt`. */
  private readonly messages = new Map<string, StoredMessage>();
  /** Every handle ever issued → message id (tells "never issued" from "stale"). */
  private readonly issuedHandles = new Map<string, string>();
  private counters = { movedToDlq: 0, expired: 0, sent: 0, deleted: 0 };

  constructor(settings: LocalQueueSettings) {
    this.name = settings.name;
    this.arn = settings.arn ?? localQueueArn(settings.name);
    this.visibilityTimeoutSeconds = settings.visibilityTimeoutSeconds ?? 30;
    this.delaySeconds = settings.delaySeconds ?? 0;
    this.messageRetentionSeconds = settings.messageRetentionSeconds ?? 345_600;
    this.maxReceiveCount = settings.maxReceiveCount;
    this.deadLetterQueue = settings.deadLetterQueue;
    this.clock = settings.clock ?? systemClock;

    const problems = [
      rangeProblem('visibilityTimeoutSeconds', this.visibilityTimeoutSeconds, 0, SQS_LIMITS.maxVisibilityTimeoutSeconds),
      rangeProblem('delaySeconds', this.delaySeconds, 0, SQS_LIMITS.maxDelaySeconds),
      rangeProblem('messageRetentionSeconds', this.messageRetentionSeconds, SQS_LIMITS.minRetentionSeconds, SQS_LIMITS.maxRetentionSeconds),
      this.maxReceiveCount === undefined ? undefined : rangeProblem('maxReceiveCount', this.maxReceiveCount, 1, SQS_LIMITS.maxReceiveCount),
      (this.maxReceiveCount === undefined) !== (this.deadLetterQueue === undefined)
        ? 'maxReceiveCount and deadLetterQueue go together (redrive policy)'
        : undefined,
      this.deadLetterQueue === this ? 'a queue cannot be its own dead-letter queue' : undefined,
    ].filter((p): p is string => p !== undefined);
    if (problems.length > 0) throw new InvalidParameterValueError(`Queue ${this.name}: ${problems.join('; ')}`);
  }

  /** SendMessage: returns the message id. */
  send(input: SendMessageInput): string {
    const delaySeconds = input.delaySeconds ?? this.delaySeconds;
    const problem = rangeProblem('delaySeconds', delaySeconds, 0, SQS_LIMITS.maxDelaySeconds);
    if (problem) throw new InvalidParameterValueError(problem);
    const attributes = { ...(input.attributes ?? {}) };
    if (Object.keys(attributes).length > SQS_LIMITS.maxMessageAttributes) {
      throw new InvalidParameterValueError(`At most ${SQS_LIMITS.maxMessageAttributes} message attributes are allowed`);
    }
    const now = this.clock.now();
    const messageId = randomUUID();
    this.store({ messageId, body: input.body, attributes, sentAt: now, visibleAt: now + delaySeconds * 1000, receiveCount: 0 });
    return messageId;
  }

  /**
   * ReceiveMessage (short poll, every message considered): up to `maxMessages` (1-10) visible messages, each
   * with a new receipt handle, invisible for the visibility timeout. Messages past `maxReceiveCount` are moved
   * to the DLQ instead of being returned.
   */
  receive(maxMessages = 1, options: { visibilityTimeoutSeconds?: number } = {}): ReceivedMessage[] {
    const problem =
      rangeProblem('maxMessages', maxMessages, 1, SQS_LIMITS.maxReceiveMessages) ??
      rangeProblem('visibilityTimeoutSeconds', options.visibilityTimeoutSeconds ?? 0, 0, SQS_LIMITS.maxVisibilityTimeoutSeconds);
    if (problem) throw new InvalidParameterValueError(problem);
    const now = this.purgeExpired();
    const visibilityMs = (options.visibilityTimeoutSeconds ?? this.visibilityTimeoutSeconds) * 1000;
    const available = [...this.messages.values()]
      .filter((m) => m.visibleAt <= now)
      .sort((a, b) => a.visibleAt - b.visibleAt); // stable: ties keep insertion order

    const received: ReceivedMessage[] = [];
    for (const message of available) {
      if (received.length >= maxMessages) break;
      if (this.maxReceiveCount !== undefined && message.receiveCount + 1 > this.maxReceiveCount) {
        this.redrive(message);
        continue;
      }
      message.receiveCount += 1;
      message.firstReceivedAt ??= now;
      message.receivedAt = now;
      message.visibleAt = now + visibilityMs;
      message.receiptHandle = `${this.name}:${message.messageId}:${message.receiveCount}:${randomUUID()}`;
      this.issuedHandles.set(message.receiptHandle, message.messageId);
      received.push({
        messageId: message.messageId,
        receiptHandle: message.receiptHandle,
        body: message.body,
        attributes: { ...message.attributes },
        receiveCount: message.receiveCount,
        sentTimestamp: message.sentAt,
        firstReceiveTimestamp: message.firstReceivedAt,
        queueArn: this.arn,
      });
    }
    return received;
  }

  /** DeleteMessage: true when a message was deleted; false for a stale handle or a message already gone. */
  delete(receiptHandle: string): boolean {
    this.purgeExpired();
    const message = this.current(receiptHandle);
    if (!message) return false;
    this.messages.delete(message.messageId);
    this.counters.deleted += 1;
    return true;
  }

  /** ChangeMessageVisibility: the message becomes visible `seconds` (0-43200) from now. */
  changeVisibility(receiptHandle: string, seconds: number): void {
    const problem = rangeProblem('visibilityTimeoutSeconds', seconds, 0, SQS_LIMITS.maxVisibilityTimeoutSeconds);
    if (problem) throw new InvalidParameterValueError(problem);
    const now = this.purgeExpired();
    const message = this.current(receiptHandle);
    if (!message || message.visibleAt <= now) {
      throw new MessageNotInflightError(`Message of receipt handle ${receiptHandle} is not in flight`);
    }
    const newVisibleAt = now + seconds * 1000;
    if (newVisibleAt - (message.receivedAt ?? now) > SQS_LIMITS.maxVisibilityTimeoutSeconds * 1000) {
      throw new InvalidParameterValueError('The total visibility timeout cannot exceed 12 hours from the receive');
    }
    message.visibleAt = newVisibleAt;
  }

  /** Queue attributes / metrics as of now. */
  stats(): LocalQueueStats {
    const now = this.purgeExpired();
    let visible = 0;
    let inFlight = 0;
    let delayed = 0;
    let oldestSentAt = Number.POSITIVE_INFINITY;
    for (const m of this.messages.values()) {
      if (m.visibleAt <= now) visible += 1;
      else if (m.receiveCount > 0) inFlight += 1;
      else {
        delayed += 1;
        continue;
      }
      oldestSentAt = Math.min(oldestSentAt, m.sentAt);
    }
    const ageOfOldestMessageSeconds = Number.isFinite(oldestSentAt) ? Math.floor((now - oldestSentAt) / 1000) : 0;
    return { visible, inFlight, delayed, ...this.counters, ageOfOldestMessageSeconds };
  }

  /** Epoch ms when the next message becomes receivable (undefined when the queue is empty). Lets pollers sleep exactly. */
  nextVisibleAt(): number | undefined {
    this.purgeExpired();
    let next: number | undefined;
    for (const m of this.messages.values()) next = next === undefined ? m.visibleAt : Math.min(next, m.visibleAt);
    return next;
  }

  /** Accepts a message redriven from a source queue, keeping its id, body, attributes and sent time. */
  private acceptRedriven(message: StoredMessage): void {
    this.store({ ...message, attributes: { ...message.attributes }, visibleAt: this.clock.now(), receiveCount: 0 });
    this.purgeExpired();
  }

  private redrive(message: StoredMessage): void {
    this.messages.delete(message.messageId);
    this.counters.movedToDlq += 1;
    this.deadLetterQueue?.acceptRedriven({
      messageId: message.messageId,
      body: message.body,
      attributes: message.attributes,
      sentAt: message.sentAt,
      visibleAt: 0,
      receiveCount: 0,
    });
  }

  private store(message: StoredMessage): void {
    this.messages.set(message.messageId, message);
    this.counters.sent += 1;
  }

  /** The message whose *current* handle this is; throws for a handle never issued. */
  private current(receiptHandle: string): StoredMessage | undefined {
    const messageId = this.issuedHandles.get(receiptHandle);
    if (messageId === undefined) throw new ReceiptHandleIsInvalidError(`The receipt handle ${receiptHandle} is not valid for queue ${this.name}`);
    const message = this.messages.get(messageId);
    return message?.receiptHandle === receiptHandle ? message : undefined;
  }

  /** Drops messages past retention; returns now. */
  private purgeExpired(): number {
    const now = this.clock.now();
    const retentionMs = this.messageRetentionSeconds * 1000;
    for (const m of [...this.messages.values()]) {
      if (now - m.sentAt >= retentionMs) {
        this.messages.delete(m.messageId);
        this.counters.expired += 1;
      }
    }
    return now;
  }
}

function rangeProblem(name: string, value: number, min: number, max: number): string | undefined {
  return Number.isInteger(value) && value >= min && value <= max ? undefined : `${name} must be an integer in ${min}-${max}, got ${value}`;
}

// ---------------------------------------------------------------- runtime ports over local queues

/** The runtime's {@link MessageParker} over local queues: ChangeMessageVisibility on the message's source queue. */
export class LocalMessageParker implements MessageParker {
  private readonly byArn = new Map<string, LocalQueue>();

  constructor(queues: LocalQueue | Iterable<LocalQueue>) {
    for (const queue of queues instanceof LocalQueue ? [queues] : queues) this.byArn.set(queue.arn, queue);
  }

  async park(message: QueueMessageRef, delaySeconds: number): Promise<void> {
    const seconds = Math.min(SQS_LIMITS.maxVisibilityTimeoutSeconds, Math.max(0, Math.ceil(delaySeconds)));
    try {
      const queue = this.byArn.get(message.eventSourceArn);
      if (!queue) throw new LocalQueueError(`No local queue with ARN ${message.eventSourceArn}`);
      queue.changeVisibility(message.receiptHandle, seconds);
    } catch (error) {
      // Same translation as the SQS adapter, so the runtime sees one error class.
      throw new DependencyError('SourceQueue', `Could not park message ${message.messageId}`, { cause: error });
    }
  }

  async requeue(message: QueueMessageRef, delaySeconds: number, attributes: Record<string, string>): Promise<void> {
    const seconds = Math.min(SQS_LIMITS.maxDelaySeconds, Math.max(0, Math.ceil(delaySeconds)));
    try {
      const queue = this.byArn.get(message.eventSourceArn);
      if (!queue) throw new LocalQueueError(`No local queue with ARN ${message.eventSourceArn}`);
      queue.send({ body: message.body, attributes, delaySeconds: seconds });
    } catch (error) {
      throw new DependencyError('SourceQueue', `Could not requeue message ${message.messageId}`, { cause: error });
    }
  }
}

/** Attribute names the reason takes (as the SQS adapter writes them). */
const REASON_ATTRIBUTES = ['errorClass', 'errorMessage', 'correlationId', 'sourceMessageId', 'integration', 'failedAt'];

/** The runtime's {@link DeadLetterQueue} over a local queue: sends the message with the reason as attributes. */
export class LocalDeadLetterQueue implements DeadLetterQueue {
  constructor(
    /** The integration's DLQ. */
    readonly queue: LocalQueue,
    private readonly integration: string,
  ) {}

  async send(message: QueueMessageRef, reason: DeadLetterReason): Promise<void> {
    const attributes: Record<string, string> = {
      errorClass: reason.errorClass,
      errorMessage: reason.errorMessage.slice(0, 1024),
      correlationId: reason.correlationId,
      sourceMessageId: message.messageId,
      integration: this.integration,
      failedAt: new Date(this.queue.clock.now()).toISOString(),
    };
    for (const [name, value] of Object.entries(message.attributes ?? {})) {
      if (Object.keys(attributes).length >= SQS_LIMITS.maxMessageAttributes) break;
      if (!REASON_ATTRIBUTES.includes(name) && value !== '') attributes[name] = value;
    }
    try {
      this.queue.send({ body: message.body, attributes, delaySeconds: 0 });
    } catch (error) {
      throw new DependencyError('DeadLetterQueue', `Could not send message ${message.messageId} to the DLQ`, { cause: error });
    }
  }
}
