import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { IdempotencyItemAlreadyExistsError, IdempotencyItemNotFoundError } from '@aws-lambda-powertools/idempotency';
import { BasePersistenceLayer, IdempotencyRecord } from '@aws-lambda-powertools/idempotency/persistence';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import { systemClock } from './clock.js';
import { getItem, putItem, queryAll, unmarshallItem, updateItem } from './dynamodb-items.js';
import { DependencyError, DuplicateInFlightError, NotAttemptedError, StaleEventError } from './errors.js';
import type { Clock } from './ports.js';
import {
  activeSyncAttempt,
  type LedgerEntry,
  type LedgerEvent,
  type LedgerLogEntry,
  type LedgerStatus,
  ledgerPartitionKey,
  type SyncAttempt,
} from './sync-ledger.js';

const INPROGRESS = 'INPROGRESS';
const COMPLETED = 'COMPLETED';
const MAX_LOGGED_ERROR_LENGTH = 512;

/** Options of {@link DynamoDBSyncLedger}. */
export interface DynamoDBSyncLedgerOptions {
  tableName: string;
  client: DynamoDBClient;
  clock?: Clock;
  /** Told when a write lost its claim (another instance took the record over); the call itself already happened. */
  onClaimLost?: (details: { entity: string; integration: string; step: 'complete' | 'release' }) => void;
  /**
   * Audit log entries kept inside the ledger item; when a claim finds this many, they move to an archive item
   * (`sk = log#<integration>#<first entry time>`) first, so the item never nears DynamoDB's 400 KB limit.
   * @default 100
   */
  logPageSize?: number;
}

/** Inline audit log entries before they are archived. */
export const DEFAULT_LOG_PAGE_SIZE = 100;
/** Entries allowed past a full page for appends that do not roll over (stale events); further ones are dropped. */
const LOG_OVERFLOW_ALLOWANCE = 50;
const LOG_ARCHIVE_PREFIX = 'log#';

/**
 * The sync ledger and the Powertools idempotency store in ONE DynamoDB item per entity and integration
 * (ledger table, `pk = <entityType>#<entityId>`, `sk = <integration>`).
 *
 * Why merged: Powertools idempotency costs two writes per message (claim INPROGRESS, then COMPLETED) and the
 * ledger needs the same two moments (syncing, then synced). Writing both into one item makes a message cost
 * two writes in all, and lets one condition do three jobs at once: claim the idempotency key, refuse stale
 * versions (a newer version already stored wins) and append the transition to the audit log atomically.
 *
 * The idempotency fields (`idem*`) hold the CURRENT operation of the entity only. That is enough because an
 * operation on an older version is stale whatever its idempotency record says, and it is why an adapter's
 * idempotency key must be a function of (entity type, id, version).
 *
 * Powertools drives it through the four `_*Record` hooks; the entity of each record arrives through
 * {@link activeSyncAttempt} (async local storage), since Powertools passes only the hashed key.
 */
export class DynamoDBSyncLedger extends BasePersistenceLayer {
  readonly #tableName: string;
  /** Sent low-level item calls only (dynamodb-items.ts): the client may be built with `cacheMiddleware`. */
  readonly #client: DynamoDBClient;
  readonly #clock: Clock;
  readonly #onClaimLost: DynamoDBSyncLedgerOptions['onClaimLost'];
  readonly #logPageSize: number;

  constructor(options: DynamoDBSyncLedgerOptions) {
    super();
    this.#tableName = options.tableName;
    this.#client = options.client;
    this.#clock = options.clock ?? systemClock;
    this.#onClaimLost = options.onClaimLost;
    this.#logPageSize = options.logPageSize ?? DEFAULT_LOG_PAGE_SIZE;
  }

  // ------------------------------------------------------------ Powertools hooks

