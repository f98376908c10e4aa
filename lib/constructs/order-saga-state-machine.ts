/**
 * The order-fulfilment saga (Step Functions STANDARD, JSONPath):
 *
 *   ReserveInventory ──▶ ChargePayment ──▶ CreateShipment ──▶ SendConfirmation ──▶ OrderFulfilled (Succeed)
 *         │ catch              │ catch             │ catch              │ catch (all: $.failure)
 *         │                    │                   └──────────▶ CancelShipment
 *         │                    │                                        │
 *         │                    └─────────────────────────────▶ RefundPayment
 *         │                                                             │
 *         └──────────────────────────────────────────────────▶ ReleaseInventory
 *                                                                       │
 *                                                              OrderFailed (Fail)
 *
 *   every compensation: catch ($.compensationFailure) ──▶ CompensationFailed (Fail)
 *
 * A failed step is caught into its OWN compensation, then the completed steps before it are undone in reverse, each
 * once. The failed step's own, because its failure may be ambiguous (a timeout, a lost or unusable answer, a crash
 * after the call: the provider acted, the saga does not know): without the step's result in `$.steps` its
 * compensation asks the provider by the step's Idempotency-Key and undoes what it finds, or answers that there was
 * nothing (functions/workflows/order-saga.ts, forwardEffect). A failed SendConfirmation has no compensation of its
 * own (an e-mail cannot be unsent): it enters CancelShipment. Retries (catalog): transient
 * failures and Lambda service errors with full jitter; an open circuit with long intervals (wait for the
 * provider, do not compensate at once); Integration.Permanent never (compensate now). A compensation that still
 * fails after its generous retries ends in the distinct CompensationFailed state: an operator finishes the undo
 * (docs/runbooks/saga-compensation-failed.md), and the CompensationFailed metric filter raises its alarm.
 *
 * Every task gets `{ order, steps, executionName: $$.Execution.Name, retryCount: $$.State.RetryCount }`; a forward
 * step's result (the contract's SagaSteps fields only) goes to `$.steps.<step>`, a compensation's to
 * `$.compensations.<step>`. The task functions are functions/workflows/order-saga.ts, one per export, each with
 * the base URL, secret (read access to that one only) and circuit settings of its own provider.
 */
import { Duration, RemovalPolicy, Stack } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ResolvedOrderSaga } from '../workflow-catalog.js';
import { REPOSITORY_ROOT } from '../catalog.js';
import { TABLE_ITEM_ACTIONS } from './hub-tables.js';
import type { ServiceFunction } from './service-function.js';
import type { WorkflowProviders } from './workflow-providers.js';
import { HubNaming } from '../hub-naming.js';
import {
  acknowledgeStateMachinePolicy,
  addTaskRetries,
  stateMachineGraphs,
  stateMachineLogGroup,
  stateMachineObservability,
  taskFunctionErrorsGraph,
  workflowTaskFunction,
} from './workflow-parts.js';


/** The saga's task exports (functions/workflows/order-saga.ts), in execution order: forward steps, then compensations. */
export const ORDER_SAGA_TASKS = [
  'reserveInventory',
  'chargePayment',
  'createShipment',
  'sendConfirmation',
  'cancelShipment',
  'refundPayment',
  'releaseInventory',
] as const;

/** One task export of the saga. */
export type OrderSagaTask = (typeof ORDER_SAGA_TASKS)[number];

/** A forward step of the saga (the keys of `$.steps`). */
export type OrderSagaStep = 'reserveInventory' | 'chargePayment' | 'createShipment' | 'sendConfirmation';

/** Props of {@link OrderSagaStateMachine}. */
export interface OrderSagaStateMachineProps {
  /** The saga as resolved from the workflow catalog. */
  readonly workflow: ResolvedOrderSaga;
  /** The providers' secrets and settings; each task function is bound to its step's provider. */
  readonly providers: WorkflowProviders;
  /** The sync ledger (the steps' idempotency records and status rows): read/write. */
  readonly ledgerTable: dynamodb.ITable;
  /** The shared circuits table: read/write. */
  readonly circuitsTable: dynamodb.ITable;
  /** What happens to the log groups when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Retention of the state machine's and the functions' log groups. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** The directory the catalog's entry paths are relative to. @default the repository root */
  readonly repositoryRoot?: string;
}

