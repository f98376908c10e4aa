/**
 * The circuits table (docs/architecture.md "Shared state"): one small item per circuit, key `circuitId`. Every write is a single-item
 * conditional write that bumps `version`; no transactions. SDK errors are translated here: a failed condition is
 * `{ applied: false }` (callers re-read: DynamoDB local ignores ReturnValuesOnConditionCheckFailure), anything else
 * becomes a DependencyError, which makes the breaker fall back to its per-instance store.
 *
 * Item layout (numbers are epoch ms unless said otherwise; optional attributes are absent when unset):
 *   circuitId (S, key) · state (S: closed | open | half_open | isolated) · version (N) · updatedAt (N)
 *   stateSince (N) · stateReason (S) · consecutiveFailures (N) · reopenCount (N) · probeSuccesses (N)
 *   openUntil (N) · probeOwner (S) · probeLeaseUntil (N) · throttledUntil (N) · doubtfulCalls (N) · doubtfulUntil (N)
 *   wc<bucketStart>, wf<bucketStart> (N) — 'ratio' mode window: calls and failures of the bucket starting then
 * `state` is always present, so a stream consumer (the circuit controller) can compare OldImage/NewImage.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { getItem, type NativeUpdateInput, putItem, updateItem } from './dynamodb-items.js';
import { DependencyError } from './errors.js';
import { isCircuitState, type CircuitRecord, type CircuitStore, type DoubtfulOutcome, type WindowBucket, type WriteResult } from './circuit-store.js';

/** Options of {@link DynamoDbCircuitStore}. */
export interface DynamoDbCircuitStoreOptions {
  /** The circuits table (partition key `circuitId`, string). */
  readonly tableName: string;
  readonly client: DynamoDBClient;
}

const WINDOW_CALLS = /^wc(\d+)$/;

/** {@link CircuitStore} on the circuits table. */
export class DynamoDbCircuitStore implements CircuitStore {
  private readonly tableName: string;
  private readonly client: DynamoDBClient;

  /** Low-level item calls (dynamodb-items.ts): the client may be built with `cacheMiddleware`. */
  constructor(options: DynamoDbCircuitStoreOptions) {
    this.tableName = options.tableName;
    this.client = options.client;
  }

  async get(circuitId: string): Promise<CircuitRecord | undefined> {
    try {
      const item = await getItem(this.client, { TableName: this.tableName, Key: { circuitId }, ConsistentRead: true });
      return item ? fromItem(item) : undefined;
    } catch (error) {
      throw translate('read', circuitId, error);
    }
  }

