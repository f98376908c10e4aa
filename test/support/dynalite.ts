import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import dynalite from 'dynalite';

/** An in-process dynalite server with the hub's tables, for integration tests. */
export interface LocalDynamo {
  endpoint: string;
  client: DynamoDBClient;
  /** Creates a table with a string partition key `pk` (and optional string sort key `sk`), or the given key names. */
  createTable(name: string, keys?: { partitionKey: string; sortKey?: string }): Promise<void>;
  close(): Promise<void>;
}

/** Starts dynalite on a random loopback port (tables are created instantly). */
export async function startLocalDynamo(): Promise<LocalDynamo> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const { port } = server.address() as AddressInfo;
  const endpoint = `http://127.0.0.1:${port}`;
  const client = new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
  });
  return {
    endpoint,
    client,
    async createTable(name, keys = { partitionKey: 'pk', sortKey: 'sk' }) {
      const attributes = [{ AttributeName: keys.partitionKey, AttributeType: 'S' as const }];
      const schema: { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[] = [{ AttributeName: keys.partitionKey, KeyType: 'HASH' }];
      if (keys.sortKey) {
        attributes.push({ AttributeName: keys.sortKey, AttributeType: 'S' });
        schema.push({ AttributeName: keys.sortKey, KeyType: 'RANGE' });
      }
      await client.send(
        new CreateTableCommand({
          TableName: name,
          AttributeDefinitions: attributes,
          KeySchema: schema,
          BillingMode: 'PAY_PER_REQUEST',
        }),
      );
    },
    async close() {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
