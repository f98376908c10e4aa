import { RemovalPolicy } from 'aws-cdk-lib';
import { AttributeType, BillingMode, StreamViewType, Table, TableEncryption, type TableProps } from 'aws-cdk-lib/aws-dynamodb';
import type { IKey } from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';

/** Props of {@link HubTables}. */
export interface HubTablesProps {
  /**
   * What happens to the tables (and their data) when they leave the stack. Use DESTROY only for throwaway dev stacks.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /**
   * A customer managed KMS key for every table. Bring one when you need to control the key policy (revoke access,
   * share across accounts, separate duties); grants then include the key.
   * @default the AWS managed key `aws/dynamodb`
   */
  readonly encryptionKey?: IKey;
}

/**
 * The item actions each table's users send (functions/runtime/dynamodb-sync-ledger.ts, dynamodb-circuit-store.ts,
 * functions/workflows/dynamodb-checkpoint-store.ts): functions are granted these, never Scan, BatchWriteItem or
 * DeleteItem.
 */
export const TABLE_ITEM_ACTIONS = {
  ledger: ['dynamodb:GetItem', 'dynamodb:Query', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  circuits: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  checkpoints: ['dynamodb:GetItem', 'dynamodb:UpdateItem'],
} as const;

/**
 * The hub's shared state (docs/architecture.md "Shared state"): circuit state (streamed to the circuit controller),
 * the sync ledger (which also holds each operation's idempotency record, in the same item) and the sync checkpoints. On-demand billing, point-in-time recovery, KMS encryption, retained
 * by default.
 *
 * Encryption: the AWS managed key (`aws/dynamodb`) by default. Unlike the default AWS owned key, its use is visible
 * in CloudTrail and governed by IAM in this account; unlike a customer managed key, it costs nothing and has no key
 * policy to get wrong. Every reader of these tables is in this account and authorised by IAM, which the managed
 * key already enforces, so a customer managed key would add cost and a failure mode without adding control we
 * use. Pass `encryptionKey` when that changes (cross-account readers, crypto-shredding, separation of duties).
 */
export class HubTables extends Construct {
  /** Shared circuit breaker state: key `circuitId`; stream NEW_AND_OLD_IMAGES for the circuit controller. */
  public readonly circuits: Table;
  /** Sync status and audit log: `pk` = `entityType#entityId`, `sk` = integration or `log#<iso-ts>#<seq>`; streamed (NEW_AND_OLD_IMAGES) to the status outbox. */
  public readonly ledger: Table;
  /** Cursors / watermarks of incremental syncs: key `syncId`. */
  public readonly checkpoints: Table;

  constructor(scope: Construct, id: string, props: HubTablesProps = {}) {
    super(scope, id);
    const common: Omit<TableProps, 'partitionKey'> = {
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      ...(props.encryptionKey
        ? { encryption: TableEncryption.CUSTOMER_MANAGED, encryptionKey: props.encryptionKey }
        : { encryption: TableEncryption.AWS_MANAGED }),
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    };

    this.circuits = new Table(this, 'Circuits', {
      ...common,
      partitionKey: { name: 'circuitId', type: AttributeType.STRING },
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
    });
    this.ledger = new Table(this, 'Ledger', {
      ...common,
      partitionKey: { name: 'pk', type: AttributeType.STRING },
      sortKey: { name: 'sk', type: AttributeType.STRING },
      // Read by the sync status outbox (sync-status-outbox.ts): each transition becomes an event from the write itself.
      stream: StreamViewType.NEW_AND_OLD_IMAGES,
    });
    this.checkpoints = new Table(this, 'Checkpoints', {
      ...common,
      partitionKey: { name: 'syncId', type: AttributeType.STRING },
    });
  }

  /** Every table, for iteration (outputs, dashboards, backups). */
  get all(): Readonly<Record<'circuits' | 'ledger' | 'checkpoints', Table>> {
    return { circuits: this.circuits, ledger: this.ledger, checkpoints: this.checkpoints };
  }
}
