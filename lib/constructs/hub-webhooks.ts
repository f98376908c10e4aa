import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { type CfnStage, HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { pascalCase, type ResolvedIntegration, type ResolvedWebhooks } from '../catalog.js';
import { HubNaming } from '../hub-naming.js';
import { runbookLink } from '../runbooks.js';
import type { HubDashboard } from './hub-dashboard.js';
import { hubMetric, hubMetricByErrorClassSearch } from './integration-alarms.js';
import { runbookAlarm } from './runbook-alarm.js';
import { WebhookEndpoint, webhookPath } from './webhook-endpoint.js';

/** Props of {@link HubWebhooks}. */
export interface HubWebhooksProps {
  /** The integrations; those whose entry declares `webhooks` get an endpoint. */
  readonly integrations: readonly ResolvedIntegration[];
  readonly bus: IEventBus;
  readonly alarmTopic: ITopic;
  readonly removalPolicy?: RemovalPolicy;
  readonly runbookBaseUrl?: string;
}

/** The output naming an integration's webhook function's log group (`npm run hub -- webhooks` reads its rejections there). */
export function webhookLogGroupOutputKey(integration: string): string {
  return `${pascalCase(integration)}WebhookLogGroupName`;
}

/**
 * The outputs the operator CLI and providers' setup read: the endpoints' base URL, the delivery-id table, and each
 * endpoint function's log group (its name is generated: the function's log group is explicit, lib/constructs/service-function.ts).
 */
export function webhookOutputs(stack: Construct, webhooks: HubWebhooks): void {
  new CfnOutput(stack, 'WebhooksUrl', { value: webhooks.url, description: 'Base of the webhook endpoints: <url>/webhooks/<integration>' });
  new CfnOutput(stack, 'WebhookDeliveriesTableName', { value: webhooks.deliveriesTable.tableName, description: 'The webhook delivery-id table' });
  for (const [integration, endpoint] of webhooks.endpoints) {
    new CfnOutput(stack, webhookLogGroupOutputKey(integration), {
      value: endpoint.function.logGroup.logGroupName,
      description: `The log group of the ${integration} webhook function (rejections and replays)`,
    });
  }
}

/** 5xx answers of the webhook API in 5 minutes that raise webhook-5xx. */
const SERVER_ERROR_ALARM_THRESHOLD = 5;

/** An integration that declares webhooks. */
type WithWebhooks = ResolvedIntegration & { readonly webhooks: ResolvedWebhooks };

/** Whether any integration declares webhooks (a stage deploys the webhooks only then). */
export function declaresWebhooks(integrations: readonly { readonly webhooks?: unknown }[]): boolean {
  return integrations.some((integration) => integration.webhooks !== undefined);
}

/**
 * The stage's inbound webhooks (docs/webhooks.md, docs/architecture.md "Why an HTTP API for webhooks"): ONE API
 * Gateway HTTP API with a route per provider (`POST /webhooks/<name>`), each throttled on its own and logged, the
 * table of delivery ids that makes a replay harmless (TTL `expiration`, Powertools idempotency), one
 * {@link WebhookEndpoint} per provider, and the API's 5xx alarm.
 */
export class HubWebhooks extends Construct {
  readonly api: HttpApi;
  readonly stage: HttpStage;
  readonly deliveriesTable: Table;
  readonly endpoints: ReadonlyMap<string, WebhookEndpoint>;
  readonly serverErrorAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: HubWebhooksProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const naming = HubNaming.of(this);
    const withWebhooks = props.integrations.filter((integration): integration is WithWebhooks => integration.webhooks !== undefined);

    this.deliveriesTable = new Table(this, 'Deliveries', {
      partitionKey: { name: 'id', type: AttributeType.STRING },
      // Powertools idempotency's expiry attribute: a delivery id is forgotten after the provider's retry window.
      timeToLiveAttribute: 'expiration',
      billingMode: BillingMode.PAY_PER_REQUEST,
      pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
      encryption: TableEncryption.AWS_MANAGED,
      removalPolicy,
    });

    this.api = new HttpApi(this, 'Api', {
      apiName: `${naming.prefix}-webhooks`,
      description: `integration-hub webhooks: POST ${withWebhooks.map((integration) => webhookPath(integration.name)).join(', ')}`,
      createDefaultStage: false,
    });
    const accessLogs = new LogGroup(this, 'AccessLogs', { retention: RetentionDays.ONE_MONTH, removalPolicy });
    this.stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      stageName: '$default',
      autoDeploy: true,
      // Routes without their own settings (none today) get the most generous provider's limits.
      throttle: {
        rateLimit: Math.max(1, ...withWebhooks.map((integration) => integration.webhooks.rateLimitPerSecond)),
        burstLimit: Math.max(1, ...withWebhooks.map((integration) => integration.webhooks.burstLimit)),
      },
      accessLogSettings: {
        destination: new LogGroupLogDestination(accessLogs),
        // Never the body or the signature headers: the request id, route, status, latency and the caller's IP.
        format: AccessLogFormat.custom(
          JSON.stringify({
            requestId: '$context.requestId',
            ip: '$context.identity.sourceIp',
            time: '$context.requestTime',
            routeKey: '$context.routeKey',
            status: '$context.status',
            latencyMs: '$context.responseLatency',
            integrationError: '$context.integrationErrorMessage',
          }),
        ),
      },
    });
    // One provider's flood must not take the others' share: each route has its own rate and burst.
    (this.stage.node.defaultChild as CfnStage).routeSettings = Object.fromEntries(
      withWebhooks.map((integration) => [
        `POST ${webhookPath(integration.name)}`,
        // RouteSettings is a JSON property: CloudFormation reads these keys as written.
        { ThrottlingRateLimit: integration.webhooks.rateLimitPerSecond, ThrottlingBurstLimit: integration.webhooks.burstLimit },
      ]),
    );

    this.endpoints = new Map(
      withWebhooks.map((integration) => [
        integration.name,
        new WebhookEndpoint(this, pascalCase(integration.name), {
          integration,
          api: this.api,
          deliveriesTable: this.deliveriesTable,
          bus: props.bus,
          alarmTopic: props.alarmTopic,
          removalPolicy,
          runbookBaseUrl: props.runbookBaseUrl,
        }),
      ]),
    );
    // Every route is declared before the stage deploys (autoDeploy takes the routes of the first deployment).
    for (const endpoint of this.endpoints.values()) this.stage.node.addDependency(endpoint.route);

    this.serverErrorAlarm = runbookAlarm(
      this,
      'ServerErrorAlarm',
      {
        alarmName: `${naming.prefix}-webhook-5xx`,
        description: 'Webhook endpoints answered 5xx: deliveries not accepted (the bus or the delivery table failing, or the function erroring); providers retry them.',
        runbook: runbookLink('webhook-errors', props.runbookBaseUrl),
        metric: this.api.metricServerError({ statistic: 'Sum', period: Duration.minutes(5) }),
        threshold: SERVER_ERROR_ALARM_THRESHOLD,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
      },
      new SnsAction(props.alarmTopic),
    );
  }

  /** The endpoints' URL base: `<url>/webhooks/<name>`. */
  get url(): string {
    return this.api.apiEndpoint;
  }

  /**
   * The webhooks' section of the overview dashboard: per provider, its deliveries (received, forwarded, duplicates,
   * rejected, and the rejections by reason); the API's 5xx and latency; and the webhooks' alarms in the header. One
   * graph per provider that declares webhooks: a handful, unlike the integrations, whose graphs are searches.
   */
  addToDashboard(dashboard: HubDashboard): void {
    const period = Duration.minutes(1);
    const sum = { statistic: 'Sum', period } as const;
    const providers = [...this.endpoints.keys()].map(
      (integration) =>
        new cloudwatch.GraphWidget({
          title: `${integration} · webhooks`,
          width: 6,
          height: 6,
          period,
          left: [
            hubMetric(this, integration, 'WebhookReceived', { ...sum, label: 'Received' }),
            hubMetric(this, integration, 'WebhookForwarded', { ...sum, label: 'Forwarded' }),
            hubMetric(this, integration, 'WebhookDuplicate', { ...sum, label: 'Duplicates (not forwarded again)' }),
            hubMetric(this, integration, 'WebhookRejected', { ...sum, label: 'Rejected' }),
            new cloudwatch.MathExpression({
              expression: hubMetricByErrorClassSearch(this, integration, 'WebhookRejectedByReason'),
              usingMetrics: {},
              label: "Rejected: ${PROP('Dim.errorClass')}",
              period,
            }),
          ],
          leftYAxis: { min: 0, showUnits: false },
        }),
    );
    const api = [
      new cloudwatch.GraphWidget({
        title: 'Webhook API · 5xx and 4xx',
        width: 6,
        height: 6,
        period,
        left: [this.api.metricServerError({ ...sum, label: '5xx (providers retry)' }), this.api.metricClientError({ ...sum, label: '4xx (rejected, throttled)' })],
        leftAnnotations: [{ value: SERVER_ERROR_ALARM_THRESHOLD, label: '5xx alarm (per 5 min)', color: '#d62728' }],
        leftYAxis: { min: 0, showUnits: false },
      }),
      new cloudwatch.GraphWidget({
        title: 'Webhook API · latency',
        width: 6,
        height: 6,
        period,
        left: [this.api.metricLatency({ statistic: 'p50', period, label: 'p50' }), this.api.metricLatency({ statistic: 'p99', period, label: 'p99' })],
        leftYAxis: { min: 0, label: 'ms', showUnits: false },
      }),
    ];
    dashboard.addSection(
      'Webhooks',
      `Inbound webhooks of ${[...this.endpoints.keys()].map((name) => `**${name}**`).join(', ')}: POST /webhooks/<integration> on one HTTP API. ` +
        'Rejected = refused before the bus (bad signature, stale timestamp, malformed). List recent deliveries and rejections with ' +
        '`npm run hub -- webhooks [<integration>] [--rejected]`. Runbooks: `webhook-rejections`, `webhook-errors`. Details: docs/webhooks.md.',
      ...providers,
      ...api,
    );
    dashboard.addAlarms(...this.alarms);
  }

  /** Every alarm of the webhooks (the overview dashboard lists them). */
  get alarms(): cloudwatch.Alarm[] {
    return [this.serverErrorAlarm, ...[...this.endpoints.values()].map((endpoint) => endpoint.rejectionAlarm)];
  }
}