  /** Claim: idempotency INPROGRESS + ledger `syncing`, refused for stale versions and live duplicates. */
  protected async _putRecord(record: IdempotencyRecord): Promise<void> {
    const attempt = activeSyncAttempt();
    const refused = await this.#claim(record, attempt);
    if (!refused) return;
    if ((refused.logSize ?? 0) >= this.#logPageSize) {
      // Refused only because the inline audit log is full: archive it, then claim again (once).
      await this.#archiveLog(attempt, refused);
      const again = await this.#claim(record, attempt);
      if (!again) return;
      throw this.#whyClaimRefused(record.idempotencyKey, attempt, again);
    }
    throw this.#whyClaimRefused(record.idempotencyKey, attempt, refused);
  }

  /** One claim write; resolves with the refusing item when the condition failed. */
  async #claim(record: IdempotencyRecord, attempt: SyncAttempt): Promise<StoredItem | undefined> {
    const now = this.#clock.now();
    try {
      await updateItem(this.#client, {
        TableName: this.#tableName,
        Key: keyOf(attempt),
        UpdateExpression: [
          `SET #status = :syncing, ${ENTITY_FIELDS}, idemKey = :key, idemStatus = :inprogress`,
          'idemExpiry = :expiry, idemInProgressExpiry = :inProgressExpiry, idemPayloadHash = :payloadHash',
          '#log = list_append(if_not_exists(#log, :emptyLog), :entry) ADD logSize :one REMOVE idemData',
        ].join(', '),
        ConditionExpression: `(${[
          'attribute_not_exists(pk)',
          'entityVersion < :version',
          '(entityVersion = :version AND attribute_not_exists(idemKey))',
          '(entityVersion = :version AND idemKey = :key AND (attribute_not_exists(idemStatus) OR idemExpiry < :nowSeconds OR (idemStatus = :inprogress AND idemInProgressExpiry < :nowMs)))',
        ].join(' OR ')}) AND (attribute_not_exists(logSize) OR logSize < :logPageSize)`,
        ExpressionAttributeNames: { '#status': 'status', '#log': 'log' },
        ExpressionAttributeValues: {
          ':syncing': 'syncing',
          ...entityValues(attempt, now),
          ':key': record.idempotencyKey,
          ':inprogress': INPROGRESS,
          ':expiry': record.expiryTimestamp,
          ':inProgressExpiry': record.inProgressExpiryTimestamp ?? now + 15 * 60_000,
          ':payloadHash': record.payloadHash ?? '',
          ':emptyLog': [],
          ':entry': [this.#logEntry(attempt, 'syncing', now)],
          ':nowSeconds': now / 1000,
          ':nowMs': now,
          ':one': 1,
          ':logPageSize': this.#logPageSize,
        },
        ReturnValuesOnConditionCheckFailure: 'ALL_OLD',
      });
      return undefined;
    } catch (error) {
      if (!(error instanceof ConditionalCheckFailedException)) throw this.#unavailable('claim', error);
      // Real DynamoDB returns the item with the failure; dynalite does not, so read it then (one more call locally).
      const existing = error.Item ? (unmarshallItem(error.Item) as unknown as StoredItem) : await this.#read(attempt);
      return existing ?? ({} as StoredItem);
    }
  }

  /**
   * Moves the inline audit log to an archive item. The archive key derives from the first entry, so a retry after
   * a crash rewrites the same page; the inline log is only cleared if nobody appended in between.
   */
  async #archiveLog(attempt: SyncAttempt, item: StoredItem): Promise<void> {
    const entries = item.log ?? [];
    const first = entries[0];
    if (!first) return;
    try {
      await putItem(this.#client, {
        TableName: this.#tableName,
        Item: {
          pk: item.pk,
          sk: `${LOG_ARCHIVE_PREFIX}${attempt.integration}#${first.at}#${first.correlationId}`,
          integration: attempt.integration,
          entries,
        },
      });
      await updateItem(this.#client, {
        TableName: this.#tableName,
        Key: keyOf(attempt),
        UpdateExpression: 'SET #log = :emptyLog, logSize = :zero ADD logPages :one',
        ConditionExpression: 'logSize = :observed',
        ExpressionAttributeNames: { '#log': 'log' },
        ExpressionAttributeValues: { ':emptyLog': [], ':zero': 0, ':one': 1, ':observed': item.logSize ?? 0 },
      });
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return; // someone else rolled it over or appended: claim again
      throw this.#unavailable('archive audit log', error);
    }
  }

  /** Complete: idempotency COMPLETED with the stored result + ledger `synced`, in one write. */
  protected async _updateRecord(record: IdempotencyRecord): Promise<void> {
    const attempt = activeSyncAttempt();
    const now = this.#clock.now();
    const externalId = resultField(record.responseData, 'externalId');
    // The third party's own state of the entity, when the adapter's result says it (a charge `refunded`).
    const externalStatus = resultField(record.responseData, 'status');
    await this.#updateOwnClaim(attempt, record.idempotencyKey, 'complete', {
      UpdateExpression: [
        'SET #status = :synced, syncedAt = :nowIso, updatedAt = :nowIso, externalId = :externalId',
        ...(externalStatus !== undefined ? ['externalStatus = :externalStatus'] : []),
        'idemStatus = :completed, idemExpiry = :expiry, idemData = :data, idemPayloadHash = :payloadHash',
        '#log = list_append(#log, :entry) ADD logSize :one',
      ].join(', ') + ` REMOVE ${['idemInProgressExpiry', 'lastErrorClass', 'lastErrorMessage', ...(externalStatus === undefined ? ['externalStatus'] : [])].join(', ')}`,
      ExpressionAttributeValues: {
        ':synced': 'synced',
        ':nowIso': new Date(now).toISOString(),
        ':externalId': externalId,
        ...(externalStatus !== undefined ? { ':externalStatus': externalStatus } : {}),
        ':completed': COMPLETED,
        ':expiry': record.expiryTimestamp,
        ':data': record.responseData ?? null,
        ':payloadHash': record.payloadHash ?? '',
        ':entry': [this.#logEntry(attempt, 'synced', now, { externalId, ...(externalStatus !== undefined ? { externalStatus } : {}) })],
        ':one': 1,
      },
    });
  }

  /**
   * Release after a failure: the idempotency claim is dropped (so a retry or a redrive may claim again) and the
   * ledger records why: `sync_failed` for permanent failures, `pending_sync` when the call was never attempted,
   * otherwise the entity stays `syncing` with a `retry_scheduled` log entry.
   */
  protected async _deleteRecord(record: IdempotencyRecord): Promise<void> {
    const attempt = activeSyncAttempt();
    const now = this.#clock.now();
    const failure = attempt.failure;
    const status: LedgerStatus =
      failure?.category === 'permanent' ? 'sync_failed' : failure?.category === 'not_attempted' ? 'pending_sync' : 'syncing';
    const event: LedgerEvent = status === 'syncing' ? 'retry_scheduled' : status;
    const errorClass = failure?.errorClass ?? 'Unknown';
    const errorMessage = truncate(failure?.message ?? 'failed without an error', MAX_LOGGED_ERROR_LENGTH);
    // Parked after the provider failed on this delivery: the entity's last error is the provider's (the real cause);
    // the log entry says why it was parked.
    const providerError = failure instanceof NotAttemptedError ? failure.providerError : undefined;
    const lastError = providerError
      ? { errorClass: providerError.errorClass, errorMessage: truncate(providerError.message, MAX_LOGGED_ERROR_LENGTH) }
      : { errorClass, errorMessage };
    await this.#updateOwnClaim(attempt, record.idempotencyKey, 'release', {
      UpdateExpression: [
        'SET #status = :status, updatedAt = :nowIso, lastErrorClass = :errorClass, lastErrorMessage = :errorMessage',
        '#log = list_append(#log, :entry) ADD logSize :one REMOVE idemStatus, idemInProgressExpiry, idemData',
      ].join(', '),
      ConditionExtra: ' AND idemStatus = :inprogress',
      ExpressionAttributeValues: {
        ':status': status,
        ':nowIso': new Date(now).toISOString(),
        ':errorClass': lastError.errorClass,
        ':errorMessage': lastError.errorMessage,
        ':inprogress': INPROGRESS,
        ':entry': [this.#logEntry(attempt, event, now, { errorClass, errorMessage: providerError ? truncate(`${errorMessage} (after ${lastError.errorClass}: ${lastError.errorMessage})`, MAX_LOGGED_ERROR_LENGTH) : errorMessage })],
        ':one': 1,
      },
    });
  }

  /** Only reached when a claim was refused without the item at hand; reads the current entity's record. */
  protected async _getRecord(idempotencyKey: string): Promise<IdempotencyRecord> {
    const item = await this.#read(activeSyncAttempt());
    if (!item || item.idemKey !== idempotencyKey || !item.idemStatus) throw new IdempotencyItemNotFoundError();
    return toIdempotencyRecord(item);
  }

  // ------------------------------------------------------------ ledger-only writes

  /**
   * Records that a message was not attempted (circuit open, throttled) as `pending_sync`, unless the ledger
   * already knows this version or a newer one: one conditional write per parked message.
   */
  async markPending(attempt: SyncAttempt, reason: string): Promise<void> {
    const now = this.#clock.now();
    try {
      await updateItem(this.#client, {
        TableName: this.#tableName,
        Key: keyOf(attempt),
        UpdateExpression: [
          `SET #status = :pending, ${ENTITY_FIELDS}, #log = list_append(if_not_exists(#log, :emptyLog), :entry)`,
          'lastErrorClass = :reason ADD logSize :one REMOVE idemKey, idemStatus, idemInProgressExpiry, idemData, idemPayloadHash',
        ].join(', '),
        ConditionExpression:
          'attribute_not_exists(pk) OR (entityVersion < :version AND (attribute_not_exists(idemStatus) OR idemStatus <> :inprogress))',
        ExpressionAttributeNames: { '#status': 'status', '#log': 'log' },
        ExpressionAttributeValues: {
          ':pending': 'pending_sync',
          ...entityValues(attempt, now),
          ':emptyLog': [],
          ':entry': [this.#logEntry(attempt, 'pending_sync', now, { errorClass: reason })],
          ':reason': reason,
          ':inprogress': INPROGRESS,
          ':one': 1,
        },
      });
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return; // already known: nothing to record
      throw this.#unavailable('mark pending', error);
    }
  }

  /** Appends `skipped_stale` to the audit log of an entity whose newer version is already stored. */
  async recordSkippedStale(attempt: SyncAttempt): Promise<void> {
    const now = this.#clock.now();
    try {
      await updateItem(this.#client, {
        TableName: this.#tableName,
        Key: keyOf(attempt),
        UpdateExpression: 'SET #log = list_append(if_not_exists(#log, :emptyLog), :entry) ADD logSize :one',
        // A flood of stale events must not grow the item without bound; past the allowance they are only logged.
        ConditionExpression: 'attribute_exists(pk) AND (attribute_not_exists(logSize) OR logSize < :maxLogSize)',
        ExpressionAttributeNames: { '#log': 'log' },
        ExpressionAttributeValues: {
          ':emptyLog': [],
          ':entry': [this.#logEntry(attempt, 'skipped_stale', now)],
          ':one': 1,
          ':maxLogSize': this.#logPageSize + LOG_OVERFLOW_ALLOWANCE,
        },
      });
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return;
      throw this.#unavailable('record skipped_stale', error);
    }
  }

  // ------------------------------------------------------------ reads

  /** Where an entity stands with every integration (or one), with the inline audit logs. */
  async entries(entityType: string, entityId: string, integration?: string): Promise<LedgerEntry[]> {
    // Every page: the partition also holds the archived log pages, which can pass a Query's 1 MB page and sort
    // between two integrations' entries (`crm` < `log#…` < `payments`). A Query cannot filter on the sort key, so
    // the archived pages are skipped here.
    const items = await this.#queryAll(
      integration ? 'pk = :pk AND sk = :sk' : 'pk = :pk',
      { ':pk': ledgerPartitionKey(entityType, entityId), ...(integration ? { ':sk': integration } : {}) },
    );
    return items.filter((item) => !String(item.sk).startsWith(LOG_ARCHIVE_PREFIX)).map((item) => toLedgerEntry(item as unknown as StoredItem));
  }

  /** The whole audit log of an entity with one integration, oldest first: archived pages, then the inline log. */
  async auditLog(entityType: string, entityId: string, integration: string): Promise<LedgerLogEntry[]> {
    const archived = await this.#archivedLog(entityType, entityId, integration);
    const [current] = await this.entries(entityType, entityId, integration);
    return [...archived, ...(current?.log ?? [])];
  }

  /** {@link entries} with each audit log whole (archived pages, oldest first, then the inline log). */
  async entriesWithFullLog(entityType: string, entityId: string): Promise<LedgerEntry[]> {
    const entries = await this.entries(entityType, entityId);
    return Promise.all(
      entries.map(async (entry) =>
        entry.archivedLogPages ? { ...entry, log: [...(await this.#archivedLog(entityType, entityId, entry.integration)), ...entry.log] } : entry,
      ),
    );
  }

  async #archivedLog(entityType: string, entityId: string, integration: string): Promise<LedgerLogEntry[]> {
    const pages = await this.#queryAll('pk = :pk AND begins_with(sk, :prefix)', {
      ':pk': ledgerPartitionKey(entityType, entityId),
      ':prefix': `${LOG_ARCHIVE_PREFIX}${integration}#`,
    });
    return pages.flatMap((page) => (page.entries as LedgerLogEntry[] | undefined) ?? []);
  }

  /** Every item of a consistent Query, page after page, in sort-key order. */
  #queryAll(keyCondition: string, values: Record<string, unknown>): Promise<Record<string, unknown>[]> {
    return queryAll(this.#client, { TableName: this.#tableName, KeyConditionExpression: keyCondition, ExpressionAttributeValues: values, ConsistentRead: true });
  }

  // ------------------------------------------------------------ internals

  async #read(attempt: SyncAttempt): Promise<StoredItem | undefined> {
    try {
      return (await getItem(this.#client, { TableName: this.#tableName, Key: keyOf(attempt), ConsistentRead: true })) as StoredItem | undefined;
    } catch (error) {
      throw this.#unavailable('read', error);
    }
  }

  /** Decides what a refused claim means, from the item that refused it. */
  #whyClaimRefused(idempotencyKey: string, attempt: SyncAttempt, item: StoredItem | undefined): Error {
    if (!item?.pk) return new DuplicateInFlightError('The ledger item changed while claiming; retry later');
    const entity = `${attempt.entity.type} ${attempt.entity.id}`;
    if (item.entityVersion > attempt.entity.version) {
      return new StaleEventError(
        `Stale event: ${entity} version ${attempt.entity.version} is older than the stored version ${item.entityVersion}`,
      );
    }
    if (item.idemKey === idempotencyKey && item.idemStatus) {
      // Same operation seen before: Powertools replays the stored result, or reports it in progress.
      return new IdempotencyItemAlreadyExistsError(
        `Idempotency key already used for ${entity}`,
        toIdempotencyRecord(item),
      );
    }
    if (item.status === 'synced') {
      return new StaleEventError(`Stale event: ${entity} version ${attempt.entity.version} is already synced by another operation`);
    }
    return new DuplicateInFlightError(`Another operation on ${entity} version ${attempt.entity.version} is in progress`);
  }

  async #updateOwnClaim(
    attempt: SyncAttempt,
    idempotencyKey: string,
    step: 'complete' | 'release',
    update: { UpdateExpression: string; ExpressionAttributeValues: Record<string, unknown>; ConditionExtra?: string },
  ): Promise<void> {
    try {
      await updateItem(this.#client, {
        TableName: this.#tableName,
        Key: keyOf(attempt),
        UpdateExpression: update.UpdateExpression,
        ConditionExpression: `idemKey = :key AND entityVersion = :version${update.ConditionExtra ?? ''}`,
        ExpressionAttributeNames: { '#status': 'status', '#log': 'log' },
        ExpressionAttributeValues: { ...update.ExpressionAttributeValues, ':key': idempotencyKey, ':version': attempt.entity.version },
      });
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) {
        // The claim expired and another delivery took over (or a newer version arrived): the newer owner's
        // writes win. The provider saw the same Idempotency-Key, so no duplicate side effect follows.
        this.#onClaimLost?.({ entity: ledgerPartitionKey(attempt.entity.type, attempt.entity.id), integration: attempt.integration, step });
        return;
      }
      throw this.#unavailable(step, error);
    }
  }

  #logEntry(attempt: SyncAttempt, event: LedgerEvent, now: number, extra: Partial<LedgerLogEntry> = {}): LedgerLogEntry {
    return {
      at: new Date(now).toISOString(),
      event,
      version: attempt.entity.version,
      attempt: attempt.attempt,
      correlationId: attempt.correlationId,
      ...extra,
    };
  }

  #unavailable(operation: string, error: unknown): DependencyError {
    return new DependencyError('LedgerTable', `Sync ledger ${operation} failed: ${(error as Error).message ?? error}`, { cause: error });
  }
}

