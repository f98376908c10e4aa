import type { DynamoDBStreamEvent } from 'aws-lambda';
import { beforeEach, describe, expect, it } from 'vitest';
import { CircuitController, readCircuitStreamRecord } from '../../../functions/ops/circuit-control.js';
import { RecordingCircuitGauge } from '../../../functions/ops/circuit-gauge.js';
import { InMemoryCircuitStore, type CircuitRecord } from '../../../functions/runtime/circuit-store.js';
import { DependencyError, REAUTHORIZATION_NEEDED } from '../../../functions/runtime/errors.js';
import {
  circuit,
  CRM_MAPPING,
  FakeClock,
  FakeEventSourceMappings,
  FakeProbeSchedule,
  PAYMENTS_MAPPING,
  silentLogger,
  streamRecord,
} from './ops-test-support.js';

let store: InMemoryCircuitStore;
let mappings: FakeEventSourceMappings;
let schedule: FakeProbeSchedule;
let gauge: RecordingCircuitGauge;
let clock: FakeClock;
let controller: CircuitController;

beforeEach(() => {
  store = new InMemoryCircuitStore();
  mappings = new FakeEventSourceMappings({
    [CRM_MAPPING]: { state: 'enabled', maximumConcurrency: 5 },
    [PAYMENTS_MAPPING]: { state: 'enabled', maximumConcurrency: 10 },
  });
  schedule = new FakeProbeSchedule();
  gauge = new RecordingCircuitGauge();
  clock = new FakeClock();
  controller = new CircuitController({
    integrations: [
      { name: 'crm', mappingUuid: CRM_MAPPING },
      { name: 'payments', mappingUuid: PAYMENTS_MAPPING },
    ],
    providers: ['shipping'],
    mappings,
    schedule,
    circuits: store,
    gauge,
    logger: silentLogger(),
    clock,
    busyRetry: { attempts: 3, delayMs: 1_000 },
  });
});

/** Writes `record` as the circuit's current state in the table (what the stream record was made from). */
async function stored(record: CircuitRecord): Promise<CircuitRecord> {
  const current = await store.get(record.circuitId);
  const result = await store.put(record, current?.version ?? 0);
  if (!result.applied) throw new Error('test setup: put refused');
  return result.record;
}

/** Moves the stored circuit to `fields` and returns the stream record of that write. */
async function transition(circuitId: string, fields: Partial<CircuitRecord>) {
  const before = await store.get(circuitId);
  const after = await stored({ ...(before ?? circuit(circuitId, { version: 0 })), ...fields });
  return streamRecord(before, after);
}

const event = (...records: DynamoDBStreamEvent['Records']): DynamoDBStreamEvent => ({ Records: records });

