/**
 * A Lambda SQS event source mapping over a {@link LocalQueue}, on an injectable clock and sleep so tests run in
 * virtual time. What it does, as Lambda documents it:
 *
 * - polls up to `batchSize` (1-10) messages; with a `maximumBatchingWindowSeconds` it keeps polling until the
 *   batch is full or the window (counted from the first message of the batch) has passed. An empty poll invokes
 *   nothing (Lambda never invokes with zero records).
 * - at most `maximumConcurrency` (2-1000) invocations run at once (`start()` mode).
 * - a disabled mapping polls nothing; invocations already running finish and their results are applied.
 * - the handler resolves: with ReportBatchItemFailures, the records not listed in `batchItemFailures` are deleted
 *   and the listed ones stay in flight until their visibility timeout (or whatever the handler changed it to). An
 *   entry with an empty or unknown `itemIdentifier` fails the whole batch, as Lambda does. Without
 *   ReportBatchItemFailures a resolved invocation deletes the whole batch.
 * - the handler throws: nothing is deleted; the whole batch comes back after the visibility timeout.
 */
import type { Context, SQSBatchResponse, SQSEvent, SQSRecord } from 'aws-lambda';
import { lambdaContext, sqsRecord } from './lambda-events.js';
import { InvalidParameterValueError, type LocalQueue, type ReceivedMessage } from './local-queue.js';

/** What the mapping invokes (the integration's Lambda handler). */
export type SqsBatchHandler = (event: SQSEvent, context: Context) => Promise<SQSBatchResponse | void>;

/** Time for the mapping: now (epoch ms) and a sleep that tests replace with virtual time. */
export interface MappingClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

/** Settings of a {@link LocalEventSourceMapping}; names follow the Lambda API. */
export interface LocalEventSourceMappingSettings {
  readonly queue: LocalQueue;
  readonly handler: SqsBatchHandler;
  /** 1-10. @default 10 */
  readonly batchSize?: number;
  /** 0-300. @default 0 */
  readonly maximumBatchingWindowSeconds?: number;
  /** 2-1000. @default 2 */
  readonly maximumConcurrency?: number;
  /** @default true */
  readonly enabled?: boolean;
  /** FunctionResponseTypes: ['ReportBatchItemFailures']. @default true (the hub's constructs always set it) */
  readonly reportBatchItemFailures?: boolean;
  /** Function name for the Lambda context. @default the queue name */
  readonly functionName?: string;
  /** Function timeout for the Lambda context's remaining time. @default 30000 */
  readonly functionTimeoutMs?: number;
  /** How long an idle poller or a batching window waits between polls. @default 1000 */
  readonly pollIntervalMs?: number;
  /** @default the system clock and setTimeout */
  readonly clock?: MappingClock;
  /** Called with an invocation's error (the local hub logs it). @default ignore */
  readonly onInvocationError?: (error: unknown, event: SQSEvent) => void;
}

/** What one batch ended as. */
export interface BatchOutcome {
  /** Records the handler got. */
  records: number;
  /** Records deleted from the queue. */
  deleted: number;
  /** Records left in flight (failed items, or the whole batch when the handler threw). */
  failed: number;
  /** The handler threw or returned an invalid batch response. */
  invocationFailed: boolean;
}

/** Counters of a mapping. */
export interface MappingStats {
  invocations: number;
  failedInvocations: number;
  recordsDeleted: number;
  recordsFailed: number;
  /** Invocations running right now. */
  inFlightInvocations: number;
  /** The most invocations that ever ran at once. */
  maxConcurrentInvocations: number;
}

