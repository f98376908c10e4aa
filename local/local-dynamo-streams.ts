/**
 * DynamoDB Streams for dynalite, which has none: a loopback proxy in front of the dynalite server that every local
 * client talks to. For a table whose stream is turned on ({@link LocalDynamoStreams.enable}), each successful write
 * (PutItem, UpdateItem, DeleteItem, BatchWriteItem, TransactWriteItems) becomes one stream record per item changed,
 * with the item's image before and after (NEW_AND_OLD_IMAGES), a sequence number that grows with every record, and
 * the same shape Lambda and Pipes receive (`aws-lambda` DynamoDBRecord).
 *
 * How the images are exact: writes to one item are serialized by the proxy (a lock per table and key, held from the
 * read before the write to the read after it), so nothing can write the item in between. Writes to other items, and
 * every other request, pass straight through. A write that fails (a condition not met, a throttle injected by a
 * test) produces no record, as on AWS. Records of one item are handed to the listeners in write order; like a
 * stream's shard, this is the order guarantee and the only one.
 *
 * What is not emulated: shards, retention (listeners get each record once, as it happens), and writes made by
 * dynalite itself (TTL deletes: dynalite does not expire items).
 */
import { createServer, request as httpRequest, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DescribeTableCommand, type DynamoDBClient, GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord } from 'aws-lambda';

/** Receives the records of a streamed table, in order. */
export type StreamListener = (record: DynamoDBRecord) => void;

type WireItem = Record<string, unknown>;

/** The writes that change items, and where each names its table and items. */
const WRITES = new Set(['PutItem', 'UpdateItem', 'DeleteItem', 'BatchWriteItem', 'TransactWriteItems']);

interface ItemRef {
  readonly table: string;
  readonly key: WireItem;
}

/** The stream proxy; see the module comment. */
export class LocalDynamoStreams {
  readonly #server: Server;
  readonly #target: URL;
  readonly #client: DynamoDBClient;
  /** Key attribute names of each streamed table. */
  readonly #keyNames = new Map<string, readonly string[]>();
  readonly #listeners = new Map<string, StreamListener[]>();
  readonly #locks = new Map<string, Promise<void>>();
  #sequence = 0;

  private constructor(server: Server, target: string, client: DynamoDBClient) {
    this.#server = server;
    this.#target = new URL(target);
    this.#client = client;
  }

