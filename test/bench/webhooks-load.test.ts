/**
 * The pure parts of the webhook benchmark (bench/webhooks.ts): the percentile it reports, the load generator against a
 * tiny loopback server, the pre-signed deliveries (verified by the endpoint's real schemes) and the baseline handler.
 * Outcomes only, never wall-clock thresholds: performance is measured by the benchmark, not here.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { signedDeliveries } from '../../bench/support/webhooks-deliveries.js';
import { median, percentile } from '../../bench/support/statistics.js';
import { createLoadAgent, runLoad, summarize } from '../../bench/support/webhooks-load.js';
import { startBaselineServer } from '../../bench/support/webhooks-servers.js';
import { schemeOf } from '../../functions/webhooks/webhook-handler.js';
import type { WebhookSchemeDeclaration } from '../../functions/webhooks/webhook-declaration.js';
import { newSigningSecret } from '../../local/sandbox/webhook-sender.js';

const cleanups: (() => Promise<void> | void)[] = [];
afterEach(async () => {
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});

/** A loopback server that holds answers until `concurrency` requests are in flight (or all `total` have arrived). */
async function gatedServer(concurrency: number, total: number) {
  const waiting: (() => void)[] = [];
  let received = 0;
  let maxInFlight = 0;
  const server: Server = createServer((request, response) => {
    received += 1;
    waiting.push(() => {
      // The request number echoed back, and every third one refused, to check answers stay in request order.
      const n = Number(request.headers['x-n']);
      response.writeHead(n % 3 === 2 ? 503 : 200, { 'content-type': 'text/plain' });
      response.end(String(n));
    });
    maxInFlight = Math.max(maxInFlight, waiting.length);
    if (waiting.length === concurrency || received === total) for (const release of waiting.splice(0)) release();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  cleanups.push(() => new Promise<void>((resolve) => server.close(() => resolve())));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, maxInFlight: () => maxInFlight };
}

describe('percentile', () => {
  it('is the nearest-rank value of the sorted input', () => {
    const values = Array.from({ length: 100 }, (_, i) => 100 - i);
    expect(percentile(values, 50)).toBe(50);
    expect(percentile(values, 99)).toBe(99);
    expect(percentile(values, 100)).toBe(100);
    expect(percentile(values, 0)).toBe(1);
    expect(percentile([7, 3, 5], 50)).toBe(5);
    expect(percentile([4], 99)).toBe(4);
  });

  it('refuses no values and a percentile outside 0-100', () => {
    expect(() => percentile([], 50)).toThrow(RangeError);
    expect(() => percentile([1], 101)).toThrow(RangeError);
  });

  it('median averages the middle two of an even count', () => {
    expect(median([3, 1, 2])).toBe(2);
    expect(median([4, 1, 3, 2])).toBe(2.5);
  });
});

describe('the load generator', () => {
  it('keeps exactly the given number in flight and returns the answers in request order', async () => {
    const total = 10;
    const server = await gatedServer(3, total);
    const agent = createLoadAgent(3);
    cleanups.push(() => agent.destroy());
    const requests = Array.from({ length: total }, (_, n) => ({ headers: { 'x-n': String(n) }, body: `{"n":${n}}` }));

    const run = await runLoad(server.url, requests, 3, agent);

    expect(server.maxInFlight()).toBe(3);
    expect(run.answers.map((answer) => answer.body)).toEqual(requests.map((_, n) => String(n)));
    expect(run.answers.map((answer) => answer.status)).toEqual(requests.map((_, n) => (n % 3 === 2 ? 503 : 200)));
    const summary = summarize(run);
    expect(summary.requests).toBe(total);
    expect(summary.p50Ms).toBeLessThanOrEqual(summary.p99Ms);
    expect(summary.p99Ms).toBeLessThanOrEqual(summary.maxMs);
    expect(summary.throughputPerSecond).toBeGreaterThan(0);
  });

  it('reports a request nobody answers as a network error instead of failing the run', async () => {
    const server = createServer();
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    const { port } = server.address() as AddressInfo;
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const agent = createLoadAgent(2);
    cleanups.push(() => agent.destroy());

    const run = await runLoad(`http://127.0.0.1:${port}/`, [{ headers: {}, body: '{}' }, { headers: {}, body: '{}' }], 2, agent);

    expect(run.answers.map((answer) => answer.status)).toEqual(['network_error', 'network_error']);
  });

  it('refuses a concurrency below 1', async () => {
    await expect(runLoad('http://127.0.0.1:1/', [], 0, createLoadAgent(1))).rejects.toThrow(RangeError);
  });
});

describe('pre-signed deliveries', () => {
  const declarations: WebhookSchemeDeclaration[] = [{ scheme: 'standard-webhooks' }, { scheme: 'timestamped-hmac', header: 'X-Bench-Signature' }];

  it.each(declarations)('each has its own id and passes the endpoint’s $scheme verification', (declaration) => {
    const signingSecret = newSigningSecret(declaration);
    // The standardwebhooks library checks the timestamp against the real clock, so sign at the real time.
    const now = Date.now();
    const deliveries = signedDeliveries({ scheme: declaration, signingSecret, count: 5, idPrefix: 'test', now: () => now });

    expect(new Set(deliveries.map((delivery) => delivery.id)).size).toBe(5);
    const scheme = schemeOf(declaration);
    for (const delivery of deliveries) {
      const verified = scheme.verify({ headers: delivery.headers, body: delivery.body }, [signingSecret], new Date(now));
      expect(verified).toMatchObject({ id: delivery.id, type: 'ticket.closed' });
    }
    // Another key does not verify: the signatures are real.
    expect(() => scheme.verify({ headers: deliveries[0]!.headers, body: deliveries[0]!.body }, [newSigningSecret(declaration)], new Date(now))).toThrow();
  });
});

describe('the baseline handler', () => {
  it('answers 200 accepted to JSON and 400 to anything else', async () => {
    const baseline = await startBaselineServer();
    cleanups.push(() => baseline.close());
    const agent = createLoadAgent(1);
    cleanups.push(() => agent.destroy());

    const run = await runLoad(baseline.url, [{ headers: {}, body: '{"type":"ticket.closed"}' }, { headers: {}, body: 'not json' }], 1, agent);

    expect(run.answers.map((answer) => [answer.status, answer.body])).toEqual([
      [200, '{"status":"accepted"}'],
      [400, '{"error":"bad_json"}'],
    ]);
  });
});
