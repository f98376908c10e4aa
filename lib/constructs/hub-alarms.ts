import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { type HubRunbookSlug, runbookLink } from '../runbooks.js';
import { alarmNamePrefix, runbookAlarm } from './runbook-alarm.js';
import { assertNoProblems } from '../props-validation.js';

/** Properties of {@link HubAlarms}. */
export interface HubAlarmsProps {
  /** The circuit controller's function (reads the circuits table's stream). */
  readonly controllerFunction: lambda.IFunction;
  /** The circuit prober's function (scheduled every minute while there is work). */
  readonly proberFunction: lambda.IFunction;
  /** Where the controller's stream mapping sends the records it gave up on. */
  readonly failedRecordsQueue: sqs.IQueue;
  /** Stream batches of ledger transitions the status outbox could not publish (SyncStatusOutbox.metricFailedBatches). */
  readonly statusEventsFailed: cloudwatch.IMetric;
  /** Alarm and OK notifications go here (usually `AlarmTopic.topic`). */
  readonly topic: sns.ITopic;
  /** Base URL of the runbooks (context `runbookBaseUrl`). @default repository paths */
  readonly runbookBaseUrl?: string;
  /** First part of every alarm name (`<prefix>-<slug>`). @default `IntegrationHub-<stage>` (lib/hub-naming.ts) */
  readonly alarmNamePrefix?: string;
}

/** The controller's stream IteratorAge that raises controller-stream-behind: a minute late to pause or resume. */
export const CONTROLLER_ITERATOR_AGE_MS = 60_000;

/**
 * The alarms of the hub's own machinery, one each, named `<prefix>-<slug>` and linking `docs/runbooks/<slug>.md`:
 *
 * | alarm (slug) | metric | fires when |
 * | --- | --- | --- |
 * | controller-records-failed | failed-records queue ApproximateNumberOfMessagesVisible (max, 1 min) | ≥ 1 |
 * | circuit-controller-errors | controller Lambda Errors (sum, 5 min) | ≥ 1 |
 * | circuit-prober-errors | prober Lambda Errors (sum, 1 min) | ≥ 1 in 3 consecutive minutes |
 * | controller-stream-behind | controller Lambda IteratorAge (max, 1 min) | ≥ 60 s in 3 consecutive minutes |
 *
 * Without them a crashing prober would go unnoticed: it is what publishes CircuitOpen, so circuit-open-too-long
 * falls silent exactly when no circuit can close by itself.
 */
export class HubAlarms extends Construct {
  /** Stream records the controller gave up on: a mapping may not match its circuit. */
  readonly controllerRecordsFailed: cloudwatch.Alarm;
  /** The controller failed. */
  readonly controllerErrors: cloudwatch.Alarm;
  /** The prober failed three runs in a row. */
  readonly proberErrors: cloudwatch.Alarm;
  /** The controller reads circuit transitions late. */
  readonly controllerStreamBehind: cloudwatch.Alarm;
  /** Ledger transitions were not published as SyncStatusChanged events. */
  readonly statusEventsFailed: cloudwatch.Alarm;
  /** All of the above, in that order. */
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: HubAlarmsProps) {
    super(scope, id);
    const problems: string[] = [];
    const prefix = alarmNamePrefix(this, props.alarmNamePrefix, problems);
    assertNoProblems(this.node.path, problems);
    const action = new SnsAction(props.topic);
    const create = (
      constructId: string,
      slug: HubRunbookSlug,
      meaning: string,
      metric: cloudwatch.IMetric,
      threshold: number,
      consecutiveMinutes = 1,
    ): cloudwatch.Alarm =>
      runbookAlarm(
        this,
        constructId,
        {
          alarmName: `${prefix}-${slug}`,
          description: meaning,
          runbook: runbookLink(slug, props.runbookBaseUrl),
          metric,
          threshold,
          evaluationPeriods: consecutiveMinutes,
          datapointsToAlarm: consecutiveMinutes,
        },
        action,
      );
    const oneMinute = Duration.minutes(1);

    this.controllerRecordsFailed = create(
      'CircuitControllerRecordsFailed',
      'controller-records-failed',
      'The circuit controller failed on circuits-table stream records after every retry: an integration mapping may not match its circuit.',
      props.failedRecordsQueue.metricApproximateNumberOfMessagesVisible({ period: oneMinute, statistic: cloudwatch.Stats.MAXIMUM }),
      1,
    );
    this.controllerErrors = create(
      'CircuitControllerErrors',
      'circuit-controller-errors',
      'The circuit controller failed (Errors >= 1 in 5 minutes): opening circuits may not pause their mappings, closing ones may not resume them.',
      props.controllerFunction.metricErrors({ period: Duration.minutes(5), statistic: cloudwatch.Stats.SUM }),
      1,
    );
    this.proberErrors = create(
      'CircuitProberErrors',
      'circuit-prober-errors',
      'The circuit prober failed three runs in a row: open circuits are neither probed nor closed, and circuit-open-too-long is silent.',
      props.proberFunction.metricErrors({ period: oneMinute, statistic: cloudwatch.Stats.SUM }),
      1,
      3,
    );
    this.controllerStreamBehind = create(
      'ControllerStreamBehind',
      'controller-stream-behind',
      `The circuit controller reads circuit transitions ${CONTROLLER_ITERATOR_AGE_MS / 1000} s late or more for 3 minutes: mappings pause and resume late.`,
      props.controllerFunction.metric('IteratorAge', { period: oneMinute, statistic: cloudwatch.Stats.MAXIMUM }),
      CONTROLLER_ITERATOR_AGE_MS,
      3,
    );
    this.statusEventsFailed = create(
      'StatusEventsFailed',
      'status-events-failed',
      'The sync status outbox gave up on a batch of ledger transitions: upstream systems did not get their SyncStatusChanged events.',
      props.statusEventsFailed,
      1,
    );
    this.alarms = [this.controllerRecordsFailed, this.controllerErrors, this.proberErrors, this.controllerStreamBehind, this.statusEventsFailed];
  }
}
