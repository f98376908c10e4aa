/**
 * Item calls of the runtime's DynamoDB stores (the sync ledger, the circuit store) as low-level commands, with native
 * values marshalled here and answers unmarshalled here.
 *
 * Why not the DynamoDBDocumentClient: the integration functions' client is built with `cacheMiddleware: true`
 * ({@link RUNTIME_DYNAMODB_CLIENT_CONFIG}), which saves about a quarter of the SDK's CPU per call (bench/runtime.ts),
 * and @aws-sdk/lib-dynamodb refuses to build a DocumentClient on such a client. These helpers send the same requests
 * the stores' DocumentClients sent, marshalled with the options they were given ({@link MARSHALL_OPTIONS}) and
 * unmarshalled with their defaults (numbers as JS numbers, no `wrapNumbers`).
 */
import {
  type AttributeValue,
  type DynamoDBClient,
  GetItemCommand,
  type GetItemCommandInput,
  PutItemCommand,
  type PutItemCommandInput,
  QueryCommand,
  type QueryCommandInput,
  UpdateItemCommand,
  type UpdateItemCommandInput,
} from '@aws-sdk/client-dynamodb';
import { marshall, unmarshall } from '@aws-sdk/util-dynamodb';

/**
 * The configuration of a client of the ledger and circuits tables (spread into the client's own; the runtime's
 * composition root, runtime-environment.ts, builds the functions' client with it). `cacheMiddleware` resolves the SDK's
 * middleware stack once per command class instead of on every call. Two consequences: no DynamoDBDocumentClient may
 * wrap such a client (hence this module), and middleware added to it after its first call of a command class is not
 * applied to that class.
 */
export const RUNTIME_DYNAMODB_CLIENT_CONFIG = { cacheMiddleware: true } as const;

/** A native item, key or map of expression attribute values (what the DocumentClient took and gave). */
export type NativeItem = Record<string, unknown>;

/**
 * How values are marshalled: as the stores' DocumentClients were configured. Frozen and never handed to a
 * DocumentClient (which writes `convertTopLevelContainer` into the options object it is given).
 */
export const MARSHALL_OPTIONS = Object.freeze({ removeUndefinedValues: true } as const);

/** `ExpressionAttributeValues` with native values, marshalled by the helpers. */
type WithNativeValues<T> = Omit<T, 'ExpressionAttributeValues'> & { ExpressionAttributeValues?: NativeItem };

export type NativeGetInput = Omit<GetItemCommandInput, 'Key'> & { Key: NativeItem };
export type NativePutInput = Omit<WithNativeValues<PutItemCommandInput>, 'Item'> & { Item: NativeItem };
export type NativeUpdateInput = Omit<WithNativeValues<UpdateItemCommandInput>, 'Key'> & { Key: NativeItem };
export type NativeQueryInput = Omit<WithNativeValues<QueryCommandInput>, 'ExclusiveStartKey'>;

/** The native item of an attribute-value map (a GetItem's Item, an UpdateItem's Attributes, a refusal's Item). */
export function unmarshallItem(item: Record<string, AttributeValue>): NativeItem {
  return unmarshall(item);
}

/** GetItem; the item, or undefined when there is none. */
export async function getItem(client: DynamoDBClient, input: NativeGetInput): Promise<NativeItem | undefined> {
  const { Item } = await client.send(new GetItemCommand({ ...input, Key: marshall(input.Key, MARSHALL_OPTIONS) }));
  return Item ? unmarshallItem(Item) : undefined;
}

/** PutItem; nothing is read from the answer. */
export async function putItem(client: DynamoDBClient, input: NativePutInput): Promise<void> {
  const { ExpressionAttributeValues, ...rest } = input;
  await client.send(
    new PutItemCommand({ ...rest, Item: marshall(input.Item, MARSHALL_OPTIONS), ...marshalledValues(ExpressionAttributeValues) }),
  );
}

/** UpdateItem; the returned attributes (per `ReturnValues`), or undefined when none came back. */
export async function updateItem(client: DynamoDBClient, input: NativeUpdateInput): Promise<NativeItem | undefined> {
  const { ExpressionAttributeValues, ...rest } = input;
  const { Attributes } = await client.send(
    new UpdateItemCommand({ ...rest, Key: marshall(input.Key, MARSHALL_OPTIONS), ...marshalledValues(ExpressionAttributeValues) }),
  );
  return Attributes ? unmarshallItem(Attributes) : undefined;
}

/** Every item of a Query, page after page, in sort-key order (each page starts where the previous one ended). */
export async function queryAll(client: DynamoDBClient, input: NativeQueryInput): Promise<NativeItem[]> {
  const { ExpressionAttributeValues, ...rest } = input;
  const values = marshalledValues(ExpressionAttributeValues);
  const items: NativeItem[] = [];
  let startKey: Record<string, AttributeValue> | undefined;
  do {
    const result = await client.send(new QueryCommand({ ...rest, ...values, ExclusiveStartKey: startKey }));
    for (const item of result.Items ?? []) items.push(unmarshallItem(item));
    startKey = result.LastEvaluatedKey;
  } while (startKey);
  return items;
}

function marshalledValues(values: NativeItem | undefined): { ExpressionAttributeValues?: Record<string, AttributeValue> } {
  return values === undefined ? {} : { ExpressionAttributeValues: marshall(values, MARSHALL_OPTIONS) };
}
