/**
 * The local circuit-ops adapters: mappings by UUID over LocalEventSourceMappings, the probe schedule flag, and the
 * circuits-table "stream" (a scan of dynalite turned into NEW_AND_OLD_IMAGES records for the controller).
 */
import { PutItemCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { EventSourceMappingNotFoundError } from '../../functions/ops/errors.js';
import { REAUTHORIZATION_NEEDED } from '../../functions/runtime/errors.js';
import { CircuitTableStream, LocalEventSourceMappings, LocalProbeSchedule, RecordingCircuitGaugeTimeline } from '../../local/local-circuit-ops.js';
import { createTable } from '../../local/local-dynamo.js';
import { LocalEventSourceMapping } from '../../local/local-event-source.js';
import { InvalidParameterValueError, LocalQueue } from '../../local/local-queue.js';
import { type LocalDynamo, startLocalDynamo } from '../support/dynalite.js';
import { until } from '../support/eventually.js';

const eventually = (condition: () => boolean, timeoutMs = 5_000) => until(condition, timeoutMs);

function localMapping(options: { enabled?: boolean; maximumConcurrency?: number } = {}): LocalEventSourceMapping {
  return new LocalEventSourceMapping({ queue: new LocalQueue({ name: 'alpha' }), handler: async () => undefined, ...options });
}

describe('LocalEventSourceMappings', () => {
  const UUID = '7c3b7a52-1d2e-4f00-8a00-000000000001';

  it('reports an enabled mapping with its maximum concurrency', async () => {
    const mappings = new LocalEventSourceMappings(new Map([[UUID, localMapping({ maximumConcurrency: 5 })]]));
    await expect(mappings.get(UUID)).resolves.toEqual({ uuid: UUID, state: 'enabled', maximumConcurrency: 5 });
  });

  it('reports a disabled mapping as disabled', async () => {
    const mappings = new LocalEventSourceMappings(new Map([[UUID, localMapping({ enabled: false, maximumConcurrency: 3 })]]));
    await expect(mappings.get(UUID)).resolves.toEqual({ uuid: UUID, state: 'disabled', maximumConcurrency: 3 });
  });

  it('disables and enables the local mapping, and records every update in order', async () => {
    const mapping = localMapping({ maximumConcurrency: 10 });
    const mappings = new LocalEventSourceMappings(new Map([[UUID, mapping]]));

    await mappings.update(UUID, { enabled: false });
    expect(mapping.enabled).toBe(false);
    expect((await mappings.get(UUID)).state).toBe('disabled');

    await mappings.update(UUID, { enabled: true, maximumConcurrency: 2 });
    expect(mapping.enabled).toBe(true);
    expect(mapping.maximumConcurrency).toBe(2);

    expect(mappings.updates).toEqual([
      { uuid: UUID, change: { enabled: false } },
      { uuid: UUID, change: { enabled: true, maximumConcurrency: 2 } },
    ]);
  });

  it('changes only the concurrency when the change has no enabled flag (never re-enables a paused mapping)', async () => {
    const mapping = localMapping({ enabled: false, maximumConcurrency: 2 });
    const mappings = new LocalEventSourceMappings(new Map([[UUID, mapping]]));
    await mappings.update(UUID, { maximumConcurrency: 10 });
    expect(mapping.maximumConcurrency).toBe(10);
    expect(mapping.enabled).toBe(false);
  });

  it('throws EventSourceMappingNotFoundError for an unknown UUID, on get and on update', async () => {
    const mappings = new LocalEventSourceMappings(new Map([[UUID, localMapping()]]));
    await expect(mappings.get('no-such-uuid')).rejects.toBeInstanceOf(EventSourceMappingNotFoundError);
    await expect(mappings.update('no-such-uuid', { enabled: false })).rejects.toMatchObject({ uuid: 'no-such-uuid' });
    expect(mappings.updates).toEqual([]);
  });

  it('rejects a concurrency outside Lambda’s 2-1000 and leaves the mapping as it was', async () => {
    const mapping = localMapping({ maximumConcurrency: 5 });
    const mappings = new LocalEventSourceMappings(new Map([[UUID, mapping]]));
    await expect(mappings.update(UUID, { enabled: false, maximumConcurrency: 1 })).rejects.toBeInstanceOf(InvalidParameterValueError);
    expect(mapping.maximumConcurrency).toBe(5);
    expect(mapping.enabled).toBe(true);
    expect(mappings.updates).toEqual([]);
  });
});

describe('LocalProbeSchedule', () => {
  it('is disabled by default', () => {
    expect(new LocalProbeSchedule().enabled).toBe(false);
  });

  it('starts in the state it is given (the template rule’s State)', () => {
    expect(new LocalProbeSchedule('enabled').enabled).toBe(true);
  });

  it('enables and disables idempotently', async () => {
    const schedule = new LocalProbeSchedule();
    await schedule.enable();
    await schedule.enable();
    expect(schedule.enabled).toBe(true);
    await schedule.disable();
    await schedule.disable();
    expect(schedule.enabled).toBe(false);
  });
});

describe('RecordingCircuitGaugeTimeline', () => {
  it('keeps the latest state per integration, and who waits for re-authorization', () => {
    const gauge = new RecordingCircuitGaugeTimeline();
    gauge.record('alpha', { state: 'open' });
    gauge.record('beta-two', { state: 'isolated', stateReason: `${REAUTHORIZATION_NEEDED}: invalid_grant` });
    gauge.record('alpha', { state: 'half_open' });
    expect(Object.fromEntries(gauge.latest)).toEqual({ alpha: 'half_open', 'beta-two': 'isolated' });
    expect([...gauge.reauthorizationNeeded]).toEqual(['beta-two']);
    gauge.record('beta-two', { state: 'closed' });
    expect([...gauge.reauthorizationNeeded]).toEqual([]);
  });
});

describe('CircuitTableStream (dynalite)', () => {
  let dynamo: LocalDynamo;
  let table: string;
  let tableCount = 0;

  /** A controller that records every batch; `failAt` makes the record at that position of the next batches fail. */
  function fakeController() {
    const batches: DynamoDBStreamEvent[] = [];
    const controller = {
      batches,
      failAt: undefined as number | undefined,
      /** How long handling a batch takes (the real controller reads the circuit and calls Lambda). */
      delayMs: 0,
      records: () => batches.flatMap((batch) => batch.Records),
      async handleStream(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
        batches.push(structuredClone(event));
        if (controller.delayMs > 0) await new Promise((resolve) => setTimeout(resolve, controller.delayMs));
        // As the real controller: only the first failed record is reported; the rest of the batch is left with it.
        const failed = controller.failAt === undefined ? undefined : event.Records[controller.failAt];
        return { batchItemFailures: failed ? [{ itemIdentifier: failed.dynamodb!.SequenceNumber! }] : [] };
      },
    };
    return controller;
  }

  async function putCircuit(circuitId: string, state: string, version = 1): Promise<void> {
    await dynamo.client.send(
      new PutItemCommand({
        TableName: table,
        Item: { circuitId: { S: circuitId }, state: { S: state }, version: { N: String(version) }, consecutiveFailures: { N: '0' } },
      }),
    );
  }

  async function setFailures(circuitId: string, failures: number): Promise<void> {
    await dynamo.client.send(
      new UpdateItemCommand({
        TableName: table,
        Key: { circuitId: { S: circuitId } },
        UpdateExpression: 'SET consecutiveFailures = :n',
        ExpressionAttributeValues: { ':n': { N: String(failures) } },
      }),
    );
  }

  /** What the controller reads from a record. */
  const transition = (record: DynamoDBRecord) => ({
    eventName: record.eventName,
    circuitId: record.dynamodb?.Keys?.circuitId?.S,
    from: record.dynamodb?.OldImage?.state?.S,
    to: record.dynamodb?.NewImage?.state?.S,
  });

  beforeAll(async () => {
    dynamo = await startLocalDynamo();
  });
  afterAll(async () => {
    await dynamo?.close();
  });
  beforeEach(async () => {
    tableCount += 1;
    table = `circuits-${tableCount}`;
    await createTable(dynamo.client, table, { partitionKey: 'circuitId' });
  });

  it('delivers nothing (and does not call the controller) for an empty table', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await expect(stream.poll()).resolves.toBe(0);
    expect(controller.batches).toEqual([]);
  });

  it('delivers a new circuit as an INSERT with its state and no old image', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('alpha', 'open');

    await expect(stream.poll()).resolves.toBe(1);

    const [record] = controller.records();
    expect(transition(record!)).toEqual({ eventName: 'INSERT', circuitId: 'alpha', from: undefined, to: 'open' });
    expect(record!.dynamodb).toMatchObject({ Keys: { circuitId: { S: 'alpha' } }, StreamViewType: 'NEW_AND_OLD_IMAGES' });
    expect(record!.dynamodb).not.toHaveProperty('OldImage');
    expect(record!.dynamodb?.SequenceNumber).toMatch(/^\d+$/);
    expect(record!.eventSource).toBe('aws:dynamodb');
  });

  it('delivers a change of state as a MODIFY with the old and the new state', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('beta-two', 'closed');
    await stream.poll();
    await putCircuit('beta-two', 'open', 2);
    await stream.poll();
    await putCircuit('beta-two', 'half_open', 3);
    await stream.poll();

    expect(controller.records().map(transition)).toEqual([
      { eventName: 'INSERT', circuitId: 'beta-two', from: undefined, to: 'closed' },
      { eventName: 'MODIFY', circuitId: 'beta-two', from: 'closed', to: 'open' },
      { eventName: 'MODIFY', circuitId: 'beta-two', from: 'open', to: 'half_open' },
    ]);
  });

  it('gives every record a new, increasing sequence number', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('alpha', 'closed');
    await putCircuit('beta-two', 'closed');
    await stream.poll();
    await putCircuit('alpha', 'open', 2);
    await stream.poll();
    const sequences = controller.records().map((record) => BigInt(record.dynamodb!.SequenceNumber!));
    expect(sequences).toHaveLength(3);
    expect(new Set(sequences).size).toBe(3);
    expect(sequences[2]! > sequences[0]! && sequences[2]! > sequences[1]!).toBe(true);
  });

  it('delivers no record when the state did not change (counters, version and other writes are not transitions)', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('alpha', 'closed');
    await stream.poll();

    await setFailures('alpha', 3);
    await putCircuit('alpha', 'closed', 5);
    await expect(stream.poll()).resolves.toBe(0);
    await expect(stream.poll()).resolves.toBe(0);

    expect(controller.batches).toHaveLength(1);
  });

  it('ignores items without a state (not circuits)', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await dynamo.client.send(new PutItemCommand({ TableName: table, Item: { circuitId: { S: 'something-else' }, note: { S: 'x' } } }));
    await expect(stream.poll()).resolves.toBe(0);
    expect(controller.batches).toEqual([]);
  });

  it('delivers the state changes of several circuits in one batch', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('alpha', 'open');
    await putCircuit('beta-two', 'isolated');

    await expect(stream.poll()).resolves.toBe(2);

    expect(controller.batches).toHaveLength(1);
    expect(controller.records().map(transition)).toEqual(
      expect.arrayContaining([
        { eventName: 'INSERT', circuitId: 'alpha', from: undefined, to: 'open' },
        { eventName: 'INSERT', circuitId: 'beta-two', from: undefined, to: 'isolated' },
      ]),
    );
  });

  it('delivers a failed record again on the next poll, and not the records before it', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('alpha', 'open');
    await putCircuit('beta-two', 'open');

    controller.failAt = 1;
    await expect(stream.poll()).resolves.toBe(1);
    const [earlier, failed] = controller.batches[0]!.Records;
    expect(failed).toBeDefined();

    controller.failAt = undefined;
    await expect(stream.poll()).resolves.toBe(1);
    // The same record, as a shard retries it: same SequenceNumber, same eventID.
    expect(controller.batches[1]!.Records).toEqual([failed]);
    expect(controller.records().filter((record) => record.dynamodb?.Keys?.circuitId?.S === earlier!.dynamodb?.Keys?.circuitId?.S)).toHaveLength(1);

    await expect(stream.poll()).resolves.toBe(0);
    expect(controller.batches).toHaveLength(2);
  });

  it('retries a failing record MaximumRetryAttempts times, then discards it alone with bisection and goes on', async () => {
    const controller = fakeController();
    const discarded: { circuits: (string | undefined)[]; invocations: number }[] = [];
    const stream = new CircuitTableStream({
      dynamodb: dynamo.client,
      tableName: table,
      controller,
      maximumRetryAttempts: 2,
      bisectBatchOnFunctionError: true,
      onDiscarded: (records, invocations) => void discarded.push({ circuits: records.map((r) => r.dynamodb?.Keys?.circuitId?.S), invocations }),
    });
    for (const circuitId of ['alpha', 'beta-two', 'gamma-three']) await putCircuit(circuitId, 'open');
    controller.failAt = 0;
    await stream.poll();
    const failing = transition(controller.batches[0]!.Records[0]!).circuitId;
    await stream.poll();
    expect(discarded).toEqual([]);
    // The third failed invocation on it (two retries) discards it; the records after it stay in the stream.
    await stream.poll();
    expect(discarded).toEqual([{ circuits: [failing], invocations: 3 }]);
    controller.failAt = undefined;
    await expect(stream.poll()).resolves.toBe(2);
    expect(controller.batches.at(-1)!.Records.map((r) => transition(r).circuitId)).not.toContain(failing);
    await expect(stream.poll()).resolves.toBe(0);
  });

  it('discards the rest of the batch with the failing record without bisection, and never discards with -1', async () => {
    const controller = fakeController();
    const discarded: (string | undefined)[][] = [];
    const stream = new CircuitTableStream({
      dynamodb: dynamo.client,
      tableName: table,
      controller,
      maximumRetryAttempts: 0,
      onDiscarded: (records) => void discarded.push(records.map((r) => r.dynamodb?.Keys?.circuitId?.S)),
    });
    for (const circuitId of ['alpha', 'beta-two', 'gamma-three']) await putCircuit(circuitId, 'open');
    controller.failAt = 1;
    await expect(stream.poll()).resolves.toBe(1);
    expect(discarded).toHaveLength(1);
    expect(discarded[0]).toHaveLength(2);
    await expect(stream.poll()).resolves.toBe(0);

    const forever = fakeController();
    const unlimited = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller: forever, onDiscarded: () => void discarded.push([]) });
    forever.failAt = 0;
    for (let i = 0; i < 5; i++) await unlimited.poll();
    expect(discarded).toHaveLength(1);
    expect(forever.batches).toHaveLength(5);
  });

  it('delivers the records after a failed one again with it, in order (a shard resumes from the failed record)', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    for (const circuitId of ['alpha', 'beta-two', 'gamma-three']) await putCircuit(circuitId, 'open');

    controller.failAt = 1;
    await expect(stream.poll()).resolves.toBe(1);
    const [, failed, after] = controller.batches[0]!.Records.map(transition);

    controller.failAt = undefined;
    await expect(stream.poll()).resolves.toBe(2);
    expect(controller.batches[1]!.Records.map(transition)).toEqual([failed, after]);
  });

  it('re-delivers a MODIFY that failed as the same transition, with nothing delivered twice before it', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('beta-two', 'closed');
    await stream.poll();
    await putCircuit('beta-two', 'open', 2);

    controller.failAt = 0;
    await expect(stream.poll()).resolves.toBe(0);
    controller.failAt = undefined;
    await expect(stream.poll()).resolves.toBe(1);
    await expect(stream.poll()).resolves.toBe(0);

    expect(controller.records().map(transition)).toEqual([
      { eventName: 'INSERT', circuitId: 'beta-two', from: undefined, to: 'closed' },
      { eventName: 'MODIFY', circuitId: 'beta-two', from: 'closed', to: 'open' },
      { eventName: 'MODIFY', circuitId: 'beta-two', from: 'closed', to: 'open' },
    ]);
  });

  it('drops a failed record when the state went back to what the controller last saw', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('alpha', 'closed');
    await stream.poll();
    await putCircuit('alpha', 'open', 2);
    controller.failAt = 0;
    await stream.poll();

    await putCircuit('alpha', 'closed', 3);
    controller.failAt = undefined;
    await expect(stream.poll()).resolves.toBe(0);
    expect(controller.batches).toHaveLength(2);
  });

  it('never delivers a change twice when polls overlap (a poll by hand during the background one)', async () => {
    const controller = fakeController();
    controller.delayMs = 50;
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('beta-two', 'open');
    const handled = await Promise.all([stream.poll(), stream.poll(), stream.poll()]);
    expect(handled.sort()).toEqual([0, 0, 1]);
    expect(controller.records().map(transition)).toEqual([{ eventName: 'INSERT', circuitId: 'beta-two', from: undefined, to: 'open' }]);
  });

  it('delivers the current change when the state moved on while a record was failing', async () => {
    const controller = fakeController();
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller });
    await putCircuit('alpha', 'closed');
    await stream.poll();
    await putCircuit('alpha', 'open', 2);
    controller.failAt = 0;
    await stream.poll();

    await putCircuit('alpha', 'half_open', 3);
    controller.failAt = undefined;
    await stream.poll();
    // From the last state the controller acknowledged to the current one.
    expect(transition(controller.records().at(-1)!)).toEqual({ eventName: 'MODIFY', circuitId: 'alpha', from: 'closed', to: 'half_open' });
  });

  it('reports a controller error to onError in background mode and delivers the record again', async () => {
    const errors: unknown[] = [];
    let calls = 0;
    const delivered: DynamoDBRecord[] = [];
    const controller = {
      async handleStream(event: DynamoDBStreamEvent): Promise<DynamoDBBatchResponse> {
        calls += 1;
        if (calls === 1) throw new Error('controller crashed');
        delivered.push(...event.Records);
        return { batchItemFailures: [] };
      },
    };
    const stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller, intervalMs: 10, onError: (e) => errors.push(e) });
    await putCircuit('beta-two', 'open');
    stream.start();
    try {
      await eventually(() => delivered.length > 0);
    } finally {
      await stream.stop();
    }
    expect(errors).toEqual([new Error('controller crashed')]);
    expect(delivered.map(transition)).toEqual([{ eventName: 'INSERT', circuitId: 'beta-two', from: undefined, to: 'open' }]);
  });

  describe('background polling', () => {
    let stream: CircuitTableStream | undefined;
    afterEach(async () => {
      await stream?.stop();
      stream = undefined;
    });

    it('polls on its interval until stopped', async () => {
      const controller = fakeController();
      stream = new CircuitTableStream({ dynamodb: dynamo.client, tableName: table, controller, intervalMs: 10 });
      stream.start();
      await putCircuit('alpha', 'open');
      await eventually(() => controller.records().length === 1);
      await putCircuit('alpha', 'closed', 2);
      await eventually(() => controller.records().length === 2);
      await stream.stop();

      await putCircuit('alpha', 'open', 3);
      const after = controller.records().length;
      // A poll now (by hand) sees the change that the stopped loop did not deliver.
      await stream.poll();
      expect(after).toBe(2);
      expect(controller.records().map(transition).at(-1)).toEqual({ eventName: 'MODIFY', circuitId: 'alpha', from: 'closed', to: 'open' });
    });
  });
});

