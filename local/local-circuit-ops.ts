/**
 * The circuit controller's and prober's ports on this machine, so the local hub (and the outage benchmark) run the
 * REAL controller and prober logic (functions/ops) against local parts:
 *
 * - {@link LocalEventSourceMappings}: Lambda's Get/UpdateEventSourceMapping over {@link LocalEventSourceMapping}s,
 *   by UUID. Updates apply at once (Lambda's transitional `enabling`/`disabling` states are not simulated).
 * - {@link LocalProbeSchedule}: the prober's EventBridge rule as an enabled flag; the hub runs the prober on its
 *   interval while it is enabled.
 * - {@link CircuitTableStream}: dynalite has no DynamoDB Streams, so the circuits table is scanned on an interval
 *   and every change of an item's `state` is handed to the controller as a NEW_AND_OLD_IMAGES stream record, in
 *   the order seen. Changes that happen and revert between two scans are not seen; the controller acts on the
 *   circuit's current state anyway and the prober repairs anything missed, exactly as on AWS after a lost record.
 *   A record the controller reports as failed is delivered again (same SequenceNumber and eventID, as a shard
 *   retries it) with every record after it, unless the item's state moved on meanwhile. Polls never overlap: a poll
 *   by hand while the background loop polls waits for it, so no change is delivered twice.
 * - {@link RecordingCircuitGaugeTimeline}: the circuit gauges, kept as the latest state per integration and the
 *   integrations waiting for re-authorization.
 */
import { type DynamoDBClient, ScanCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBRecord } from 'aws-lambda';
import type { CircuitController } from '../functions/ops/circuit-control.js';
import { EventSourceMappingNotFoundError } from '../functions/ops/errors.js';
import {
  type CircuitGauge,
  type EventSourceMappings,
  type GaugedCircuit,
  isAwaitingReauthorization,
  type MappingChange,
  type MappingStatus,
  type ProbeSchedule,
} from '../functions/ops/ports.js';
import type { CircuitState } from '../functions/runtime/circuit-store.js';
import type { LocalEventSourceMapping } from './local-event-source.js';

/** Event source mappings by UUID (the local hub uses `fakeMappingUuid(logicalId)`, what the template's `Ref` resolves to). */
export class LocalEventSourceMappings implements EventSourceMappings {
  /** Every update applied, in order (for tests and the report). */
  readonly updates: { uuid: string; change: MappingChange }[] = [];

  constructor(private readonly mappings: ReadonlyMap<string, LocalEventSourceMapping>) {}

  async get(uuid: string): Promise<MappingStatus> {
    const mapping = this.find(uuid);
    return { uuid, state: mapping.enabled ? 'enabled' : 'disabled', maximumConcurrency: mapping.maximumConcurrency };
  }

  async update(uuid: string, change: MappingChange): Promise<void> {
    const mapping = this.find(uuid);
    if (change.maximumConcurrency !== undefined) mapping.setMaximumConcurrency(change.maximumConcurrency);
    if (change.enabled === true) mapping.enable();
    if (change.enabled === false) mapping.disable();
    this.updates.push({ uuid, change });
  }

  private find(uuid: string): LocalEventSourceMapping {
    const mapping = this.mappings.get(uuid);
    if (!mapping) throw new EventSourceMappingNotFoundError(uuid);
    return mapping;
  }
}

/** The prober's schedule rule as a flag. */
export class LocalProbeSchedule implements ProbeSchedule {
  constructor(private state: 'enabled' | 'disabled' = 'disabled') {}

  get enabled(): boolean {
    return this.state === 'enabled';
  }

  async enable(): Promise<void> {
    this.state = 'enabled';
  }

  async disable(): Promise<void> {
    this.state = 'disabled';
  }
}

/** The circuit gauges: the latest state recorded per integration (CircuitOpen), and who waits for a new refresh token (ReauthorizationNeeded). */
export class RecordingCircuitGaugeTimeline implements CircuitGauge {
  readonly latest = new Map<string, CircuitState>();
  /** The integrations whose latest record was isolated for re-authorization. */
  readonly reauthorizationNeeded = new Set<string>();

