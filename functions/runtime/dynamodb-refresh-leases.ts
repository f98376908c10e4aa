/**
 * {@link RefreshLeases} on the circuits table (docs/architecture.md "Shared state"): one item per OAuth refresh-token
 * grant, key `circuitId` = `oauth-refresh#<secret name>` (functions/runtime/refresh-token-credentials.ts
 * refreshLeaseKey), beside the circuit items of the integrations that use it. The item has no `state` attribute, so
 * the circuit controller's stream filters never pass it and the local stream (local/local-circuit-ops.ts) skips it.
 *
 * Item layout: circuitId (S, key) · leaseOwner (S) · leaseUntil (N, epoch ms) · rejectedRefreshToken (S, a
 * fingerprint) · updatedAt (N). Every write is one conditional UpdateItem (actions granted in
 * lib/constructs/hub-tables.ts TABLE_ITEM_ACTIONS.circuits).
 */
import { ConditionalCheckFailedException, type DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { getItem, updateItem } from './dynamodb-items.js';
import { DependencyError } from './errors.js';
import type { RefreshLeases, RefreshLeaseState } from './ports.js';

/** Options of {@link DynamoDbRefreshLeases}. */
export interface DynamoDbRefreshLeasesOptions {
  /** The circuits table (partition key `circuitId`, string). */
  readonly tableName: string;
  readonly client: DynamoDBClient;
}

/** Refresh leases as items of the circuits table. */
export class DynamoDbRefreshLeases implements RefreshLeases {
  private readonly tableName: string;
  private readonly client: DynamoDBClient;

  constructor(options: DynamoDbRefreshLeasesOptions) {
    this.tableName = options.tableName;
    this.client = options.client;
  }

  async acquire(key: string, owner: string, now: number, until: number): Promise<boolean> {
    try {
      await updateItem(this.client, {
        TableName: this.tableName,
        Key: { circuitId: key },
        UpdateExpression: 'SET #owner = :owner, #until = :until, #updatedAt = :now',
        ConditionExpression: 'attribute_not_exists(#owner) OR #until <= :now',
        ExpressionAttributeNames: { '#owner': 'leaseOwner', '#until': 'leaseUntil', '#updatedAt': 'updatedAt' },
        ExpressionAttributeValues: { ':owner': owner, ':until': until, ':now': now },
      });
      return true;
    } catch (error) {
      if (error instanceof ConditionalCheckFailedException) return false;
      throw translate('acquire', key, error);
    }
  }

  async release(key: string, owner: string, outcome: { readonly rejectedRefreshToken?: string }): Promise<void> {
    const rejected = outcome.rejectedRefreshToken;
    try {
      await updateItem(this.client, {
        TableName: this.tableName,
        Key: { circuitId: key },
        UpdateExpression: rejected === undefined ? 'REMOVE #owner, #until, #rejected' : 'SET #rejected = :rejected REMOVE #owner, #until',
        ConditionExpression: '#owner = :owner',
        ExpressionAttributeNames: { '#owner': 'leaseOwner', '#until': 'leaseUntil', '#rejected': 'rejectedRefreshToken' },
        ExpressionAttributeValues: { ':owner': owner, ...(rejected === undefined ? {} : { ':rejected': rejected }) },
      });
    } catch (error) {
      // Someone else holds it now (ours expired): theirs to release.
      if (error instanceof ConditionalCheckFailedException) return;
      throw translate('release', key, error);
    }
  }

  async read(key: string): Promise<RefreshLeaseState> {
    let item: Record<string, unknown> | undefined;
    try {
      item = await getItem(this.client, { TableName: this.tableName, Key: { circuitId: key }, ConsistentRead: true });
    } catch (error) {
      throw translate('read', key, error);
    }
    if (!item) return {};
    return {
      ...(typeof item.leaseOwner === 'string' ? { owner: item.leaseOwner } : {}),
      ...(typeof item.leaseUntil === 'number' ? { until: item.leaseUntil } : {}),
      ...(typeof item.rejectedRefreshToken === 'string' ? { rejectedRefreshToken: item.rejectedRefreshToken } : {}),
    };
  }
}

function translate(operation: string, key: string, error: unknown): DependencyError {
  const reason = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return new DependencyError('Circuits', `refresh lease ${operation} failed for ${key}: ${reason}`, { cause: error });
}
