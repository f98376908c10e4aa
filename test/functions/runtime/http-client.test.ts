import fc from 'fast-check';
import { z } from 'zod';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { createCredentialsProvider } from '../../../functions/runtime/credentials.js';
import {
  AuthenticationError,
  CallTimeoutError,
  CircuitOpenError,
  ConfigurationError,
  ConnectionError,
  DependencyError,
  InvalidCredentialsError,
  MalformedResponseError,
  ProviderRejectedError,
  ReauthorizationRequiredError,
  RetryableStatusError,
  ThrottledError,
  TransientError,
  TokenEndpointError,
} from '../../../functions/runtime/errors.js';
import { createHttpClient, providerErrorSummary, type AttemptEvent, type HttpClientOptions, type RetryEvent } from '../../../functions/runtime/http-client.js';
import { StaticSecretSource } from '../../../functions/runtime/static-secret-source.js';
import {
  FakeClock,
  RecordingCredentials,
  RecordingGuard,
  rejectionOf,
  serializeError,
  startLoopbackServer,
  unusedPort,
  type LoopbackServer,
} from './http-test-kit.js';

let server: LoopbackServer;
let clock: FakeClock;
let guard: RecordingGuard;
let credentials: RecordingCredentials;
/** Virtual Lambda deadline: remaining time follows the fake clock. */
let deadline: number;

beforeAll(async () => {
  server = await startLoopbackServer();
});
afterAll(async () => {
  await server.close();
});
beforeEach(() => {
  server.requests.length = 0;
  server.replies.length = 0;
  server.fallback = { status: 200, body: {} };
  clock = new FakeClock();
  guard = new RecordingGuard();
  credentials = new RecordingCredentials();
  deadline = clock.now() + 60_000;
});
afterEach(() => {
  vi.restoreAllMocks();
});

function client(overrides: Partial<HttpClientOptions> = {}) {
  return createHttpClient({
    baseUrl: `${server.url}/v1`,
    timeoutMs: 2000,
    retry: { maxAttempts: 3, baseDelayMs: 100, maxDelayMs: 1000 },
    safetyMarginMs: 1000,
    remainingTimeMs: () => deadline - clock.now(),
    credentials,
    guard,
    correlationId: 'corr-123',
    idempotencyKey: 'file:42:v3',
    clock,
    ...overrides,
  });
}

describe('createHttpClient: a successful call', () => {
  it('sends JSON with the correlation, idempotency, user-agent and auth headers and returns the parsed body', async () => {
    server.replies.push({ status: 201, headers: { 'x-request-id': 'r-1' }, body: { id: 'ext-1' } });

    const res = await client({ defaultHeaders: { 'X-Tenant': 't-1' } }).post<{ id: string }>('/files', { name: 'a.txt' }, { query: { dryRun: false, tag: ['a', 'b'] } });

    expect(res).toMatchObject({ status: 201, body: { id: 'ext-1' } });
    expect(res.headers['x-request-id']).toBe('r-1');
    const [req] = server.requests;
    expect(req).toMatchObject({ method: 'POST', url: '/v1/files?dryRun=false&tag=a&tag=b', body: '{"name":"a.txt"}' });
    expect(req?.headers).toMatchObject({
      'content-type': 'application/json',
      accept: 'application/json',
      'x-correlation-id': 'corr-123',
      'idempotency-key': 'file:42:v3',
      'user-agent': 'integration-hub',
      authorization: 'Bearer token-1',
      'x-tenant': 't-1',
    });
    expect(guard.calls.map((call) => call.type)).toEqual(['acquire', 'succeeded']);
  });

  it('sends no Content-Type and no Idempotency-Key when there is no body and no key', async () => {
    await client({ idempotencyKey: undefined }).get('/files/1');

    const headers = server.requests[0]?.headers ?? {};
    expect(headers['content-type']).toBeUndefined();
    expect(headers['idempotency-key']).toBeUndefined();
    expect(headers['x-correlation-id']).toBe('corr-123');
  });

  it('lets per-request headers override defaults but never the auth or correlation headers', async () => {
    await client({ defaultHeaders: { Accept: 'text/plain' } }).put('/files/1', { a: 1 }, {
      headers: { Accept: 'application/vnd.api+json', Authorization: 'Bearer forged', 'X-Correlation-Id': 'other' },
    });

    expect(server.requests[0]?.headers).toMatchObject({ accept: 'application/vnd.api+json', authorization: 'Bearer token-1', 'x-correlation-id': 'corr-123' });
  });

  it.each([
    ['DELETE', (c: ReturnType<typeof client>) => c.delete('/files/1')],
    ['PATCH', (c: ReturnType<typeof client>) => c.patch('/files/1', { a: 1 })],
    ['GET', (c: ReturnType<typeof client>) => c.request({ method: 'GET', path: 'files/1' })],
  ])('issues %s requests under the base path', async (method, call) => {
    await call(client());
    expect(server.requests[0]).toMatchObject({ method, url: '/v1/files/1' });
  });

  it('resolves an empty 2xx body (204) to undefined and reports success', async () => {
    server.replies.push({ status: 204 });
    const res = await client().delete('/files/1');
    expect(res).toMatchObject({ status: 204, body: undefined });
    expect(guard.reports()).toEqual(['succeeded']);
  });

  it('resolves an empty 202 body labelled JSON to undefined rather than retrying a call that took effect', async () => {
    server.replies.push({ status: 202, headers: { 'content-type': 'application/json' }, body: '' });
    await expect(client().post('/files', {})).resolves.toMatchObject({ status: 202, body: undefined });
    expect(server.requests).toHaveLength(1);
  });
});