  /**
   * Starts the proxy on a random loopback port in front of `target` (dynalite's endpoint). `client` talks to
   * `target` directly: the proxy reads the images with it.
   */
  static async start(target: string, client: DynamoDBClient): Promise<LocalDynamoStreams> {
    let streams: LocalDynamoStreams | undefined;
    const server = createServer((incoming, outgoing) => {
      const chunks: Buffer[] = [];
      incoming.on('data', (chunk: Buffer) => chunks.push(chunk));
      incoming.on('end', () => {
        streams!
          .#handle(incoming.method ?? 'POST', incoming.url ?? '/', incoming.headers, Buffer.concat(chunks))
          .then(({ status, headers, body }) => {
            outgoing.writeHead(status, headers);
            outgoing.end(body);
          })
          .catch((error: unknown) => {
            outgoing.writeHead(500, { 'content-type': 'application/x-amz-json-1.0' });
            outgoing.end(JSON.stringify({ __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: String(error) }));
          });
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    streams = new LocalDynamoStreams(server, target, client);
    return streams;
  }

  /** The endpoint clients use instead of dynalite's. */
  get endpoint(): string {
    return `http://127.0.0.1:${(this.#server.address() as AddressInfo).port}`;
  }

  /** Turns the stream of `table` on (NEW_AND_OLD_IMAGES) and adds a listener; records of earlier writes are not replayed. */
  async enable(table: string, listener: StreamListener): Promise<void> {
    if (!this.#keyNames.has(table)) {
      const { Table } = await this.#client.send(new DescribeTableCommand({ TableName: table }));
      this.#keyNames.set(table, (Table?.KeySchema ?? []).map((key) => key.AttributeName!));
    }
    this.#listeners.set(table, [...(this.#listeners.get(table) ?? []), listener]);
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  async #handle(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Forwarded> {
    const operation = String(headers['x-amz-target'] ?? '').split('.')[1] ?? '';
    const items = WRITES.has(operation) ? this.#streamedItems(operation, body) : [];
    if (items.length === 0) return this.#forward(method, path, headers, body);
    return this.#locked(items, async () => {
      const before = await Promise.all(items.map((item) => this.#read(item)));
      const answer = await this.#forward(method, path, headers, body);
      if (answer.status !== 200) return answer;
      const after = await Promise.all(items.map((item) => this.#read(item)));
      items.forEach((item, i) => this.#emit(item, before[i], after[i]));
      return answer;
    });
  }

  /** The items of streamed tables a write request names (none when it cannot be read: dynalite answers it). */
  #streamedItems(operation: string, body: Buffer): ItemRef[] {
    let request: Record<string, unknown>;
    try {
      request = JSON.parse(body.toString('utf8')) as Record<string, unknown>;
    } catch {
      return [];
    }
    const named: { table: unknown; item: unknown }[] = [];
    if (operation === 'PutItem') named.push({ table: request.TableName, item: request.Item });
    else if (operation === 'UpdateItem' || operation === 'DeleteItem') named.push({ table: request.TableName, item: request.Key });
    else if (operation === 'BatchWriteItem') {
      for (const [table, writes] of Object.entries((request.RequestItems ?? {}) as Record<string, { PutRequest?: { Item: unknown }; DeleteRequest?: { Key: unknown } }[]>)) {
        for (const write of writes) named.push({ table, item: write.PutRequest?.Item ?? write.DeleteRequest?.Key });
      }
    } else {
      for (const action of (request.TransactItems ?? []) as Record<string, { TableName?: string; Item?: unknown; Key?: unknown }>[]) {
        for (const [kind, write] of Object.entries(action)) {
          if (kind !== 'ConditionCheck') named.push({ table: write.TableName, item: write.Item ?? write.Key });
        }
      }
    }
    const refs: ItemRef[] = [];
    for (const { table, item } of named) {
      const keyNames = typeof table === 'string' ? this.#keyNames.get(table) : undefined;
      if (!keyNames || typeof item !== 'object' || item === null) continue;
      const key = Object.fromEntries(keyNames.map((name) => [name, (item as WireItem)[name]]));
      if (keyNames.every((name) => key[name] !== undefined)) refs.push({ table: table as string, key });
    }
    return refs;
  }

  /** Runs `work` holding the lock of every item (taken in one order, so two multi-item writes cannot deadlock). */
  async #locked<T>(items: readonly ItemRef[], work: () => Promise<T>): Promise<T> {
    const ids = [...new Set(items.map((item) => `${item.table}\u0000${JSON.stringify(item.key)}`))].sort();
    const previous = ids.map((id) => this.#locks.get(id) ?? Promise.resolve());
    let release!: () => void;
    const held = new Promise<void>((resolve) => (release = resolve));
    for (const id of ids) this.#locks.set(id, held);
    await Promise.all(previous);
    try {
      return await work();
    } finally {
      release();
      for (const id of ids) if (this.#locks.get(id) === held) this.#locks.delete(id);
    }
  }

  async #read(item: ItemRef): Promise<WireItem | undefined> {
    const { Item } = await this.#client.send(
      new GetItemCommand({ TableName: item.table, Key: item.key as never, ConsistentRead: true }),
    );
    return Item as WireItem | undefined;
  }

  #emit(item: ItemRef, before: WireItem | undefined, after: WireItem | undefined): void {
    if (!before && !after) return;
    if (before && after && JSON.stringify(before) === JSON.stringify(after)) return;
    this.#sequence += 1;
    const record: DynamoDBRecord = {
      eventID: `local-${this.#sequence}`,
      eventName: !before ? 'INSERT' : !after ? 'REMOVE' : 'MODIFY',
      eventVersion: '1.1',
      eventSource: 'aws:dynamodb',
      awsRegion: 'local',
      eventSourceARN: `arn:aws:dynamodb:local:000000000000:table/${item.table}/stream/local`,
      dynamodb: {
        ApproximateCreationDateTime: Math.floor(Date.now() / 1000),
        Keys: item.key as Record<string, LambdaAttributeValue>,
        ...(after ? { NewImage: after as Record<string, LambdaAttributeValue> } : {}),
        ...(before ? { OldImage: before as Record<string, LambdaAttributeValue> } : {}),
        // Grows with every record, like a shard's; padded so that comparing the strings compares the numbers.
        SequenceNumber: String(this.#sequence).padStart(21, '0'),
        SizeBytes: JSON.stringify(after ?? before).length,
        StreamViewType: 'NEW_AND_OLD_IMAGES',
      },
    };
    for (const listener of this.#listeners.get(item.table) ?? []) listener(record);
  }

  #forward(method: string, path: string, headers: IncomingHttpHeaders, body: Buffer): Promise<Forwarded> {
    return new Promise((resolve, reject) => {
      const outgoing = httpRequest(
        { host: this.#target.hostname, port: this.#target.port, method, path, headers: { ...headers, host: this.#target.host } },
        (answer) => {
          const chunks: Buffer[] = [];
          answer.on('data', (chunk: Buffer) => chunks.push(chunk));
          answer.on('end', () => resolve({ status: answer.statusCode ?? 500, headers: answer.headers, body: Buffer.concat(chunks) }));
          answer.on('error', reject);
        },
      );
      outgoing.on('error', reject);
      outgoing.end(body);
    });
  }
}

interface Forwarded {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}
