import { ConditionalCheckFailedException, DynamoDBClient, GetItemCommand, ProvisionedThroughputExceededException, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DependencyError } from '../../../functions/runtime/errors.js';
import { emptyCircuitRecord, type CircuitRecord, type CircuitStore } from '../../../functions/runtime/circuit-store.js';
import { DynamoDbCircuitStore, fromItem, toItem } from '../../../functions/runtime/dynamodb-circuit-store.js';
import { startLocalDynamo, type LocalDynamo } from '../../support/dynalite.js';
import { dynamoBackend, memoryBackend, type StoreBackend } from './circuit-test-support.js';

const T0 = Date.UTC(2030, 0, 1);
let dynamo: LocalDynamo;
const backends: StoreBackend[] = [];

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  backends.push(memoryBackend(), await dynamoBackend(dynamo));
});
afterAll(async () => {
  await dynamo?.close();
});

let seq = 0;
const newId = () => `crm#circuit-${++seq}`;

// The in-memory store is the breaker's fallback and the unit tests' store: it must answer exactly like the adapter.
describe.each([
  { name: 'in-memory store', index: 0 },
  { name: 'DynamoDB adapter on dynalite', index: 1 },
])('CircuitStore conformance: $name', ({ index }) => {
  const store = (): CircuitStore => backends[index]!.store();

  it('returns undefined for a circuit that was never written', async () => {
    expect(await store().get(newId())).toBeUndefined();
  });

  it('creates a record with put at expected version 0 and refuses a second create', async () => {
    const id = newId();
    const first = await store().put({ ...emptyCircuitRecord(id), state: 'open', openUntil: T0 + 1000, updatedAt: T0 }, 0);
    expect(first).toMatchObject({ applied: true, record: { state: 'open', version: 1, openUntil: T0 + 1000 } });
    expect(await store().put({ ...emptyCircuitRecord(id), updatedAt: T0 }, 0)).toEqual({ applied: false });
  });

  it('replaces a record only when the version still matches (optimistic concurrency)', async () => {
    const id = newId();
    await store().put({ ...emptyCircuitRecord(id), updatedAt: T0 }, 0);
    const ok = await store().put({ ...emptyCircuitRecord(id), state: 'half_open', probeOwner: 'a:1', probeLeaseUntil: T0 + 5, updatedAt: T0 }, 1);
    expect(ok).toMatchObject({ applied: true, record: { version: 2, probeOwner: 'a:1' } });
    expect(await store().put({ ...emptyCircuitRecord(id), state: 'half_open', probeOwner: 'b:1', updatedAt: T0 }, 1)).toEqual({ applied: false });
    expect((await store().get(id))?.probeOwner).toBe('a:1');
  });

  it('drops attributes that a put leaves undefined (the item is replaced, not merged)', async () => {
    const id = newId();
    await store().put({ ...emptyCircuitRecord(id), state: 'half_open', probeOwner: 'a:1', probeLeaseUntil: T0, updatedAt: T0 }, 0);
    await store().put({ ...emptyCircuitRecord(id), state: 'closed', updatedAt: T0 }, 1);
    const record = await store().get(id);
    expect(record?.probeOwner).toBeUndefined();
    expect(record?.probeLeaseUntil).toBeUndefined();
    expect(record?.state).toBe('closed');
  });

  it('increments consecutive failures atomically, creating the item, only while closed', async () => {
    const id = newId();
    const results = await Promise.all(Array.from({ length: 10 }, () => store().incrementFailures(id, T0)));
    expect(results.every((r) => r.applied)).toBe(true);
    const record = await store().get(id);
    expect(record).toMatchObject({ state: 'closed', consecutiveFailures: 10, version: 10, updatedAt: T0 });
    await store().put({ ...record!, state: 'open', openUntil: T0 + 1 }, record!.version);
    expect(await store().incrementFailures(id, T0)).toEqual({ applied: false });
  });

  it('clears consecutive failures only when closed with failures to clear', async () => {
    const id = newId();
    expect(await store().clearFailures(id, T0)).toEqual({ applied: false });
    await store().incrementFailures(id, T0);
    expect(await store().clearFailures(id, T0 + 1)).toMatchObject({ applied: true, record: { consecutiveFailures: 0, version: 2 } });
    expect(await store().clearFailures(id, T0 + 2)).toEqual({ applied: false });
  });

  it('adds window counts into buckets keyed by start, creating them, and prunes expired buckets in the same write', async () => {
    const id = newId();
    const first = await store().addToWindow(id, [{ start: 1000, calls: 3, failures: 1 }], [], T0);
    expect(first).toMatchObject({ applied: true, record: { state: 'closed', version: 1, window: [{ start: 1000, calls: 3, failures: 1 }] } });
    const second = await store().addToWindow(
      id,
      [
        { start: 1000, calls: 2, failures: 2 },
        { start: 2000, calls: 5, failures: 0 },
      ],
      [],
      T0,
    );
    expect(second).toMatchObject({
      applied: true,
      record: {
        version: 2,
        window: [
          { start: 1000, calls: 5, failures: 3 },
          { start: 2000, calls: 5, failures: 0 },
        ],
      },
    });
    const pruned = await store().addToWindow(id, [{ start: 7000, calls: 1, failures: 1 }], [1000, 500], T0);
    expect(pruned.applied && pruned.record.window).toEqual([
      { start: 2000, calls: 5, failures: 0 },
      { start: 7000, calls: 1, failures: 1 },
    ]);
  });

  it('merges concurrent window adds from many writers into one bucket without losing counts', async () => {
    const id = newId();
    const results = await Promise.all(Array.from({ length: 12 }, () => store().addToWindow(id, [{ start: 0, calls: 2, failures: 1 }], [], T0)));
    expect(results.every((r) => r.applied)).toBe(true);
    expect((await store().get(id))?.window).toEqual([{ start: 0, calls: 24, failures: 12 }]);
  });

  it('refuses window adds while the circuit is not closed', async () => {
    const id = newId();
    await store().put({ ...emptyCircuitRecord(id), state: 'open', openUntil: T0 + 10, updatedAt: T0 }, 0);
    expect(await store().addToWindow(id, [{ start: 0, calls: 1, failures: 1 }], [], T0)).toEqual({ applied: false });
  });

  it('moves throttledUntil only forward', async () => {
    const id = newId();
    expect(await store().advanceThrottle(id, T0 + 5000, T0)).toMatchObject({ applied: true, record: { throttledUntil: T0 + 5000, state: 'closed' } });
    expect(await store().advanceThrottle(id, T0 + 4000, T0)).toEqual({ applied: false });
    expect(await store().advanceThrottle(id, T0 + 5000, T0)).toEqual({ applied: false });
    expect(await store().advanceThrottle(id, T0 + 9000, T0)).toMatchObject({ applied: true, record: { throttledUntil: T0 + 9000, version: 2 } });
  });

  it('lets exactly one of many concurrent version-checked puts win', async () => {
    const id = newId();
    await store().put({ ...emptyCircuitRecord(id), state: 'open', openUntil: T0, updatedAt: T0 }, 0);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) => store().put({ ...emptyCircuitRecord(id), state: 'half_open', probeOwner: `i${i}`, probeLeaseUntil: T0 + 1, updatedAt: T0 }, 1)),
    );
    expect(results.filter((r) => r.applied)).toHaveLength(1);
  });
});