describe('createHttpClient: outcome classification', () => {
  const once = { maxAttempts: 1, baseDelayMs: 100, maxDelayMs: 1000 };

  it('classifies a 2xx whose body is not JSON as MalformedResponseError (transient) and reports a failure', async () => {
    server.replies.push({ status: 200, headers: { 'content-type': 'application/json' }, body: '<html>oops</html>' });

    const error = await rejectionOf(client({ retry: once }).get('/files/1'));

    expect(error).toBeInstanceOf(MalformedResponseError);
    expect(error).toBeInstanceOf(TransientError);
    expect((error as Error).message).toContain('GET /v1/files/1 -> 200');
    expect((error as Error).message).not.toContain('oops');
    expect(guard.reports()).toEqual(['failed']);
  });

  it('classifies a non-empty non-JSON 2xx body without a JSON content type as malformed too', async () => {
    server.replies.push({ status: 200, headers: { 'content-type': 'text/plain' }, body: 'OK' });
    expect(await rejectionOf(client({ retry: once }).get('/files/1'))).toBeInstanceOf(MalformedResponseError);
  });

  it('classifies a provider that never answers as CallTimeoutError and reports a failure', async () => {
    server.replies.push({ kind: 'hang' });

    const error = await rejectionOf(client({ retry: once, timeoutMs: 150 }).get('/slow'));

    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as Error).message).toBe('GET /v1/slow: no response within 150 ms');
    expect(guard.calls.map((call) => call.type)).toEqual(['acquire', 'failed']);
  });

  it('classifies a body that stalls after the headers as CallTimeoutError', async () => {
    server.replies.push({ kind: 'stall-body' });
    expect(await rejectionOf(client({ retry: once, timeoutMs: 150 }).get('/slow-body'))).toBeInstanceOf(CallTimeoutError);
  });

  it('bounds the per-attempt timeout by the remaining Lambda time minus the safety margin', async () => {
    server.replies.push({ kind: 'hang' });
    deadline = clock.now() + 1000 + 120; // 120 ms usable, although timeoutMs is 2 s

    const error = await rejectionOf(client({ retry: { ...once, minAttemptMs: 50 } }).get('/slow'));

    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as Error).message).toContain('within 120 ms');
  });

  it('classifies a connection reset as ConnectionError with the network cause kept', async () => {
    server.replies.push({ kind: 'reset' });

    const error = await rejectionOf(client({ retry: once }).get('/files/1'));

    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toMatch(/^GET \/v1\/files\/1: connection failed \(.+\)$/);
    expect((error as Error).cause).toBeInstanceOf(Error);
    expect(guard.reports()).toEqual(['failed']);
  });

  it('classifies a refused connection as ConnectionError', async () => {
    const port = await unusedPort();
    const error = await rejectionOf(client({ retry: once, baseUrl: `http://127.0.0.1:${port}` }).get('/x'));
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it.each([500, 502, 503, 504, 408, 425, 429])('classifies status %i as RetryableStatusError and reports a failure', async (status) => {
    server.replies.push({ status, body: { error: { code: 'Busy', message: 'try later' } } });

    const error = await rejectionOf(client({ retry: once }).post('/files', { a: 1 }));

    expect(error).toBeInstanceOf(RetryableStatusError);
    expect(error).toMatchObject({ status, category: 'transient' });
    expect((error as Error).message).toBe(`POST /v1/files -> ${status}: Busy: try later`);
    expect(guard.reports()).toEqual(['failed']);
  });

  it.each([400, 404, 409, 410, 422])('classifies status %i as ProviderRejectedError, never retries, and reports success', async (status) => {
    server.replies.push({ status, body: { code: 'invalid_field', message: 'name is required' } });

    const error = await rejectionOf(client().post('/files', { a: 1 }));

    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(error).toMatchObject({ status, category: 'permanent', errorClass: `Http${status}` });
    expect((error as Error).message).toBe(`POST /v1/files -> ${status}: invalid_field: name is required`);
    expect(server.requests).toHaveLength(1);
    expect(guard.reports()).toEqual(['succeeded']);
    expect(clock.sleeps).toEqual([]);
  });

  it('truncates a long provider error message and leaves out non-JSON error bodies', async () => {
    server.replies.push({ status: 422, body: { message: 'x'.repeat(5000) } });
    const long = (await rejectionOf(client().post('/files', {}))) as Error;
    expect(long.message.length).toBeLessThan(300);

    server.replies.push({ status: 400, headers: { 'content-type': 'text/html' }, body: '<h1>Bad Request</h1>' });
    const html = (await rejectionOf(client().post('/files', {}))) as Error;
    expect(html.message).toBe('POST /v1/files -> 400');
  });

  it('does not follow redirects (they would carry auth headers elsewhere) and rejects them', async () => {
    server.replies.push({ status: 302, headers: { location: `${server.url}/elsewhere?token=abc` } });

    const error = await rejectionOf(client().get('/files/1'));

    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(server.requests.map((req) => req.url)).toEqual(['/v1/files/1']);
    expect((error as Error).message).not.toContain('abc');
  });

  it('names the method and path but never the query string in errors', async () => {
    server.replies.push({ status: 400 });
    const error = (await rejectionOf(client().get('/items', { query: { token: 'q-secret', page: 2 } }))) as Error;
    expect(error.message).toBe('GET /v1/items -> 400');
    expect(serializeError(error)).not.toContain('q-secret');
  });
});