  record(integration: string, circuit: GaugedCircuit): void {
    this.latest.set(integration, circuit.state);
    if (isAwaitingReauthorization(circuit)) this.reauthorizationNeeded.add(integration);
    else this.reauthorizationNeeded.delete(integration);
  }
}

/** Options of {@link CircuitTableStream}. */
export interface CircuitTableStreamOptions {
  readonly dynamodb: DynamoDBClient;
  readonly tableName: string;
  readonly controller: Pick<CircuitController, 'handleStream'>;
  /** @default 250 */
  readonly intervalMs?: number;
  /** Called with every state change delivered (after the controller handled it). */
  readonly onTransition?: (transition: { circuitId: string; from?: CircuitState; to: CircuitState; at: number }) => void;
  /** Called with a scan or controller error; the next tick tries again (the record is re-delivered). */
  readonly onError?: (error: unknown) => void;
  /** The mapping's MaximumRetryAttempts: retries of a failing record before it is discarded; -1 = until it succeeds. @default -1 */
  readonly maximumRetryAttempts?: number;
  /** The mapping's BisectBatchOnFunctionError: a discarded record takes only itself (true) or also the records after it in its batch (false). @default false */
  readonly bisectBatchOnFunctionError?: boolean;
  /** The mapping's on-failure destination: told about the records discarded, and after how many failed invocations. */
  readonly onDiscarded?: (records: readonly DynamoDBRecord[], invocations: number) => void | Promise<void>;
}

/** Stream records from scanning the circuits table; see the file comment. */
export class CircuitTableStream {
  readonly #options: CircuitTableStreamOptions;
  /** The state last delivered per circuit id. */
  readonly #delivered = new Map<string, CircuitState>();
  /** Records handed over but not acknowledged (failed, or after a failed one), by circuit id: retried as they are. */
  readonly #pending = new Map<string, DynamoDBRecord>();
  /** Failed invocations so far of the record that failed first, by sequence number. */
  readonly #failures = new Map<string, number>();
  #sequence = 0;
  /** The poll in progress (polls are serialized). */
  #polling: Promise<unknown> = Promise.resolve();
  #timer?: NodeJS.Timeout;
  #running?: Promise<void>;

  constructor(options: CircuitTableStreamOptions) {
    this.#options = options;
  }

  /**
   * Scans once and delivers the state changes since the last scan; resolves, when the controller handled them, with
   * the number of records it acknowledged. Waits for a poll already in progress.
   */
  poll(): Promise<number> {
    const run = this.#polling.then(() => this.#pollOnce());
    this.#polling = run.catch(() => undefined);
    return run;
  }

  async #pollOnce(): Promise<number> {
    const { dynamodb, tableName, controller } = this.#options;
    const items = [];
    let startKey: Record<string, unknown> | undefined;
    do {
      const page = await dynamodb.send(new ScanCommand({ TableName: tableName, ConsistentRead: true, ExclusiveStartKey: startKey as never }));
      items.push(...(page.Items ?? []));
      startKey = page.LastEvaluatedKey;
    } while (startKey);

