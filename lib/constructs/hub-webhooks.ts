import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { type CfnStage, HttpApi, HttpStage, LogGroupLogDestination } from 'aws-cdk-lib/aws-apigatewayv2';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { AttributeType, BillingMode, Table, TableEncryption } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { pascalCase, type ResolvedIntegration, type ResolvedWebhooks } from '../catalog.js';
import { HubNaming } from '../hub-naming.js';
import { runbookLink } from '../runbooks.js';
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

/** The outputs the operator CLI and providers' setup read: the endpoints' base URL and the delivery-id table. */
export function webhookOutputs(stack: Construct, webhooks: HubWebhooks): void {
  new CfnOutput(stack, 'WebhooksUrl', { value: webhooks.url, description: 'Base of the webhook endpoints: <url>/webhooks/<integration>' });
  new CfnOutput(stack, 'WebhookDeliveriesTableName', { value: webhooks.deliveriesTable.tableName, description: 'The webhook delivery-id table' });
}

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
        threshold: 5,
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

  /** Every alarm of the webhooks (the overview dashboard lists them). */
  get alarms(): cloudwatch.Alarm[] {
    return [this.serverErrorAlarm, ...[...this.endpoints.values()].map((endpoint) => endpoint.rejectionAlarm)];
  }
}