describe('createHttpClient: the schema of a 2xx answer', () => {
  const created = z.object({ id: z.string().min(1) });
  const once = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 };

  it('gives the checked body, typed, and reports the attempt as a success', async () => {
    server.replies.push({ status: 201, body: { id: 'f-1', extra: true } });
    const res = await client().post('/files', { a: 1 }, { schema: created });
    expect(res.body.id).toBe('f-1');
    expect(guard.reports()).toEqual(['succeeded']);
  });

  it('fails an unusable 2xx inside the attempt: counted against the provider and retried, never a success first', async () => {
    // `200 {}` to everything must open the circuit like a 503 would.
    server.replies.push({ status: 200, body: {} }, { status: 200, body: { ok: true } }, { status: 201, body: { id: 'f-2' } });
    const res = await client().post('/files', { a: 1 }, { schema: created });
    expect(res.body).toEqual({ id: 'f-2' });
    expect(guard.reports()).toEqual(['failed', 'failed', 'succeeded']);
    expect(server.requests).toHaveLength(3);
  });

  it("says what was missing, without the provider's values, and treats an empty 2xx the schema needs a body for as unusable", async () => {
    server.replies.push({ status: 200, body: { id: '' } });
    const error = (await rejectionOf(client({ retry: once }).post('/files', {}, { schema: created }))) as Error;
    expect(error).toBeInstanceOf(MalformedResponseError);
    expect(error.message).toMatch(/^POST \/v1\/files -> 200: unusable answer \(id: /);
    server.replies.push({ status: 204 });
    expect(await rejectionOf(client({ retry: once }).post('/files', {}, { schema: created }))).toBeInstanceOf(MalformedResponseError);
    expect(guard.reports()).toEqual(['failed', 'failed']);
  });
});

