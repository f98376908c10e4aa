/**
 * The template's webhook endpoints served on 127.0.0.1 (the local hub, `npm start`): every `POST /webhooks/<name>`
 * route of the webhook HTTP API (lib/constructs/hub-webhooks.ts) runs its function's REAL logic — the
 * WebhookIngress composed from the function's environment by functions/webhooks/webhook-handler.ts, as on AWS —
 * against local parts: the functions' DynamoDB client (its delivery-id table is a dynalite table of the template),
 * the local Secrets Manager, and a forwarder that puts the event on the local hub's bus. What API Gateway does in
 * front of it is not emulated beyond the route: no throttling, no access log.
 *
 * What AWS keeps in the delivery table and the functions' logs for `npm run hub -- webhooks`, the local hub keeps in
 * memory: the last {@link RECENT_WEBHOOK_OUTCOMES} outcomes of all endpoints (accepted, duplicate, rejected with its
 * reason), oldest dropped first ({@link LocalWebhookServer.recent}).
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Logger } from '@aws-lambda-powertools/logger';
import { RecordingMetricsSink } from '../../functions/runtime/telemetry.js';
import { webhookIngressFromEnvironment } from '../../functions/webhooks/webhook-handler.js';
import type { ForwardedWebhook, WebhookIngress, WebhookOutcome } from '../../functions/webhooks/webhook-ingress.js';
import { lambdaContext } from '../lambda-events.js';
import type { CfnTemplate } from '../local-step-functions.js';
import type { LocalSecretsManager } from '../local-secrets-manager.js';

/** One route of the template's webhook API: `POST /webhooks/<integration>` → its function. */
export interface WebhookRoute {
  readonly method: string;
  readonly path: string;
  readonly functionLogicalId: string;
}

/** The webhook routes of a template (API Gateway v2 routes with a Lambda proxy integration). */
export function webhookRoutesOf(template: CfnTemplate): WebhookRoute[] {
  const resources = template.Resources;
  const routes: WebhookRoute[] = [];
  for (const resource of Object.values(resources)) {
    if (resource.Type !== 'AWS::ApiGatewayV2::Route') continue;
    const [method, path] = String(resource.Properties?.RouteKey ?? '').split(' ');
    const target = resource.Properties?.Target as { 'Fn::Join'?: [string, unknown[]] } | undefined;
    const integrationId = (target?.['Fn::Join']?.[1]?.find((part) => typeof part === 'object' && part !== null && 'Ref' in part) as { Ref?: string } | undefined)?.Ref;
    const uri = integrationId ? (resources[integrationId]?.Properties?.IntegrationUri as { 'Fn::GetAtt'?: [string, string] } | undefined) : undefined;
    const functionLogicalId = uri?.['Fn::GetAtt']?.[0];
    if (method && path && functionLogicalId && resources[functionLogicalId]?.Type === 'AWS::Lambda::Function') routes.push({ method, path, functionLogicalId });
  }
  return routes;
}

/** What one endpoint did so far (from its metrics, as its CloudWatch metrics would say). */
export interface WebhookEndpointStats {
  readonly integration: string;
  readonly received: number;
  readonly forwarded: number;
  readonly duplicates: number;
  readonly rejected: number;
  /** Rejections by reason (`bad_signature`, `timestamp_out_of_tolerance`, …). */
  readonly rejectedBy: Readonly<Record<string, number>>;
  /** Verified deliveries answered 503 (not forwarded now; the sender retries). */
  readonly notAccepted: number;
}

/** Options of {@link LocalWebhookServer.start}. */
export interface LocalWebhookServerOptions {
  readonly template: CfnTemplate;
  /** A function's environment, intrinsics resolved (the local hub's). */
  environmentOf(functionLogicalId: string): Record<string, string>;
  readonly dynamodb: DynamoDBClient;
  readonly secretsManager: LocalSecretsManager;
  /** Puts a forwarded webhook on the local bus. */
  forward(event: ForwardedWebhook): void;
  readonly logger: Logger;
  /** Called with a request the endpoint's logic threw on (answered 500). */
  readonly onError?: (where: string, error: unknown) => void;
}

/** How many outcomes of the endpoints the local hub remembers for the operator CLI. */
export const RECENT_WEBHOOK_OUTCOMES = 500;

/** The last `capacity` items, oldest overwritten first. */
class Ring<T> {
  readonly #items: T[] = [];
  #next = 0;

  constructor(readonly capacity: number) {}

  push(item: T): void {
    if (this.#items.length < this.capacity) this.#items.push(item);
    else this.#items[this.#next] = item;
    this.#next = (this.#next + 1) % this.capacity;
  }

  /** Newest first. */
  newestFirst(): T[] {
    const oldestFirst = this.#items.length < this.capacity ? this.#items : [...this.#items.slice(this.#next), ...this.#items.slice(0, this.#next)];
    return [...oldestFirst].reverse();
  }
}

/** Bodies above this are not even read (API Gateway's own payload limit is 10 MB; the endpoints refuse far less). */
const MAX_READ_BYTES = 1_048_576;

interface Endpoint {
  readonly integration: string;
  readonly ingress: WebhookIngress;
  readonly metrics: RecordingMetricsSink;
  readonly functionLogicalId: string;
  /** The webhook id of every event put on the bus, in order. */
  readonly forwarded: string[];
}

/** See the file comment. */
export class LocalWebhookServer {
  readonly #endpoints: ReadonlyMap<string, Endpoint>;
  readonly #recent: Ring<WebhookOutcome>;

