import { Aws, Duration, Stack, Token } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import type { ResolvedIntegration } from '../catalog.js';
import { RUNBOOK_SLUGS, runbookBaseUrlProblem, runbookLink } from '../runbooks.js';
import { HubNaming } from '../hub-naming.js';
import { SERVICE_NAME } from '../telemetry.js';

/** One integration as the dashboards see it: its catalog entry and the resources it runs on. */
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
  /** The integrations the header lists, in this order, each with the name of its detail dashboard. */
  readonly integrations: readonly { readonly integration: ResolvedIntegration; readonly detailDashboardName?: string }[];
  /** Dashboard names are unique per account. @default `<prefix>-<region>` (lib/hub-naming.ts) */
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
const ALARMS_PER_WIDGET = 100;

/**
 * The hub's overview dashboard: a header (the integrations and their detail dashboards, the runbooks, the status of
 * every alarm added with {@link addAlarms}), then graphs over all integrations at once, and room for later sections
 * ({@link addSection}, {@link addRow}). Its widget count does not grow with the catalog: each integration's detail is
 * a dashboard of its own (integration-dashboard.ts).
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
      // Dashboard names are unique per account: the prefix carries the stage (lib/hub-naming.ts), and the region.
      dashboardName: props.dashboardName ?? `${HubNaming.of(this).prefix}-${Aws.REGION}`,
      defaultInterval: props.defaultInterval ?? Duration.hours(3),
    });

    this.dashboard.addWidgets(new cloudwatch.TextWidget({ markdown: headerMarkdown(props, HubNaming.of(this).metricsNamespace), width: GRID, height: 5 }));
    this.dashboard.addWidgets(new DeferredAlarmStatusWidget(this.#alarms));
    this.#addOverview();
  }

  /**
   * Shows these alarms in the header's alarm status widget (e.g. every `IntegrationAlarms.alarms`). An alarm of
   * another stack is shown by its name, not by a reference: a reference would export its ARN from that stack and
   * block removing the alarm while this dashboard imports it.
   */
  addAlarms(...alarms: cloudwatch.IAlarm[]): void {
    const here = Stack.of(this);
    for (const alarm of alarms) {
      if (Stack.of(alarm) === here) {
        this.#alarms.push(alarm);
        continue;
      }
      const name = (alarm.node.defaultChild as cloudwatch.CfnAlarm | undefined)?.alarmName;
      if (name === undefined || Token.isUnresolved(name)) {
        throw new HubDashboardConfigurationError([`alarm ${alarm.node.path} is in another stack and has no literal name: give it an alarmName`]);
      }
      this.#alarms.push(cloudwatch.Alarm.fromAlarmName(this, `Alarm${this.#alarms.length}`, name));
    }
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

  /** Four graphs over every integration at once (SEARCH expressions): as many series as integrations, never more widgets. */
  #addOverview(): void {
    const search = (metricName: string, statistic: string, label: string, dimensions = 'integration,service') =>
      new cloudwatch.MathExpression({
        expression: `SEARCH('{${HubNaming.of(this).metricsNamespace},${dimensions}} MetricName="${metricName}" service="${SERVICE_NAME}"', '${statistic}', 60)`,
        usingMetrics: {},
        label,
        period: ONE_MINUTE,
      });
    const graph = (title: string, metric: cloudwatch.IMetric, stacked = false) =>
      new cloudwatch.GraphWidget({ title, left: [metric], stacked, width: WIDGET_WIDTH, height: WIDGET_HEIGHT, period: ONE_MINUTE, leftYAxis: { min: 0, showUnits: false } });
    this.addSection(
      'All integrations',
      'One series per integration. Each integration has a detail dashboard of its own (named in the header).',
      graph('Provider calls succeeded', search('CallSucceeded', 'Sum', "${PROP('Dim.integration')}")),
      graph('Provider calls failed', search('CallFailed', 'Sum', "${PROP('Dim.integration')} ${PROP('Dim.errorClass')}", 'errorClass,integration,service'), true),
      graph('Circuit open (1 = not calling the provider)', search('CircuitOpen', 'Maximum', "${PROP('Dim.integration')}")),
      graph('Messages parked while the circuit is open', search('CircuitRejected', 'Sum', "${PROP('Dim.integration')}"), true),
    );
  }
}

function headerMarkdown(props: HubDashboardProps, metricsNamespace: string): string {
  const runbooks = RUNBOOK_SLUGS.map((slug) => {
    const link = runbookLink(slug, props.runbookBaseUrl);
    return props.runbookBaseUrl ? `[${slug}](${link})` : `\`${link}\``;
  }).join(' · ');
  const integrations = props.integrations
    .map(({ integration, detailDashboardName }) => `**${integration.name}**${detailDashboardName ? ` (dashboard \`${detailDashboardName}\`)` : ''}`)
    .join(' · ');
  return [
    '# Integration Hub',
    `Integrations: ${integrations}`,
    'Here: every alarm, and provider calls, failures, circuits and parked messages across all integrations. On each detail dashboard: ' +
      'messages received vs. calls, failures by error class, latency per attempt, the circuit, queue and DLQ depth, the oldest message and the function. ' +
      `Custom metrics: namespace \`${metricsNamespace}\`, dimensions ` + '`service`=`integration-hub` + `integration`. ' +
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

  /** The alarms of each widget: CloudWatch's alarm status widget shows at most 100. */
  get #chunks(): cloudwatch.IAlarm[][] {
    const chunks: cloudwatch.IAlarm[][] = [];
    for (let i = 0; i < this.#alarms.length; i += ALARMS_PER_WIDGET) chunks.push(this.#alarms.slice(i, i + ALARMS_PER_WIDGET));
    return chunks;
  }

  #heightOf(alarms: number): number {
    // One line of tiles per four alarms, plus the title.
    return Math.min(1 + Math.ceil(alarms / 4), 12);
  }

  get height(): number {
    return this.#chunks.reduce((sum, chunk) => sum + this.#heightOf(chunk.length), 0);
  }

  position(x: number, y: number): void {
    this.#x = x;
    this.#y = y;
  }

  toJson(): unknown[] {
    let y = this.#y;
    return this.#chunks.flatMap((alarms, index, chunks) => {
      const widget = new cloudwatch.AlarmStatusWidget({
        title: chunks.length > 1 ? `Alarms (${index + 1}/${chunks.length})` : 'Alarms',
        alarms,
        width: this.width,
        height: this.#heightOf(alarms.length),
        sortBy: cloudwatch.AlarmStatusWidgetSortBy.STATE_UPDATED_TIMESTAMP,
      });
      widget.position(this.#x, y);
      y += widget.height;
      return widget.toJson();
    });
  }
}
