import { IdempotencyAlreadyInProgressError, IdempotencyPersistenceLayerError, IdempotencyValidationError } from '@aws-lambda-powertools/idempotency';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { marshall } from '@aws-sdk/util-dynamodb';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDBSyncLedger } from '../../../functions/runtime/dynamodb-sync-ledger.js';
import { CircuitOpenError, ProviderRejectedError, RetryableStatusError, StaleEventError } from '../../../functions/runtime/errors.js';
import { ledgerPartitionKey, type SyncAttempt } from '../../../functions/runtime/sync-ledger.js';
import { runWithLedger } from '../../support/ledger-runs.js';
import { type CallCounter, countCalls } from '../../../local/dynamo-call-counter.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';

let dynamo: LocalDynamo;
let calls: CallCounter & { writes(): number; reads(): number };
let ledger: DynamoDBSyncLedger;
let tableCounter = 0;

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  calls = countCalls(dynamo.client);
});
afterAll(async () => dynamo.close());

beforeEach(async () => {
  tableCounter += 1;
  const tableName = `ledger-${tableCounter}`;
  await dynamo.createTable(tableName);
  ledger = new DynamoDBSyncLedger({ tableName, client: dynamo.client });
  calls.reset();
});

/** Runs `body` idempotently for one file version, the way the runtime does. */
function syncFile(
  fileId: string,
  version: number,
  body: (attempt: SyncAttempt) => Promise<JSONValue>,
  payload: JSONValue = { fileId, version },
): Promise<JSONValue> {
  const attempt: SyncAttempt = { integration: 'alpha', entity: { type: 'file', id: fileId, version }, correlationId: `c-${fileId}-${version}`, attempt: 1 };
  return runWithLedger(ledger, attempt, `file:${fileId}:v${version}`, body, payload);
}

function rootCause(error: unknown): unknown {
  return error instanceof IdempotencyPersistenceLayerError && error.cause ? error.cause : error;
}