describe('createHttpClient: a retry the circuit refuses', () => {
  it("carries the provider's failure on the circuit's refusal, so the ledger keeps the real cause", async () => {
    server.replies.push({ status: 503, body: { error: { message: 'maintenance' } } });
    guard.deny = (count) => (count === 2 ? new CircuitOpenError('alpha', clock.now() + 30_000, 'circuit alpha is open') : undefined);
    const error = (await rejectionOf(client().post('/files', {}))) as CircuitOpenError;
    expect(error).toBeInstanceOf(CircuitOpenError);
    expect(error.providerError).toBeInstanceOf(RetryableStatusError);
    expect(error.providerError?.message).toBe('POST /v1/files -> 503: maintenance');
    // Refused before any attempt: nothing to carry.
    guard.deny = new CircuitOpenError('alpha', clock.now() + 30_000, 'circuit alpha is open');
    expect(((await rejectionOf(client().post('/files', {}))) as CircuitOpenError).providerError).toBeUndefined();
  });
});

describe('createHttpClient: retries', () => {
  it('retries transient failures with backoff until it succeeds', async () => {
    server.replies.push({ status: 503 }, { kind: 'reset' }, { status: 200, body: { ok: true } });

    const res = await client().post('/files', { a: 1 });

    expect(res.body).toEqual({ ok: true });
    expect(server.requests).toHaveLength(3);
    expect(clock.sleeps).toHaveLength(2);
    expect(guard.reports()).toEqual(['failed', 'failed', 'succeeded']);
    expect(guard.count('acquire')).toBe(3);
  });

  it('stops at maxAttempts and throws the last transient error', async () => {
    server.fallback = { status: 503, body: { message: 'down' } };

    const error = await rejectionOf(client({ retry: { maxAttempts: 4, baseDelayMs: 100, maxDelayMs: 250 } }).post('/files', {}));

    expect(error).toBeInstanceOf(RetryableStatusError);
    expect(server.requests).toHaveLength(4);
    expect(clock.sleeps).toHaveLength(3);
    for (const delay of clock.sleeps) expect(delay).toBeLessThanOrEqual(250);
  });

  it('stops before the deadline: no wait ends later than the remaining time minus the margin', async () => {
    server.fallback = { status: 500 };
    deadline = clock.now() + 1000 + 3000; // 3 s usable
    const retry = { maxAttempts: 50, baseDelayMs: 400, maxDelayMs: 5000, minAttemptMs: 200 };

    const error = await rejectionOf(client({ retry }).post('/files', {}));

    expect(error).toBeInstanceOf(RetryableStatusError);
    expect(server.requests.length).toBeGreaterThan(1);
    expect(server.requests.length).toBeLessThan(50);
    expect(clock.now() + retry.minAttemptMs).toBeLessThanOrEqual(deadline - 1000);
  });

  it('makes no attempt at all when too little time is left, without touching the guard', async () => {
    deadline = clock.now() + 1000 + 100; // 100 ms usable, minAttemptMs defaults to 500

    const error = await rejectionOf(client().get('/files/1'));

    expect(error).toBeInstanceOf(CallTimeoutError);
    expect((error as Error).message).toContain('not attempted');
    expect(server.requests).toHaveLength(0);
    expect(guard.calls).toEqual([]);
  });

  it('honours Retry-After in seconds', async () => {
    server.replies.push({ status: 503, headers: { 'retry-after': '3' } }, { status: 200, body: {} });

    await client().get('/files/1');

    expect(clock.sleeps).toEqual([3000]);
  });

  it('honours Retry-After as an HTTP date', async () => {
    server.replies.push({ status: 503, headers: { 'retry-after': new Date(clock.now() + 7000).toUTCString() } }, { status: 200, body: {} });

    await client().get('/files/1');

    expect(clock.sleeps).toEqual([7000]);
  });

  it('gives up at once when Retry-After lies beyond the deadline, keeping retryAfterMs on the error', async () => {
    server.replies.push({ status: 503, headers: { 'retry-after': '120' } });

    const error = await rejectionOf(client().get('/files/1'));

    expect(error).toMatchObject({ status: 503, retryAfterMs: 120_000 });
    expect(server.requests).toHaveLength(1);
    expect(clock.sleeps).toEqual([]);
  });

  it('sends the same Idempotency-Key and the same body on every retry', async () => {
    server.replies.push({ status: 502 }, { kind: 'reset' }, { status: 200, body: {} });

    await client().post('/files', { name: 'a', size: 3 });

    expect(server.requests.map((req) => req.headers['idempotency-key'])).toEqual(['file:42:v3', 'file:42:v3', 'file:42:v3']);
    expect(new Set(server.requests.map((req) => req.body)).size).toBe(1);
    expect(server.requests.map((req) => req.headers['x-correlation-id'])).toEqual(['corr-123', 'corr-123', 'corr-123']);
  });

  it('reports attempts and retries to the observer', async () => {
    server.replies.push({ status: 503 }, { status: 200, body: {} });
    const attempts: AttemptEvent[] = [];
    const retries: RetryEvent[] = [];

    await client({ observer: { attempt: (e) => attempts.push(e), retry: (e) => retries.push(e) } }).get('/files/1');

    expect(attempts.map((e) => [e.attempt, e.status, e.error?.constructor.name])).toEqual([
      [1, 503, 'RetryableStatusError'],
      [2, 200, undefined],
    ]);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatchObject({ attempt: 1, delayMs: clock.sleeps[0] });
  });

  it('tells the observer about a 401 before the credential refresh', async () => {
    server.replies.push({ status: 401 }, { status: 200, body: {} });
    const attempts: AttemptEvent[] = [];
    await client({ observer: { attempt: (e) => attempts.push(e), retry: () => {} } }).get('/files/1');
    expect(attempts.map((e) => [e.attempt, e.status, e.error?.constructor.name])).toEqual([
      [1, 401, 'ProviderRejectedError'],
      [2, 200, undefined],
    ]);
  });

  it('never sleeps past the deadline nor longer than maxDelayMs, for any policy and remaining time (property)', async () => {
    const unavailable = (async () => new Response('{}', { status: 503 })) as typeof fetch;
    await fc.assert(
      fc.asyncProperty(
        fc.record({
          maxAttempts: fc.integer({ min: 1, max: 20 }),
          baseDelayMs: fc.integer({ min: 0, max: 5000 }),
          maxDelayMs: fc.integer({ min: 0, max: 20_000 }),
          minAttemptMs: fc.integer({ min: 0, max: 2000 }),
          safetyMarginMs: fc.integer({ min: 0, max: 5000 }),
          remainingMs: fc.integer({ min: 0, max: 120_000 }),
          seed: fc.integer(),
        }),
        async (p) => {
          const virtual = new FakeClock(Date.UTC(2030, 0, 1), p.seed);
          const end = virtual.now() + p.remainingMs;
          const calls: number[] = [];
          const fetchAt = (async (...args: Parameters<typeof fetch>) => {
            calls.push(virtual.now());
            return unavailable(...args);
          }) as typeof fetch;
          const c = createHttpClient({
            baseUrl: 'http://provider.invalid',
            timeoutMs: 1000,
            retry: { maxAttempts: p.maxAttempts, baseDelayMs: p.baseDelayMs, maxDelayMs: p.maxDelayMs, minAttemptMs: p.minAttemptMs },
            safetyMarginMs: p.safetyMarginMs,
            remainingTimeMs: () => end - virtual.now(),
            credentials: new RecordingCredentials(),
            guard: new RecordingGuard(),
            correlationId: 'c',
            clock: virtual,
            fetch: fetchAt,
          });

          const error = await rejectionOf(c.get('/x'));

          expect(error).toBeInstanceOf(TransientError);
          expect(calls.length).toBeLessThanOrEqual(p.maxAttempts);
          for (const delay of virtual.sleeps) expect(delay).toBeLessThanOrEqual(p.maxDelayMs);
          // every attempt starts with at least minAttemptMs (and > 0 ms) left before remaining − margin
          for (const at of calls) {
            expect(end - p.safetyMarginMs - at).toBeGreaterThanOrEqual(p.minAttemptMs);
            expect(end - p.safetyMarginMs - at).toBeGreaterThan(0);
          }
        },
      ),
      { numRuns: 300 },
    );
  });

  it('keeps working when the observer throws', async () => {
    server.replies.push({ status: 503 }, { status: 200, body: {} });
    const observer = {
      attempt: () => {
        throw new Error('observer bug');
      },
      retry: () => {
        throw new Error('observer bug');
      },
    };
    await expect(client({ observer }).get('/files/1')).resolves.toMatchObject({ status: 200 });
  });
});