/** The ledger item as stored: the entry plus its key, the inline log's size and the idempotency record. */
interface StoredItem extends Omit<LedgerEntry, 'log'> {
  pk: string;
  sk: string;
  log?: LedgerLogEntry[];
  /** Entries in `log` (archived pages not counted). */
  logSize?: number;
  /** Archived log pages. */
  logPages?: number;
  idemKey?: string;
  idemStatus?: string;
  idemExpiry?: number;
  idemInProgressExpiry?: number;
  idemData?: JSONValue;
  idemPayloadHash?: string;
}

/** The fields every write that (re)states the entity sets; values from {@link entityValues}. */
const ENTITY_FIELDS = [
  'entityType = :type, entityId = :id, integration = :integration, entityVersion = :version',
  'attempts = :attempt, correlationId = :correlationId, updatedAt = :nowIso, createdAt = if_not_exists(createdAt, :nowIso)',
].join(', ');

function entityValues(attempt: SyncAttempt, now: number): Record<string, unknown> {
  return {
    ':type': attempt.entity.type,
    ':id': attempt.entity.id,
    ':integration': attempt.integration,
    ':version': attempt.entity.version,
    ':attempt': attempt.attempt,
    ':correlationId': attempt.correlationId,
    ':nowIso': new Date(now).toISOString(),
  };
}

