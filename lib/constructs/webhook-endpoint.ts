import { join } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { type HttpApi, HttpMethod, HttpRoute, HttpRouteKey } from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import { type ISecret, Secret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { REPOSITORY_ROOT, type ResolvedIntegration, type ResolvedWebhooks } from '../catalog.js';
import { HubNaming } from '../hub-naming.js';
import { runbookLink } from '../runbooks.js';
import { hubMetric } from './integration-alarms.js';
import { runbookAlarm } from './runbook-alarm.js';
import { ServiceFunction } from './service-function.js';
import { importSecret } from './integration-pipeline.js';

/** The handler of every webhook endpoint (functions/webhooks/webhook-handler.ts). */
export const WEBHOOK_HANDLER_ENTRY = 'functions/webhooks/webhook-handler.ts';

/** The item actions Powertools idempotency sends to the delivery-id table, nothing else. */
export const WEBHOOK_TABLE_ACTIONS = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:DeleteItem'] as const;

/** The path of an integration's endpoint on the stage's webhook API. */
export function webhookPath(integration: string): string {
  return `/webhooks/${integration}`;
}

/** Props of {@link WebhookEndpoint}. */
export interface WebhookEndpointProps {
  /** An integration whose catalog entry declares `webhooks`. */
  readonly integration: ResolvedIntegration & { readonly webhooks: ResolvedWebhooks };
  readonly api: HttpApi;
  readonly deliveriesTable: ITable;
  readonly bus: IEventBus;
  readonly alarmTopic: ITopic;
  readonly removalPolicy?: RemovalPolicy;
  readonly runbookBaseUrl?: string;
}

/**
 * One provider's inbound webhooks (docs/webhooks.md): the signing secret (a generated placeholder until the provider's
 * is put in), the function that verifies, deduplicates and forwards (one per provider, so each reads only its own
 * secret), its route `POST /webhooks/<name>` with its own throttle, and the rejection alarm.
 */
export class WebhookEndpoint extends Construct {
  readonly function: ServiceFunction;
  /** The signing secret: created with a placeholder, or the one the catalog or the stage imports. */
  readonly secret: ISecret;
  readonly route: HttpRoute;
  readonly rejectionAlarm: cloudwatch.Alarm;

  constructor(scope: Construct, id: string, props: WebhookEndpointProps) {
    super(scope, id);
    const { integration } = props;
    const webhooks = integration.webhooks;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const naming = HubNaming.of(this);

    if (webhooks.secret?.import) {
      this.secret = importSecret(this, 'SigningSecret', webhooks.secret.name);
    } else {
      const created = new Secret(this, 'SigningSecret', {
        secretName: webhooks.secret?.name ?? naming.secretName(`${integration.name}-webhooks`),
        description: `Webhook signing secrets of integration-hub ${integration.name} (${webhooks.scheme.scheme}): put the provider's in {"signingSecrets": [...]} after deploy`,
        // A random placeholder: until the provider's secret is put in, every delivery is refused (401), never trusted.
        generateSecretString: { secretStringTemplate: '{}', generateStringKey: 'signingSecret', excludePunctuation: true, passwordLength: 40 },
        removalPolicy,
      });
      Validations.of(created).acknowledge({
        id: 'AwsSolutions-SMG4',
        reason: `The ${integration.name} webhook signing secret is issued by the provider and rolled there; during a roll both keys go in signingSecrets (docs/webhooks.md).`,
      });
      this.secret = created;
    }

    this.function = new ServiceFunction(this, 'Function', {
      entry: join(REPOSITORY_ROOT, WEBHOOK_HANDLER_ENTRY),
      description: `integration-hub ${integration.name}: verifies, deduplicates and forwards the provider's webhooks`,
      // Verify, one conditional write, one PutEvents: well under a second; the API's own limit is 30 s.
      timeout: Duration.seconds(10),
      memorySize: 256,
      logGroupRemovalPolicy: removalPolicy,
      environment: {
        WEBHOOK_PROVIDER: integration.name,
        WEBHOOK_SCHEME: JSON.stringify(webhooks.scheme),
        WEBHOOK_EVENT_SOURCE: webhooks.eventSource,
        EVENT_BUS_NAME: props.bus.eventBusName,
        WEBHOOK_MAX_BODY_BYTES: String(webhooks.maxBodyBytes),
        WEBHOOK_DEDUPE_SECONDS: String(webhooks.dedupeSeconds),
      },
    });
    this.function.bindSecret(this.secret, 'WEBHOOK_SECRET_NAME');
    this.function.bindTable(props.deliveriesTable, { actions: WEBHOOK_TABLE_ACTIONS }, 'WEBHOOK_TABLE_NAME');
    props.bus.grantPutEventsTo(this.function);

    this.route = new HttpRoute(this, 'Route', {
      httpApi: props.api,
      routeKey: HttpRouteKey.with(webhookPath(integration.name), HttpMethod.POST),
      integration: new HttpLambdaIntegration('Integration', this.function),
    });
    Validations.of(this.route).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason: 'A provider cannot sign API requests: every delivery is authenticated by its webhook signature, checked by the function before anything is forwarded.',
    });

    this.rejectionAlarm = runbookAlarm(
      this,
      'RejectionAlarm',
      {
        alarmName: `${naming.prefix}-${integration.name}-webhook-rejections`,
        description: `${integration.name}: ${webhooks.rejectionAlarmThreshold}+ webhook deliveries refused in 5 minutes (bad signature, stale timestamp, malformed body).`,
        runbook: runbookLink('webhook-rejections', props.runbookBaseUrl),
        metric: hubMetric(this, integration.name, 'WebhookRejected', { statistic: 'Sum', period: Duration.minutes(5) }),
        threshold: webhooks.rejectionAlarmThreshold,
        evaluationPeriods: 1,
        datapointsToAlarm: 1,
      },
      new SnsAction(props.alarmTopic),
    );
  }
}