describe('createHttpClient: rate limiting and the circuit guard', () => {
  it('shares a 429 Retry-After with every instance via guard.throttle and does not count it as a provider failure', async () => {
    server.replies.push({ status: 429, headers: { 'retry-after': '2' } }, { status: 200, body: {} });
    const start = clock.now();

    await client().get('/files/1');

    expect(guard.calls).toEqual([
      { type: 'acquire' },
      { type: 'succeeded', latencyMs: 0 },
      { type: 'throttle', untilMs: start + 2000 },
      { type: 'acquire' },
      { type: 'succeeded', latencyMs: 0 },
    ]);
    expect(clock.sleeps).toEqual([2000]);
  });

  it('counts a 429 without Retry-After as a failure (the breaker is the only shared backpressure) and does not throttle', async () => {
    server.replies.push({ status: 429 });
    await rejectionOf(client({ retry: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 } }).get('/files/1'));
    expect(guard.reports()).toEqual(['failed']);
    expect(guard.count('throttle')).toBe(0);
  });

  it('does not throttle for a 503 with Retry-After (only 429 means "slow down")', async () => {
    server.replies.push({ status: 503, headers: { 'retry-after': '1' } }, { status: 200, body: {} });
    await client().get('/files/1');
    expect(guard.count('throttle')).toBe(0);
    expect(guard.reports()).toEqual(['failed', 'succeeded']);
  });

  it('propagates a NotAttemptedError from the guard without calling fetch or reading credentials', async () => {
    const open = new CircuitOpenError('crm', clock.now() + 30_000, 'circuit crm is open');
    guard.deny = open;
    const fetchSpy = vi.fn(globalThis.fetch);

    const error = await rejectionOf(client({ fetch: fetchSpy }).post('/files', {}));

    expect(error).toBe(open);
    expect(fetchSpy).not.toHaveBeenCalled();
    expect(credentials.calls).toEqual([]);
    expect(server.requests).toHaveLength(0);
  });

  it('propagates a NotAttemptedError raised before a retry (e.g. throttled by another instance) without retrying', async () => {
    server.replies.push({ status: 503 });
    const throttled = new ThrottledError('crm', clock.now() + 10_000, 'throttled');
    guard.deny = (count) => (count === 2 ? throttled : undefined);

    expect(await rejectionOf(client().get('/files/1'))).toBe(throttled);
    expect(server.requests).toHaveLength(1);
  });

  it('keeps the outcome of the call when the guard cannot record it', async () => {
    guard.failReports = true;
    server.replies.push({ status: 429, headers: { 'retry-after': '1' } }, { status: 200, body: { id: 1 } });

    await expect(client().get('/files/1')).resolves.toMatchObject({ body: { id: 1 } });
    expect(server.requests).toHaveLength(2);
  });
});