    const changes: { circuitId: string; state: CircuitState; record: DynamoDBRecord }[] = [];
    for (const item of items) {
      const circuitId = item.circuitId?.S;
      const state = item.state?.S as CircuitState | undefined;
      if (!circuitId || !state) continue;
      const previous = this.#delivered.get(circuitId);
      const pending = this.#pending.get(circuitId);
      if (previous === state) {
        // Back where the controller last saw it: a pending record of a change in between is moot.
        this.#forget(circuitId);
        continue;
      }
      if (pending && pending.dynamodb?.NewImage?.state?.S !== state) this.#forget(circuitId);
      const record = this.#pending.get(circuitId) ?? this.#record(circuitId, previous, state);
      changes.push({ circuitId, state, record });
    }
    if (changes.length === 0) return 0;
    // Shard order: records retried from an earlier poll come first.
    changes.sort((a, b) => compareSequence(a.record, b.record));
    const records = changes.map((change) => change.record);
    const response = await controller.handleStream({ Records: records });
    const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
    // Like a shard: everything from the first failed record on is delivered again next time.
    let failedFrom = records.findIndex((record) => failed.has(record.dynamodb?.SequenceNumber ?? ''));
    if (failedFrom < 0) failedFrom = records.length;
    for (const { circuitId, state } of changes.slice(0, failedFrom)) {
      const from = this.#delivered.get(circuitId);
      this.#delivered.set(circuitId, state);
      // A record with failures behind it is the pending one: forgetting it drops its count.
      this.#forget(circuitId);
      this.#options.onTransition?.({ circuitId, ...(from === undefined ? {} : { from }), to: state, at: Date.now() });
    }
    const retried = changes.slice(failedFrom);
    const discarded = retried.length > 0 ? this.#exhausted(retried) : [];
    for (const { circuitId, state, record } of discarded) {
      // Gone from the stream without reaching the controller: no transition, and never delivered again.
      this.#delivered.set(circuitId, state);
      this.#forget(circuitId);
      this.#failures.delete(sequenceOf(record));
    }
    for (const { circuitId, record } of retried.slice(discarded.length)) this.#pending.set(circuitId, record);
    if (discarded.length > 0) await this.#options.onDiscarded?.(discarded.map((d) => d.record), (this.#options.maximumRetryAttempts ?? -1) + 1);
    return failedFrom;
  }

  /** Drops the pending record of `circuitId`, if any, with its failure count. */
  #forget(circuitId: string): void {
    const pending = this.#pending.get(circuitId);
    if (pending) this.#failures.delete(sequenceOf(pending));
    this.#pending.delete(circuitId);
  }

  /**
   * Counts a failed invocation against the first failed record; once it has been retried MaximumRetryAttempts times
   * the records to discard, as Lambda does: that record alone with bisection, else it and the rest of its batch.
   */
  #exhausted<T extends { record: DynamoDBRecord }>(retried: readonly T[]): readonly T[] {
    const maximumRetryAttempts = this.#options.maximumRetryAttempts ?? -1;
    const sequence = sequenceOf(retried[0]!.record);
    const failures = (this.#failures.get(sequence) ?? 0) + 1;
    this.#failures.set(sequence, failures);
    if (maximumRetryAttempts < 0 || failures <= maximumRetryAttempts) return [];
    return this.#options.bisectBatchOnFunctionError ? retried.slice(0, 1) : retried;
  }

  /** A new stream record for a change of `circuitId` from `previous` (undefined: a new item) to `state`. */
  #record(circuitId: string, previous: CircuitState | undefined, state: CircuitState): DynamoDBRecord {
    this.#sequence += 1;
    return {
      eventID: `local-${this.#sequence}`,
      eventName: previous === undefined ? 'INSERT' : 'MODIFY',
      eventSource: 'aws:dynamodb',
      dynamodb: {
        Keys: { circuitId: { S: circuitId } },
        NewImage: { circuitId: { S: circuitId }, state: { S: state } },
        ...(previous === undefined ? {} : { OldImage: { circuitId: { S: circuitId }, state: { S: previous } } }),
        SequenceNumber: String(this.#sequence).padStart(21, '0'),
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };
  }

  /** Polls every interval until {@link stop}. */
  start(): void {
    if (this.#timer) return;
    const tick = (): void => {
      this.#running = this.poll()
        .then(() => undefined)
        .catch((error: unknown) => this.#options.onError?.(error))
        .finally(() => {
          if (this.#timer) this.#timer = setTimeout(tick, this.#options.intervalMs ?? 250);
        });
    };
    this.#timer = setTimeout(tick, 0);
  }

  /** Stops polling and waits for a poll in progress. */
  async stop(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    await this.#running;
  }
}

function sequenceOf(record: DynamoDBRecord): string {
  return record.dynamodb?.SequenceNumber ?? '';
}

/** Sequence numbers are zero-padded to the same width, so they compare as strings. */
function compareSequence(a: DynamoDBRecord, b: DynamoDBRecord): number {
  const x = a.dynamodb?.SequenceNumber ?? '';
  const y = b.dynamodb?.SequenceNumber ?? '';
  return x < y ? -1 : x > y ? 1 : 0;
}