/** Per task: the Step Functions state name, the provider role it calls, and the result it keeps. */
const TASK_SPECS: Record<OrderSagaTask, { state: string; provider: keyof ResolvedOrderSaga['providers']; description: string; keep?: readonly string[] }> = {
  reserveInventory: { state: 'ReserveInventory', provider: 'inventory', description: 'reserves the order items', keep: ['reservationId'] },
  chargePayment: { state: 'ChargePayment', provider: 'payments', description: 'charges the order amount', keep: ['chargeId', 'status'] },
  createShipment: { state: 'CreateShipment', provider: 'shipping', description: 'creates the shipment', keep: ['shipmentId', 'trackingNumber'] },
  sendConfirmation: { state: 'SendConfirmation', provider: 'email', description: 'e-mails the confirmation', keep: ['messageId'] },
  cancelShipment: { state: 'CancelShipment', provider: 'shipping', description: 'compensation: cancels the shipment' },
  refundPayment: { state: 'RefundPayment', provider: 'payments', description: 'compensation: refunds the charge' },
  releaseInventory: { state: 'ReleaseInventory', provider: 'inventory', description: 'compensation: releases the reservation' },
};

/** The state names of the saga's terminal states. */
export const ORDER_SAGA_STATES = {
  succeeded: 'OrderFulfilled',
  failed: 'OrderFailed',
  compensationFailed: 'CompensationFailed',
} as const;

/** The `Error` of the saga's Fail states. */
export const ORDER_SAGA_ERRORS = {
  /** The order could not be fulfilled; every completed step was undone. Cause: the failed step's error. */
  orderFailed: 'OrderFailed',
  /** A compensation gave up; an operator must finish the undo. Cause: the compensation's error. */
  compensationFailed: 'CompensationFailed',
} as const;

/** The saga's state machine, its seven task functions, its log group and the CompensationFailed metric. */
export class OrderSagaStateMachine extends Construct {
  /** The resolved catalog entry. */
  readonly workflow: ResolvedOrderSaga;
  /** The state machine (STANDARD, logging ALL, X-Ray). */
  readonly stateMachine: sfn.StateMachine;
  /** Where the state machine logs its execution events. */
  readonly logGroup: logs.LogGroup;
  /** The task functions, by task export. */
  readonly taskFunctions: ReadonlyMap<OrderSagaTask, ServiceFunction>;
  /** Executions that ended in CompensationFailed (a metric filter on the log group; Sum per period). */
  readonly compensationFailedMetric: cloudwatch.Metric;

