/**
 * The stores on a client built like the functions' (runtime-environment.ts: RUNTIME_DYNAMODB_CLIENT_CONFIG, i.e.
 * `cacheMiddleware: true`). @aws-sdk/lib-dynamodb refuses to build a DocumentClient on such a client, so these fail
 * if the circuit store or the ledger still wraps its client in one.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { emptyCircuitRecord } from '../../../functions/runtime/circuit-store.js';
import { DynamoDbCircuitStore } from '../../../functions/runtime/dynamodb-circuit-store.js';
import { DynamoDBSyncLedger } from '../../../functions/runtime/dynamodb-sync-ledger.js';
import { RUNTIME_DYNAMODB_CLIENT_CONFIG } from '../../../functions/runtime/dynamodb-items.js';
import type { SyncAttempt } from '../../../functions/runtime/sync-ledger.js';
import { type CallCounter, countCalls } from '../../../local/dynamo-call-counter.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { runWithLedger } from '../../support/ledger-runs.js';

const T0 = Date.UTC(2030, 0, 1);
let dynamo: LocalDynamo;
let client: DynamoDBClient;
let calls: CallCounter & { writes(): number; reads(): number };

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.createTable('circuits', { partitionKey: 'circuitId' });
  await dynamo.createTable('ledger');
  client = new DynamoDBClient({
    ...RUNTIME_DYNAMODB_CLIENT_CONFIG,
    endpoint: dynamo.endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  // Before the first call: with cacheMiddleware, later middleware would not apply to command classes already sent.
  calls = countCalls(client);
});
afterAll(async () => {
  client?.destroy();
  await dynamo?.close();
});

describe('the stores on a client built with RUNTIME_DYNAMODB_CLIENT_CONFIG (cacheMiddleware)', () => {
  it('is a client no DocumentClient may be built on', () => {
    expect(RUNTIME_DYNAMODB_CLIENT_CONFIG).toEqual({ cacheMiddleware: true });
    expect(() => DynamoDBDocumentClient.from(client)).toThrow(/cacheMiddleware/);
  });

  it('writes and reads a circuit', async () => {
    const store = new DynamoDbCircuitStore({ tableName: 'circuits', client });
    const created = await store.put({ ...emptyCircuitRecord('crm'), state: 'open', openUntil: T0 + 1000, updatedAt: T0 }, 0);
    expect(created).toMatchObject({ applied: true, record: { state: 'open', version: 1 } });
    expect(await store.put({ ...emptyCircuitRecord('crm'), updatedAt: T0 }, 0)).toEqual({ applied: false });
    expect(await store.get('crm')).toMatchObject({ circuitId: 'crm', state: 'open', version: 1, openUntil: T0 + 1000 });
    expect(await store.incrementFailures('files', T0)).toMatchObject({ applied: true, record: { consecutiveFailures: 1, version: 1 } });
    expect(await store.get('missing')).toBeUndefined();
  });

  it('claims and completes a ledger record, archives a full audit log and reads it all back', async () => {
    const ledger = new DynamoDBSyncLedger({ tableName: 'ledger', client, logPageSize: 2 });
    const attempt = (version: number): SyncAttempt => ({ integration: 'crm', entity: { type: 'file', id: 'f1', version }, correlationId: `c-${version}`, attempt: 1 });
    calls.reset();

    expect(await runWithLedger(ledger, attempt(1), 'file:f1:v1', async () => ({ externalId: 'crm_1' }))).toEqual({ externalId: 'crm_1' });
    expect(calls.counts.get('UpdateItemCommand')).toBe(2); // claim + complete
    // A replay is refused and answered from the stored result (dynalite returns no item with the refusal: one read).
    expect(await runWithLedger(ledger, attempt(1), 'file:f1:v1', async () => ({ externalId: 'other' }))).toEqual({ externalId: 'crm_1' });
    // The inline log is full (2 entries): the next claim archives it first (PutItem), then claims again.
    expect(await runWithLedger(ledger, attempt(2), 'file:f1:v2', async () => ({ externalId: 'crm_2' }))).toEqual({ externalId: 'crm_2' });
    expect(calls.counts.get('PutItemCommand')).toBe(1);

    const [entry] = await ledger.entries('file', 'f1');
    expect(entry).toMatchObject({ status: 'synced', entityVersion: 2, externalId: 'crm_2', archivedLogPages: 1 });
    expect((await ledger.auditLog('file', 'f1', 'crm')).map((e) => `${e.event}@${e.version}`)).toEqual(['syncing@1', 'synced@1', 'syncing@2', 'synced@2']);
    expect(calls.counts.get('QueryCommand')).toBeGreaterThan(0);
    expect(calls.counts.get('GetItemCommand')).toBeGreaterThan(0);
  });
});