function keyOf(attempt: SyncAttempt): { pk: string; sk: string } {
  return { pk: ledgerPartitionKey(attempt.entity.type, attempt.entity.id), sk: attempt.integration };
}

function toIdempotencyRecord(item: StoredItem): IdempotencyRecord {
  return new IdempotencyRecord({
    idempotencyKey: item.idemKey ?? '',
    status: (item.idemStatus ?? INPROGRESS) as 'INPROGRESS' | 'COMPLETED',
    expiryTimestamp: item.idemExpiry,
    inProgressExpiryTimestamp: item.idemInProgressExpiry,
    responseData: item.idemData,
    payloadHash: item.idemPayloadHash,
  });
}

function toLedgerEntry(item: StoredItem): LedgerEntry {
  // Everything but the key, the log bookkeeping and the idempotency record is the entry.
  const { pk, sk, logSize, logPages, idemKey, idemStatus, idemExpiry, idemInProgressExpiry, idemData, idemPayloadHash, ...entry } = item;
  return { ...entry, log: item.log ?? [], ...(logPages ? { archivedLogPages: logPages } : {}) };
}

/** A string field of an operation's result (`externalId`, `status`), else undefined. */
function resultField(result: JSONValue | undefined, field: string): string | undefined {
  if (result !== null && typeof result === 'object' && !Array.isArray(result)) {
    const value = (result as Record<string, JSONValue>)[field];
    return typeof value === 'string' ? value : undefined;
  }
  return undefined;
}

function truncate(value: string, max: number): string {
  return value.length <= max ? value : `${value.slice(0, max - 1)}…`;
}
