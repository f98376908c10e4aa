/**
 * The Lambda entry of every provider's webhook endpoint (an API Gateway HTTP API route, payload format 2.0;
 * docs/webhooks.md): the request's raw body and headers go to {@link WebhookIngress}, whose parts are composed from
 * the environment once per container ({@link WEBHOOK_ENVIRONMENT}); a missing or invalid variable fails the init
 * with every problem listed.
 */
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2, Context } from 'aws-lambda';
import { systemClock } from '../runtime/clock.js';
import { ConfigurationError } from '../runtime/errors.js';
import { SecretsManagerSecretSource } from '../runtime/secrets-manager-secret-source.js';
import { createRuntimeLogger, type MetricsSink, PowertoolsMetricsSink } from '../runtime/telemetry.js';
import { EventBridgeWebhookForwarder } from './eventbridge-webhook-forwarder.js';
import { standardWebhooksScheme } from './standard-webhooks-scheme.js';
import { timestampedHmacScheme } from './timestamped-hmac-scheme.js';
import { type WebhookSchemeDeclaration, webhookSchemeProblems } from './webhook-declaration.js';
import { type WebhookForwarder, WebhookIngress, type WebhookOutcome } from './webhook-ingress.js';
import type { WebhookRequest, WebhookScheme } from './webhook-scheme.js';

/** The variables the endpoint reads (the stack sets them from the catalog entry's `webhooks`). */
export const WEBHOOK_ENVIRONMENT = {
  WEBHOOK_PROVIDER: 'the integration whose webhooks these are',
  WEBHOOK_SCHEME: 'the scheme declaration, JSON (functions/webhooks/webhook-declaration.ts)',
  WEBHOOK_SECRET_NAME: 'the secret holding signingSecrets',
  WEBHOOK_TABLE_NAME: 'the delivery-id table (Powertools idempotency, key `id`)',
  EVENT_BUS_NAME: "the hub's bus",
  WEBHOOK_EVENT_SOURCE: 'the forwarded events’ source',
  WEBHOOK_MAX_BODY_BYTES: 'larger bodies get 413',
  WEBHOOK_DEDUPE_SECONDS: 'how long a delivery id is remembered',
  SECRET_MAX_AGE_SECONDS: 'how long the signing secrets are cached (default 300)',
} as const;

/** The endpoint's AWS clients and parts, injectable (tests, the local hub). */
export interface WebhookClients {
  readonly dynamodb?: DynamoDBClient;
  readonly eventBridge?: EventBridgeClient;
  readonly secretsManager?: SecretsManagerClient;
  readonly metrics?: MetricsSink;
  readonly logger?: Logger;
  /** Where verified webhooks go. @default PutEvents on EVENT_BUS_NAME through `eventBridge` */
  readonly forwarder?: WebhookForwarder;
  /** Told what became of each request (the local hub's list of recent deliveries and rejections). @default nobody */
  readonly onOutcome?: (outcome: WebhookOutcome) => void;
}

