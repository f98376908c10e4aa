/** Test doubles of the ops ports, and DynamoDB stream records built the way the circuits table's stream sends them. */
import { Logger } from '@aws-lambda-powertools/logger';
import { marshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue, DynamoDBRecord } from 'aws-lambda';
import type { CircuitRecord } from '../../../functions/runtime/circuit-store.js';
import { toItem } from '../../../functions/runtime/dynamodb-circuit-store.js';
import { EventSourceMappingBusyError, EventSourceMappingNotFoundError } from '../../../functions/ops/errors.js';
import type { EventSourceMappings, MappingChange, MappingState, MappingStatus, ProbeSchedule } from '../../../functions/ops/ports.js';
import { DependencyError } from '../../../functions/runtime/errors.js';

export { FakeClock } from '../runtime/circuit-test-support.js';

/** A logger that prints nothing. */
export function silentLogger(): Logger {
  return new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' });
}

/**
 * Event source mappings in memory. An update takes effect at once (enabled ⇄ disabled); `busyFor(uuid, n)` makes the
 * next n updates fail like Lambda's ResourceInUseException.
 */
export class FakeEventSourceMappings implements EventSourceMappings {
  readonly mappings = new Map<string, MappingStatus>();
  readonly updates: { uuid: string; change: MappingChange }[] = [];
  readonly reads: string[] = [];
  private readonly busy = new Map<string, number>();
  private failing: Error | undefined;

  constructor(initial: Record<string, { state: MappingState; maximumConcurrency?: number }> = {}) {
    for (const [uuid, status] of Object.entries(initial)) this.mappings.set(uuid, { uuid, ...status });
  }

  busyFor(uuid: string, updates: number): void {
    this.busy.set(uuid, updates);
  }

  /** Every call fails with this error until cleared. */
  failWith(error: Error | undefined): void {
    this.failing = error;
  }

  status(uuid: string): MappingStatus | undefined {
    return this.mappings.get(uuid);
  }

  async get(uuid: string): Promise<MappingStatus> {
    this.reads.push(uuid);
    if (this.failing) throw this.failing;
    const mapping = this.mappings.get(uuid);
    if (!mapping) throw new EventSourceMappingNotFoundError(uuid);
    return { ...mapping };
  }

  async update(uuid: string, change: MappingChange): Promise<void> {
    if (this.failing) throw this.failing;
    const mapping = this.mappings.get(uuid);
    if (!mapping) throw new EventSourceMappingNotFoundError(uuid);
    const busy = this.busy.get(uuid) ?? 0;
    if (busy > 0) {
      this.busy.set(uuid, busy - 1);
      throw new EventSourceMappingBusyError(uuid);
    }
    this.updates.push({ uuid, change });
    const state: MappingState = change.enabled === undefined ? mapping.state : change.enabled ? 'enabled' : 'disabled';
    this.mappings.set(uuid, { ...mapping, state, maximumConcurrency: change.maximumConcurrency ?? mapping.maximumConcurrency });
  }
}

/** The probe schedule as a flag, with its calls. */
export class FakeProbeSchedule implements ProbeSchedule {
  enabled: boolean;
  readonly calls: ('enable' | 'disable')[] = [];
  /** Runs after each call (tests use it to change the world between two calls). */
  afterCall?: (call: 'enable' | 'disable') => Promise<void> | void;
  failing = false;

  constructor(enabled = false) {
    this.enabled = enabled;
  }

  async enable(): Promise<void> {
    if (this.failing) throw new DependencyError('ProbeSchedule', 'EventBridge unavailable');
    this.calls.push('enable');
    this.enabled = true;
    await this.afterCall?.('enable');
  }

  async disable(): Promise<void> {
    if (this.failing) throw new DependencyError('ProbeSchedule', 'EventBridge unavailable');
    this.calls.push('disable');
    this.enabled = false;
    await this.afterCall?.('disable');
  }
}

/** A circuit record with defaults (closed, nothing counted). */
export function circuit(circuitId: string, fields: Partial<CircuitRecord> = {}): CircuitRecord {
  return { circuitId, state: 'closed', version: 1, updatedAt: 0, consecutiveFailures: 0, window: [], reopenCount: 0, probeSuccesses: 0, ...fields };
}

let sequence = 100;

/**
 * A circuits-table stream record (NEW_AND_OLD_IMAGES) as Lambda delivers it: Keys, NewImage and OldImage in DynamoDB
 * JSON, made from the item layout of the DynamoDB circuit store. No old record → INSERT; no new record → REMOVE.
 */
export function streamRecord(before: CircuitRecord | undefined, after: CircuitRecord | undefined, sequenceNumber = String(++sequence)): DynamoDBRecord {
  const circuitId = (after ?? before)?.circuitId ?? 'unknown';
  const image = (record: CircuitRecord) => marshall(toItem(record)) as Record<string, AttributeValue>;
  return {
    eventID: `event-${sequenceNumber}`,
    eventName: !before ? 'INSERT' : !after ? 'REMOVE' : 'MODIFY',
    eventVersion: '1.1',
    eventSource: 'aws:dynamodb',
    awsRegion: 'us-east-1',
    eventSourceARN: 'arn:aws:dynamodb:us-east-1:111111111111:table/circuits/stream/2030-01-01T00:00:00.000',
    dynamodb: {
      ApproximateCreationDateTime: 1_893_456_000,
      Keys: { circuitId: { S: circuitId } },
      ...(after ? { NewImage: image(after) } : {}),
      ...(before ? { OldImage: image(before) } : {}),
      SequenceNumber: sequenceNumber,
      SizeBytes: 256,
      StreamViewType: 'NEW_AND_OLD_IMAGES',
    },
  };
}

/** UUIDs of the fake mappings. */
export const CRM_MAPPING = '11111111-1111-4111-8111-111111111111';
export const PAYMENTS_MAPPING = '22222222-2222-4222-8222-222222222222';