describe('DynamoDbCircuitStore item layout', () => {
  it('stores state as an explicit attribute with a version, and keeps the item small', async () => {
    const tableName = 'circuits-layout';
    await dynamo.createTable(tableName, { partitionKey: 'circuitId' });
    const store = new DynamoDbCircuitStore({ tableName, client: dynamo.client });
    await store.incrementFailures('crm', T0);
    const buckets = [0, 1, 2, 3, 4, 5].map((i) => ({ start: T0 + i * 10_000, calls: 100, failures: 50 }));
    await store.addToWindow('crm', buckets, [], T0);
    const { Item } = await dynamo.client.send(new GetItemCommand({ TableName: tableName, Key: { circuitId: { S: 'crm' } }, ConsistentRead: true }));
    expect(Item?.state).toEqual({ S: 'closed' });
    expect(Item?.version).toEqual({ N: '2' });
    expect(Item?.[`wc${T0 + 30_000}`]).toEqual({ N: '100' });
    expect(Item?.[`wf${T0 + 30_000}`]).toEqual({ N: '50' });
    // Well under 1 KB: every write costs one WCU.
    expect(JSON.stringify(Item).length).toBeLessThan(1024);
  });

  it('round-trips a full record through its item', () => {
    const record: CircuitRecord = {
      circuitId: 'crm#files',
      state: 'half_open',
      version: 7,
      updatedAt: T0,
      stateSince: T0 - 10,
      stateReason: 'probe_failed',
      consecutiveFailures: 0,
      window: [
        { start: T0 - 20_000, calls: 9, failures: 4 },
        { start: T0 - 10_000, calls: 3, failures: 0 },
      ],
      reopenCount: 2,
      probeOwner: 'instance-1:3',
      probeLeaseUntil: T0 + 30_000,
      probeSuccesses: 1,
      throttledUntil: T0 + 100,
    };
    expect(fromItem(toItem(record))).toEqual(record);
  });

  it('treats an item with an unknown state as a store failure', () => {
    expect(() => fromItem({ circuitId: 'crm', state: 'weird', version: 1 })).toThrow(DependencyError);
  });
});

describe('DynamoDbCircuitStore error translation', () => {
  it('returns applied: false on a failed condition and a DependencyError on any other SDK error', async () => {
    const client = new DynamoDBClient({ region: 'us-east-1' });
    // The store sends low-level commands on the client itself (dynamodb-items.ts), not through a DocumentClient.
    const mock = mockClient(client);
    try {
      const store = new DynamoDbCircuitStore({ tableName: 'circuits', client });
      mock.on(UpdateItemCommand).rejects(new ConditionalCheckFailedException({ message: 'The conditional request failed', $metadata: {} }));
      expect(await store.incrementFailures('crm', T0)).toEqual({ applied: false });
      mock.reset();
      mock.on(UpdateItemCommand).rejects(new ProvisionedThroughputExceededException({ message: 'Rate exceeded', $metadata: {} }));
      const error = await store.incrementFailures('crm', T0).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(DependencyError);
      expect((error as DependencyError).errorClass).toBe('CircuitsUnavailable');
      expect((error as DependencyError).cause).toBeInstanceOf(ProvisionedThroughputExceededException);
    } finally {
      mock.restore();
      client.destroy();
    }
  });
});