  async put(record: CircuitRecord, expectedVersion: number): Promise<WriteResult> {
    const stored: CircuitRecord = { ...record, version: expectedVersion + 1 };
    try {
      await putItem(this.client, {
        TableName: this.tableName,
        Item: toItem(stored),
        ...(expectedVersion === 0
          ? { ConditionExpression: 'attribute_not_exists(circuitId)' }
          : { ConditionExpression: '#version = :expected', ExpressionAttributeNames: { '#version': 'version' }, ExpressionAttributeValues: { ':expected': expectedVersion } }),
      });
      return { applied: true, record: fromItem(toItem(stored)) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { applied: false };
      throw translate('write', record.circuitId, error);
    }
  }

  incrementFailures(circuitId: string, now: number): Promise<WriteResult> {
    return this.update(circuitId, {
      UpdateExpression: 'SET #state = if_not_exists(#state, :closed), #updatedAt = :now ADD #consecutiveFailures :one, #version :one',
      ConditionExpression: 'attribute_not_exists(circuitId) OR #state = :closed',
      ExpressionAttributeNames: { '#state': 'state', '#updatedAt': 'updatedAt', '#consecutiveFailures': 'consecutiveFailures', '#version': 'version' },
      ExpressionAttributeValues: { ':closed': 'closed', ':now': now, ':one': 1 },
    });
  }

  clearFailures(circuitId: string, now: number): Promise<WriteResult> {
    return this.update(circuitId, {
      UpdateExpression: 'SET #consecutiveFailures = :zero, #updatedAt = :now ADD #version :one',
      ConditionExpression: '#state = :closed AND #consecutiveFailures > :zero',
      ExpressionAttributeNames: { '#state': 'state', '#updatedAt': 'updatedAt', '#consecutiveFailures': 'consecutiveFailures', '#version': 'version' },
      ExpressionAttributeValues: { ':closed': 'closed', ':now': now, ':zero': 0, ':one': 1 },
    });
  }

  addToWindow(circuitId: string, counts: readonly WindowBucket[], expired: readonly number[], now: number): Promise<WriteResult> {
    const names: Record<string, string> = { '#state': 'state', '#updatedAt': 'updatedAt', '#version': 'version' };
    const values: Record<string, unknown> = { ':closed': 'closed', ':now': now, ':one': 1 };
    // ADD creates a missing bucket at 0, so concurrent flushes into one bucket need no condition to merge.
    const adds = ['#version :one'];
    counts.forEach((bucket, i) => {
      names[`#c${i}`] = `wc${bucket.start}`;
      names[`#f${i}`] = `wf${bucket.start}`;
      values[`:c${i}`] = bucket.calls;
      values[`:f${i}`] = bucket.failures;
      adds.push(`#c${i} :c${i}`, `#f${i} :f${i}`);
    });
    const removes: string[] = [];
    expired.forEach((start, i) => {
      names[`#xc${i}`] = `wc${start}`;
      names[`#xf${i}`] = `wf${start}`;
      removes.push(`#xc${i}`, `#xf${i}`);
    });
    return this.update(circuitId, {
      UpdateExpression: `SET #state = if_not_exists(#state, :closed), #updatedAt = :now ADD ${adds.join(', ')}${removes.length ? ` REMOVE ${removes.join(', ')}` : ''}`,
      ConditionExpression: 'attribute_not_exists(circuitId) OR #state = :closed',
      ExpressionAttributeNames: names,
      ExpressionAttributeValues: values,
    });
  }

  advanceThrottle(circuitId: string, untilMs: number, now: number): Promise<WriteResult> {
    return this.update(circuitId, {
      UpdateExpression: 'SET #throttledUntil = :until, #state = if_not_exists(#state, :closed), #updatedAt = :now ADD #version :one',
      ConditionExpression: 'attribute_not_exists(#throttledUntil) OR #throttledUntil < :until',
      ExpressionAttributeNames: { '#state': 'state', '#updatedAt': 'updatedAt', '#throttledUntil': 'throttledUntil', '#version': 'version' },
      ExpressionAttributeValues: { ':closed': 'closed', ':now': now, ':until': untilMs, ':one': 1 },
    });
  }

  takeDoubtfulSlot(circuitId: string, observedFailures: number, limit: number, until: number, now: number): Promise<WriteResult> {
    return this.update(circuitId, {
      UpdateExpression: 'SET #doubtfulUntil = :until, #updatedAt = :now ADD #doubtfulCalls :one, #version :one',
      ConditionExpression: '#state = :closed AND #consecutiveFailures = :failures AND (attribute_not_exists(#doubtfulCalls) OR #doubtfulCalls < :limit)',
      ExpressionAttributeNames: {
        '#state': 'state',
        '#updatedAt': 'updatedAt',
        '#consecutiveFailures': 'consecutiveFailures',
        '#doubtfulCalls': 'doubtfulCalls',
        '#doubtfulUntil': 'doubtfulUntil',
        '#version': 'version',
      },
      ExpressionAttributeValues: { ':closed': 'closed', ':now': now, ':one': 1, ':failures': observedFailures, ':limit': limit, ':until': until },
    });
  }

  releaseDoubtfulSlot(circuitId: string, outcome: DoubtfulOutcome, now: number): Promise<WriteResult> {
    const expressions: Record<DoubtfulOutcome, string> = {
      failure: 'SET #updatedAt = :now ADD #consecutiveFailures :one, #doubtfulCalls :minusOne, #version :one',
      success: 'SET #updatedAt = :now, #consecutiveFailures = :zero ADD #doubtfulCalls :minusOne, #version :one',
      ignore: 'SET #updatedAt = :now ADD #doubtfulCalls :minusOne, #version :one',
    };
    return this.update(circuitId, {
      UpdateExpression: expressions[outcome],
      ConditionExpression: '#state = :closed AND #doubtfulCalls > :zero',
      ExpressionAttributeNames: {
        '#state': 'state',
        '#updatedAt': 'updatedAt',
        '#doubtfulCalls': 'doubtfulCalls',
        '#version': 'version',
        ...(outcome === 'ignore' ? {} : { '#consecutiveFailures': 'consecutiveFailures' }),
      },
      ExpressionAttributeValues: { ':closed': 'closed', ':now': now, ':zero': 0, ':one': 1, ':minusOne': -1 },
    });
  }

  private async update(
    circuitId: string,
    input: Pick<NativeUpdateInput, 'UpdateExpression' | 'ConditionExpression' | 'ExpressionAttributeNames' | 'ExpressionAttributeValues'>,
  ): Promise<WriteResult> {
    try {
      const attributes = await updateItem(this.client, { TableName: this.tableName, Key: { circuitId }, ReturnValues: 'ALL_NEW', ...input });
      if (!attributes) throw new Error('UpdateItem returned no attributes');
      return { applied: true, record: fromItem(attributes) };
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return { applied: false };
      throw translate('write', circuitId, error);
    }
  }
}

/** The item for a record (window buckets flattened into top-level attributes, so they can be ADDed atomically). */
export function toItem(record: CircuitRecord): Record<string, unknown> {
  const item: Record<string, unknown> = {
    circuitId: record.circuitId,
    state: record.state,
    version: record.version,
    updatedAt: record.updatedAt,
    stateSince: record.stateSince,
    stateReason: record.stateReason,
    consecutiveFailures: record.consecutiveFailures,
    reopenCount: record.reopenCount,
    probeSuccesses: record.probeSuccesses,
    openUntil: record.openUntil,
    probeOwner: record.probeOwner,
    probeLeaseUntil: record.probeLeaseUntil,
    throttledUntil: record.throttledUntil,
    doubtfulCalls: record.doubtfulCalls,
    doubtfulUntil: record.doubtfulUntil,
  };
  for (const bucket of record.window) {
    item[`wc${bucket.start}`] = bucket.calls;
    item[`wf${bucket.start}`] = bucket.failures;
  }
  for (const key of Object.keys(item)) if (item[key] === undefined) delete item[key];
  return item;
}

/** The record for an item; an item that is not a circuit is a store failure (the breaker falls back rather than guessing). */
export function fromItem(item: Record<string, unknown>): CircuitRecord {
  const circuitId = item.circuitId;
  if (typeof circuitId !== 'string' || !isCircuitState(item.state)) {
    throw new DependencyError('Circuits', `circuits table holds an invalid item (circuitId ${String(circuitId)}, state ${String(item.state)})`);
  }
  const window: WindowBucket[] = [];
  for (const key of Object.keys(item)) {
    const match = WINDOW_CALLS.exec(key);
    if (!match) continue;
    window.push({ start: Number(match[1]), calls: num(item[key]) ?? 0, failures: num(item[`wf${match[1]}`]) ?? 0 });
  }
  window.sort((a, b) => a.start - b.start);
  const record: CircuitRecord = {
    circuitId,
    state: item.state,
    version: num(item.version) ?? 0,
    updatedAt: num(item.updatedAt) ?? 0,
    stateSince: num(item.stateSince),
    stateReason: typeof item.stateReason === 'string' ? item.stateReason : undefined,
    consecutiveFailures: num(item.consecutiveFailures) ?? 0,
    window,
    openUntil: num(item.openUntil),
    reopenCount: num(item.reopenCount) ?? 0,
    probeOwner: typeof item.probeOwner === 'string' ? item.probeOwner : undefined,
    probeLeaseUntil: num(item.probeLeaseUntil),
    probeSuccesses: num(item.probeSuccesses) ?? 0,
    throttledUntil: num(item.throttledUntil),
    doubtfulCalls: num(item.doubtfulCalls),
    doubtfulUntil: num(item.doubtfulUntil),
  };
  return Object.fromEntries(Object.entries(record).filter(([, v]) => v !== undefined)) as unknown as CircuitRecord;
}

function num(value: unknown): number | undefined {
  return typeof value === 'number' && Number.isFinite(value) ? value : undefined;
}

function translate(operation: 'read' | 'write', circuitId: string, error: unknown): DependencyError {
  if (error instanceof DependencyError) return error;
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new DependencyError('Circuits', `circuits table ${operation} failed for ${circuitId}: ${reason}`, { cause: error });
}