  private constructor(
    private readonly server: Server,
    readonly url: string,
    endpoints: ReadonlyMap<string, Endpoint>,
    recent: Ring<WebhookOutcome>,
  ) {
    this.#endpoints = endpoints;
    this.#recent = recent;
  }

  /** Serves the template's webhook routes; undefined when it has none. */
  static async start(options: LocalWebhookServerOptions): Promise<LocalWebhookServer | undefined> {
    const routes = webhookRoutesOf(options.template);
    if (routes.length === 0) return undefined;
    const endpoints = new Map<string, Endpoint>();
    const recent = new Ring<WebhookOutcome>(RECENT_WEBHOOK_OUTCOMES);
    for (const route of routes) {
      const environment = options.environmentOf(route.functionLogicalId);
      const metrics = new RecordingMetricsSink();
      const forwarded: string[] = [];
      const ingress = webhookIngressFromEnvironment(environment, {
        dynamodb: options.dynamodb,
        secretsManager: options.secretsManager.client,
        metrics,
        logger: options.logger,
        onOutcome: (outcome) => recent.push(outcome),
        forwarder: {
          forward: async (event) => {
            options.forward(event);
            forwarded.push(event.detail.webhookId);
          },
        },
      });
      endpoints.set(`${route.method} ${route.path}`, { integration: environment.WEBHOOK_PROVIDER!, ingress, metrics, functionLogicalId: route.functionLogicalId, forwarded });
    }
    let local: LocalWebhookServer | undefined;
    const server = createServer((request, response) => void local!.#serve(request, response, options));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    local = new LocalWebhookServer(server, `http://127.0.0.1:${port}`, endpoints, recent);
    return local;
  }

  /** The integrations with an endpoint. */
  get integrations(): string[] {
    return [...this.#endpoints.values()].map((endpoint) => endpoint.integration);
  }

  /** The endpoint URL of an integration's webhooks. */
  urlOf(integration: string): string {
    const found = [...this.#endpoints.entries()].find(([, endpoint]) => endpoint.integration === integration);
    if (!found) throw new Error(`no webhook endpoint for '${integration}' (the hub has: ${this.integrations.join(', ') || 'none'})`);
    return `${this.url}${found[0].split(' ')[1]}`;
  }

  /** Every endpoint's figures so far. */
  stats(): WebhookEndpointStats[] {
    return [...this.#endpoints.values()].map(({ integration, metrics }) => {
      const rejectedBy: Record<string, number> = {};
      for (const [key, count] of metrics.counts) if (key.startsWith('WebhookRejectedByReason:')) rejectedBy[key.slice('WebhookRejectedByReason:'.length)] = count;
      return {
        integration,
        received: metrics.total('WebhookReceived'),
        forwarded: metrics.total('WebhookForwarded'),
        duplicates: metrics.total('WebhookDuplicate'),
        rejected: metrics.total('WebhookRejected'),
        rejectedBy,
        notAccepted: metrics.total('WebhookForwardFailed'),
      };
    });
  }

  /**
   * The webhook ids an integration's endpoint put on the bus, in order, one per event: what reached the bus, to check
   * against what the senders were answered (the metrics count events; this names them).
   */
  forwardedIds(integration: string): string[] {
    return [...([...this.#endpoints.values()].find((endpoint) => endpoint.integration === integration)?.forwarded ?? [])];
  }

  /** The endpoints' last {@link RECENT_WEBHOOK_OUTCOMES} outcomes, newest first. */
  recent(): WebhookOutcome[] {
    return this.#recent.newestFirst();
  }

  async close(): Promise<void> {
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  async #serve(request: IncomingMessage, response: ServerResponse, options: LocalWebhookServerOptions): Promise<void> {
    const answer = (status: number, body: Record<string, string>) => {
      response.writeHead(status, { 'content-type': 'application/json' });
      response.end(JSON.stringify(body));
    };
    const path = new URL(request.url ?? '/', 'http://local').pathname;
    const endpoint = this.#endpoints.get(`${request.method} ${path}`);
    // API Gateway's answer to a route it does not have.
    if (!endpoint) return answer(404, { message: 'Not Found' });
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of request as AsyncIterable<Buffer>) {
      size += chunk.length;
      if (size > MAX_READ_BYTES) return answer(413, { message: 'Request Entity Too Large' });
      chunks.push(chunk);
    }
    const headers = Object.fromEntries(Object.entries(request.headers).map(([name, value]) => [name, Array.isArray(value) ? value.join(',') : value]));
    try {
      endpoint.ingress.startInvocation(lambdaContext(endpoint.functionLogicalId, 10_000));
      const result = await endpoint.ingress.handle({ headers, body: Buffer.concat(chunks).toString('utf8') });
      answer(result.status, result.body);
    } catch (error) {
      options.onError?.(`webhook endpoint ${endpoint.integration}`, error);
      answer(500, { message: 'Internal Server Error' });
    }
  }
}
