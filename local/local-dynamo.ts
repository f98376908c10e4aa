import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DescribeTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';
import { LocalDynamoStreams } from './local-dynamo-streams.js';

/** The key schema of a table: string partition key and optional string sort key. */
export interface TableKeys {
  partitionKey: string;
  sortKey?: string;
}

/** An in-process dynalite server (tests, local hub, benchmarks). */
export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  /** Creates a table keyed `pk`/`sk`, or by the given key names. */
  createTable(name: string, keys?: TableKeys): Promise<void>;
  /** The table streams, when started with `{ streams: true }` (local-dynamo-streams.ts): `endpoint` is then theirs. */
  streams?: LocalDynamoStreams;
  close(): Promise<void>;
}

/** A DynamoDB client for a local endpoint (no AWS credentials needed). */
export function localDynamoClient(endpoint: string): DynamoDBClient {
  return new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
}

/** Creates an on-demand table with string keys. */
export async function createTable(client: DynamoDBClient, name: string, keys: TableKeys = { partitionKey: 'pk', sortKey: 'sk' }): Promise<void> {
  const attributes = [{ AttributeName: keys.partitionKey, AttributeType: 'S' as const }];
  const schema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[] = [{ AttributeName: keys.partitionKey, KeyType: 'HASH' }];
  if (keys.sortKey) {
    attributes.push({ AttributeName: keys.sortKey, AttributeType: 'S' });
    schema.push({ AttributeName: keys.sortKey, KeyType: 'RANGE' });
  }
  await client.send(
    new CreateTableCommand({ TableName: name, AttributeDefinitions: attributes, KeySchema: schema, BillingMode: 'PAY_PER_REQUEST' }),
  );
  // dynalite answers CreateTable with the table CREATING and turns it ACTIVE on a timer; an item call before that
  // gets ResourceNotFoundException. On a loaded machine the timer can lose the race, so wait for ACTIVE.
  for (let polls = 0; ; polls++) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }));
    if (Table?.TableStatus === 'ACTIVE') return;
    if (polls >= 1_000) throw new Error(`table ${name} is still ${Table?.TableStatus} after ${polls} polls`);
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/**
 * Starts dynalite on a random loopback port (tables are created instantly). With `streams`, clients talk to it
 * through the stream proxy (local-dynamo-streams.ts), so the tables whose stream is enabled there emit records.
 */
export async function startLocalDynamo(options: { streams?: boolean } = {}): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const direct = localDynamoClient(`http://127.0.0.1:${port}`);
  const streams = options.streams ? await LocalDynamoStreams.start(`http://127.0.0.1:${port}`, direct) : undefined;
  const endpoint = streams?.endpoint ?? `http://127.0.0.1:${port}`;
  const client = streams ? localDynamoClient(endpoint) : direct;
  return {
    endpoint,
    client,
    createTable: (name, keys) => createTable(client, name, keys),
    ...(streams ? { streams } : {}),
    async close() {
      client.destroy();
      direct.destroy();
      await streams?.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
