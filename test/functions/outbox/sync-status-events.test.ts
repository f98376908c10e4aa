import fc from 'fast-check';
import type { DynamoDBRecord } from 'aws-lambda';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { handler } from '../../../functions/outbox/sync-status-enrichment.js';
import { syncStatusEventsOf } from '../../../functions/outbox/sync-status-events.js';
import { DynamoDBSyncLedger } from '../../../functions/runtime/dynamodb-sync-ledger.js';
import { CircuitOpenError, ProviderRejectedError, RetryableStatusError, StaleEventError } from '../../../functions/runtime/errors.js';
import type { SyncAttempt } from '../../../functions/runtime/sync-ledger.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { runWithLedger } from '../../support/ledger-runs.js';
import { transitionsOf, transitionsPublished } from '../../../local/hub/status-event-summary.js';

// The ledger writes for real (dynalite behind the local stream proxy, local/local-dynamo-streams.ts); the events are
// what the pipe's enrichment makes of the records those writes produced.
let dynamo: LocalDynamo;
let ledger: DynamoDBSyncLedger;
let records: DynamoDBRecord[];
let tableCounter = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo({ streams: true });
});
afterAll(async () => dynamo.close());

async function freshLedger(logPageSize?: number): Promise<void> {
  tableCounter += 1;
  const tableName = `ledger-outbox-${tableCounter}`;
  await dynamo.createTable(tableName);
  records = [];
  await dynamo.streams!.enable(tableName, (record) => records.push(record));
  ledger = new DynamoDBSyncLedger({ tableName, client: dynamo.client, ...(logPageSize ? { logPageSize } : {}) });
}

beforeEach(() => freshLedger());

let deliveries = 0;
function attemptOf(id: string, version: number, attempt = 1): SyncAttempt {
  deliveries += 1;
  return { integration: 'alpha', entity: { type: 'file', id, version }, correlationId: `c-${deliveries}`, attempt };
}

/** One delivery of `id`@`version`: `outcome` says how the provider call ends. */
async function deliver(id: string, version: number, outcome: 'ok' | 'retryable' | 'permanent' | 'parked', attempt = 1): Promise<void> {
  const delivery = attemptOf(id, version, attempt);
  const run = runWithLedger(ledger, delivery, `file:${id}:v${version}`, async () => {
    if (outcome === 'retryable') throw new RetryableStatusError(503, 'down');
    if (outcome === 'permanent') throw new ProviderRejectedError(422, 'refused');
    if (outcome === 'parked') throw new CircuitOpenError('alpha', Date.now() + 30_000, 'circuit alpha is open');
    return { externalId: `ext-${id}-${version}`, status: `state-${version}` };
  });
  // A stale version is refused by the claim; the runtime then records it (functions/runtime/operation-executor.ts).
  await run.catch(async (error: unknown) => {
    if (isStale(error)) await ledger.recordSkippedStale(delivery);
  });
}

function isStale(error: unknown): boolean {
  return error instanceof StaleEventError || (error instanceof Error && error.cause instanceof StaleEventError);
}

const summary = transitionsPublished;

