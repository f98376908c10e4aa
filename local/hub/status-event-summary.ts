/**
 * The `SyncStatusChanged` events a run saw (the status outbox's pipe, local-pipes.ts → `LocalHub.pipeEvents`),
 * counted per integration and status, and checked against the ledger itself: for every entity, the events published
 * must be exactly the transitions its full audit log records, once each and in order
 * (docs/sync-status-events.md). The check reads the audit log, not the stream, so it does not share the mapping's
 * code (functions/outbox/sync-status-events.ts) and can catch it wrong.
 */
import type { PublishedStatus, SyncStatusChanged } from '../../functions/outbox/sync-status-events.js';
import type { LedgerLogEntry } from '../../functions/runtime/sync-ledger.js';

/** What one integration's status events came to. */
export interface StatusEventSummary {
  readonly integration: string;
  readonly events: number;
  /** Events by status. */
  readonly byStatus: Readonly<Partial<Record<PublishedStatus, number>>>;
  /** Entities with at least one event. */
  readonly entities: number;
  /** Entities whose events differ from their audit log's transitions: missing, extra or out of order (must be 0). */
  readonly mismatched: number;
  /** Events with a `transitionId` seen before (must be 0: locally the pipe delivers once). */
  readonly repeated: number;
}

/** Reads an entity's whole audit log (DynamoDBSyncLedger.auditLog). */
export type AuditLogReader = (entityType: string, entityId: string, integration: string) => Promise<readonly LedgerLogEntry[]>;

/** `<previous status or ->><status>@<version>` per transition an audit log records, in order. */
export function transitionsOf(history: readonly LedgerLogEntry[]): string[] {
  const transitions: string[] = [];
  let current: string | undefined;
  for (const entry of history) {
    if (entry.event === 'skipped_stale') transitions.push(`${current ?? '-'}>skipped_stale@${entry.version}`);
    else if (entry.event !== 'retry_scheduled' && entry.event !== current) {
      transitions.push(`${current ?? '-'}>${entry.event}@${entry.version}`);
      current = entry.event;
    }
  }
  return transitions;
}

/** The same notation for published events. */
export const transitionsPublished = (events: readonly SyncStatusChanged[]): string[] =>
  events.map((event) => `${event.previousStatus ?? '-'}>${event.status}@${event.entity.version}`);

/** One summary per integration in `integrations` (in that order), from the events and the ledger. */
export async function summarizeStatusEvents(
  events: readonly SyncStatusChanged[],
  integrations: readonly string[],
  auditLog: AuditLogReader,
): Promise<StatusEventSummary[]> {
  return Promise.all(
    integrations.map(async (integration) => {
      const own = events.filter((event) => event.integration === integration);
      const byEntity = new Map<string, SyncStatusChanged[]>();
      for (const event of own) {
        const key = JSON.stringify([event.entity.type, event.entity.id]);
        byEntity.set(key, [...(byEntity.get(key) ?? []), event]);
      }
      let mismatched = 0;
      for (const entityEvents of byEntity.values()) {
        const { type, id } = entityEvents[0]!.entity;
        const expected = transitionsOf(await auditLog(type, id, integration));
        if (JSON.stringify(transitionsPublished(entityEvents)) !== JSON.stringify(expected)) mismatched += 1;
      }
      const byStatus: Partial<Record<PublishedStatus, number>> = {};
      for (const event of own) byStatus[event.status] = (byStatus[event.status] ?? 0) + 1;
      return {
        integration,
        events: own.length,
        byStatus,
        entities: byEntity.size,
        mismatched,
        repeated: own.length - new Set(own.map((event) => event.transitionId)).size,
      };
    }),
  );
}
