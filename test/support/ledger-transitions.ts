/**
 * The reference the status events are checked against: the transitions an entity's full audit log says happened
 * (functions/outbox/sync-status-events.ts publishes one event per status change and per refused stale version).
 */
import type { SyncStatusChanged } from '../../functions/outbox/sync-status-events.js';
import type { LedgerLogEntry } from '../../functions/runtime/sync-ledger.js';

/** `<previous status or ->><status>@<version>` per transition of the audit log, in order. */
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
