/**
 * The checkpoints table adapter (key `syncId`): consistent reads, and single-item conditional puts on `version`
 * (docs/architecture.md "Conventions": no transactions). SDK errors are translated here.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../runtime/clock.js';
import { DependencyError } from '../runtime/errors.js';
import type { Clock } from '../runtime/ports.js';
import {
  type CheckpointAudit,
  CheckpointConflictError,
  type CheckpointPosition,
  type CheckpointStore,
  INITIAL_CHECKPOINT,
  type SyncCheckpoint,
} from './checkpoint-store.js';

/** Options of {@link DynamoDbCheckpointStore}. */
export interface DynamoDbCheckpointStoreOptions {
  tableName: string;
  client: DynamoDBClient;
  /** @default systemClock */
  clock?: Clock;
}

/** The item as stored. */
interface CheckpointItem {
  syncId: string;
  since: string;
  cursor: string | null;
  highWater?: string;
  version: number;
  updatedAt: string;
  lastExecutionName: string;
  lastUpserted: number;
  lastDeleted: number;
}

/** {@link CheckpointStore} on the checkpoints table. */
export class DynamoDbCheckpointStore implements CheckpointStore {
  readonly #tableName: string;
  readonly #documents: DynamoDBDocumentClient;
  readonly #clock: Clock;

  constructor(options: DynamoDbCheckpointStoreOptions) {
    this.#tableName = options.tableName;
    this.#documents = DynamoDBDocumentClient.from(options.client, { marshallOptions: { removeUndefinedValues: true } });
    this.#clock = options.clock ?? systemClock;
  }

  async load(syncId: string): Promise<SyncCheckpoint> {
    let item: CheckpointItem | undefined;
    try {
      const result = await this.#documents.send(new GetCommand({ TableName: this.#tableName, Key: { syncId }, ConsistentRead: true }));
      item = result.Item as CheckpointItem | undefined;
    } catch (error) {
      throw this.#unavailable('read', error);
    }
    if (!item) return { ...INITIAL_CHECKPOINT };
    return {
      since: item.since ?? '',
      cursor: item.cursor ?? null,
      ...(item.highWater ? { highWater: item.highWater } : {}),
      version: item.version ?? 0,
    };
  }

  async advance(syncId: string, from: SyncCheckpoint, to: CheckpointPosition, audit: CheckpointAudit): Promise<SyncCheckpoint> {
    const next: SyncCheckpoint = { since: to.since, cursor: to.cursor, ...(to.highWater ? { highWater: to.highWater } : {}), version: from.version + 1 };
    const item: CheckpointItem = {
      syncId,
      ...next,
      updatedAt: new Date(this.#clock.now()).toISOString(),
      lastExecutionName: audit.executionName,
      lastUpserted: audit.upserted,
      lastDeleted: audit.deleted,
    };
    try {
      await this.#documents.send(
        new PutCommand({
          TableName: this.#tableName,
          Item: item,
          ConditionExpression: from.version === 0 ? 'attribute_not_exists(syncId)' : 'version = :expected',
          ...(from.version === 0 ? {} : { ExpressionAttributeValues: { ':expected': from.version } }),
        }),
      );
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        throw new CheckpointConflictError(`Checkpoint ${syncId} was moved by another run while this one held version ${from.version}`, { cause: error });
      }
      throw this.#unavailable('advance', error);
    }
    return next;
  }

  #unavailable(operation: string, error: unknown): DependencyError {
    return new DependencyError('CheckpointsTable', `Checkpoint ${operation} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
}
