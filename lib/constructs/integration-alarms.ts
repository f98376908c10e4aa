import { Duration } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sns from 'aws-cdk-lib/aws-sns';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct, type IConstruct } from 'constructs';
import { canRequireReauthorization } from '../../functions/runtime/auth-config.js';
import type { ResolvedIntegration } from '../catalog.js';
import { RUNBOOK_SLUGS, type RunbookSlug, runbookBaseUrlProblem, runbookLink } from '../runbooks.js';
import { HubNaming } from '../hub-naming.js';
import { SERVICE_NAME } from '../telemetry.js';
import { alarmNamePrefix, runbookAlarm } from './runbook-alarm.js';

// ------------------------------------------------------------------ the hub's custom metrics

/*
 * Powertools Metrics adds its service name as a `service` dimension to EVERY data point, so the runtime's metrics
 * (and the ops functions' CircuitOpen) are stored under `{service, integration}` — and `{service, integration,
 * errorClass}` for CallFailed / PoisonMessage — never under `integration` alone. CloudWatch matches dimension sets
 * exactly: alarms and graphs must name both.
 */

/**
 * The custom metrics the dashboards and alarms read (the runtime's RuntimeMetric, plus CircuitOpen and
 * ReauthorizationNeeded from the circuit controller and prober, functions/ops/circuit-gauge.ts).
 */
export type HubMetricName =
  | 'CallSucceeded'
  | 'CallFailed'
  | 'CallLatency'
  | 'RetryAttempts'
  | 'CircuitOpened'
  | 'CircuitRejected'
  | 'Throttled'
  | 'IdempotentReplay'
  | 'PoisonMessage'
  | 'StaleSkipped'
  | 'BreakerStoreFallback'
  | 'HandedBack'
  | 'CircuitOpen'
  | 'ReauthorizationNeeded'
  | 'WebhookReceived'
  | 'WebhookRejected'
  | 'WebhookDuplicate'
  | 'WebhookForwarded'
  | 'WebhookForwardFailed';

/** The dimensions an integration's custom metrics carry. */
export function hubMetricDimensions(integration: string): Record<string, string> {
  return { service: SERVICE_NAME, integration };
}

/** One custom metric of an integration (the stage's namespace, lib/hub-naming.ts; dimensions service + integration). */
export function hubMetric(scope: IConstruct, integration: string, metricName: HubMetricName, options: cloudwatch.MetricOptions = {}): cloudwatch.Metric {
  return new cloudwatch.Metric({
    namespace: HubNaming.of(scope).metricsNamespace,
    metricName,
    dimensionsMap: hubMetricDimensions(integration),
    ...options,
  });
}

/**
 * A search over a metric emitted per error class (CallFailed, PoisonMessage; WebhookRejectedByReason, whose reason is the class), one series per class of the
 * integration. The quoted values make it an exact match (`crm` does not also match `crm-legacy`).
 */
export function hubMetricByErrorClassSearch(
  scope: IConstruct,
  integration: string,
  metricName: 'CallFailed' | 'PoisonMessage' | 'WebhookRejectedByReason',
  statistic = 'Sum',
  periodSeconds = 60,
): string {
  return (
    `SEARCH('{${HubNaming.of(scope).metricsNamespace},errorClass,integration,service} MetricName="${metricName}" ` +
    `integration="${integration}" service="${SERVICE_NAME}"', '${statistic}', ${periodSeconds})`
  );
}

// ------------------------------------------------------------------ the alarms

/**
 * The metric of the reauthorization-needed alarm of a circuit (an integration's or a standalone workflow provider's):
 * the Maximum of ReauthorizationNeeded over 5 minutes. The prober publishes it every minute while the circuit waits,
 * so one skipped run leaves no empty period (an empty one counts as OK and would send a false recovery).
 */
export function reauthorizationNeededMetric(scope: IConstruct, circuit: string): cloudwatch.Metric {
  return hubMetric(scope, circuit, 'ReauthorizationNeeded', { period: Duration.minutes(5), statistic: cloudwatch.Stats.MAXIMUM });
}

/** Age of the oldest DLQ message that raises dlq-message-expiring: 10 days, four before SQS's 14-day retention ends. */
export const DLQ_EXPIRY_WARNING_SECONDS = 10 * 86_400;

/** Properties of {@link IntegrationAlarms}. */
export interface IntegrationAlarmsProps {
  /** The catalog entry; its `alarms` block gives the thresholds. */
  readonly integration: ResolvedIntegration;
  /** The integration's source queue. */
  readonly queue: sqs.IQueue;
  /** The integration's dead-letter queue. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The integration's Lambda function. */
  readonly handler: lambda.IFunction;
  /** Alarm and OK notifications go here (usually `AlarmTopic.topic`). */
  readonly topic: sns.ITopic;
  /**
   * Base URL of the runbooks (context `runbookBaseUrl`), e.g. `https://github.com/acme/integration-hub/blob/main/docs/runbooks`.
   * @default descriptions link the repository path `docs/runbooks/<alarm>.md`
   */
  readonly runbookBaseUrl?: string;
  /**
   * First part of every alarm name (`<prefix>-<integration>-<alarm>`). Alarm names are unique per account and
   * region: change it when two copies of the hub share one.
   * @default `IntegrationHub-<stage>` (lib/hub-naming.ts)
   */
  readonly alarmNamePrefix?: string;
}