  constructor(scope: Construct, id: string, props: OrderSagaStateMachineProps) {
    super(scope, id);
    const { workflow } = props;
    this.workflow = workflow;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    const functions = new Map<OrderSagaTask, ServiceFunction>();
    for (const task of ORDER_SAGA_TASKS) {
      const spec = TASK_SPECS[task];
      const fn = workflowTaskFunction(this, `${spec.state}Function`, {
        entry: workflow.entry,
        handler: task,
        description: `integration-hub ${workflow.name}: ${spec.state} (${spec.description})`,
        timeoutSeconds: workflow.functionTimeoutSeconds,
        memoryMb: workflow.memoryMb,
        repositoryRoot: props.repositoryRoot ?? REPOSITORY_ROOT,
        removalPolicy,
        logRetention: props.logRetention,
      });
      const provider = props.providers.bind(fn, workflow.providers[spec.provider].name);
      fn.bindTable(props.ledgerTable, { actions: TABLE_ITEM_ACTIONS.ledger }, 'LEDGER_TABLE_NAME');
      // Its provider's circuit only (an integration's provider shares the integration's circuit).
      fn.bindTable(props.circuitsTable, { actions: TABLE_ITEM_ACTIONS.circuits, leadingKeys: [provider.integration ?? provider.name] }, 'CIRCUITS_TABLE_NAME');
      functions.set(task, fn);
    }
    this.taskFunctions = functions;

    const invoke = (task: OrderSagaTask, resultPath: string): tasks.LambdaInvoke => {
      const spec = TASK_SPECS[task];
      return new tasks.LambdaInvoke(this, spec.state, {
        comment: `${spec.description} (${workflow.providers[spec.provider].name})`,
        lambdaFunction: functions.get(task)!,
        // The function's ARN as the Resource: the task input is exactly the Parameters below.
        payloadResponseOnly: true,
        // The catalog's retriers replace CDK's default service-exception retry (no jitter, no cap).
        retryOnServiceExceptions: false,
        payload: sfn.TaskInput.fromObject({
          order: sfn.JsonPath.objectAt('$.order'),
          steps: sfn.JsonPath.objectAt('$.steps'),
          executionName: sfn.JsonPath.executionName,
          retryCount: sfn.JsonPath.numberAt('$$.State.RetryCount'),
        }),
        // Forward steps keep exactly the contract's fields: the state stays small whatever the provider answered.
        resultSelector: spec.keep ? Object.fromEntries(spec.keep.map((field) => [field, sfn.JsonPath.stringAt(`$.${field}`)])) : undefined,
        resultPath,
      });
    };

    // Terminal states.
    const fulfilled = new sfn.Succeed(this, ORDER_SAGA_STATES.succeeded, { comment: 'Every step done' });
    const orderFailed = new sfn.Fail(this, ORDER_SAGA_STATES.failed, {
      comment: 'A step failed and every completed step was undone',
      error: ORDER_SAGA_ERRORS.orderFailed,
      causePath: '$.failure.Cause',
    });
    const compensationFailed = new sfn.Fail(this, ORDER_SAGA_STATES.compensationFailed, {
      comment: 'A compensation gave up after its retries: an operator must finish the undo (runbook saga-compensation-failed)',
      error: ORDER_SAGA_ERRORS.compensationFailed,
      causePath: '$.compensationFailure.Cause',
    });

    // Compensations, chained BEFORE the state machine is built: undo in reverse, then fail with the cause.
    const releaseInventory = invoke('releaseInventory', '$.compensations.releaseInventory');
    const refundPayment = invoke('refundPayment', '$.compensations.refundPayment');
    const cancelShipment = invoke('cancelShipment', '$.compensations.cancelShipment');
    for (const compensation of [releaseInventory, refundPayment, cancelShipment]) {
      addTaskRetries(compensation, workflow.compensationRetry);
      compensation.addCatch(compensationFailed, { errors: [sfn.Errors.ALL], resultPath: '$.compensationFailure' });
    }
    cancelShipment.next(refundPayment);
    refundPayment.next(releaseInventory);
    releaseInventory.next(orderFailed);

    // Forward steps: each caught failure enters the step's own compensation, which reconciles an ambiguous failure
    // with the provider (asked by the step's Idempotency-Key, not guessed), then undoes the steps before it.
    const reserveInventory = invoke('reserveInventory', '$.steps.reserveInventory');
    const chargePayment = invoke('chargePayment', '$.steps.chargePayment');
    const createShipment = invoke('createShipment', '$.steps.createShipment');
    const sendConfirmation = invoke('sendConfirmation', '$.steps.sendConfirmation');
    const compensationOf: [tasks.LambdaInvoke, sfn.IChainable][] = [
      [reserveInventory, releaseInventory],
      [chargePayment, refundPayment],
      [createShipment, cancelShipment],
      // An e-mail cannot be unsent: the undo starts with the shipment.
      [sendConfirmation, cancelShipment],
    ];
    for (const [step, compensation] of compensationOf) {
      addTaskRetries(step, workflow.retry);
      step.addCatch(compensation, { errors: [sfn.Errors.ALL], resultPath: '$.failure' });
    }
    const definition = reserveInventory.next(chargePayment).next(createShipment).next(sendConfirmation).next(fulfilled);

    this.logGroup = stateMachineLogGroup(this, 'LogGroup', workflow.name, { removalPolicy, retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: `integration-hub ${workflow.name}: ${workflow.description}`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: Duration.minutes(workflow.executionTimeoutMinutes),
      ...stateMachineObservability(this.logGroup),
    });
    acknowledgeStateMachinePolicy(this.stateMachine, [...functions.values()]);

    // CompensationFailed from the execution events (state names are logged without execution data).
    const metricName = `${Stack.of(this).stackName}-${workflow.name}-CompensationFailed`;
    new logs.MetricFilter(this, 'CompensationFailedFilter', {
      logGroup: this.logGroup,
      filterPattern: logs.FilterPattern.all(
        logs.FilterPattern.stringValue('$.type', '=', 'FailStateEntered'),
        logs.FilterPattern.stringValue('$.details.name', '=', ORDER_SAGA_STATES.compensationFailed),
      ),
      metricNamespace: HubNaming.of(this).workflowMetricsNamespace,
      metricName,
      metricValue: '1',
    });
    this.compensationFailedMetric = new cloudwatch.Metric({
      namespace: HubNaming.of(this).workflowMetricsNamespace,
      metricName,
      statistic: cloudwatch.Stats.SUM,
      period: Duration.minutes(5),
    });
  }

  /** The dashboard graphs of the saga: executions, duration, compensations that gave up, task function errors. */
  dashboardWidgets(): cloudwatch.IWidget[] {
    return [
      ...stateMachineGraphs(this.workflow.name, this.stateMachine, Duration.minutes(this.workflow.executionTimeoutMinutes)),
      new cloudwatch.GraphWidget({
        title: `${this.workflow.name} · Compensation failed (operator needed)`,
        width: 8,
        height: 6,
        left: [this.compensationFailedMetric.with({ label: 'Executions ended in CompensationFailed' })],
        leftAnnotations: [{ value: 1, label: 'alarm', color: '#d62728' }],
        leftYAxis: { min: 0, showUnits: false },
      }),
      taskFunctionErrorsGraph(this.workflow.name, this.taskFunctions as ReadonlyMap<string, lambda.IFunction>),
    ];
  }
}
