/**
 * The sandbox's webhook sender (local/sandbox/webhook-sender.ts) against the hub's own endpoint logic: a real
 * node:http server on 127.0.0.1 whose handler is a WebhookIngress (functions/webhooks/webhook-ingress.ts) on
 * dynalite, built as test/functions/webhooks/webhook-ingress.test.ts builds it. For both schemes: a delivery is
 * accepted and forwarded once, a replay is acknowledged as a duplicate, tampered and late ones are refused, a 503 is
 * retried with the same id and a fresh signature, and the ids follow the seed. Sleeps resolve at once (the requested
 * delays are recorded), so nothing waits on wall time.
 */
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { DependencyError } from '../../../functions/runtime/errors.js';
import { StaticSecretSource } from '../../../functions/runtime/static-secret-source.js';
import { RecordingMetricsSink } from '../../../functions/runtime/telemetry.js';
import { standardWebhooksScheme } from '../../../functions/webhooks/standard-webhooks-scheme.js';
import { timestampedHmacScheme } from '../../../functions/webhooks/timestamped-hmac-scheme.js';
import type { WebhookSchemeDeclaration } from '../../../functions/webhooks/webhook-declaration.js';
import { type ForwardedWebhook, type WebhookForwarder, WebhookIngress } from '../../../functions/webhooks/webhook-ingress.js';
import type { WebhookRequest, WebhookScheme } from '../../../functions/webhooks/webhook-scheme.js';
import { lambdaContext } from '../../../local/lambda-events.js';
import { SeededRandom } from '../../../local/sandbox/random.js';
import { createWebhookSender, newSigningSecret, type WebhookSenderOptions, WebhookSenderConfigError } from '../../../local/sandbox/webhook-sender.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';

/** A forwarder that records, and can fail its next forwards (the ingress then answers 503). */
class RecordingForwarder implements WebhookForwarder {
  readonly forwarded: ForwardedWebhook[] = [];
  failNext = 0;

  async forward(event: ForwardedWebhook): Promise<void> {
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new DependencyError('EventBus', 'PutEvents failed: InternalException');
    }
    this.forwarded.push(event);
  }
}

/** A request as the endpoint received it: its delivery id and the headers the scheme reads. */
interface Received {
  readonly id: string | undefined;
  readonly timestamp: string | undefined;
  readonly signature: string | undefined;
  readonly status: number;
}

interface Case {
  readonly integration: string;
  readonly declaration: WebhookSchemeDeclaration;
  readonly scheme: () => WebhookScheme;
  readonly type: string;
  readonly idPrefix: string;
  /** The delivery id of a received request (header or body, as the scheme says). */
  idOf(request: WebhookRequest): string | undefined;
  signatureOf(request: WebhookRequest): string | undefined;
}

const CASES: Case[] = [
  {
    integration: 'crm',
    declaration: { scheme: 'standard-webhooks' },
    scheme: () => standardWebhooksScheme(),
    type: 'contact.updated',
    idPrefix: 'msg_',
    idOf: (request) => request.headers['webhook-id'],
    signatureOf: (request) => request.headers['webhook-signature'],
  },
  {
    integration: 'payments',
    declaration: { scheme: 'timestamped-hmac', header: 'payments-signature' },
    scheme: () => timestampedHmacScheme({ header: 'payments-signature' }),
    type: 'charge.refunded',
    idPrefix: 'evt_',
    idOf: (request) => {
      try {
        return (JSON.parse(request.body) as { id?: string }).id;
      } catch {
        return undefined;
      }
    },
    signatureOf: (request) => request.headers['payments-signature'],
  },
];

let dynamo: LocalDynamo;
let tableSeq = 0;
const servers: Server[] = [];

beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
afterEach(async () => {
  for (const server of servers.splice(0)) {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
});

/** The node request as a WebhookRequest: the raw body, lower-cased headers (several values joined). */
async function webhookRequestOf(request: IncomingMessage): Promise<WebhookRequest> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(request.headers)) {
    if (value !== undefined) headers[name.toLowerCase()] = Array.isArray(value) ? value.join(', ') : value;
  }
  return { headers, body: Buffer.concat(chunks).toString('utf8') };
}

