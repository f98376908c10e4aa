/**
 * The checkpoints table adapter (key `syncId`): consistent reads, and single-item conditional updates
 * (docs/architecture.md "Conventions": no transactions). The position moves on `version`; the run lease
 * (`runId`, `runningUntil`, `rerunRequested`) is written by its own conditional updates. Every write is an
 * UpdateItem that touches only its own attributes, so a rerun request is never overwritten by a page's advance.
 * SDK errors are translated here.
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, UpdateCommand, type UpdateCommandInput } from '@aws-sdk/lib-dynamodb';
import { systemClock } from '../runtime/clock.js';
import { DependencyError } from '../runtime/errors.js';
import type { Clock } from '../runtime/ports.js';
import {
  type CheckpointAudit,
  CheckpointConflictError,
  type CheckpointPosition,
  type CheckpointStore,
  INITIAL_CHECKPOINT,
  type RunEnd,
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
  /** The run lease (absent when no run holds it). */
  runId?: string;
  runningUntil?: number;
  rerunRequested?: boolean;
}

// `cursor` is a DynamoDB reserved word: every attribute goes through a name placeholder.
const NAMES = {
  '#since': 'since',
  '#cursor': 'cursor',
  '#highWater': 'highWater',
  '#version': 'version',
  '#updatedAt': 'updatedAt',
  '#lastExecutionName': 'lastExecutionName',
  '#lastUpserted': 'lastUpserted',
  '#lastDeleted': 'lastDeleted',
  '#runId': 'runId',
  '#runningUntil': 'runningUntil',
  '#rerunRequested': 'rerunRequested',
} as const;

/** The placeholders an expression uses (DynamoDB refuses unused ones). */
function namesIn(...expressions: string[]): Record<string, string> {
  const text = expressions.join(' ');
  return Object.fromEntries(Object.entries(NAMES).filter(([placeholder]) => new RegExp(`${placeholder}\\b`).test(text)));
}

const RELEASE = 'REMOVE #runId, #runningUntil, #rerunRequested';

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
      ...(item.runId !== undefined
        ? { lease: { runId: item.runId, runningUntil: Number(item.runningUntil ?? 0), rerunRequested: item.rerunRequested === true } }
        : {}),
    };
  }

  async advance(syncId: string, from: SyncCheckpoint, to: CheckpointPosition, audit: CheckpointAudit): Promise<SyncCheckpoint> {
    const next: SyncCheckpoint = { since: to.since, cursor: to.cursor, ...(to.highWater ? { highWater: to.highWater } : {}), version: from.version + 1 };
    const set = [
      '#since = :since',
      '#cursor = :cursor',
      '#version = :next',
      '#updatedAt = :updatedAt',
      '#lastExecutionName = :executionName',
      '#lastUpserted = :upserted',
      '#lastDeleted = :deleted',
      ...(next.highWater ? ['#highWater = :highWater'] : []),
    ];
    // Version 0 was never written: the item is absent, or holds only a run lease taken before the first page.
    const condition = from.version === 0 ? 'attribute_not_exists(#version)' : '#version = :expected';
    const written = await this.#update('advance', {
      UpdateExpression: `SET ${set.join(', ')}${next.highWater ? '' : ' REMOVE #highWater'}`,
      ConditionExpression: condition,
      values: {
        ':since': next.since,
        ':cursor': next.cursor,
        ':next': next.version,
        ':updatedAt': new Date(this.#clock.now()).toISOString(),
        ':executionName': audit.executionName,
        ':upserted': audit.upserted,
        ':deleted': audit.deleted,
        ...(next.highWater ? { ':highWater': next.highWater } : {}),
        ...(from.version === 0 ? {} : { ':expected': from.version }),
      },
    }, syncId);
    if (!written) throw new CheckpointConflictError(`Checkpoint ${syncId} was moved by another run while this one held version ${from.version}`);
    return next;
  }

  async acquireLease(syncId: string, runId: string, runningUntil: number, now: number): Promise<boolean> {
    return this.#update('lease', {
      UpdateExpression: 'SET #runId = :runId, #runningUntil = :until REMOVE #rerunRequested',
      ConditionExpression: 'attribute_not_exists(#runId) OR #runningUntil <= :now',
      values: { ':runId': runId, ':until': runningUntil, ':now': now },
    }, syncId);
  }

  async requestRerun(syncId: string, runId: string, now: number): Promise<boolean> {
    return this.#update('rerun request', {
      UpdateExpression: 'SET #rerunRequested = :true',
      ConditionExpression: 'attribute_exists(#runId) AND #runId <> :runId AND #runningUntil > :now',
      values: { ':true': true, ':runId': runId, ':now': now },
    }, syncId);
  }

  async finishRun(syncId: string, runId: string): Promise<RunEnd> {
    // Release only if nobody asked for a pass; else consume the request. One of the two holds unless the lease is
    // not ours; a request arriving between them makes the first fail and the second succeed.
    const released = await this.#update('release', {
      UpdateExpression: RELEASE,
      ConditionExpression: '#runId = :runId AND (attribute_not_exists(#rerunRequested) OR #rerunRequested = :false)',
      values: { ':runId': runId, ':false': false },
    }, syncId);
    if (released) return 'released';
    const consumed = await this.#update('rerun', {
      UpdateExpression: 'SET #rerunRequested = :false',
      ConditionExpression: '#runId = :runId AND #rerunRequested = :true',
      values: { ':runId': runId, ':true': true, ':false': false },
    }, syncId);
    // Neither held: the lease is not this run's (only its holder clears a request, so it cannot have vanished).
    return consumed ? 'rerun' : 'not-held';
  }

  async releaseLease(syncId: string, runId: string): Promise<boolean> {
    return this.#update('release', { UpdateExpression: RELEASE, ConditionExpression: '#runId = :runId', values: { ':runId': runId } }, syncId);
  }

  /** One conditional UpdateItem; false when its condition did not hold. */
  async #update(
    operation: string,
    request: { UpdateExpression: string; ConditionExpression: string; values: Record<string, unknown> },
    syncId: string,
  ): Promise<boolean> {
    const input: UpdateCommandInput = {
      TableName: this.#tableName,
      Key: { syncId },
      UpdateExpression: request.UpdateExpression,
      ConditionExpression: request.ConditionExpression,
      ExpressionAttributeNames: namesIn(request.UpdateExpression, request.ConditionExpression),
      ExpressionAttributeValues: request.values,
    };
    try {
      await this.#documents.send(new UpdateCommand(input));
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw this.#unavailable(operation, error);
    }
  }

  #unavailable(operation: string, error: unknown): DependencyError {
    return new DependencyError('CheckpointsTable', `Checkpoint ${operation} failed: ${(error as Error).message ?? String(error)}`, { cause: error });
  }
}
