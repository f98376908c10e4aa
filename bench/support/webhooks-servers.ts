/**
 * The two servers the webhook benchmark compares, both plain node:http on 127.0.0.1:
 *   - the endpoint: the REAL WebhookIngress composed from a function environment by webhookIngressFromEnvironment
 *     (functions/webhooks/webhook-handler.ts), with real SDK clients — DynamoDB (Powertools idempotency) and
 *     EventBridge (EventBridgeWebhookForwarder, one PutEvents) against the benchmark's AWS-side process, Secrets
 *     Manager answered in memory (local/local-secrets-manager.ts) behind the real cached secret source — served per
 *     request the way local/hub/local-webhooks.ts does, with the Lambda handler's per-invocation metrics flush and
 *     its INFO log line per delivery;
 *   - the baseline: read the body, JSON.parse it, answer 200. The floor any webhook receiver pays on this stack.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { createRuntimeLogger, PowertoolsMetricsSink } from '../../functions/runtime/telemetry.js';
import { type WebhookSchemeDeclaration, webhookEventSource } from '../../functions/webhooks/webhook-declaration.js';
import { webhookIngressFromEnvironment } from '../../functions/webhooks/webhook-handler.js';
import { lambdaContext } from '../../local/lambda-events.js';
import { localDynamoClient } from '../../local/local-dynamo.js';
import { createLocalSecretsManager } from '../../local/local-secrets-manager.js';

/** A server listening on 127.0.0.1. */
export interface RunningServer {
  readonly url: string;
  close(): Promise<void>;
}

/** Where the endpoint's AWS clients point, and how deliveries are signed. */
export interface EndpointServerOptions {
  readonly dynamoEndpoint: string;
  readonly eventsEndpoint: string;
  readonly tableName: string;
  readonly scheme: WebhookSchemeDeclaration;
  readonly signingSecret: string;
}

const PROVIDER = 'bench';
const SECRET_NAME = 'bench/webhook-signing';
const LOCAL_AWS = { region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };

/** The real endpoint; see the file comment. */
export async function startEndpointServer(options: EndpointServerOptions): Promise<RunningServer> {
  const secretsManager = createLocalSecretsManager({ [SECRET_NAME]: { signingSecrets: [options.signingSecret] } });
  const metrics = new PowertoolsMetricsSink(PROVIDER);
  // What the stack sets from a catalog entry with the catalog's defaults (lib/catalog.ts: 64 KiB, 3 days).
  const environment = {
    WEBHOOK_PROVIDER: PROVIDER,
    WEBHOOK_SCHEME: JSON.stringify(options.scheme),
    WEBHOOK_SECRET_NAME: SECRET_NAME,
    WEBHOOK_TABLE_NAME: options.tableName,
    EVENT_BUS_NAME: 'integration-hub-bus',
    WEBHOOK_EVENT_SOURCE: webhookEventSource(PROVIDER),
    WEBHOOK_MAX_BODY_BYTES: '65536',
    WEBHOOK_DEDUPE_SECONDS: String(3 * 86_400),
  };
  const ingress = webhookIngressFromEnvironment(environment, {
    dynamodb: localDynamoClient(options.dynamoEndpoint),
    eventBridge: new EventBridgeClient({ ...LOCAL_AWS, endpoint: options.eventsEndpoint }),
    secretsManager: secretsManager.client,
    metrics,
    logger: createRuntimeLogger(PROVIDER),
  });
  return listen(async (request, response) => {
    const body = await readBody(request);
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : value]));
    try {
      ingress.startInvocation(lambdaContext('bench-webhooks', 10_000));
      const result = await ingress.handle({ headers, body });
      answer(response, result.status, result.body);
    } catch {
      answer(response, 500, { message: 'Internal Server Error' });
    } finally {
      metrics.flush();
    }
  });
}

/** The baseline: parse and 200. */
export async function startBaselineServer(): Promise<RunningServer> {
  return listen(async (request, response) => {
    try {
      JSON.parse(await readBody(request));
      answer(response, 200, { status: 'accepted' });
    } catch {
      answer(response, 400, { error: 'bad_json' });
    }
  });
}

async function listen(serve: (request: IncomingMessage, response: ServerResponse) => Promise<void>): Promise<RunningServer> {
  const server: Server = createServer((request, response) => void serve(request, response));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/${PROVIDER}`,
    close: () => {
      // Keep-alive connections of the load generator would otherwise hold close() open.
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of request as AsyncIterable<Buffer>) chunks.push(chunk);
  return Buffer.concat(chunks).toString('utf8');
}

function answer(response: ServerResponse, status: number, body: Readonly<Record<string, string>>): void {
  response.writeHead(status, { 'content-type': 'application/json' });
  response.end(JSON.stringify(body));
}
