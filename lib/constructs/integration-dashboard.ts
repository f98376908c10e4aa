import { Aws, Duration, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { Construct } from 'constructs';
import { canRequireReauthorization } from '../../functions/runtime/auth-config.js';
import { HubNaming } from '../hub-naming.js';
import { integrationRunbookSlugs, runbookBaseUrlProblem, runbookLink } from '../runbooks.js';
import type { HubDashboardIntegration } from './hub-dashboard.js';
import { hubMetric, hubMetricByErrorClassSearch } from './integration-alarms.js';

/** Properties of {@link IntegrationDashboard}. */
export interface IntegrationDashboardProps extends HubDashboardIntegration {
  /** The integration's alarms, shown at the top. */
  readonly alarms: readonly cloudwatch.IAlarm[];
  /** Dashboard names are unique per account. @default `<prefix>-<integration>-<region>` (integrationDashboardName) */
  readonly dashboardName?: string;
  /** Runbook links point here (context `runbookBaseUrl`). @default repository paths `docs/runbooks/<slug>.md` */
  readonly runbookBaseUrl?: string;
  /** Time range shown when the dashboard opens. @default 3 hours */
  readonly defaultInterval?: Duration;
}

const GRID = 24;
const WIDGET_WIDTH = 6;
const WIDGET_HEIGHT = 6;
const ONE_MINUTE = Duration.minutes(1);

/**
 * The detail dashboard of one integration: its alarms, then what came in, what the provider answered, how fast, the
 * circuit, the queues and the function (11 graphs). One per integration, so that no dashboard grows with the catalog
 * (CloudWatch caps a dashboard's widgets); the hub's overview (hub-dashboard.ts) links them.
 */
export class IntegrationDashboard extends Construct {
  /** The dashboard. */
  readonly dashboard: cloudwatch.Dashboard;
  /** Its name as given (no reference to the dashboard: another stack's overview names it as text). */
  readonly dashboardName: string;

  constructor(scope: Construct, id: string, props: IntegrationDashboardProps) {
    super(scope, id);
    const { integration, queue, deadLetterQueue, handler } = props;
    const problems: string[] = [];
    if (props.dashboardName !== undefined && !Token.isUnresolved(props.dashboardName) && !/^[A-Za-z0-9_-]{1,255}$/.test(props.dashboardName)) {
      problems.push(`dashboardName must be 1-255 letters, digits, '-' or '_' (got ${JSON.stringify(props.dashboardName)})`);
    }
    const baseUrlProblem = runbookBaseUrlProblem(props.runbookBaseUrl);
    if (baseUrlProblem) problems.push(baseUrlProblem);
    if (props.alarms.length > 100) problems.push(`an alarm status widget shows at most 100 alarms (got ${props.alarms.length})`);
    if (problems.length > 0) throw new Error(`IntegrationDashboard ${integration.name}: invalid configuration:\n- ${problems.join('\n- ')}`);

    this.dashboardName = props.dashboardName ?? integrationDashboardName(HubNaming.of(this).prefix, integration.name);
    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      dashboardName: this.dashboardName,
      defaultInterval: props.defaultInterval ?? Duration.hours(3),
    });
    const name = integration.name;
    const metric = (metricName: Parameters<typeof hubMetric>[2], statistic: string, label: string) =>
      hubMetric(this, name, metricName, { period: ONE_MINUTE, statistic, label });
    const graph = (title: string, options: Omit<cloudwatch.GraphWidgetProps, 'title' | 'width' | 'height'>) =>
      new cloudwatch.GraphWidget({ title: `${name} · ${title}`, width: WIDGET_WIDTH, height: WIDGET_HEIGHT, period: ONE_MINUTE, ...options });
    const { alarms } = integration;

    const runbooks = integrationRunbookSlugs(integration.auth.scheme).map((slug) => {
      const link = runbookLink(slug, props.runbookBaseUrl);
      return props.runbookBaseUrl ? `[${slug}](${link})` : `\`${link}\``;
    }).join(' · ');
    this.dashboard.addWidgets(
      new cloudwatch.TextWidget({
        markdown:
          `# ${name}\n${integration.description} — batch ${integration.batchSize}, max concurrency ${integration.maxConcurrency}, ` +
          `timeout ${integration.functionTimeoutSeconds} s, DLQ after ${integration.maxReceiveCount} receives. ` +
          `Alarms: DLQ ≥ 1, oldest message ≥ ${alarms.oldestMessageAgeSeconds} s, circuit open ${alarms.circuitOpenMinutes} min, ` +
          `function errors ≥ ${alarms.functionErrors} / 5 min` +
          `${canRequireReauthorization(integration.auth.scheme) ? ', re-authorization needed' : ''}.\n\nRunbooks: ${runbooks}`,
        width: GRID,
        height: 3,
      }),
    );
    if (props.alarms.length > 0) {
      this.dashboard.addWidgets(
        new cloudwatch.AlarmStatusWidget({
          title: `${name} · alarms`,
          alarms: [...props.alarms],
          width: GRID,
          height: 1 + Math.ceil(props.alarms.length / 4),
          sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
        }),
      );
    }
    this.dashboard.addWidgets(
      graph('Messages', {
        left: [
          queue.metricNumberOfMessagesReceived({ period: ONE_MINUTE, statistic: cloudwatch.Stats.SUM, label: 'Received (SQS)' }),
          metric('CallSucceeded', cloudwatch.Stats.SUM, 'Succeeded calls'),
          new cloudwatch.MathExpression({
            expression: `SUM(${hubMetricByErrorClassSearch(this, name, 'CallFailed')})`,
            usingMetrics: {},
            label: 'Failed calls (all classes)',
            period: ONE_MINUTE,
          }),
        ],
        leftYAxis: { min: 0, showUnits: false },
      }),
      graph('Failed calls by error class', {
        left: [
          new cloudwatch.MathExpression({
            expression: hubMetricByErrorClassSearch(this, name, 'CallFailed'),
            usingMetrics: {},
            label: '${PROP(\'Dim.errorClass\')}',
            period: ONE_MINUTE,
          }),
        ],
        stacked: true,
        leftYAxis: { min: 0, showUnits: false },
      }),
      graph('Provider latency (per attempt)', {
        left: [50, 90, 99].map((p) => metric('CallLatency', cloudwatch.Stats.p(p), `p${p}`)),
        leftAnnotations:
          integration.httpTimeoutMs !== undefined ? [{ value: integration.httpTimeoutMs, label: 'HTTP timeout', color: '#d62728' }] : [],
        leftYAxis: { min: 0, label: 'ms', showUnits: false },
      }),
      graph('Circuit', {
        left: [
          metric('CircuitOpen', cloudwatch.Stats.MAXIMUM, 'Circuit open (1 = open/half-open/isolated)'),
          ...(canRequireReauthorization(integration.auth.scheme)
            ? [metric('ReauthorizationNeeded', cloudwatch.Stats.MAXIMUM, 'Re-authorization needed (1 = waiting for a new refresh token)')]
            : []),
        ],
        right: [
          metric('CircuitRejected', cloudwatch.Stats.SUM, 'Rejected: circuit open (parked)'),
          metric('Throttled', cloudwatch.Stats.SUM, 'Rejected: provider Retry-After (parked)'),
          metric('CircuitOpened', cloudwatch.Stats.SUM, 'Circuit opened'),
        ],
        leftYAxis: { min: 0, max: 1, showUnits: false },
        rightYAxis: { min: 0, showUnits: false },
      }),
      graph('Queue depth', {
        left: [
          queue.metricApproximateNumberOfMessagesVisible({ period: ONE_MINUTE, statistic: cloudwatch.Stats.MAXIMUM, label: 'Visible (waiting)' }),
          queue.metricApproximateNumberOfMessagesNotVisible({ period: ONE_MINUTE, statistic: cloudwatch.Stats.MAXIMUM, label: 'In flight or parked' }),
        ],
        leftYAxis: { min: 0, showUnits: false },
      }),
      graph('Age of oldest message', {
        left: [queue.metricApproximateAgeOfOldestMessage({ period: ONE_MINUTE, statistic: cloudwatch.Stats.MAXIMUM, label: 'Oldest message (s)' })],
        leftAnnotations: [{ value: alarms.oldestMessageAgeSeconds, label: 'alarm', color: '#d62728' }],
        leftYAxis: { min: 0, label: 's', showUnits: false },
      }),
      graph('Dead-letter queue', {
        left: [deadLetterQueue.metricApproximateNumberOfMessagesVisible({ period: ONE_MINUTE, statistic: cloudwatch.Stats.MAXIMUM, label: 'DLQ depth' })],
        right: [
          new cloudwatch.MathExpression({
            expression: hubMetricByErrorClassSearch(this, name, 'PoisonMessage'),
            usingMetrics: {},
            label: 'Poison: ${PROP(\'Dim.errorClass\')}',
            period: ONE_MINUTE,
          }),
        ],
        leftAnnotations: [{ value: 1, label: 'alarm', color: '#d62728' }],
        leftYAxis: { min: 0, showUnits: false },
        rightYAxis: { min: 0, showUnits: false },
      }),
      graph('Runtime events', {
        left: [
          metric('RetryAttempts', cloudwatch.Stats.SUM, 'In-process retries'),
          metric('IdempotentReplay', cloudwatch.Stats.SUM, 'Duplicates answered from the ledger'),
          metric('StaleSkipped', cloudwatch.Stats.SUM, 'Stale events skipped'),
          metric('BreakerStoreFallback', cloudwatch.Stats.SUM, 'Circuits table fallback'),
        ],
        leftYAxis: { min: 0, showUnits: false },
      }),
      graph('Lambda errors and throttles', {
        left: [
          handler.metricErrors({ period: ONE_MINUTE, statistic: cloudwatch.Stats.SUM, label: 'Errors' }),
          handler.metricThrottles({ period: ONE_MINUTE, statistic: cloudwatch.Stats.SUM, label: 'Throttles' }),
        ],
        leftYAxis: { min: 0, showUnits: false },
      }),
      graph('Lambda duration', {
        left: [
          handler.metricDuration({ period: ONE_MINUTE, statistic: cloudwatch.Stats.p(50), label: 'p50' }),
          handler.metricDuration({ period: ONE_MINUTE, statistic: cloudwatch.Stats.p(99), label: 'p99' }),
          handler.metricDuration({ period: ONE_MINUTE, statistic: cloudwatch.Stats.MAXIMUM, label: 'max' }),
        ],
        leftAnnotations: [{ value: integration.functionTimeoutSeconds * 1000, label: 'timeout', color: '#d62728' }],
        leftYAxis: { min: 0, label: 'ms', showUnits: false },
      }),
      graph('Lambda concurrency', {
        left: [handler.metric('ConcurrentExecutions', { period: ONE_MINUTE, statistic: cloudwatch.Stats.MAXIMUM, label: 'Concurrent executions' })],
        leftAnnotations: [{ value: integration.maxConcurrency, label: 'event source max concurrency', color: '#ff7f0e' }],
        leftYAxis: { min: 0, showUnits: false },
      }),
    );
  }
}

/**
 * The detail dashboard's default name, `<prefix>-<integration>-<region>` (the prefix carries the stage,
 * lib/hub-naming.ts): dashboard names are unique per account, across regions and stages.
 */
export function integrationDashboardName(prefix: string, integration: string): string {
  return `${prefix}-${integration}-${Aws.REGION}`;
}