describe('circuit controller', () => {
  it('disables the mapping and enables the prober schedule when the circuit opens', async () => {
    await stored(circuit('crm', { consecutiveFailures: 4 }));
    const record = await transition('crm', { state: 'open', openUntil: clock.now() + 30_000, consecutiveFailures: 0 });

    const response = await controller.handleStream(event(record));

    expect(response.batchItemFailures).toEqual([]);
    expect(mappings.updates).toEqual([{ uuid: CRM_MAPPING, change: { enabled: false } }]);
    expect(schedule.enabled).toBe(true);
    expect(gauge.points).toEqual([{ integration: 'crm', CircuitOpen: 1 }]);
  });

  it('disables the mapping when an operator isolates the circuit', async () => {
    await stored(circuit('payments'));
    const record = await transition('payments', { state: 'isolated', stateReason: 'provider maintenance' });

    expect(await controller.handleRecord(record)).toBe('paused');
    expect(mappings.updates).toEqual([{ uuid: PAYMENTS_MAPPING, change: { enabled: false } }]);
    expect(schedule.enabled).toBe(true);
  });

  it('publishes ReauthorizationNeeded 1 when the circuit is isolated for re-authorization, and nothing of it otherwise (the prober, which knows the scheme, publishes the zeros)', async () => {
    await stored(circuit('crm'));
    await controller.handleRecord(await transition('crm', { state: 'isolated', stateReason: `${REAUTHORIZATION_NEEDED}: Token endpoint rejected the grant: 400 invalid_grant` }));
    expect(gauge.points.at(-1)).toEqual({ integration: 'crm', CircuitOpen: 1, ReauthorizationNeeded: 1 });

    await controller.handleRecord(await transition('crm', { state: 'closed', stateReason: 'reset by prober' }));
    expect(gauge.points.at(-1)).toEqual({ integration: 'crm', CircuitOpen: 0 });

    await stored(circuit('payments'));
    await controller.handleRecord(await transition('payments', { state: 'isolated', stateReason: 'provider maintenance' }));
    expect(gauge.points.at(-1)).toEqual({ integration: 'payments', CircuitOpen: 1 });

    // A standalone workflow provider's circuit too.
    await controller.handleRecord(await transition('shipping', { state: 'isolated', stateReason: `${REAUTHORIZATION_NEEDED}: 401 right after a fresh access token` }));
    expect(gauge.points.at(-1)).toEqual({ integration: 'shipping', CircuitOpen: 1, ReauthorizationNeeded: 1 });
  });

  it('pauses on an insert of an isolated circuit that was never written before', async () => {
    const record = await transition('crm', { state: 'isolated' });
    expect(record.eventName).toBe('INSERT');

    expect(await controller.handleRecord(record)).toBe('paused');
    expect(mappings.status(CRM_MAPPING)?.state).toBe('disabled');
  });

  it('re-enables the mapping at maximum concurrency 2 when the circuit closes, and leaves restoring to the prober', async () => {
    await stored(circuit('crm', { state: 'half_open', probeOwner: 'prober:1' }));
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });
    const record = await transition('crm', { state: 'closed', probeOwner: undefined });

    expect(await controller.handleRecord(record)).toBe('resumed');
    expect(mappings.updates).toEqual([{ uuid: CRM_MAPPING, change: { enabled: true, maximumConcurrency: 2 } }]);
    expect(schedule.enabled).toBe(true);
    expect(gauge.last('crm')).toBe(0);
  });

  it('keeps the mapping paused and publishes CircuitOpen 1 when the circuit goes half-open', async () => {
    await stored(circuit('crm', { state: 'open', openUntil: clock.now() }));
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });
    const record = await transition('crm', { state: 'half_open', probeOwner: 'prober:1', probeLeaseUntil: clock.now() + 30_000 });

    expect(await controller.handleRecord(record)).toBe('already_paused');
    expect(mappings.updates).toEqual([]);
    expect(gauge.points).toEqual([{ integration: 'crm', CircuitOpen: 1 }]);
  });

  it('does nothing for a record whose state did not change (a counter or lease write)', async () => {
    await stored(circuit('crm'));
    const record = await transition('crm', { consecutiveFailures: 3 });

    expect(await controller.handleRecord(record)).toBe('state_unchanged');
    expect(mappings.reads).toEqual([]);
    expect(mappings.updates).toEqual([]);
    expect(schedule.calls).toEqual([]);
    expect(gauge.points).toEqual([]);
  });

  it('does nothing for the insert of a circuit created closed by its first failure', async () => {
    const record = await transition('crm', { state: 'closed', consecutiveFailures: 1 });

    expect(await controller.handleRecord(record)).toBe('state_unchanged');
    expect(schedule.calls).toEqual([]);
  });

  it('ignores, and logs, transitions of circuits no controlled integration owns', async () => {
    await stored(circuit('inventory'));
    const record = await transition('inventory', { state: 'open' });

    const response = await controller.handleStream(event(record));

    expect(response.batchItemFailures).toEqual([]);
    expect(mappings.reads).toEqual([]);
    expect(schedule.calls).toEqual([]);
  });

  it("turns the prober on and publishes CircuitOpen for a workflow provider's circuit, with no mapping to touch", async () => {
    await stored(circuit('shipping'));
    const opened = await transition('shipping', { state: 'open', openUntil: clock.now() + 30_000 });
    expect(await controller.handleRecord(opened)).toBe('provider_recorded');
    expect(schedule.calls).toEqual(['enable']);
    expect(gauge.points).toEqual([{ integration: 'shipping', CircuitOpen: 1 }]);
    const closed = await transition('shipping', { state: 'closed', openUntil: undefined });
    expect(await controller.handleRecord(closed)).toBe('provider_recorded');
    expect(gauge.points.at(-1)).toEqual({ integration: 'shipping', CircuitOpen: 0 });
    expect(mappings.reads).toEqual([]);
    expect(mappings.updates).toEqual([]);
  });

  it('ignores deletions and records that are not circuits', async () => {
    const removed = streamRecord(circuit('crm', { state: 'open' }), undefined);
    const garbage = streamRecord(undefined, circuit('crm'));
    garbage.dynamodb!.NewImage!.state = { S: 'melted' };

    expect(await controller.handleRecord(removed)).toBe('removed');
    expect(await controller.handleRecord(garbage)).toBe('unreadable');
    expect(mappings.updates).toEqual([]);
  });

  it('gives the same result when a stream record is delivered again', async () => {
    await stored(circuit('crm'));
    const record = await transition('crm', { state: 'open', openUntil: clock.now() + 30_000 });

    await controller.handleStream(event(record));
    const replay = await controller.handleStream(event(record));

    expect(replay.batchItemFailures).toEqual([]);
    expect(mappings.updates).toEqual([{ uuid: CRM_MAPPING, change: { enabled: false } }]);
    expect(mappings.status(CRM_MAPPING)?.state).toBe('disabled');
    expect(schedule.enabled).toBe(true);
  });

  it('never undoes a newer transition when an older record arrives late: it acts on the current state', async () => {
    await stored(circuit('crm'));
    const opened = await transition('crm', { state: 'open', openUntil: clock.now() + 30_000 });
    await controller.handleStream(event(opened));
    const closed = await transition('crm', { state: 'closed', openUntil: undefined });
    await controller.handleStream(event(closed));
    mappings.updates.length = 0;

    const outcome = await controller.handleRecord(opened);

    expect(outcome).toBe('already_polling');
    expect(mappings.updates).toEqual([]);
    expect(mappings.status(CRM_MAPPING)).toMatchObject({ state: 'enabled', maximumConcurrency: 2 });
    expect(gauge.last('crm')).toBe(0);
  });

  it('handles the records of a batch in order: open then closed ends resumed at concurrency 2', async () => {
    await stored(circuit('crm'));
    const opened = await transition('crm', { state: 'open' });
    const halfOpen = await transition('crm', { state: 'half_open' });
    const closed = await transition('crm', { state: 'closed' });
    // The stream is consumed after the fact: every record sees the circuit's current state (closed).
    const response = await controller.handleStream(event(opened, halfOpen, closed));

    expect(response.batchItemFailures).toEqual([]);
    expect(mappings.status(CRM_MAPPING)).toMatchObject({ state: 'enabled', maximumConcurrency: 5 });
    expect(mappings.updates).toEqual([]);
  });

  it('waits out a mapping that Lambda is still updating, then applies the change', async () => {
    await stored(circuit('crm'));
    const record = await transition('crm', { state: 'open' });
    mappings.busyFor(CRM_MAPPING, 2);
    const start = clock.now();

    expect(await controller.handleRecord(record)).toBe('paused');
    expect(mappings.status(CRM_MAPPING)?.state).toBe('disabled');
    expect(clock.now() - start).toBe(1_000 + 2_000);
  });

  it('reports the first failing record and leaves the rest of the batch to the retry', async () => {
    await stored(circuit('crm'));
    await stored(circuit('payments'));
    const crmOpened = await transition('crm', { state: 'open' });
    const paymentsOpened = await transition('payments', { state: 'open' });
    mappings.busyFor(CRM_MAPPING, 10);

    const response = await controller.handleStream(event(crmOpened, paymentsOpened));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: crmOpened.dynamodb?.SequenceNumber }]);
    expect(mappings.status(PAYMENTS_MAPPING)?.state).toBe('enabled');
    expect(schedule.calls).toEqual([]);
  });

  it('does not wait for a busy mapping when the invocation has no time left', async () => {
    await stored(circuit('crm'));
    const record = await transition('crm', { state: 'open' });
    mappings.busyFor(CRM_MAPPING, 1);

    await expect(controller.handleRecord(record, () => 3_000)).rejects.toThrow(/being changed/);
  });

  it('fails the record when Lambda or EventBridge cannot be reached, so that it is retried', async () => {
    await stored(circuit('crm'));
    const record = await transition('crm', { state: 'open' });
    schedule.failing = true;

    const response = await controller.handleStream(event(record));

    expect(response.batchItemFailures).toEqual([{ itemIdentifier: record.dynamodb?.SequenceNumber }]);
    schedule.failing = false;
    mappings.failWith(new DependencyError('EventSourceMapping', 'Lambda unavailable'));
    expect((await controller.handleStream(event(record))).batchItemFailures).toHaveLength(1);
  });

  it('logs a mapping that does not exist without blocking the stream, and still starts the prober', async () => {
    mappings.mappings.delete(CRM_MAPPING);
    await stored(circuit('crm'));
    const record = await transition('crm', { state: 'open' });

    const response = await controller.handleStream(event(record));

    expect(response.batchItemFailures).toEqual([]);
    expect(schedule.enabled).toBe(true);
    expect(gauge.last('crm')).toBe(1);
  });
});

describe('reading circuits-table stream records', () => {
  it('reads a state change from the old and new images', () => {
    const record = streamRecord(circuit('crm', { state: 'half_open' }), circuit('crm', { state: 'open', openUntil: 5 }));
    expect(readCircuitStreamRecord(record)).toEqual({ kind: 'transition', transition: { circuitId: 'crm', from: 'half_open', to: 'open' } });
  });

  it('reads an insert as a transition from nothing', () => {
    expect(readCircuitStreamRecord(streamRecord(undefined, circuit('crm', { state: 'open' })))).toEqual({
      kind: 'transition',
      transition: { circuitId: 'crm', to: 'open' },
    });
  });

  it('ignores a modify that keeps the state', () => {
    const record = streamRecord(circuit('crm', { state: 'open' }), circuit('crm', { state: 'open', reopenCount: 2 }));
    expect(readCircuitStreamRecord(record)).toMatchObject({ kind: 'ignored', reason: 'state_unchanged', circuitId: 'crm' });
  });
});
