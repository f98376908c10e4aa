/**
 * The AWS side of the webhook benchmark, in a process of its own so its CPU is not the endpoint's (as DynamoDB and
 * EventBridge are other machines on AWS): dynalite with the delivery-id table, and a minimal EventBridge endpoint
 * that answers PutEvents (the JSON 1.1 protocol the SDK speaks) and records which webhook ids reached the bus. The
 * endpoint's real SDK clients talk to both over loopback HTTP.
 *
 * Sends one IPC message `{ dynamoEndpoint, eventsEndpoint, tableName }` when ready; answers `{ type: 'bus' }` with
 * {@link BusCounts} and `{ type: 'cpu' }` with its process.cpuUsage(); serves until its parent goes away.
 */
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { startLocalDynamo } from '../../local/local-dynamo.js';

/** What the bus received so far. */
export interface BusCounts {
  /** PutEvents entries. */
  readonly entries: number;
  /** Distinct `detail.webhookId`s among them. */
  readonly webhookIds: number;
}

const TABLE_NAME = 'webhook-deliveries';

const dynamo = await startLocalDynamo();
// Powertools idempotency records are keyed `id` (the delivery-id table of lib/constructs/webhook-endpoint.ts).
await dynamo.createTable(TABLE_NAME, { partitionKey: 'id' });

let entries = 0;
const webhookIds = new Set<string>();
const events = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const answer = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/x-amz-json-1.1' });
      response.end(JSON.stringify(body));
    };
    if (request.headers['x-amz-target'] !== 'AWSEvents.PutEvents') return answer(400, { __type: 'UnknownOperationException' });
    const { Entries = [] } = JSON.parse(Buffer.concat(chunks).toString('utf8')) as { Entries?: { Detail?: string }[] };
    for (const entry of Entries) {
      entries += 1;
      const id = (JSON.parse(entry.Detail ?? '{}') as { webhookId?: unknown }).webhookId;
      if (typeof id === 'string') webhookIds.add(id);
    }
    answer(200, { FailedEntryCount: 0, Entries: Entries.map(() => ({ EventId: randomUUID() })) });
  });
});
await new Promise<void>((resolve) => events.listen(0, '127.0.0.1', () => resolve()));

process.on('message', (message: { type?: string }) => {
  if (message.type === 'bus') process.send?.({ type: 'bus', entries, webhookIds: webhookIds.size } satisfies BusCounts & { type: string });
  if (message.type === 'cpu') process.send?.({ type: 'cpu', ...process.cpuUsage() });
});
process.send?.({
  dynamoEndpoint: dynamo.endpoint,
  eventsEndpoint: `http://127.0.0.1:${(events.address() as AddressInfo).port}`,
  tableName: TABLE_NAME,
});
const stop = async () => {
  await Promise.allSettled([dynamo.close(), new Promise((resolve) => events.close(resolve))]);
  process.exit(0);
};
process.on('disconnect', stop);
process.on('SIGTERM', stop);
