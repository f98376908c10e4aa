import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { assertNoProblems } from '../props-validation.js';
import { runbookBaseUrlProblem, runbookLink } from '../runbooks.js';
import { hubMetric } from './integration-alarms.js';
import { alarmNamePrefix } from './runbook-alarm.js';

/** Props of {@link ProviderCircuitAlarm}. */
export interface ProviderCircuitAlarmProps {
  /** The standalone workflow provider (= its circuit id): the middle of the alarm name. */
  readonly provider: string;
  /** Alarm and OK notifications go here (usually `AlarmTopic.topic`). */
  readonly topic: sns.ITopic;
  /** Minutes the circuit must have been open, half-open or isolated. 1 – 1440. @default 15 (the integrations' default) */
  readonly circuitOpenMinutes?: number;
  /** Base URL of the runbooks (context `runbookBaseUrl`). @default descriptions link the repository path */
  readonly runbookBaseUrl?: string;
  /** First part of the alarm name (`<prefix>-<provider>-circuit-open-too-long`). @default `IntegrationHub-<stage>` (lib/hub-naming.ts) */
  readonly alarmNamePrefix?: string;
}

/**
 * `<prefix>-<provider>-circuit-open-too-long` for a standalone workflow provider (inventory, shipping, …): the
 * CircuitOpen metric the controller and the prober publish for its circuit, ≥ 1 in N−1 of the last N minutes, as
 * the integrations' alarm of the same name (runbook circuit-open-too-long). Missing data never breaches.
 */
export class ProviderCircuitAlarm extends Construct {
  readonly alarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: ProviderCircuitAlarmProps) {
    super(scope, id);
    const minutes = props.circuitOpenMinutes ?? 15;
    const problems: string[] = [];
    const prefix = alarmNamePrefix(this, props.alarmNamePrefix, problems);
    const baseUrlProblem = runbookBaseUrlProblem(props.runbookBaseUrl);
    if (baseUrlProblem) problems.push(baseUrlProblem);
    // A 1-minute alarm may look back at most one day.
    if (!(Number.isInteger(minutes) && minutes >= 1 && minutes <= 1440)) problems.push(`circuitOpenMinutes must be an integer from 1 to 1440 (got ${minutes})`);
    assertNoProblems(this.node.path, problems);

    this.alarm = new cloudwatch.Alarm(this, 'CircuitOpenTooLong', {
      alarmName: `${prefix}-${props.provider}-circuit-open-too-long`,
      alarmDescription:
        `${props.provider}: the circuit to this workflow provider has been open, half-open or isolated for about ${minutes} minute(s): ` +
        'its workflow tasks fail fast with Integration.CircuitOpen (sagas wait and then compensate, syncs fail and resume later). ' +
        `Runbook: ${runbookLink('circuit-open-too-long', props.runbookBaseUrl)}`,
      metric: hubMetric(this, props.provider, 'CircuitOpen', { period: Duration.minutes(1), statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 1,
      evaluationPeriods: minutes,
      // The prober reports CircuitOpen once a minute; one skipped run must not restart the count.
      datapointsToAlarm: Math.max(1, minutes - 1),
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    const action = new SnsAction(props.topic);
    this.alarm.addAlarmAction(action);
    this.alarm.addOkAction(action);
  }
}
