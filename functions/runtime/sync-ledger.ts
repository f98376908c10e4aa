import { AsyncLocalStorage } from 'node:async_hooks';
import type { IntegrationError } from './errors.js';

/**
 * The sync ledger: per entity and integration, where its sync stands, plus an append-only audit log of every
 * transition. `pending_sync → syncing → synced | sync_failed`; `skipped_stale` and `retry_scheduled` only appear
 * in the log (they do not change where the entity stands).
 */
export type LedgerStatus = 'pending_sync' | 'syncing' | 'synced' | 'sync_failed';

/** What one audit log entry records. */
export type LedgerEvent = LedgerStatus | 'retry_scheduled' | 'skipped_stale';

/** The business entity a message is about; `version` orders updates of the same entity (higher wins). */
export interface EntityRef {
  type: string;
  id: string;
  /** Monotonic version of the entity; events without versions use 0. */
  version: number;
}

/** One entry of an entity's audit log. */
export interface LedgerLogEntry {
  at: string;
  event: LedgerEvent;
  version: number;
  attempt: number;
  correlationId: string;
  errorClass?: string;
  errorMessage?: string;
  externalId?: string;
  /** The third party's state of the entity after a sync, when the adapter's result names one (`status`). */
  externalStatus?: string;
}

/** Where one entity stands with one integration. */
export interface LedgerEntry {
  entityType: string;
  entityId: string;
  integration: string;
  status: LedgerStatus;
  entityVersion: number;
  /** The SQS receive count of the latest attempt. */
  attempts: number;
  externalId?: string;
  /** The third party's state of the entity at the last sync, when the adapter's result names one (`status`, e.g. `refunded`). */
  externalStatus?: string;
  lastErrorClass?: string;
  lastErrorMessage?: string;
  correlationId?: string;
  createdAt: string;
  updatedAt: string;
  syncedAt?: string;
  /** The audit log kept in the entry: the latest entries (older ones are archived in pages, see `archivedLogPages`). */
  log: LedgerLogEntry[];
  /** Pages of older audit log entries archived out of the entry; absent when none. The ledger's `auditLog()` reads them. */
  archivedLogPages?: number;
}

/** The sync attempt in progress for one record: what the ledger needs to know besides the idempotency record. */
export interface SyncAttempt {
  integration: string;
  entity: EntityRef;
  correlationId: string;
  /** SQS receive count of this delivery. */
  attempt: number;
  /** Set by the runtime when the attempt fails, so the ledger records why. */
  failure?: IntegrationError;
}

/**
 * Carries the current record's {@link SyncAttempt} through Powertools idempotency into the ledger persistence
 * layer. Records of a batch run concurrently, so a field on a shared object would mix them up; async local
 * storage keeps each record's context on its own async path.
 */
const currentAttempt = new AsyncLocalStorage<SyncAttempt>();

/** Runs `work` with `attempt` as the current sync attempt. */
export function withSyncAttempt<T>(attempt: SyncAttempt, work: () => Promise<T>): Promise<T> {
  return currentAttempt.run(attempt, work);
}

/** The sync attempt of the record being processed on this async path. */
export function activeSyncAttempt(): SyncAttempt {
  const attempt = currentAttempt.getStore();
  if (!attempt) throw new Error('No sync attempt is active: ledger writes must run inside withSyncAttempt()');
  return attempt;
}

/** The ledger item's partition key for an entity. */
export function ledgerPartitionKey(entityType: string, entityId: string): string {
  return `${entityType}#${entityId}`;
}
