/**
 * Runs one operation against a sync ledger the way the runtime does (functions/runtime/operation-executor.ts):
 * Powertools idempotency with the ledger as its persistence layer, the attempt in async local storage, and the
 * failure recorded on the attempt so the ledger says why.
 */
import { IdempotencyConfig, makeIdempotent } from '@aws-lambda-powertools/idempotency';
import type { JSONValue } from '@aws-lambda-powertools/commons/types';
import type { Context } from 'aws-lambda';
import type { DynamoDBSyncLedger } from '../../functions/runtime/dynamodb-sync-ledger.js';
import { type SyncAttempt, withSyncAttempt } from '../../functions/runtime/sync-ledger.js';

/** Runs `body` once per idempotency `key` for `attempt`'s entity; a replay returns the stored result. */
export function runWithLedger(
  ledger: DynamoDBSyncLedger,
  attempt: SyncAttempt,
  key: string,
  body: (attempt: SyncAttempt) => Promise<JSONValue>,
  payload: JSONValue = { key },
): Promise<JSONValue> {
  const config = new IdempotencyConfig({ eventKeyJmesPath: 'key', payloadValidationJmesPath: 'payload', throwOnNoIdempotencyKey: true });
  config.registerLambdaContext({ getRemainingTimeInMillis: () => 30_000 } as Context);
  const run = makeIdempotent(
    async (_work: { key: string; payload: JSONValue }) => {
      try {
        return await body(attempt);
      } catch (error) {
        attempt.failure = error as never;
        throw error;
      }
    },
    { persistenceStore: ledger, keyPrefix: attempt.integration, config },
  );
  return withSyncAttempt(attempt, () => run({ key, payload }));
}