describe('createHttpClient: credentials', () => {
  it('on 401 fetches credentials fresh exactly once, retries once at once, then fails with AuthenticationError counted against the circuit', async () => {
    server.fallback = { status: 401, body: { error: 'invalid_token' } };

    const error = await rejectionOf(client().get('/files/1'));

    expect(error).toBeInstanceOf(AuthenticationError);
    // Rejected credentials are not the message's fault: transient (never the DLQ), and an outage for the circuit.
    expect(error).toMatchObject({ status: 401, category: 'transient', errorClass: 'AuthenticationFailed' });
    expect((error as Error).message).toContain('GET /v1/files/1 -> 401: invalid_token');
    expect(credentials.calls).toEqual([{ fresh: false }, { fresh: true }]);
    // The fresh fetch names the refused headers: a token another call already replaced is not replaced twice.
    expect(credentials.refused).toEqual([{ Authorization: 'Bearer token-1' }]);
    expect(server.requests.map((req) => req.headers.authorization)).toEqual(['Bearer token-1', 'Bearer token-2']);
    // Not retried within the call: the same credentials would be rejected again.
    expect(clock.sleeps).toEqual([]);
    // One report for the two attempts: a first 401 counted as a success would reset the circuit's failure count.
    expect(guard.reports()).toEqual(['failed']);
  });

  it('a refused OAuth grant (refresh token) isolates the circuit with "re-authorization needed" and parks the message: no call, no failure counted', async () => {
    credentials.fail = new ReauthorizationRequiredError('Token endpoint 127.0.0.1/oauth/token rejected the grant: 400 invalid_grant');

    const error = await rejectionOf(client().get('/files/1'));

    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).providerError).toBe(credentials.fail);
    expect(server.requests).toHaveLength(0);
    expect(guard.calls.filter((call) => call.type === 'isolate')).toEqual([
      { type: 'isolate', reason: 're-authorization needed: Token endpoint 127.0.0.1/oauth/token rejected the grant: 400 invalid_grant' },
    ]);
    expect(guard.reports()).toEqual([]);
  });

  it('a 401 right after a fresh access token, from credentials that say so, isolates the circuit for re-authorization', async () => {
    server.fallback = { status: 401, body: { error: 'invalid_token' } };
    const revocable = Object.assign(credentials, { rejectionAfterFreshMeansReauthorization: true });

    const error = await rejectionOf(client({ credentials: revocable }).get('/files/1'));

    expect(error).toBeInstanceOf(CircuitOpenError);
    expect((error as CircuitOpenError).providerError).toBeInstanceOf(ReauthorizationRequiredError);
    expect(credentials.calls).toEqual([{ fresh: false }, { fresh: true }]);
    expect(guard.calls.filter((call) => call.type === 'isolate')).toEqual([
      { type: 'isolate', reason: expect.stringMatching(/^re-authorization needed: GET \/v1\/files\/1 -> 401: invalid_token \(right after a fresh access token\)$/) },
    ]);
    expect(guard.reports()).toEqual([]);
  });

  it('on 403 with rotated credentials succeeds on the immediate retry, even with a budget of one attempt', async () => {
    server.replies.push({ status: 403 }, { status: 200, body: { id: 'x' } });

    const res = await client({ retry: { maxAttempts: 1, baseDelayMs: 100, maxDelayMs: 100 } }).get('/files/1');

    expect(res.body).toEqual({ id: 'x' });
    expect(credentials.freshCalls).toBe(1);
    expect(server.requests).toHaveLength(2);
  });

  it('picks up a rotated secret through the real credentials provider', async () => {
    const secrets = new StaticSecretSource({ 'crm/api': { apiKey: 'old-key' } });
    const provider = createCredentialsProvider({ auth: { scheme: 'api_key' }, secretName: 'crm/api', secrets });
    server.replies.push({ status: 401 }, { status: 200, body: {} });
    secrets.set('crm/api', { apiKey: 'new-key' });

    await client({ credentials: provider }).get('/files/1');

    expect(server.requests.map((req) => req.headers['x-api-key'])).toEqual(['new-key', 'new-key']);
    expect(secrets.forcedReads).toBe(1);
  });

  it('retries a secret store failure without reporting to the permit (the provider was not contacted)', async () => {
    const dependency = new DependencyError('SecretsManager', 'secret store unavailable');
    let calls = 0;
    const flaky = {
      headers: async () => {
        calls += 1;
        if (calls === 1) throw dependency;
        return { Authorization: 'Bearer t' };
      },
    };

    await client({ credentials: flaky }).get('/files/1');

    expect(server.requests).toHaveLength(1);
    expect(guard.reports()).toEqual(['succeeded']);
    expect(clock.sleeps).toHaveLength(1);
  });

  it('retries a 409 saying the same Idempotency-Key is still in progress, without counting it against the provider', async () => {
    server.replies.push({ status: 409, body: { error: { code: 'idempotency_in_progress', message: 'busy' } } }, { status: 201, body: { id: 'x' } });

    const response = await client({ idempotencyKey: 'k-1' }).post('/files', { a: 1 });

    expect(response.body).toEqual({ id: 'x' });
    expect(server.requests).toHaveLength(2);
    expect(guard.reports()).toEqual(['succeeded', 'succeeded']);
  });

  it('keeps any other 409 a permanent refusal', async () => {
    server.replies.push({ status: 409, body: { error: { code: 'insufficient_stock', message: 'no stock' } } });
    const error = await rejectionOf(client({ idempotencyKey: 'k-2' }).post('/reservations', {}));
    expect(error).toBeInstanceOf(ProviderRejectedError);
    expect(server.requests).toHaveLength(1);
  });

  it('reports a failing OAuth token endpoint to the permit as a provider failure', async () => {
    const flaky = {
      headers: async () => {
        throw new TokenEndpointError('token endpoint answered 503');
      },
    };

    await rejectionOf(client({ credentials: flaky }).get('/files/1'));

    expect(server.requests).toHaveLength(0);
    expect(guard.reports().every((r) => r === 'failed')).toBe(true);
    expect(guard.reports().length).toBeGreaterThan(0);
  });

  it('fails with InvalidCredentialsError, never quoting the value, when credentials yield an illegal header value', async () => {
    const bad = { headers: async () => ({ Authorization: 'Bearer sec\nret-value' }) };
    const error = await rejectionOf(client({ credentials: bad }).get('/files/1'));
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect(serializeError(error)).not.toContain('ret-value');
    expect(server.requests).toHaveLength(0);
  });

  it('never puts credentials into any thrown error, whatever the failure', async () => {
    const secret = 'sk_live_SUPERSECRET_123456';
    const secrets = new StaticSecretSource({ s: { token: secret } });
    const provider = createCredentialsProvider({ auth: { scheme: 'bearer' }, secretName: 's', secrets });
    const once = { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 1 };
    const scenarios = [
      [{ status: 401, body: { error: 'invalid_token', error_description: `token ${secret} is revoked` } }, { status: 401, body: { message: `Bearer ${secret}` } }],
      [{ status: 400, body: { error: { code: 'bad', message: `you sent Authorization: Bearer ${secret}` } } }],
      [{ status: 503, body: { message: `backend rejected ${secret}` } }],
      [{ status: 200, body: `{"echo": "${secret}"` }],
      [{ kind: 'reset' as const }],
      [{ kind: 'hang' as const }],
    ];

    for (const replies of scenarios) {
      server.replies.length = 0;
      server.replies.push(...replies);
      const error = await rejectionOf(client({ credentials: provider, retry: once, timeoutMs: 100, idempotencyKey: undefined }).get('/files/1'));
      expect(error).toBeInstanceOf(Error);
      const serialized = serializeError(error);
      expect(serialized).not.toContain(secret);
      expect(serialized).not.toContain('SUPERSECRET');
    }
  });
});