/** Thrown when the alarms' configuration is invalid; lists every problem. */
export class IntegrationAlarmsConfigurationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`IntegrationAlarms: invalid configuration:\n- ${problems.join('\n- ')}`);
    this.name = 'IntegrationAlarmsConfigurationError';
  }
}

/** What one alarm watches; the construct turns it into a CloudWatch alarm with actions and a runbook link. */
interface AlarmSpec {
  readonly slug: RunbookSlug;
  readonly metric: cloudwatch.IMetric;
  readonly threshold: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
  readonly meaning: string;
}

/**
 * The alarms of one integration, each notifying `topic` when it fires AND when it recovers, each named
 * `<prefix>-<integration>-<slug>` and described in one line with a link to `docs/runbooks/<slug>.md`:
 *
 * | alarm (slug) | metric | fires when |
 * | --- | --- | --- |
 * | dlq-not-empty | DLQ ApproximateNumberOfMessagesVisible (max, 1 min) | ≥ 1 |
 * | oldest-message-too-old | queue ApproximateAgeOfOldestMessage (max, 1 min) | ≥ alarms.oldestMessageAgeSeconds |
 * | circuit-open-too-long | IntegrationHub CircuitOpen (max, 1 min) | ≥ 1 in N−1 of N minutes, N = alarms.circuitOpenMinutes |
 * | function-errors | Lambda Errors (sum, 5 min) | ≥ alarms.functionErrors |
 * | breaker-store-fallback | IntegrationHub BreakerStoreFallback (sum, 5 min) | ≥ 1 |
 * | dlq-message-expiring | DLQ ApproximateAgeOfOldestMessage (max, 5 min) | ≥ 10 days (SQS deletes at 14) |
 * | function-throttled | Lambda Throttles (sum, 5 min) | ≥ 1 |
 * | reauthorization-needed | IntegrationHub ReauthorizationNeeded (max, 5 min) | ≥ 1, once; only for auth `oauth2_refresh_token` |
 *
 * Missing data never breaches: a queue with no traffic, or a circuit that is closed (the prober stops publishing
 * CircuitOpen and ReauthorizationNeeded), is healthy. reauthorization-needed does not wait `circuitOpenMinutes`:
 * the circuit stays isolated until a person puts a new refresh token in the secret.
 */
export class IntegrationAlarms extends Construct {
  /** Every runbook slug an alarm of this construct links to (a file `docs/runbooks/<slug>.md` each). */
  static readonly RUNBOOK_SLUGS: readonly RunbookSlug[] = RUNBOOK_SLUGS;