describe('SyncStatusChanged from the ledger stream', () => {
  it('publishes each transition once, in order, with the fields of schema version 1', async () => {
    await deliver('f1', 1, 'retryable');
    await deliver('f1', 1, 'ok', 2);
    await deliver('f1', 1, 'ok', 3); // a replay: answered from the idempotency record, no transition

    const events = await handler(records);

    expect(summary(events)).toEqual(['->syncing@1', 'syncing>synced@1']);
    expect(events[1]).toMatchObject({
      schemaVersion: '1',
      integration: 'alpha',
      entity: { type: 'file', id: 'f1', version: 1 },
      status: 'synced',
      previousStatus: 'syncing',
      attempt: 2,
      externalId: 'ext-f1-1',
      externalStatus: 'state-1',
    });
    expect(events[0]).not.toHaveProperty('externalStatus');
    expect(events[1]?.transitionId).toMatch(/^[0-9a-f]{32}$/);
    expect(new Set(events.map((event) => event.transitionId)).size).toBe(events.length);
  });

  it('reports failures by error class (never the message), parking, and refused stale versions', async () => {
    await deliver('f2', 1, 'permanent');
    await deliver('f3', 1, 'parked');
    await deliver('f4', 5, 'ok');
    await deliver('f4', 4, 'ok'); // older than what the ledger holds

    const events = syncStatusEventsOf(records);

    expect(summary(events)).toEqual([
      '->syncing@1', 'syncing>sync_failed@1',
      '->syncing@1', 'syncing>pending_sync@1',
      '->syncing@5', 'syncing>synced@5', 'synced>skipped_stale@4',
    ]);
    const failed = events.find((event) => event.status === 'sync_failed')!;
    expect(failed.errorClass).toBeTruthy();
    expect(JSON.stringify(failed)).not.toContain('refused');
    expect(events.find((event) => event.status === 'pending_sync')?.errorClass).toBe('CircuitOpen');
  });

  it('publishes nothing twice when the audit log is archived into its own item', async () => {
    await freshLedger(4);
    for (const version of [1, 2, 3, 4, 5]) await deliver('f5', version, 'ok');

    const events = syncStatusEventsOf(records);

    expect(summary(events)).toEqual([1, 2, 3, 4, 5].flatMap((v) => [`${v === 1 ? '-' : 'synced'}>syncing@${v}`, `syncing>synced@${v}`]));
  });

  it('ignores removals and items without a status', () => {
    const image = { pk: { S: 'file#x' }, sk: { S: 'log#alpha#t#c' }, integration: { S: 'alpha' }, entries: { L: [] } };
    expect(syncStatusEventsOf([{ eventName: 'INSERT', dynamodb: { NewImage: image as never } }])).toEqual([]);
    expect(syncStatusEventsOf([{ eventName: 'REMOVE', dynamodb: { OldImage: image as never } }])).toEqual([]);
  });

  it('for any interleaving of deliveries over several entities, publishes exactly the transitions of each audit log, in order', async () => {
    const outcome = fc.constantFrom<'ok' | 'retryable' | 'permanent' | 'parked'>('ok', 'retryable', 'permanent', 'parked');
    const delivery = fc.record({ entity: fc.constantFrom('a', 'b', 'c'), version: fc.integer({ min: 1, max: 4 }), outcome });
    let run = 0;
    await fc.assert(
      fc.asyncProperty(fc.array(delivery, { minLength: 1, maxLength: 14 }), async (plan) => {
        await freshLedger(5);
        run += 1;
        const ids = (entity: string) => `${entity}-${run}`;
        // Deliveries of different entities run concurrently, those of one entity one after the other (one queue
        // message at a time per entity, as an integration's idempotency allows).
        const byEntity = new Map<string, typeof plan>();
        for (const step of plan) byEntity.set(step.entity, [...(byEntity.get(step.entity) ?? []), step]);
        await Promise.all(
          [...byEntity.entries()].map(async ([entity, steps]) => {
            for (const step of steps) await deliver(ids(entity), step.version, step.outcome);
          }),
        );

        const events = syncStatusEventsOf(records);
        for (const entity of byEntity.keys()) {
          const id = ids(entity);
          const history = await ledger.auditLog('file', id, 'alpha');
          const published = events.filter((event) => event.entity.id === id);
          expect(summary(published)).toEqual(transitionsOf(history));
          const positions = published.map((event) => BigInt(event.position.sequenceNumber) * 1000n + BigInt(event.position.index));
          expect(positions).toEqual([...positions].sort((x, y) => (x < y ? -1 : x > y ? 1 : 0)));
        }
      }),
      { numRuns: 25, seed: 14 },
    );
  });
});
