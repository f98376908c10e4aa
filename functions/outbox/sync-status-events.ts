/**
 * `SyncStatusChanged`: what an upstream system learns about its entities, read from the sync ledger's own writes
 * (docs/sync-status-events.md, schema version 1). The ledger table's stream carries every write of a ledger item
 * with its image before and after (NEW_AND_OLD_IMAGES); an EventBridge Pipe (lib/constructs/sync-status-outbox.ts)
 * hands batches of those records to {@link syncStatusEventsOf} (through sync-status-enrichment.ts) and puts what it
 * returns on the hub's bus. Nothing in the message path publishes: the status and its event cannot disagree (no dual
 * write), and a ledger write that failed publishes nothing.
 *
 * What counts as a transition: the ledger appends one audit log entry per event it records
 * (functions/runtime/dynamodb-sync-ledger.ts), so the entries a write appended are exactly what happened. Each
 * appended entry that moves the entity to another status (`pending_sync`, `syncing`, `synced`, `sync_failed`) is one
 * event, and so is each `skipped_stale` (a stale version refused: the entity keeps its status). A `retry_scheduled`
 * entry and the `syncing` of the retry after it do not change the status and publish nothing; neither do writes that
 * append no entry (an audit log archived into its own item, idempotency bookkeeping).
 *
 * Order: a stream keeps one item's records in write order and the pipe reads a shard one batch at a time, so the
 * events of one entity leave in the order of its transitions; `position` (the stream record's sequence number, then
 * the entry's index in it) lets a subscriber restore that order after EventBridge's delivery, which does not keep
 * it. Pipes delivers at least once: a batch retried after a failed PutEvents publishes its events again, with the
 * same `transitionId`, by which subscribers drop the repeat.
 */
import { createHash } from 'node:crypto';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import type { AttributeValue as LambdaAttributeValue, DynamoDBRecord } from 'aws-lambda';
import type { AttributeValue } from '@aws-sdk/client-dynamodb';
import type { LedgerEvent, LedgerLogEntry, LedgerStatus } from '../runtime/sync-ledger.js';

/** The `detail-type` of the events. */
export const SYNC_STATUS_CHANGED = 'SyncStatusChanged';
/** The `source` of the events. */
export const SYNC_STATUS_EVENT_SOURCE = 'integration-hub.ledger';
/** The detail's schema version; a change that removes or retypes a field gets a new one (docs/sync-status-events.md). */
export const SYNC_STATUS_SCHEMA_VERSION = '1';

/** The status an event reports: where the entity now stands, or `skipped_stale` for a refused stale version. */
export type PublishedStatus = LedgerStatus | 'skipped_stale';

/** The `detail` of a `SyncStatusChanged` event, schema version 1. */
export interface SyncStatusChanged {
  readonly schemaVersion: typeof SYNC_STATUS_SCHEMA_VERSION;
  /** Stable id of the transition: the same on a re-publish, so subscribers can drop repeats. */
  readonly transitionId: string;
  readonly integration: string;
  /** The entity; `version` is the one this transition is about (for `skipped_stale`, the refused one). */
  readonly entity: { readonly type: string; readonly id: string; readonly version: number };
  readonly status: PublishedStatus;
  /** The status before this transition; null when the ledger first heard of the entity. */
  readonly previousStatus: LedgerStatus | null;
  /** The SQS receive count of the delivery that made the transition. */
  readonly attempt: number;
  /** The third party's id of the entity, once synced. */
  readonly externalId?: string;
  /** The third party's state of the entity when synced, if the integration reports one (a charge `refunded`). */
  readonly externalStatus?: string;
  /** Why it failed (`sync_failed`, or a `pending_sync` after a failure): the error class, never the message. */
  readonly errorClass?: string;
  /** The correlation id of the message that made the transition. */
  readonly correlationId: string;
  /** When the ledger recorded it (ISO-8601). */
  readonly at: string;
  /** Order within the entity: compare `sequenceNumber` as an integer, then `index`. */
  readonly position: { readonly sequenceNumber: string; readonly index: number };
}

/** The ledger statuses: entries of these events change where the entity stands. */
const STATUS_EVENTS: ReadonlySet<LedgerEvent> = new Set<LedgerEvent>(['pending_sync', 'syncing', 'synced', 'sync_failed']);