  /** Messages are waiting in the DLQ. */
  readonly dlqNotEmpty: cloudwatch.Alarm;
  /** The oldest message of the source queue is older than the catalog's threshold. */
  readonly oldestMessageTooOld: cloudwatch.Alarm;
  /** The circuit has been open, half-open or isolated for the catalog's number of minutes. */
  readonly circuitOpenTooLong: cloudwatch.Alarm;
  /** The function failed (init error, timeout, crash) at least the catalog's number of times in 5 minutes. */
  readonly functionErrors: cloudwatch.Alarm;
  /** The circuits table failed and instances fell back to per-instance breakers. */
  readonly breakerStoreFallback: cloudwatch.Alarm;
  /** A dead-lettered message is old enough that SQS will delete it within days. */
  readonly dlqMessageExpiring: cloudwatch.Alarm;
  /** Lambda throttled the function: throttled batches come back and use up receives. */
  readonly functionThrottled: cloudwatch.Alarm;
  /**
   * The provider refused the refresh token and the circuit waits for a new one. Only for auth scheme
   * `oauth2_refresh_token` (undefined otherwise: no other scheme isolates a circuit for re-authorization).
   */
  readonly reauthorizationNeeded?: cloudwatch.Alarm;
  /** All of the above that exist, in that order. */
  readonly alarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: IntegrationAlarmsProps) {
    super(scope, id);
    const { integration, queue, deadLetterQueue, handler } = props;
    const problems: string[] = [];
    const prefix = alarmNamePrefix(this, props.alarmNamePrefix, problems);
    const baseUrlProblem = runbookBaseUrlProblem(props.runbookBaseUrl);
    if (baseUrlProblem) problems.push(baseUrlProblem);
    const { oldestMessageAgeSeconds, circuitOpenMinutes, functionErrors } = integration.alarms;
    if (!(Number.isInteger(oldestMessageAgeSeconds) && oldestMessageAgeSeconds >= 60)) {
      problems.push(`integration '${integration.name}': alarms.oldestMessageAgeSeconds must be an integer >= 60 (got ${oldestMessageAgeSeconds})`);
    }
    // A 1-minute alarm may look back at most one day.
    if (!(Number.isInteger(circuitOpenMinutes) && circuitOpenMinutes >= 1 && circuitOpenMinutes <= 1440)) {
      problems.push(`integration '${integration.name}': alarms.circuitOpenMinutes must be an integer from 1 to 1440 (got ${circuitOpenMinutes})`);
    }
    if (!(Number.isInteger(functionErrors) && functionErrors >= 1)) {
      problems.push(`integration '${integration.name}': alarms.functionErrors must be an integer >= 1 (got ${functionErrors})`);
    }
    if (problems.length > 0) throw new IntegrationAlarmsConfigurationError(problems);

    const name = integration.name;
    const oneMinute = Duration.minutes(1);
    const fiveMinutes = Duration.minutes(5);
    const action = new SnsAction(props.topic);
    const create = (constructId: string, spec: AlarmSpec): cloudwatch.Alarm =>
      runbookAlarm(
        this,
        constructId,
        {
          alarmName: `${prefix}-${name}-${spec.slug}`,
          description: `${name}: ${spec.meaning}`,
          runbook: runbookLink(spec.slug, props.runbookBaseUrl),
          metric: spec.metric,
          threshold: spec.threshold,
          evaluationPeriods: spec.evaluationPeriods,
          datapointsToAlarm: spec.datapointsToAlarm,
        },
        action,
      );

    this.dlqNotEmpty = create('DlqNotEmpty', {
      slug: 'dlq-not-empty',
      metric: deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: oneMinute, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 1,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      meaning: 'messages are waiting in the dead-letter queue (>= 1): events that were not delivered and need a decision (fix and redrive, or discard).',
    });
    this.oldestMessageTooOld = create('OldestMessageTooOld', {
      slug: 'oldest-message-too-old',
      metric: queue.metricApproximateAgeOfOldestMessage({ period: oneMinute, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: oldestMessageAgeSeconds,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      meaning: `the oldest message in the queue is ${oldestMessageAgeSeconds} s old or more: deliveries are falling behind, failing and retrying, or parked behind an open circuit.`,
    });
    this.circuitOpenTooLong = create('CircuitOpenTooLong', {
      slug: 'circuit-open-too-long',
      metric: hubMetric(this, name, 'CircuitOpen', { period: oneMinute, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: 1,
      evaluationPeriods: circuitOpenMinutes,
      // The prober reports CircuitOpen once a minute; one skipped run must not restart the count.
      datapointsToAlarm: Math.max(1, circuitOpenMinutes - 1),
      meaning: `the circuit to the provider has been open, half-open or isolated for about ${circuitOpenMinutes} minute(s): no calls are made and messages are parked.`,
    });
    this.functionErrors = create('FunctionErrors', {
      slug: 'function-errors',
      metric: handler.metricErrors({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
      threshold: functionErrors,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      meaning: `the function failed ${functionErrors} time(s) or more in 5 minutes (configuration error at init, timeout, out of memory or a crash), so whole batches return to the queue.`,
    });
    this.breakerStoreFallback = create('BreakerStoreFallback', {
      slug: 'breaker-store-fallback',
      metric: hubMetric(this, name, 'BreakerStoreFallback', { period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      meaning: 'the circuits table failed and Lambda instances fell back to per-instance circuit breakers (BreakerStoreFallback >= 1 in 5 minutes): the provider is no longer protected as one.',
    });
    this.dlqMessageExpiring = create('DlqMessageExpiring', {
      slug: 'dlq-message-expiring',
      metric: deadLetterQueue.metricApproximateAgeOfOldestMessage({ period: fiveMinutes, statistic: cloudwatch.Stats.MAXIMUM }),
      threshold: DLQ_EXPIRY_WARNING_SECONDS,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      meaning: `a message has been in the dead-letter queue for ${DLQ_EXPIRY_WARNING_SECONDS / 86_400} days: SQS deletes it after 14, so redrive or archive it before then.`,
    });
    this.functionThrottled = create('FunctionThrottled', {
      slug: 'function-throttled',
      metric: handler.metricThrottles({ period: fiveMinutes, statistic: cloudwatch.Stats.SUM }),
      threshold: 1,
      evaluationPeriods: 1,
      datapointsToAlarm: 1,
      meaning: 'Lambda throttled the function (Throttles >= 1 in 5 minutes): throttled batches return to the queue and use up receives, so valid messages can reach the DLQ.',
    });
    if (canRequireReauthorization(integration.auth.scheme)) {
      this.reauthorizationNeeded = create('ReauthorizationNeeded', {
        slug: 'reauthorization-needed',
        metric: reauthorizationNeededMetric(this, name),
        threshold: 1,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
        meaning:
          'the provider refused the OAuth refresh token (invalid_grant, or 401 right after a fresh access token): the circuit is isolated and messages are parked ' +
          'until a person puts a new refresh token in the secret.',
      });
    }
    this.alarms = [
      this.dlqNotEmpty,
      this.oldestMessageTooOld,
      this.circuitOpenTooLong,
      this.functionErrors,
      this.breakerStoreFallback,
      this.dlqMessageExpiring,
      this.functionThrottled,
      ...(this.reauthorizationNeeded ? [this.reauthorizationNeeded] : []),
    ];
  }
}