const systemClock: MappingClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Lambda's SQS event source mapping over a local queue; see the file comment. */
export class LocalEventSourceMapping {
  readonly queue: LocalQueue;
  readonly batchSize: number;
  readonly maximumBatchingWindowSeconds: number;
  readonly reportBatchItemFailures: boolean;
  private concurrency: number;
  private readonly settings: LocalEventSourceMappingSettings;
  private readonly clock: MappingClock;
  private readonly pollIntervalMs: number;
  private isEnabled: boolean;
  private running?: Promise<void>;
  private stopping = false;
  private readonly inFlight = new Set<Promise<BatchOutcome>>();
  private counters = { invocations: 0, failedInvocations: 0, recordsDeleted: 0, recordsFailed: 0, maxConcurrentInvocations: 0 };

  constructor(settings: LocalEventSourceMappingSettings) {
    this.settings = settings;
    this.queue = settings.queue;
    this.batchSize = settings.batchSize ?? 10;
    this.maximumBatchingWindowSeconds = settings.maximumBatchingWindowSeconds ?? 0;
    this.concurrency = settings.maximumConcurrency ?? 2;
    this.reportBatchItemFailures = settings.reportBatchItemFailures ?? true;
    this.isEnabled = settings.enabled ?? true;
    this.pollIntervalMs = settings.pollIntervalMs ?? 1000;
    this.clock = settings.clock ?? systemClock;
    const problems = [
      range('batchSize', this.batchSize, 1, 10),
      range('maximumBatchingWindowSeconds', this.maximumBatchingWindowSeconds, 0, 300),
      range('maximumConcurrency', this.concurrency, 2, 1000),
      this.pollIntervalMs > 0 ? undefined : 'pollIntervalMs must be positive',
    ].filter((p): p is string => p !== undefined);
    if (problems.length > 0) throw new InvalidParameterValueError(`Event source mapping of ${this.queue.name}: ${problems.join('; ')}`);
  }

  /** ScalingConfig.MaximumConcurrency: invocations allowed at once. */
  get maximumConcurrency(): number {
    return this.concurrency;
  }

  /** UpdateEventSourceMapping's ScalingConfig (2-1000); running invocations above the new limit finish. */
  setMaximumConcurrency(value: number): void {
    const problem = range('maximumConcurrency', value, 2, 1000);
    if (problem) throw new InvalidParameterValueError(`Event source mapping of ${this.queue.name}: ${problem}`);
    this.concurrency = value;
  }

  /** Whether the mapping polls. */
  get enabled(): boolean {
    return this.isEnabled;
  }

  /** Resumes polling. */
  enable(): void {
    this.isEnabled = true;
  }

  /** Pauses polling; running invocations finish. */
  disable(): void {
    this.isEnabled = false;
  }

  /** Counters as of now. */
  stats(): MappingStats {
    return { ...this.counters, inFlightInvocations: this.inFlight.size };
  }

  /**
   * Polls one batch and, if it got any record, invokes the handler and applies its response, awaiting it all.
   * Returns undefined when disabled or when the queue had nothing to receive. Deterministic: for tests.
   */
  async pollOnce(): Promise<BatchOutcome | undefined> {
    const batch = await this.collectBatch();
    return batch.length === 0 ? undefined : this.track(batch);
  }

  /** Starts polling in the background, up to `maximumConcurrency` invocations at once. */
  start(): void {
    if (this.running) return;
    this.stopping = false;
    this.running = this.loop();
  }

  /** Stops polling and waits for the running invocations to finish. */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.running;
    this.running = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  private async loop(): Promise<void> {
    while (!this.stopping) {
      if (!this.isEnabled || this.inFlight.size >= this.maximumConcurrency) {
        await this.idle();
        continue;
      }
      const batch = await this.collectBatch();
      if (batch.length === 0) {
        await this.idle();
        continue;
      }
      void this.track(batch); // concurrent: not awaited; errors are captured in invoke()
    }
  }

  /** Waits until a running invocation finishes or the poll interval passes, whichever is first. */
  private async idle(): Promise<void> {
    await Promise.race([this.clock.sleep(this.pollIntervalMs), ...this.inFlight]);
  }

