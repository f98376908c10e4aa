import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import type * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import { Construct } from 'constructs';
import { runbookBaseUrlProblem, runbookLink, type WorkflowRunbookSlug } from '../runbooks.js';
import { assertNoProblems } from '../props-validation.js';
import { alarmNamePrefix } from './runbook-alarm.js';

/** Props of {@link WorkflowAlarms}. */
export interface WorkflowAlarmsProps {
  /** The workflow's catalog name: the middle of every alarm name. */
  readonly workflowName: string;
  /** The workflow's state machine. */
  readonly stateMachine: sfn.IStateMachine;
  /** The runbook of the failed-executions alarm (`saga-executions-failed` or `sync-executions-failed`). */
  readonly executionsFailedRunbook: WorkflowRunbookSlug;
  /** What a failed execution means for this workflow, in one sentence (the alarm description). */
  readonly executionsFailedMeaning: string;
  /** A saga's CompensationFailed metric (Sum): adds the compensation-failed alarm. */
  readonly compensationFailedMetric?: cloudwatch.IMetric;
  /** A starter's DLQ: adds the not-started alarm (OrderPlaced events that started no saga). */
  readonly starterDeadLetterQueue?: sqs.IQueue;
  /** Alarm and OK notifications go here (usually `AlarmTopic.topic`). */
  readonly topic: sns.ITopic;
  /** Base URL of the runbooks (context `runbookBaseUrl`). @default descriptions link the repository path */
  readonly runbookBaseUrl?: string;
  /** First part of every alarm name (`<prefix>-<workflow>-<alarm>`). @default `IntegrationHub-<stage>` (lib/hub-naming.ts) */
  readonly alarmNamePrefix?: string;
}

/**
 * The alarms of one Step Functions workflow, each notifying `topic` when it fires and when it recovers, each named
 * `<prefix>-<workflow>-<alarm>` and described in one line with a link to its runbook:
 *
 * | alarm | metric | fires when | runbook |
 * | --- | --- | --- | --- |
 * | executions-failed | ExecutionsFailed + ExecutionsTimedOut (sum, 5 min) | ≥ 1 | saga-/sync-executions-failed |
 * | compensation-failed | the CompensationFailed metric filter (sum, 5 min) | ≥ 1 | saga-compensation-failed |
 * | not-started | starter DLQ ApproximateNumberOfMessagesVisible (max, 1 min) | ≥ 1 | saga-not-started |
 *
 * Missing data never breaches: no executions is healthy.
 */
export class WorkflowAlarms extends Construct {
  /** Executions that failed or timed out. */
  readonly executionsFailed: cloudwatch.Alarm;
  /** A saga ended in CompensationFailed: an operator must finish the undo. */
  readonly compensationFailed?: cloudwatch.Alarm;
  /** OrderPlaced events are in the starter's DLQ: no saga was started for them. */
  readonly notStarted?: cloudwatch.Alarm;
  /** Every alarm above that exists, in that order. */
  readonly alarms: readonly cloudwatch.Alarm[];
  /** The runbook slug of each alarm, by alarm (for tests and docs). */
  readonly runbooks: ReadonlyMap<cloudwatch.Alarm, WorkflowRunbookSlug>;

  constructor(scope: Construct, id: string, props: WorkflowAlarmsProps) {
    super(scope, id);
    const problems: string[] = [];
    const prefix = alarmNamePrefix(this, props.alarmNamePrefix, problems);
    const baseUrlProblem = runbookBaseUrlProblem(props.runbookBaseUrl);
    if (baseUrlProblem) problems.push(baseUrlProblem);
    assertNoProblems(this.node.path, problems);

    const action = new SnsAction(props.topic);
    const runbooks = new Map<cloudwatch.Alarm, WorkflowRunbookSlug>();
    const create = (constructId: string, suffix: string, slug: WorkflowRunbookSlug, metric: cloudwatch.IMetric, meaning: string) => {
      const alarm = new cloudwatch.Alarm(this, constructId, {
        alarmName: `${prefix}-${props.workflowName}-${suffix}`,
        alarmDescription: `${props.workflowName}: ${meaning} Runbook: ${runbookLink(slug, props.runbookBaseUrl)}`,
        metric,
        threshold: 1,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm.addAlarmAction(action);
      alarm.addOkAction(action);
      runbooks.set(alarm, slug);
      return alarm;
    };

    const fiveMinutes = Duration.minutes(5);
    const sum = { period: fiveMinutes, statistic: cloudwatch.Stats.SUM };
    this.executionsFailed = create(
      'ExecutionsFailed',
      'executions-failed',
      props.executionsFailedRunbook,
      new cloudwatch.MathExpression({
        expression: 'FILL(failed, 0) + FILL(timedOut, 0)',
        usingMetrics: { failed: props.stateMachine.metricFailed(sum), timedOut: props.stateMachine.metricTimedOut(sum) },
        label: 'Executions failed or timed out',
        period: fiveMinutes,
      }),
      `${props.executionsFailedMeaning} (ExecutionsFailed + ExecutionsTimedOut >= 1 in 5 minutes)`,
    );
    if (props.compensationFailedMetric) {
      this.compensationFailed = create(
        'CompensationFailed',
        'compensation-failed',
        'saga-compensation-failed',
        props.compensationFailedMetric,
        'a compensation gave up after its retries (CompensationFailed >= 1 in 5 minutes): an order is partly undone and needs an operator.',
      );
    }
    if (props.starterDeadLetterQueue) {
      this.notStarted = create(
        'NotStarted',
        'not-started',
        'saga-not-started',
        props.starterDeadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
        'OrderPlaced events are in the starter DLQ (>= 1): no saga was started for these orders.',
      );
    }
    this.alarms = [this.executionsFailed, this.compensationFailed, this.notStarted].filter((alarm): alarm is cloudwatch.Alarm => alarm !== undefined);
    this.runbooks = runbooks;
  }
}