describe('createHttpClient: configuration', () => {
  it('reports every invalid option at once', () => {
    const options = { baseUrl: 'ftp://x?y=1', timeoutMs: 0, retry: { maxAttempts: 0, baseDelayMs: -1, maxDelayMs: Number.NaN } };
    expect(() => client(options)).toThrow(ConfigurationError);
    expect(() => client(options)).toThrow(/baseUrl must be http\(s\).*query string.*timeoutMs.*maxAttempts.*baseDelayMs.*maxDelayMs/);
  });
});

describe('providerErrorSummary', () => {
  it.each([
    [{ error: 'invalid_grant', error_description: 'expired' }, 'invalid_grant: expired'],
    [{ error: { code: 'E1', message: 'bad' } }, 'E1: bad'],
    [{ errors: [{ code: 'E2', message: 'worse' }, { code: 'E3' }] }, 'E2: worse'],
    [{ title: 'Invalid', detail: 'name missing' }, 'Invalid: name missing'],
    [{ message: 'only a message' }, 'only a message'],
    [{ unrelated: true }, undefined],
    [[1, 2], undefined],
  ])('summarises %j', (body, expected) => {
    expect(providerErrorSummary(JSON.stringify(body))).toBe(expected);
  });

  it('redacts known credential fragments', () => {
    expect(providerErrorSummary('{"message":"key abcd1234 invalid"}', ['abcd1234'])).toBe('key [redacted] invalid');
  });
});