  private async collectBatch(): Promise<ReceivedMessage[]> {
    if (!this.isEnabled) return [];
    const batch = this.queue.receive(this.batchSize);
    if (batch.length === 0 || this.maximumBatchingWindowSeconds === 0) return batch;
    const windowEndsAt = this.clock.now() + this.maximumBatchingWindowSeconds * 1000;
    while (batch.length < this.batchSize && !this.stopping && this.isEnabled) {
      const remaining = windowEndsAt - this.clock.now();
      if (remaining <= 0) break;
      await this.clock.sleep(Math.min(this.pollIntervalMs, remaining));
      batch.push(...this.queue.receive(this.batchSize - batch.length));
    }
    return batch;
  }

  private track(batch: ReceivedMessage[]): Promise<BatchOutcome> {
    const invocation = this.invoke(batch).finally(() => this.inFlight.delete(invocation));
    this.inFlight.add(invocation);
    this.counters.maxConcurrentInvocations = Math.max(this.counters.maxConcurrentInvocations, this.inFlight.size);
    return invocation;
  }

  private async invoke(batch: ReceivedMessage[]): Promise<BatchOutcome> {
    const records = batch.map((m) => toRecord(m));
    const event: SQSEvent = { Records: records };
    const context = lambdaContext(this.settings.functionName ?? this.queue.name, this.settings.functionTimeoutMs ?? 30_000, () =>
      this.clock.now(),
    );
    this.counters.invocations += 1;
    let failedIds: Set<string>;
    let invocationFailed = false;
    try {
      const response = await this.settings.handler(event, context);
      ({ failedIds, invocationFailed } = this.failedItems(response, records));
    } catch (error) {
      this.settings.onInvocationError?.(error, event);
      failedIds = new Set(records.map((r) => r.messageId));
      invocationFailed = true;
    }
    if (invocationFailed) this.counters.failedInvocations += 1;

    let deleted = 0;
    for (const message of batch) {
      if (failedIds.has(message.messageId)) continue;
      if (this.queue.delete(message.receiptHandle)) deleted += 1;
    }
    const failed = failedIds.size;
    this.counters.recordsDeleted += deleted;
    this.counters.recordsFailed += failed;
    return { records: records.length, deleted, failed, invocationFailed };
  }

  /** The records to leave in flight, and whether the response failed the whole batch. */
  private failedItems(response: SQSBatchResponse | void, records: SQSRecord[]): { failedIds: Set<string>; invocationFailed: boolean } {
    if (!this.reportBatchItemFailures || !response?.batchItemFailures) return { failedIds: new Set(), invocationFailed: false };
    const ids = new Set(records.map((r) => r.messageId));
    const failed = new Set<string>();
    for (const item of response.batchItemFailures) {
      if (!item.itemIdentifier || !ids.has(item.itemIdentifier)) {
        // Lambda: an empty/unknown identifier makes the whole batch a failure.
        return { failedIds: ids, invocationFailed: true };
      }
      failed.add(item.itemIdentifier);
    }
    return { failedIds: failed, invocationFailed: false };
  }
}

/** The Lambda record of a received message, with the queue's (virtual) timestamps. */
function toRecord(message: ReceivedMessage): SQSRecord {
  const record = sqsRecord({
    body: message.body,
    messageId: message.messageId,
    receiptHandle: message.receiptHandle,
    receiveCount: message.receiveCount,
    attributes: message.attributes,
    queueArn: message.queueArn,
  });
  return {
    ...record,
    attributes: {
      ...record.attributes,
      SentTimestamp: String(message.sentTimestamp),
      ApproximateFirstReceiveTimestamp: String(message.firstReceiveTimestamp),
    },
  };
}

function range(name: string, value: number, min: number, max: number): string | undefined {
  return Number.isInteger(value) && value >= min && value <= max ? undefined : `${name} must be an integer in ${min}-${max}, got ${value}`;
}