/** A hub endpoint for `testCase` on 127.0.0.1: a fresh delivery-id table, a recording forwarder, `secret` to check with. */
async function startEndpoint(testCase: Case, secret: string) {
  tableSeq += 1;
  const tableName = `sender-webhooks-${tableSeq}`;
  await dynamo.createTable(tableName, { partitionKey: 'id' });
  const secretName = `integration-hub/test/${testCase.integration}-webhooks`;
  const forwarder = new RecordingForwarder();
  const metrics = new RecordingMetricsSink();
  const ingress = new WebhookIngress({
    settings: { provider: testCase.integration, secretName, eventSource: `integration-hub.webhooks.${testCase.integration}`, maxBodyBytes: 65_536, dedupeSeconds: 3 * 86_400 },
    scheme: testCase.scheme(),
    secrets: new StaticSecretSource({ [secretName]: { signingSecrets: [secret] } }),
    forwarder,
    persistence: new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: dynamo.client }),
    metrics,
    logger: new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }),
    clock: { now: () => Date.now() },
  });
  const received: Received[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    void (async () => {
      const request = await webhookRequestOf(req);
      // One invocation per request, as the endpoint's Lambda handler registers it (an in-progress claim expires with it).
      ingress.startInvocation(lambdaContext(`${testCase.integration}-webhooks`, 10_000));
      const answer = await ingress.handle(request);
      received.push({ id: testCase.idOf(request), timestamp: request.headers['webhook-timestamp'], signature: testCase.signatureOf(request), status: answer.status });
      res.writeHead(answer.status, { 'content-type': 'application/json' }).end(JSON.stringify(answer.body));
    })().catch(() => res.writeHead(500).end());
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/${testCase.integration}`;
  return { url, forwarder, metrics, received };
}

/** A sleep that resolves at once and records what was asked, and a clock it advances by that much. */
function controlledTime() {
  const delays: number[] = [];
  let advancedMs = 0;
  return {
    delays,
    now: () => Date.now() + advancedMs,
    sleep: async (ms: number) => {
      delays.push(ms);
      advancedMs += ms;
    },
  };
}

describe.each(CASES)('webhook sender, $declaration.scheme ($integration)', (testCase) => {
  const secret = newSigningSecret(testCase.declaration, new SeededRandom(5, `test-secret:${testCase.integration}`));

  async function setUp(options: Partial<WebhookSenderOptions> = {}) {
    const endpoint = await startEndpoint(testCase, secret);
    const time = controlledTime();
    const sender = createWebhookSender({ url: endpoint.url, scheme: testCase.declaration, signingSecret: secret, seed: 42, now: time.now, sleep: time.sleep, ...options });
    return { ...endpoint, time, sender };
  }

  const event = { type: testCase.type, data: { id: 'obj_1', amount: 1200 } };

  it('delivers an event: accepted in one attempt and forwarded once, with its type and data', async () => {
    const { sender, forwarder, time } = await setUp();
    const delivery = await sender.send(event);
    expect(delivery).toMatchObject({ seq: 1, type: testCase.type, outcome: 'accepted', status: 200, attempts: [{ attempt: 1, replay: false, status: 200, answer: 'accepted', delayMs: 0 }] });
    expect(delivery.id).toMatch(new RegExp(`^${testCase.idPrefix}[0-9A-Za-z]{24}$`));
    expect(forwarder.forwarded).toEqual([
      {
        source: `integration-hub.webhooks.${testCase.integration}`,
        detailType: testCase.type,
        detail: expect.objectContaining({ webhookId: delivery.id, provider: testCase.integration, type: testCase.type, payload: expect.objectContaining({ type: testCase.type, data: event.data }) }),
      },
    ]);
    expect(time.delays).toEqual([]);
  });

  it('replays the very same request with duplicate: answered duplicate, forwarded once in total', async () => {
    const { sender, forwarder, received } = await setUp();
    const delivery = await sender.send(event, { duplicate: true });
    expect(delivery.outcome).toBe('duplicate');
    expect(delivery.attempts.map((attempt) => [attempt.replay, attempt.status, attempt.answer])).toEqual([
      [false, 200, 'accepted'],
      [true, 200, 'duplicate'],
    ]);
    // Same id, same signature: the replay is byte for byte the first request.
    expect(received).toHaveLength(2);
    expect(received[1]).toEqual({ ...received[0], status: 200 });
    expect(received[0]!.id).toBe(delivery.id);
    expect(forwarder.forwarded.map((forwarded) => forwarded.detail.webhookId)).toEqual([delivery.id]);
  });

  it('tampers with the body after signing: refused 401 bad_signature at once, not forwarded', async () => {
    const { sender, forwarder, time } = await setUp();
    const delivery = await sender.send(event, { tamper: true });
    expect(delivery).toMatchObject({ outcome: 'refused', status: 401, error: 'bad_signature', options: { tamper: true, lateBySeconds: 0, duplicate: false } });
    expect(delivery.attempts).toHaveLength(1);
    expect(forwarder.forwarded).toEqual([]);
    expect(time.delays).toEqual([]);
  });

  it('signs 600 s late: refused timestamp_out_of_tolerance, not forwarded', async () => {
    const { sender, forwarder } = await setUp();
    const delivery = await sender.send(event, { lateBySeconds: 600 });
    expect(delivery).toMatchObject({ outcome: 'refused', status: 401, error: 'timestamp_out_of_tolerance' });
    expect(delivery.attempts[0]!.signedAt).toBeLessThanOrEqual(Math.floor(Date.now() / 1000) - 600);
    expect(forwarder.forwarded).toEqual([]);
    expect(sender.summary()).toEqual({ total: 1, pending: 0, byOutcome: { accepted: 0, duplicate: 0, refused: 1, gave_up: 0 }, refusedBy: { timestamp_out_of_tolerance: 1 } });
  });

  it('retries a 503 with the same id and a fresh signature, after a jittered delay: accepted, forwarded once', async () => {
    // A base delay over a second, so the retry's timestamp (and so its signature) differs from the first attempt's.
    const { sender, forwarder, received, time } = await setUp({ baseDelayMs: 2_000 });
    forwarder.failNext = 1;
    const delivery = await sender.send(event);
    expect(delivery.outcome).toBe('accepted');
    expect(delivery.attempts.map((attempt) => [attempt.status, attempt.answer])).toEqual([
      [503, 'unavailable'],
      [200, 'accepted'],
    ]);
    expect(received.map((request) => request.id)).toEqual([delivery.id, delivery.id]);
    expect(received[1]!.signature).not.toBe(received[0]!.signature);
    expect(delivery.attempts[1]!.signedAt).toBeGreaterThan(delivery.attempts[0]!.signedAt);
    expect(time.delays).toHaveLength(1);
    expect(time.delays[0]).toBeGreaterThanOrEqual(1_000);
    expect(time.delays[0]).toBeLessThanOrEqual(2_000);
    expect(delivery.attempts[1]!.delayMs).toBe(time.delays[0]);
    expect(forwarder.forwarded.map((forwarded) => forwarded.detail.webhookId)).toEqual([delivery.id]);
  });

  it('gives up after maxAttempts answers that ask for a retry, the delays growing exponentially', async () => {
    const { sender, forwarder, time } = await setUp({ maxAttempts: 4, baseDelayMs: 100 });
    forwarder.failNext = 10;
    const delivery = await sender.send(event);
    expect(delivery).toMatchObject({ outcome: 'gave_up', status: 503, error: 'unavailable' });
    expect(delivery.attempts.map((attempt) => attempt.status)).toEqual([503, 503, 503, 503]);
    expect(time.delays).toHaveLength(3);
    time.delays.forEach((delayMs, index) => {
      expect(delayMs).toBeGreaterThanOrEqual(50 * 2 ** index);
      expect(delayMs).toBeLessThanOrEqual(100 * 2 ** index);
    });
    expect(forwarder.forwarded).toEqual([]);
  });

  it('retries a network error through the injected fetch, with the same id', async () => {
    let calls = 0;
    const flaky: typeof fetch = async (input, init) => {
      calls += 1;
      if (calls === 1) throw new TypeError('fetch failed');
      return fetch(input, init);
    };
    const { sender, forwarder, received } = await setUp({ fetch: flaky });
    const delivery = await sender.send(event);
    expect(delivery.attempts.map((attempt) => attempt.status)).toEqual(['network_error', 200]);
    expect(delivery.outcome).toBe('accepted');
    expect(received.map((request) => request.id)).toEqual([delivery.id]);
    expect(forwarder.forwarded).toHaveLength(1);
  });

  it('gives the same ids for the same seed, others for another seed', async () => {
    const idsOf = async (seed: number) => {
      const { sender } = await setUp({ seed });
      await sender.send(event);
      await sender.send(event, { tamper: true });
      await sender.send(event);
      return sender.deliveries().map((delivery) => delivery.id);
    };
    const first = await idsOf(7);
    expect(await idsOf(7)).toEqual(first);
    expect(new Set(first).size).toBe(3);
    expect(await idsOf(8)).not.toEqual(first);
  });

  it('runs sends concurrently; drain waits for all of them; summary counts outcomes and refusal reasons', async () => {
    const { sender, forwarder } = await setUp();
    const started = [
      sender.send(event),
      sender.send({ type: testCase.type, data: { id: 'obj_2' } }),
      sender.send(event, { tamper: true }),
      sender.send(event, { lateBySeconds: 600 }),
      sender.send({ type: testCase.type, data: { id: 'obj_3' } }, { duplicate: true }),
    ];
    expect(sender.summary().pending).toBe(5);
    await sender.drain();
    expect(sender.summary()).toEqual({
      total: 5,
      pending: 0,
      byOutcome: { accepted: 2, duplicate: 1, refused: 2, gave_up: 0 },
      refusedBy: { bad_signature: 1, timestamp_out_of_tolerance: 1 },
    });
    expect((await Promise.all(started)).map((delivery) => delivery.outcome)).toEqual(['accepted', 'accepted', 'refused', 'refused', 'duplicate']);
    expect(sender.deliveries().map((delivery) => delivery.seq)).toEqual([1, 2, 3, 4, 5]);
    expect(forwarder.forwarded).toHaveLength(3);
    // Neither the secret nor any signature is in what the sender reports.
    const reported = JSON.stringify([sender.deliveries(), sender.summary()]);
    expect(reported).not.toContain(secret);
    expect(reported).not.toMatch(/v1[,=]/);
  });
});

describe('webhook sender configuration', () => {
  it('makes valid signing secrets, deterministic under a seeded stream', () => {
    const a = newSigningSecret({ scheme: 'standard-webhooks' }, new SeededRandom(1, 'x'));
    expect(a).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(a.slice('whsec_'.length), 'base64')).toHaveLength(32);
    expect(newSigningSecret('standard-webhooks', new SeededRandom(1, 'x'))).toBe(a);
    expect(newSigningSecret('timestamped-hmac', new SeededRandom(2, 'x'))).not.toBe(a);
    expect(newSigningSecret({ scheme: 'standard-webhooks' })).not.toBe(newSigningSecret({ scheme: 'standard-webhooks' }));
  });

  it('refuses unusable options, listing every problem without quoting the secret', () => {
    const attempt = () =>
      createWebhookSender({ url: 'not a url', scheme: { scheme: 'timestamped-hmac' } as unknown as WebhookSchemeDeclaration, signingSecret: '', maxAttempts: 0 });
    expect(attempt).toThrow(WebhookSenderConfigError);
    expect(attempt).toThrow(/url is not a URL.*header.*signingSecret must be a non-empty string.*maxAttempts/);
    const plain = 'not-a-whsec-secret';
    expect(() => createWebhookSender({ url: 'http://127.0.0.1:1/webhooks/crm', scheme: { scheme: 'standard-webhooks' }, signingSecret: plain })).toThrow(/whsec_<base64>/);
    try {
      createWebhookSender({ url: 'http://127.0.0.1:1/webhooks/crm', scheme: { scheme: 'standard-webhooks' }, signingSecret: plain });
    } catch (error) {
      expect(String(error)).not.toContain(plain);
    }
  });
});
