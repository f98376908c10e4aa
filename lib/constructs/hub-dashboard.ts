import { Aws, Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ResolvedIntegration } from '../catalog.js';
import { RUNBOOK_SLUGS, runbookBaseUrlProblem, runbookLink } from '../runbooks.js';
import { hubMetric, hubMetricByErrorClassSearch } from './integration-alarms.js';

/** One integration as the dashboard sees it: its catalog entry and the resources it runs on. */
export interface HubDashboardIntegration {
  /** The catalog entry (name, description, limits, alarm thresholds drawn as annotations). */
  readonly integration: ResolvedIntegration;
  /** The integration's source queue. */
  readonly queue: sqs.IQueue;
  /** The integration's dead-letter queue. */
  readonly deadLetterQueue: sqs.IQueue;
  /** The integration's Lambda function. */
  readonly handler: lambda.IFunction;
}

/** Properties of {@link HubDashboard}. */
export interface HubDashboardProps {
  /** A row of widgets per integration, in this order. */
  readonly integrations: readonly HubDashboardIntegration[];
  /** Dashboard names are unique per account. @default `<stack name>-<region>` */
  readonly dashboardName?: string;
  /** Links in the header point here (context `runbookBaseUrl`). @default repository paths `docs/runbooks/<slug>.md` */
  readonly runbookBaseUrl?: string;
  /** Time range shown when the dashboard opens. @default 3 hours */
  readonly defaultInterval?: Duration;
}

/** Thrown when the dashboard's configuration is invalid; lists every problem. */
export class HubDashboardConfigurationError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`HubDashboard: invalid configuration:\n- ${problems.join('\n- ')}`);
    this.name = 'HubDashboardConfigurationError';
  }
}

const GRID = 24;
const WIDGET_WIDTH = 6;
const WIDGET_HEIGHT = 6;
const ONE_MINUTE = Duration.minutes(1);

/**
 * The hub's one CloudWatch dashboard: a header (what is on it, the runbooks, the status of every alarm added with
 * {@link addAlarms}), then a section per integration — what came in, what the provider answered, how fast, the
 * circuit, the queues and the function — and room for later sections ({@link addSection}, {@link addRow}).
 */
export class HubDashboard extends Construct {
  /** The dashboard. */
  readonly dashboard: cloudwatch.Dashboard;
  readonly #alarms: cloudwatch.IAlarm[] = [];

