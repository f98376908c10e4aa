import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as sns from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { type AuthConfig, canRequireReauthorization } from '../../functions/runtime/auth-config.js';
import { assertNoProblems } from '../props-validation.js';
import { runbookBaseUrlProblem, runbookLink } from '../runbooks.js';
import { hubMetric, reauthorizationNeededMetric } from './integration-alarms.js';
import { alarmNamePrefix, runbookAlarm } from './runbook-alarm.js';

/** Props of {@link ProviderCircuitAlarm}. */
export interface ProviderCircuitAlarmProps {
  /** The standalone workflow provider (= its circuit id): the middle of the alarm name. */
  readonly provider: string;
  /** The provider's auth configuration: `oauth2_refresh_token` adds the reauthorization-needed alarm. */
  readonly auth: AuthConfig;
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
 * The circuit alarms of a standalone workflow provider (inventory, shipping, …), as the integrations' alarms of the
 * same names (lib/constructs/integration-alarms.ts), on the gauges the controller and the prober publish for its
 * circuit; missing data never breaches:
 * - `<prefix>-<provider>-circuit-open-too-long`: CircuitOpen ≥ 1 in N−1 of the last N minutes;
 * - `<prefix>-<provider>-reauthorization-needed`, only for auth `oauth2_refresh_token`: ReauthorizationNeeded ≥ 1 in
 *   one 5-minute period.
 */
export class ProviderCircuitAlarm extends Construct {
  /** circuit-open-too-long. */
  readonly alarm: cloudwatch.Alarm;
  /** reauthorization-needed; undefined unless the provider's auth scheme is `oauth2_refresh_token`. */
  readonly reauthorizationNeeded?: cloudwatch.Alarm;
  /** Both of the above that exist. */
  readonly alarms: readonly cloudwatch.Alarm[];

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

    if (canRequireReauthorization(props.auth.scheme)) {
      this.reauthorizationNeeded = runbookAlarm(
        this,
        'ReauthorizationNeeded',
        {
          alarmName: `${prefix}-${props.provider}-reauthorization-needed`,
          description:
            `${props.provider}: the provider refused the OAuth refresh token (invalid_grant, or 401 right after a fresh access token): ` +
            'the circuit is isolated and its workflow tasks fail fast until a person puts a new refresh token in the secret.',
          runbook: runbookLink('reauthorization-needed', props.runbookBaseUrl),
          metric: reauthorizationNeededMetric(this, props.provider),
          threshold: 1,
          evaluationPeriods: 1,
          datapointsToAlarm: 1,
        },
        action,
      );
    }
    this.alarms = [this.alarm, ...(this.reauthorizationNeeded ? [this.reauthorizationNeeded] : [])];
  }
}
