/**
 * Starts one saga per order:
 *
 *   hub bus ──rule (OrderPlaced from the catalog's sources)──▶ queue ──ESM (partial batch response)──▶ starter λ ──▶ StartExecution
 *              │ undeliverable                                  │ redrive after maxReceiveCount        │ invalid orders, with the reason
 *              └────────────────────────────────────────────────┴──────────────▶ DLQ (14 days) ◀──────┘
 *
 * The starter (functions/workflows/order-saga-starter.ts) names each execution after the order id, so a duplicate
 * OrderPlaced starts nothing (ExecutionAlreadyExists counts as done). It may start executions of exactly this state
 * machine, consume its queue and send to its DLQ — nothing else.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import type { ResolvedOrderSaga } from '../workflow-catalog.js';
import { REPOSITORY_ROOT } from '../catalog.js';
import type { ServiceFunction } from './service-function.js';
import { workflowTaskFunction } from './workflow-parts.js';

/** Props of {@link OrderSagaStarter}. */
export interface OrderSagaStarterProps {
  /** The saga as resolved from the workflow catalog (trigger, starter entry and limits). */
  readonly workflow: ResolvedOrderSaga;
  /** The bus the OrderPlaced events arrive on. */
  readonly bus: events.IEventBus;
  /** The saga's state machine: the only one the starter may start. */
  readonly stateMachine: sfn.IStateMachine;
  /** What happens to the function's log group when it leaves the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Retention of the function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** The directory the catalog's entry paths are relative to. @default the repository root */
  readonly repositoryRoot?: string;
}

/** The starter's Lambda timeout: StartExecution calls only. */
const STARTER_TIMEOUT_SECONDS = 30;

/** The OrderPlaced rule, queue, DLQ and starter function of the saga. */
export class OrderSagaStarter extends Construct {
  /** OrderPlaced events waiting to start a saga. */
  readonly queue: sqs.Queue;
  /** Invalid orders (sent by the starter with the reason), redriven messages and undeliverable events. */
  readonly deadLetterQueue: sqs.Queue;
  /** The starter function. */
  readonly function: ServiceFunction;
  /** The rule routing OrderPlaced events from the bus to the queue. */
  readonly rule: events.Rule;

  constructor(scope: Construct, id: string, props: OrderSagaStarterProps) {
    super(scope, id);
    const { workflow } = props;

    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetterQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'Queue', {
      // SQS-managed SSE: EventBridge can deliver to it without a key policy.
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // SQS's maximum (its default is 4 days): an order waiting out a start failure must not expire.
      retentionPeriod: Duration.days(14),
      // AWS's guidance for SQS event sources: at least 6 × the function timeout.
      visibilityTimeout: Duration.seconds(6 * STARTER_TIMEOUT_SECONDS),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: workflow.starter.maxReceiveCount },
    });

    this.function = workflowTaskFunction(this, 'Function', {
      entry: workflow.starterEntry,
      handler: 'handler',
      description: `integration-hub ${workflow.name}: starts one saga per OrderPlaced event (execution name = order id)`,
      timeoutSeconds: STARTER_TIMEOUT_SECONDS,
      memoryMb: 256,
      repositoryRoot: props.repositoryRoot ?? REPOSITORY_ROOT,
      removalPolicy: props.removalPolicy ?? RemovalPolicy.RETAIN,
      logRetention: props.logRetention,
      environment: { STATE_MACHINE_ARN: props.stateMachine.stateMachineArn },
    });
    props.stateMachine.grantStartExecution(this.function);
    // Invalid orders go straight to the DLQ with the reason (never retried).
    this.function.bindQueue(this.deadLetterQueue, 'DLQ_URL');
    this.function.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize: workflow.starter.batchSize,
        maxConcurrency: workflow.starter.maxConcurrency,
        reportBatchItemFailures: true,
      }),
    );

    this.rule = new events.Rule(this, 'OrderPlaced', {
      eventBus: props.bus,
      description: `${workflow.name}: ${workflow.trigger.detailTypes.join(', ')} from ${workflow.trigger.sources.join(', ')} starts a saga`,
      eventPattern: { source: [...workflow.trigger.sources], detailType: [...workflow.trigger.detailTypes] },
      targets: [new targets.SqsQueue(this.queue, { deadLetterQueue: this.deadLetterQueue })],
    });
  }

  /** The dashboard graph of the starter: queue depth, DLQ depth and starter errors. */
  dashboardWidget(title: string): cloudwatch.IWidget {
    const period = Duration.minutes(1);
    return new cloudwatch.GraphWidget({
      title: `${title} · Starter (OrderPlaced → StartExecution)`,
      width: 8,
      height: 6,
      left: [
        this.queue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM, label: 'Waiting to start' }),
        this.deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period, statistic: cloudwatch.Stats.MAXIMUM, label: 'DLQ (not started)' }),
      ],
      right: [this.function.metricErrors({ period, statistic: cloudwatch.Stats.SUM, label: 'Starter errors' })],
      leftYAxis: { min: 0, showUnits: false },
      rightYAxis: { min: 0, showUnits: false },
    });
  }
}
