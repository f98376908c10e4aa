import { Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { Construct, IConstruct } from 'constructs';
import { HubNaming } from '../hub-naming.js';

/** What one alarm of the hub watches and means; see {@link runbookAlarm}. */
export interface RunbookAlarmSpec {
  readonly alarmName: string;
  /** One line; the runbook link is appended. */
  readonly description: string;
  /** Where the runbook is (`runbookLink(...)`). */
  readonly runbook: string;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
}

/**
 * An alarm as every alarm of the hub is made: fires at or above its threshold, missing data never breaches (no
 * traffic is healthy), notifies `action` when it fires and when it recovers, and links its runbook.
 */
export function runbookAlarm(scope: Construct, id: string, spec: RunbookAlarmSpec, action: SnsAction): cloudwatch.Alarm {
  const alarm = new cloudwatch.Alarm(scope, id, {
    alarmName: spec.alarmName,
    alarmDescription: `${spec.description} Runbook: ${spec.runbook}`,
    metric: spec.metric,
    threshold: spec.threshold,
    evaluationPeriods: spec.evaluationPeriods,
    datapointsToAlarm: spec.datapointsToAlarm,
    comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
    treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
  });
  alarm.addAlarmAction(action);
  alarm.addOkAction(action);
  return alarm;
}

/**
 * The first part of an alarm's name: the one given, else the stage's (lib/hub-naming.ts), so two stages never share
 * an alarm name. A prefix CloudWatch would refuse is added to `problems`.
 */
export function alarmNamePrefix(scope: IConstruct, given: string | undefined, problems: string[]): string {
  const prefix = given ?? HubNaming.of(scope).prefix;
  if (!Token.isUnresolved(prefix) && !/^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/.test(prefix)) {
    problems.push(`alarmNamePrefix must be 1-128 letters, digits, '.', '-' or '_' (got ${JSON.stringify(prefix)})`);
  }
  return prefix;
}