describe('DynamoDBSyncLedger (idempotency + ledger in one item)', () => {
  it('costs exactly two writes and no read for a first delivery, and ends synced with the external id', async () => {
    const result = await syncFile('f1', 1, async () => ({ externalId: 'alpha_file_1' }));

    expect(result).toEqual({ externalId: 'alpha_file_1' });
    expect(calls.writes()).toBe(2);
    expect(calls.reads()).toBe(0);
    const [entry] = await ledger.entries('file', 'f1');
    expect(entry).toMatchObject({ status: 'synced', entityVersion: 1, externalId: 'alpha_file_1', integration: 'alpha' });
    expect(entry?.log.map((e) => e.event)).toEqual(['syncing', 'synced']);
  });

  it("keeps the third party's state of the entity when the result names one, and drops it when a later result does not", async () => {
    await syncFile('f20', 1, async () => ({ externalId: 'x', status: 'refunded' }));
    let [entry] = await ledger.entries('file', 'f20');
    expect(entry).toMatchObject({ status: 'synced', externalId: 'x', externalStatus: 'refunded' });
    expect(entry?.log.at(-1)).toMatchObject({ event: 'synced', externalId: 'x', externalStatus: 'refunded' });
    await syncFile('f20', 2, async () => ({ externalId: 'x' }));
    [entry] = await ledger.entries('file', 'f20');
    expect(entry?.externalStatus).toBeUndefined();
  });

  it('returns the stored result of a completed duplicate without running the operation again', async () => {
    let runs = 0;
    await syncFile('f2', 1, async () => ({ externalId: `alpha_file_${++runs}` }));
    calls.reset();

    const replay = await syncFile('f2', 1, async () => ({ externalId: `alpha_file_${++runs}` }));

    expect(runs).toBe(1);
    expect(replay).toEqual({ externalId: 'alpha_file_1' });
    // One refused conditional write; dynalite does not return the item with the failure, hence one read.
    expect(calls.writes()).toBe(1);
    expect(calls.reads()).toBeLessThanOrEqual(1);
  });

  it('refuses a duplicate whose payload differs from the first one', async () => {
    await syncFile('f3', 1, async () => ({ externalId: 'x' }), { name: 'a.pdf' });
    await expect(syncFile('f3', 1, async () => ({ externalId: 'y' }), { name: 'b.pdf' })).rejects.toBeInstanceOf(
      IdempotencyValidationError,
    );
  });

  it('reports a duplicate delivered while the first is in flight as in progress', async () => {
    let release!: () => void;
    const first = syncFile('f4', 1, () => new Promise((resolve) => (release = () => resolve({ externalId: 'x' }))));
    await new Promise((resolve) => setTimeout(resolve, 50));

    await expect(syncFile('f4', 1, async () => ({ externalId: 'y' }))).rejects.toBeInstanceOf(IdempotencyAlreadyInProgressError);
    release();
    await expect(first).resolves.toEqual({ externalId: 'x' });
  });

  it('never lets an older version overwrite a newer one', async () => {
    await syncFile('f5', 3, async () => ({ externalId: 'v3' }));
    let olderRan = false;

    const error = await syncFile('f5', 2, async () => {
      olderRan = true;
      return { externalId: 'v2' };
    }).catch((e: unknown) => e);

    expect(olderRan).toBe(false);
    expect(rootCause(error)).toBeInstanceOf(StaleEventError);
    const [entry] = await ledger.entries('file', 'f5');
    expect(entry).toMatchObject({ status: 'synced', entityVersion: 3, externalId: 'v3' });
  });

  it('lets a newer version claim the entity after an older one synced', async () => {
    await syncFile('f6', 1, async () => ({ externalId: 'v1' }));
    await syncFile('f6', 2, async () => ({ externalId: 'v2' }));
    const [entry] = await ledger.entries('file', 'f6');
    expect(entry).toMatchObject({ status: 'synced', entityVersion: 2, externalId: 'v2' });
    expect(entry?.log.map((e) => `${e.event}@${e.version}`)).toEqual(['syncing@1', 'synced@1', 'syncing@2', 'synced@2']);
  });

  it('releases the claim after a transient failure so the retry can run, keeping the entity syncing', async () => {
    await expect(syncFile('f7', 1, async () => Promise.reject(new RetryableStatusError(503, 'down')))).rejects.toBeInstanceOf(
      RetryableStatusError,
    );
    let [entry] = await ledger.entries('file', 'f7');
    expect(entry).toMatchObject({ status: 'syncing', lastErrorClass: 'ServerError' });

    await expect(syncFile('f7', 1, async () => ({ externalId: 'ok' }))).resolves.toEqual({ externalId: 'ok' });
    [entry] = await ledger.entries('file', 'f7');
    expect(entry?.status).toBe('synced');
    expect(entry?.lastErrorClass).toBeUndefined();
    expect(entry?.log.map((e) => e.event)).toEqual(['syncing', 'retry_scheduled', 'syncing', 'synced']);
  });

  it('marks a permanent failure sync_failed with the reason, and a later redrive may claim again', async () => {
    await expect(
      syncFile('f8', 1, async () => Promise.reject(new ProviderRejectedError(422, 'POST /files → 422 invalid_folder'))),
    ).rejects.toBeInstanceOf(ProviderRejectedError);
    let [entry] = await ledger.entries('file', 'f8');
    expect(entry).toMatchObject({ status: 'sync_failed', lastErrorClass: 'Http422' });

    await syncFile('f8', 1, async () => ({ externalId: 'fixed' }));
    [entry] = await ledger.entries('file', 'f8');
    expect(entry?.status).toBe('synced');
  });

  it("keeps the provider's error as the entity's last error when the circuit then refused the retry, the parking reason in the log", async () => {
    const refused = new CircuitOpenError('alpha', Date.now() + 30_000, 'circuit alpha is open');
    refused.providerError = new RetryableStatusError(503, 'POST /files -> 503: down for maintenance');
    await expect(syncFile('f9', 1, async () => Promise.reject(refused))).rejects.toBe(refused);
    const [entry] = await ledger.entries('file', 'f9');
    expect(entry).toMatchObject({ status: 'pending_sync', lastErrorClass: 'ServerError', lastErrorMessage: 'POST /files -> 503: down for maintenance' });
    expect(entry?.log.at(-1)).toMatchObject({ event: 'pending_sync', errorClass: 'CircuitOpen' });
    expect(entry?.log.at(-1)?.errorMessage).toContain('after ServerError: POST /files -> 503');
    // Refused before any call on this delivery: the parking reason is all there is.
    await expect(syncFile('f10', 1, async () => Promise.reject(new CircuitOpenError('alpha', Date.now() + 30_000, 'circuit alpha is open')))).rejects.toBeInstanceOf(CircuitOpenError);
    expect((await ledger.entries('file', 'f10'))[0]).toMatchObject({ status: 'pending_sync', lastErrorClass: 'CircuitOpen' });
  });

  it('records pending_sync for a parked message only when the ledger does not know that version yet', async () => {
    const attempt: SyncAttempt = { integration: 'alpha', entity: { type: 'file', id: 'f9', version: 1 }, correlationId: 'c', attempt: 1 };
    await ledger.markPending(attempt, 'CircuitOpen');
    let [entry] = await ledger.entries('file', 'f9');
    expect(entry).toMatchObject({ status: 'pending_sync', entityVersion: 1 });

    await syncFile('f9', 1, async () => ({ externalId: 'ok' }));
    await ledger.markPending(attempt, 'CircuitOpen');
    [entry] = await ledger.entries('file', 'f9');
    expect(entry?.status).toBe('synced');
  });

  it('appends skipped_stale to the audit log without changing the status', async () => {
    await syncFile('f10', 5, async () => ({ externalId: 'v5' }));
    await ledger.recordSkippedStale({ integration: 'alpha', entity: { type: 'file', id: 'f10', version: 4 }, correlationId: 'late', attempt: 1 });
    const [entry] = await ledger.entries('file', 'f10');
    expect(entry?.status).toBe('synced');
    expect(entry?.log.at(-1)).toMatchObject({ event: 'skipped_stale', version: 4, correlationId: 'late' });
  });

  it('archives a full inline audit log before the next claim and still returns the whole history in order', async () => {
    ledger = new DynamoDBSyncLedger({ tableName: `ledger-${tableCounter}`, client: dynamo.client, logPageSize: 4 });
    for (const version of [1, 2, 3, 4]) await syncFile('f11', version, async () => ({ externalId: `v${version}` }));

    const [entry] = await ledger.entries('file', 'f11');
    expect(entry).toMatchObject({ status: 'synced', entityVersion: 4, externalId: 'v4' });
    expect(entry?.log.length).toBeLessThanOrEqual(4);
    const history = await ledger.auditLog('file', 'f11', 'alpha');
    expect(history.map((e) => `${e.event}@${e.version}`)).toEqual([
      'syncing@1', 'synced@1', 'syncing@2', 'synced@2', 'syncing@3', 'synced@3', 'syncing@4', 'synced@4',
    ]);
    expect(entry?.archivedLogPages).toBeGreaterThanOrEqual(1);
  });

  it('finds every integration of an entity even when its archived log pages fill more than one Query page (1 MB)', async () => {
    await syncFile('f12', 1, async () => ({ externalId: 'alpha-1' }));
    const tableName = `ledger-${tableCounter}`;
    const pk = ledgerPartitionKey('file', 'f12');
    // ~1.2 MB of archived alpha pages: they sort between the alpha entry and a zeta entry (`alpha` < `log#…` < `zeta`).
    const padding = 'x'.repeat(30_000);
    for (let page = 0; page < 40; page++) {
      const at = new Date(Date.UTC(2026, 0, 1, 0, 0, page)).toISOString();
      await dynamo.client.send(
        new PutItemCommand({
          TableName: tableName,
          Item: marshall({ pk, sk: `log#alpha#${at}#c-${page}`, integration: 'alpha', entries: [{ at, event: 'synced', version: 0, attempt: 1, correlationId: `c-${page}`, note: padding }] }),
        }),
      );
    }
    const now = new Date().toISOString();
    await dynamo.client.send(
      new PutItemCommand({
        TableName: tableName,
        Item: marshall({ pk, sk: 'zeta', entityType: 'file', entityId: 'f12', integration: 'zeta', status: 'synced', entityVersion: 1, attempts: 1, createdAt: now, updatedAt: now, log: [] }),
      }),
    );
    const entries = await ledger.entries('file', 'f12');
    expect(entries.map((e) => e.integration)).toEqual(['alpha', 'zeta']);
    expect((await ledger.auditLog('file', 'f12', 'alpha')).length).toBe(40 + 2);
  });
});