/** Composes the endpoint from `env`; throws a ConfigurationError listing every missing or invalid variable. */
export function webhookIngressFromEnvironment(env: Record<string, string | undefined>, clients: WebhookClients = {}): WebhookIngress {
  const problems: string[] = [];
  const required = (name: keyof typeof WEBHOOK_ENVIRONMENT): string => {
    const value = env[name]?.trim();
    if (!value) problems.push(`${name} is required (${WEBHOOK_ENVIRONMENT[name]})`);
    return value ?? '';
  };
  const integer = (name: keyof typeof WEBHOOK_ENVIRONMENT, fallback: number | undefined, min: number, max: number): number => {
    const raw = env[name]?.trim();
    if (!raw && fallback !== undefined) return fallback;
    const value = Number(raw);
    if (!Number.isInteger(value) || value < min || value > max) problems.push(`${name} must be an integer in ${min}-${max} (got ${JSON.stringify(raw ?? '')})`);
    return value;
  };
  const provider = required('WEBHOOK_PROVIDER');
  let declaration: WebhookSchemeDeclaration | undefined;
  try {
    declaration = JSON.parse(required('WEBHOOK_SCHEME') || 'null') as WebhookSchemeDeclaration;
  } catch {
    problems.push('WEBHOOK_SCHEME is not JSON');
  }
  const settings = {
    provider,
    secretName: required('WEBHOOK_SECRET_NAME'),
    eventSource: required('WEBHOOK_EVENT_SOURCE'),
    maxBodyBytes: integer('WEBHOOK_MAX_BODY_BYTES', undefined, 1, 240_000),
    dedupeSeconds: integer('WEBHOOK_DEDUPE_SECONDS', undefined, 60, 30 * 86_400),
  };
  const tableName = required('WEBHOOK_TABLE_NAME');
  const eventBusName = required('EVENT_BUS_NAME');
  const secretMaxAgeSeconds = integer('SECRET_MAX_AGE_SECONDS', 300, 0, 86_400);
  let scheme;
  try {
    if (declaration !== undefined) scheme = schemeOf(declaration);
  } catch (error) {
    problems.push(...((error as ConfigurationError).problems ?? [(error as Error).message]).map((problem) => `WEBHOOK_SCHEME: ${problem}`));
  }
  if (problems.length > 0 || !scheme) throw ConfigurationError.listing('webhook endpoint environment', problems);
  return new WebhookIngress({
    settings,
    scheme,
    secrets: new SecretsManagerSecretSource({ client: clients.secretsManager ?? new SecretsManagerClient({}), maxAgeSeconds: secretMaxAgeSeconds }),
    forwarder: clients.forwarder ?? new EventBridgeWebhookForwarder({ client: clients.eventBridge ?? new EventBridgeClient({}), eventBusName }),
    persistence: new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: clients.dynamodb ?? new DynamoDBClient({}) }),
    metrics: clients.metrics ?? new PowertoolsMetricsSink(provider),
    logger: clients.logger ?? createRuntimeLogger(provider),
    clock: systemClock,
    ...(clients.onOutcome ? { onOutcome: clients.onOutcome } : {}),
  });
}

/** The scheme a valid declaration names; throws a ConfigurationError listing the problems of an invalid one. */
export function schemeOf(declaration: WebhookSchemeDeclaration): WebhookScheme {
  const problems = webhookSchemeProblems(declaration);
  if (problems.length > 0) throw ConfigurationError.listing('webhook scheme', problems);
  return declaration.scheme === 'standard-webhooks'
    ? standardWebhooksScheme({ toleranceSeconds: declaration.toleranceSeconds })
    : timestampedHmacScheme({ header: declaration.header, toleranceSeconds: declaration.toleranceSeconds });
}

/** The raw body (decoded when API Gateway base64-encoded it) and the headers of a payload-2.0 event. */
export function webhookRequestOf(event: Pick<APIGatewayProxyEventV2, 'body' | 'isBase64Encoded' | 'headers'>): WebhookRequest {
  const body = event.body === undefined ? '' : event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body;
  const headers = Object.fromEntries(Object.entries(event.headers ?? {}).map(([name, value]) => [name.toLowerCase(), value]));
  return { headers, body };
}

let ingress: WebhookIngress | undefined;
let metrics: MetricsSink | undefined;

/** The endpoint's handler. */
export async function handler(event: APIGatewayProxyEventV2, context: Context): Promise<APIGatewayProxyStructuredResultV2> {
  if (!ingress) {
    metrics = new PowertoolsMetricsSink(process.env.WEBHOOK_PROVIDER ?? 'unknown');
    ingress = webhookIngressFromEnvironment(process.env, { metrics });
  }
  ingress.startInvocation(context);
  try {
    const response = await ingress.handle(webhookRequestOf(event));
    return { statusCode: response.status, headers: { 'content-type': 'application/json' }, body: JSON.stringify(response.body) };
  } finally {
    metrics?.flush();
  }
}
