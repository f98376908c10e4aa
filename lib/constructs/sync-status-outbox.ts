/**
 * Publishes every sync status transition of the ledger as a `SyncStatusChanged` event on the hub's bus, without a
 * dual write (docs/sync-status-events.md):
 *
 *   ledger table ──stream (NEW_AND_OLD_IMAGES)──▶ EventBridge Pipe ──filter: items with a status──▶
 *       enrichment λ (functions/outbox/sync-status-enrichment.ts: records → one detail per transition, [] for none)
 *       ──▶ hub bus (source integration-hub.ledger, detail-type SyncStatusChanged)
 *   a batch that keeps failing ──▶ dead-letter queue (the records' stream positions) ──▶ alarm status-events-failed
 *
 * Why a pipe and not a publish from the integration's Lambda: the status lives in the ledger item; publishing it
 * from the code that writes it is two writes that can disagree (the Lambda dies between them, or PutEvents fails
 * after the ledger moved). The stream is the ledger's own record of its writes, so an event exists exactly when the
 * write happened. Why a pipe and not a Lambda stream subscription that calls PutEvents: the pipe does the reading,
 * batching, retries and delivery to the bus itself; the only code is the mapping, with no AWS call in it.
 *
 * Order: parallelization 1, one batch per shard at a time, so one entity's transitions leave in order; the events
 * carry their stream position for subscribers (EventBridge does not keep order across deliveries).
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as events from 'aws-cdk-lib/aws-events';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as pipes from 'aws-cdk-lib/aws-pipes';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { fileURLToPath } from 'node:url';
import { SYNC_STATUS_CHANGED, SYNC_STATUS_EVENT_SOURCE } from '../../functions/outbox/sync-status-events.js';
import { assertNoProblems } from '../props-validation.js';
import { ServiceFunction, type ServiceFunctionProps } from './service-function.js';

/** Props of {@link SyncStatusOutbox}. */
export interface SyncStatusOutboxProps {
  /** The sync ledger table; it must have a stream with NEW_AND_OLD_IMAGES (lib/constructs/hub-tables.ts). */
  readonly ledgerTable: dynamodb.ITable;
  /** Where the events go. */
  readonly bus: events.IEventBus;
  /** Stream records per enrichment call and PutEvents (1 – 10: PutEvents takes 10 entries). @default 10 */
  readonly batchSize?: number;
  /** Times a failing batch is retried (it is halved on each failure) before it goes to the dead-letter queue. @default 10 */
  readonly retryAttempts?: number;
  /** Overrides of the enrichment function's props (memory, log retention...). @default 256 MB, 30 s */
  readonly functionProps?: Omit<ServiceFunctionProps, 'entry' | 'handler'>;
  /** Retention of the pipe's error log. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** What happens to the log groups when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
}

/** The filter of the pipe: writes that leave a ledger entry (archived audit logs have no status; removals are not transitions). */
export const LEDGER_STATUS_FILTER = { eventName: ['INSERT', 'MODIFY'], dynamodb: { NewImage: { status: { S: [{ exists: true }] } } } };

export class SyncStatusOutbox extends Construct {
  /** The pipe from the ledger's stream to the bus. */
  readonly pipe: pipes.CfnPipe;
  /** Maps stream records to event details. */
  readonly enrichmentFunction: ServiceFunction;
  /** The stream positions of batches that failed every retry: their transitions were not published. */
  readonly failedBatchesQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: SyncStatusOutboxProps) {
    super(scope, id);
    const batchSize = props.batchSize ?? 10;
    const retryAttempts = props.retryAttempts ?? 10;
    const problems: string[] = [];
    if (!props.ledgerTable.tableStreamArn) problems.push('ledgerTable needs a stream (NEW_AND_OLD_IMAGES)');
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 10) problems.push(`batchSize must be an integer from 1 to 10 (got ${batchSize})`);
    if (!Number.isInteger(retryAttempts) || retryAttempts < 0 || retryAttempts > 185) problems.push(`retryAttempts must be an integer from 0 to 185 (got ${retryAttempts})`);
    assertNoProblems(this.node.path, problems);
    const streamArn = props.ledgerTable.tableStreamArn!;

    this.enrichmentFunction = new ServiceFunction(this, 'Enrichment', {
      description: 'Maps sync ledger stream records to SyncStatusChanged event details (the outbox pipe\'s enrichment)',
      memorySize: 256,
      timeout: Duration.seconds(30),
      logGroupRemovalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      ...props.functionProps,
      entry: fileURLToPath(new URL('../../functions/outbox/sync-status-enrichment.ts', import.meta.url)),
      handler: 'handler',
    });

    this.failedBatchesQueue = new sqs.Queue(this, 'FailedBatches', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.failedBatchesQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the dead-letter target of the outbox pipe (stream batches that failed every retry); a DLQ of it would only move the problem.',
    });

    const logGroup = new logs.LogGroup(this, 'PipeLog', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
    });

    const role = new iam.Role(this, 'PipeRole', {
      description: 'The sync status outbox pipe: reads the ledger stream, calls its enrichment, puts events on the hub bus',
      assumedBy: new iam.ServicePrincipal('pipes.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Stack.of(this).account } } }),
    });
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ReadLedgerStream', actions: ['dynamodb:DescribeStream', 'dynamodb:GetRecords', 'dynamodb:GetShardIterator'], resources: [streamArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ListLedgerStreams', actions: ['dynamodb:ListStreams'], resources: ['*'] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'Enrich', actions: ['lambda:InvokeFunction'], resources: [this.enrichmentFunction.functionArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'PublishStatusEvents', actions: ['events:PutEvents'], resources: [props.bus.eventBusArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'DeadLetter', actions: ['sqs:SendMessage'], resources: [this.failedBatchesQueue.queueArn] }));
    role.addToPolicy(new iam.PolicyStatement({ sid: 'ErrorLog', actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }));
    Validations.of(role.node.tryFindChild('DefaultPolicy') ?? role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'dynamodb:ListStreams supports no resource-level permission; reading records is limited to the ledger table\'s stream.',
    });

    this.pipe = new pipes.CfnPipe(this, 'Pipe', {
      description: 'Sync ledger transitions → SyncStatusChanged events on the hub bus (docs/sync-status-events.md)',
      roleArn: role.roleArn,
      source: streamArn,
      sourceParameters: {
        filterCriteria: { filters: [{ pattern: JSON.stringify(LEDGER_STATUS_FILTER) }] },
        dynamoDbStreamParameters: {
          startingPosition: 'LATEST',
          batchSize,
          // One batch per shard at a time: an entity's transitions are published in the order they happened.
          parallelizationFactor: 1,
          maximumRetryAttempts: retryAttempts,
          // A batch failing because of one record is halved until that record is alone (and dead-lettered).
          onPartialBatchItemFailure: 'AUTOMATIC_BISECT',
          deadLetterConfig: { arn: this.failedBatchesQueue.queueArn },
        },
      },
      enrichment: this.enrichmentFunction.functionArn,
      target: props.bus.eventBusArn,
      targetParameters: { eventBridgeEventBusParameters: { source: SYNC_STATUS_EVENT_SOURCE, detailType: SYNC_STATUS_CHANGED } },
      logConfiguration: { level: 'ERROR', cloudwatchLogsLogDestination: { logGroupArn: logGroup.logGroupArn } },
    });
    this.pipe.node.addDependency(role);
  }

  /** Batches of transitions that failed every retry and were not published (the status-events-failed alarm's metric). */
  metricFailedBatches(): cloudwatch.IMetric {
    return this.failedBatchesQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM });
  }
}
