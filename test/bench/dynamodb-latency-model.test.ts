/**
 * The DynamoDB latency model of `npm run bench:runtime` (bench/support/dynamodb-latency-model.ts) answers what the
 * runtime sends through the real SDK stack: the sync ledger's claim / complete / release writes, its refusals
 * (with the item, as DynamoDB returns it), its reads, and the circuit store's kind of writes — and it keeps its
 * latency and its bound on requests in flight. Counts and answers only; nothing here is timed beyond the bound.
 */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, UpdateCommand } from '@aws-sdk/lib-dynamodb';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbLatencyModel } from '../../bench/support/dynamodb-latency-model.js';
import { DynamoDBSyncLedger } from '../../functions/runtime/dynamodb-sync-ledger.js';
import { RetryableStatusError, StaleEventError } from '../../functions/runtime/errors.js';
import type { SyncAttempt } from '../../functions/runtime/sync-ledger.js';
import { countCalls } from '../../local/dynamo-call-counter.js';
import { runWithLedger } from '../support/ledger-runs.js';

let model: DynamoDbLatencyModel;
let client: DynamoDBClient;
let documents: DynamoDBDocumentClient;
let ledger: DynamoDBSyncLedger;
let calls: ReturnType<typeof countCalls>;

beforeEach(() => {
  model = new DynamoDbLatencyModel({ latencyMs: 1, maxInFlight: 10 });
  model.createTable('ledger', { partitionKey: 'pk', sortKey: 'sk' });
  model.createTable('circuits', { partitionKey: 'circuitId' });
  client = new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'model', secretAccessKey: 'model' }, requestHandler: model });
  calls = countCalls(client);
  documents = DynamoDBDocumentClient.from(client);
  ledger = new DynamoDBSyncLedger({ tableName: 'ledger', client });
});
afterEach(() => client.destroy());

function syncFile(fileId: string, version: number, body: (attempt: SyncAttempt) => Promise<JSONValue>): Promise<JSONValue> {
  const attempt: SyncAttempt = { integration: 'crm', entity: { type: 'file', id: fileId, version }, correlationId: `c-${fileId}`, attempt: 1 };
  return runWithLedger(ledger, attempt, `file:${fileId}:v${version}`, body, { fileId, version });
}