  constructor(scope: Construct, id: string, props: HubDashboardProps) {
    super(scope, id);
    const problems: string[] = [];
    if (props.integrations.length === 0) problems.push('integrations must name at least one integration');
    const names = props.integrations.map((i) => i.integration.name);
    const twice = names.filter((n, i) => names.indexOf(n) !== i);
    if (twice.length > 0) problems.push(`integrations appear twice: ${[...new Set(twice)].join(', ')}`);
    if (props.dashboardName !== undefined && !Token.isUnresolved(props.dashboardName) && !/^[A-Za-z0-9_-]{1,255}$/.test(props.dashboardName)) {
      problems.push(`dashboardName must be 1-255 letters, digits, '-' or '_' (got ${JSON.stringify(props.dashboardName)})`);
    }
    const baseUrlProblem = runbookBaseUrlProblem(props.runbookBaseUrl);
    if (baseUrlProblem) problems.push(baseUrlProblem);
    if (problems.length > 0) throw new HubDashboardConfigurationError(problems);

    this.dashboard = new cloudwatch.Dashboard(this, 'Dashboard', {
      // Stack names are unique per region, dashboard names per account.
      dashboardName: props.dashboardName ?? `${Stack.of(this).stackName}-${Aws.REGION}`,
      defaultInterval: props.defaultInterval ?? Duration.hours(3),
    });

    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: headerMarkdown(props), width: GRID, height: 5 }));
    this.dashboard.addWidgets(new DeferredAlarmStatusWidget(this.#alarms));
    for (const entry of props.integrations) this.#addIntegration(entry);
  }

  /** Shows these alarms in the header's alarm status widget (e.g. every `IntegrationAlarms.alarms`). */
  addAlarms(...alarms: cloudwatch.IAlarm[]): void {
    this.#alarms.push(...alarms);
  }

  /** Appends one row of widgets (wrapping at the 24-column grid) below everything added so far. */
  addRow(...widgets: cloudwatch.IWidget[]): void {
    this.dashboard.addWidgets(...widgets);
  }

  /** Appends a titled section: a markdown heading, then its widgets. For later parts of the hub (workflows, webhooks). */
  addSection(title: string, description: string, ...widgets: cloudwatch.IWidget[]): void {
    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: `## ${title}\n${description}`, width: GRID, height: 2 }));
    if (widgets.length > 0) this.dashboard.addWidgets(...widgets);
  }

  #addIntegration({ integration, queue, deadLetterQueue, handler }: HubDashboardIntegration): void {
    const name = integration.name;
    const metric = (metricName: Parameters<typeof hubMetric>[1], statistic: string, label: string) =>
      hubMetric(name, metricName, { period: ONE_MINUTE, statistic, label });
    const graph = (title: string, options: Omit<cloudwatch.GraphWidgetProps, 'title' | 'width' | 'height'>) =>
      new cloudwatch.GraphWidget({ title: `${name} · ${title}`, width: WIDGET_WIDTH, height: WIDGET_HEIGHT, period: ONE_MINUTE, ...options });
    const { alarms } = integration;

    this.addSection(
      `${name}`,
      `${integration.description} — batch ${integration.batchSize}, max concurrency ${integration.maxConcurrency}, ` +
        `timeout ${integration.functionTimeoutSeconds} s, DLQ after ${integration.maxReceiveCount} receives. ` +
        `Alarms: DLQ ≥ 1, oldest message ≥ ${alarms.oldestMessageAgeSeconds} s, circuit open ${alarms.circuitOpenMinutes} min, ` +
        `function errors ≥ ${alarms.functionErrors} / 5 min.`,
      graph('Messages', {
        left: [
          queue.metricNumberOfMessagesReceived({ period: ONE_MINUTE, statistic: cloudwatch.Stats.SUM, label: 'Received (SQS)' }),
          metric('CallSucceeded', cloudwatch.Stats.SUM, 'Succeeded calls'),
          new cloudwatch.MathExpression({
            expression: `SUM(${hubMetricByErrorClassSearch(name, 'CallFailed')})`,
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
            expression: hubMetricByErrorClassSearch(name, 'CallFailed'),
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
        left: [metric('CircuitOpen', cloudwatch.Stats.MAXIMUM, 'Circuit open (1 = open/half-open/isolated)')],
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
            expression: hubMetricByErrorClassSearch(name, 'PoisonMessage'),
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

function headerMarkdown(props: HubDashboardProps): string {
  const runbooks = RUNBOOK_SLUGS.map((slug) => {
    const link = runbookLink(slug, props.runbookBaseUrl);
    return props.runbookBaseUrl ? `[${slug}](${link})` : `\`${link}\``;
  }).join(' · ');
  const integrations = props.integrations.map(({ integration }) => `**${integration.name}** (${integration.description})`).join(' · ');
  return [
    '# Integration Hub',
    `Integrations: ${integrations}`,
    'Per integration: messages received vs. provider calls succeeded/failed, failures by error class, provider latency per attempt, ' +
      'circuit state (1 = not calling the provider) and parked messages, queue and DLQ depth, age of the oldest message, and the function. ' +
      'Custom metrics: namespace `IntegrationHub`, dimensions `service`=`integration-hub` + `integration`. ' +
      'Logs: CloudWatch Logs Insights on the integration function log groups, filter on `correlationId`, `integration`, `errorClass`, `idempotencyKey`.',
    `Runbooks: ${runbooks}`,
  ].join('\n\n');
}

/**
 * An alarm status widget whose alarms can still be added after the dashboard is built (the body is rendered at
 * synth). Renders nothing, at zero height, while it has no alarm: CloudWatch rejects an empty alarm list.
 */
class DeferredAlarmStatusWidget implements cloudwatch.IWidget {
  readonly #alarms: readonly cloudwatch.IAlarm[];
  readonly warnings: string[] = [];
  readonly warningsV2: { [id: string]: string } = {};
  #x = 0;
  #y = 0;

  constructor(alarms: readonly cloudwatch.IAlarm[]) {
    this.#alarms = alarms;
  }

  get width(): number {
    return GRID;
  }

  get height(): number {
    // One line of tiles per four alarms, plus the title.
    return this.#alarms.length === 0 ? 0 : Math.min(1 + Math.ceil(this.#alarms.length / 4), 12);
  }

  position(x: number, y: number): void {
    this.#x = x;
    this.#y = y;
  }

  toJson(): unknown[] {
    if (this.#alarms.length === 0) return [];
    const widget = new cloudwatch.AlarmStatusWidget({
      title: 'Alarms',
      // The widget shows at most 100 alarms.
      alarms: this.#alarms.slice(0, 100),
      width: this.width,
      height: this.height,
      sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
    });
    widget.position(this.#x, this.#y);
    return widget.toJson();
  }
}