/** The part of a ledger item the events are made of (an archived-log item has no `status` and is ignored). */
interface LedgerImage {
  readonly pk?: string;
  readonly sk?: string;
  readonly entityType?: string;
  readonly entityId?: string;
  readonly integration?: string;
  readonly status?: LedgerStatus;
  readonly externalId?: string;
  readonly externalStatus?: string;
  readonly log?: readonly LedgerLogEntry[];
}

/** A record as the stream (and a pipe) gives it. */
export type LedgerStreamRecord = Pick<DynamoDBRecord, 'eventName' | 'dynamodb'>;

/** The events of a batch of ledger stream records, in the records' order. */
export function syncStatusEventsOf(records: readonly LedgerStreamRecord[]): SyncStatusChanged[] {
  return records.flatMap((record) => eventsOfRecord(record));
}

function eventsOfRecord(record: LedgerStreamRecord): SyncStatusChanged[] {
  if (record.eventName !== 'INSERT' && record.eventName !== 'MODIFY') return [];
  const after = imageOf(record.dynamodb?.NewImage);
  if (!after?.status || !after.integration || !after.entityType || after.entityId === undefined) return [];
  const before = imageOf(record.dynamodb?.OldImage);
  const appended = appendedEntries(before?.log ?? [], after.log ?? []);
  const sequenceNumber = record.dynamodb?.SequenceNumber ?? '0';
  const events: SyncStatusChanged[] = [];
  let current: LedgerStatus | null = before?.status ?? null;
  appended.forEach((entry, index) => {
    const isStatus = STATUS_EVENTS.has(entry.event);
    if (entry.event !== 'skipped_stale' && (!isStatus || entry.event === current)) return;
    const status = entry.event as PublishedStatus;
    events.push({
      schemaVersion: SYNC_STATUS_SCHEMA_VERSION,
      transitionId: transitionIdOf(after, entry),
      integration: after.integration as string,
      entity: { type: after.entityType as string, id: after.entityId as string, version: entry.version },
      status,
      previousStatus: current,
      attempt: entry.attempt,
      ...(status === 'synced' && (entry.externalId ?? after.externalId) ? { externalId: entry.externalId ?? after.externalId } : {}),
      ...(status === 'synced' && entry.externalStatus ? { externalStatus: entry.externalStatus } : {}),
      ...(entry.errorClass ? { errorClass: entry.errorClass } : {}),
      correlationId: entry.correlationId,
      at: entry.at,
      position: { sequenceNumber, index },
    });
    if (isStatus) current = entry.event as LedgerStatus;
  });
  return events;
}

/**
 * The entries a write appended. The log only grows, except when it is archived (emptied into its own item, then
 * appended to again): an entry already in the old log was published with the write that added it.
 */
function appendedEntries(before: readonly LedgerLogEntry[], after: readonly LedgerLogEntry[]): readonly LedgerLogEntry[] {
  const grewFrom = after.length >= before.length && before.every((entry, i) => sameEntry(entry, after[i]));
  if (grewFrom) return after.slice(before.length);
  return after.filter((entry) => !before.some((old) => sameEntry(old, entry)));
}

function sameEntry(a: LedgerLogEntry, b: LedgerLogEntry | undefined): boolean {
  return b !== undefined && a.at === b.at && a.event === b.event && a.version === b.version && a.attempt === b.attempt && a.correlationId === b.correlationId;
}

function transitionIdOf(item: LedgerImage, entry: LedgerLogEntry): string {
  return createHash('sha256')
    .update(JSON.stringify([item.pk ?? `${item.entityType}#${item.entityId}`, item.sk ?? item.integration, entry.at, entry.event, entry.version, entry.attempt, entry.correlationId]))
    .digest('hex')
    .slice(0, 32);
}

function imageOf(image: Record<string, LambdaAttributeValue> | undefined): LedgerImage | undefined {
  // The stream's attribute values are the DynamoDB wire format the SDK's unmarshall reads.
  return image ? (unmarshall(image as Record<string, AttributeValue>) as LedgerImage) : undefined;
}