describe('DynamoDB latency model', () => {
  it("answers the ledger's claim and completion: two UpdateItems, the entry synced with its audit log (Query)", async () => {
    await expect(syncFile('f1', 1, async () => ({ externalId: 'crm_1' }))).resolves.toEqual({ externalId: 'crm_1' });
    expect(Object.fromEntries(calls.counts)).toEqual({ UpdateItemCommand: 2 });

    const [entry] = await ledger.entries('file', 'f1');
    expect(entry).toMatchObject({ status: 'synced', entityVersion: 1, externalId: 'crm_1', integration: 'crm' });
    expect(entry?.log.map((e) => e.event)).toEqual(['syncing', 'synced']);
  });

  it('refuses a completed duplicate with the stored item (ReturnValuesOnConditionCheckFailure): one call, a replay', async () => {
    let runs = 0;
    await syncFile('f2', 1, async () => ({ externalId: `crm_${++runs}` }));
    calls.reset();

    await expect(syncFile('f2', 1, async () => ({ externalId: `crm_${++runs}` }))).resolves.toEqual({ externalId: 'crm_1' });
    expect(runs).toBe(1);
    expect(Object.fromEntries(calls.counts)).toEqual({ UpdateItemCommand: 1 });
  });

  it('refuses an older version once a newer one is stored (stale), and lets a newer one claim', async () => {
    await syncFile('f3', 3, async () => ({ externalId: 'v3' }));
    const stale = await syncFile('f3', 2, async () => ({ externalId: 'v2' })).catch((error: unknown) => error);
    expect((stale as Error).cause ?? stale).toBeInstanceOf(StaleEventError);
    await syncFile('f3', 4, async () => ({ externalId: 'v4' }));
    const [entry] = await ledger.entries('file', 'f3');
    expect(entry).toMatchObject({ status: 'synced', entityVersion: 4, externalId: 'v4' });
  });

  it('answers the release after a transient failure: the claim dropped, the entity left syncing with the error', async () => {
    await expect(syncFile('f4', 1, async () => Promise.reject(new RetryableStatusError(503, 'down')))).rejects.toBeDefined();
    const [entry] = await ledger.entries('file', 'f4');
    expect(entry).toMatchObject({ status: 'syncing', lastErrorClass: 'ServerError' });
    expect(entry?.log.map((e) => e.event)).toEqual(['syncing', 'retry_scheduled']);
    // Released: a retry claims again and completes.
    await expect(syncFile('f4', 1, async () => ({ externalId: 'crm_4' }))).resolves.toEqual({ externalId: 'crm_4' });
  });

  it('answers PutItem and GetItem with conditions, and UpdateItem with ADD, REMOVE and ReturnValues ALL_NEW', async () => {
    await documents.send(new PutCommand({ TableName: 'circuits', Item: { circuitId: 'crm', state: 'closed', version: 1 }, ConditionExpression: 'attribute_not_exists(circuitId)' }));
    await expect(
      documents.send(new PutCommand({ TableName: 'circuits', Item: { circuitId: 'crm', state: 'open', version: 2 }, ConditionExpression: 'attribute_not_exists(circuitId)' })),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);

    const { Attributes } = await documents.send(
      new UpdateCommand({
        TableName: 'circuits',
        Key: { circuitId: 'crm' },
        UpdateExpression: 'SET #state = if_not_exists(#state, :closed), #updatedAt = :now ADD #failures :one, #version :one REMOVE #probe',
        ConditionExpression: 'attribute_not_exists(circuitId) OR #state = :closed',
        ExpressionAttributeNames: { '#state': 'state', '#updatedAt': 'updatedAt', '#failures': 'consecutiveFailures', '#version': 'version', '#probe': 'probe' },
        ExpressionAttributeValues: { ':closed': 'closed', ':now': 5, ':one': 1 },
        ReturnValues: 'ALL_NEW',
      }),
    );
    expect(Attributes).toEqual({ circuitId: 'crm', state: 'closed', updatedAt: 5, consecutiveFailures: 1, version: 2 });

    await expect(
      documents.send(
        new UpdateCommand({
          TableName: 'circuits',
          Key: { circuitId: 'crm' },
          UpdateExpression: 'SET #state = :open',
          ConditionExpression: '#version = :expected AND NOT (#failures > :limit)',
          ExpressionAttributeNames: { '#state': 'state', '#version': 'version', '#failures': 'consecutiveFailures' },
          ExpressionAttributeValues: { ':open': 'open', ':expected': 1, ':limit': 0 },
        }),
      ),
    ).rejects.toBeInstanceOf(ConditionalCheckFailedException);
    const { Item } = await documents.send(new GetCommand({ TableName: 'circuits', Key: { circuitId: 'crm' }, ConsistentRead: true }));
    expect(Item?.state).toBe('closed');
  });

  it('refuses what it cannot answer faithfully instead of answering it wrongly', async () => {
    await expect(
      documents.send(new UpdateCommand({ TableName: 'circuits', Key: { circuitId: 'x' }, UpdateExpression: 'SET a.b = :v', ExpressionAttributeValues: { ':v': 1 } })),
    ).rejects.toMatchObject({ name: 'ValidationException' });
    await expect(documents.send(new GetCommand({ TableName: 'nope', Key: { circuitId: 'x' } }))).rejects.toMatchObject({ name: 'ResourceNotFoundException' });
  });

  it('answers after its latency with at most maxInFlight requests at once', async () => {
    const bounded = new DynamoDbLatencyModel({ latencyMs: 20, maxInFlight: 2 });
    bounded.createTable('circuits', { partitionKey: 'circuitId' });
    const boundedClient = DynamoDBDocumentClient.from(
      new DynamoDBClient({ region: 'us-east-1', credentials: { accessKeyId: 'model', secretAccessKey: 'model' }, requestHandler: bounded }),
    );
    const started = performance.now();
    await Promise.all(Array.from({ length: 4 }, (_, i) => boundedClient.send(new GetCommand({ TableName: 'circuits', Key: { circuitId: `c${i}` } }))));
    // Four requests, two at a time: two latencies at least.
    expect(performance.now() - started).toBeGreaterThanOrEqual(38);
    expect(bounded.counts.get('GetItem')).toBe(4);
    boundedClient.destroy();
  });
});
