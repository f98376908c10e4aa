/**
 * Lambda entry of the sync status outbox's pipe enrichment (lib/constructs/sync-status-outbox.ts): EventBridge Pipes
 * invokes it synchronously with a batch of ledger stream records and puts each element of the array it returns on the
 * hub's bus as the `detail` of one `SyncStatusChanged` event. An empty array publishes nothing (a batch of writes
 * that changed no status). The mapping is sync-status-events.ts; a failure here fails the batch, which the pipe
 * retries and, past its retry budget, sends to its dead-letter queue (docs/runbooks/status-events-failed.md).
 */
import type { DynamoDBRecord } from 'aws-lambda';
import { type SyncStatusChanged, syncStatusEventsOf } from './sync-status-events.js';

export async function handler(records: readonly DynamoDBRecord[]): Promise<SyncStatusChanged[]> {
  return syncStatusEventsOf(records);
}
