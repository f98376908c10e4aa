import { performance } from 'node:perf_hooks';
import { afterEach, describe, expect, it } from 'vitest';
import { ProviderFaults } from '../../../local/sandbox/faults.js';
import { type ProviderName, type Sandbox, SandboxConfigError, type SandboxOptions, startSandbox } from '../../../local/sandbox/index.js';
import { SeededRandom } from '../../../local/sandbox/random.js';
import { chargeBody, crmToken, errorCode, eventually, get, manualClock, postAs, postFile, postJson, postPayments, shipmentBody } from './helpers.js';

const opened: Sandbox[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

async function start(options: SandboxOptions = {}): Promise<Sandbox> {
  const s = await startSandbox({ seed: 42, ...options });
  opened.push(s);
  return s;
}

/** Statuses of `count` sequential health probes. */
async function probeStatuses(s: Sandbox, count: number, provider: ProviderName = 'payments'): Promise<number[]> {
  const statuses: number[] = [];
  for (let i = 0; i < count; i++) {
    const response = await get(`${s.providerUrl(provider)}/health`);
    await response.arrayBuffer();
    statuses.push(response.status);
  }
  return statuses;
}

describe('sandbox faults: errorRate', () => {
  it('gives the same statuses for the same seed and request sequence, and other statuses for another seed', async () => {
    const first = await start({ seed: 42, faults: { payments: { errorRate: 0.5 } } });
    const second = await start({ seed: 42, faults: { payments: { errorRate: 0.5 } } });
    const other = await start({ seed: 4242, faults: { payments: { errorRate: 0.5 } } });
    const a = await probeStatuses(first, 30);
    const b = await probeStatuses(second, 30);
    const c = await probeStatuses(other, 30);
    expect(b).toEqual(a);
    expect(c).not.toEqual(a);
    expect(a).toContain(200);
    expect(a.some((status) => status >= 500)).toBe(true);
    expect(new Set(a).size).toBeGreaterThan(2);
    for (const status of a) expect([200, 500, 502, 503]).toContain(status);
  });

  it('repeats the same sequence after reset()', async () => {
    const s = await start();
    s.setFaults('payments', { errorRate: 0.5 });
    const before = await probeStatuses(s, 20);
    s.reset();
    s.setFaults('payments', { errorRate: 0.5 });
    expect(await probeStatuses(s, 20)).toEqual(before);
  });

  it('answers 502 with an HTML page, like a proxy in front of the API', async () => {
    const s = await start({ faults: { crm: { errorRate: 1, errorStatuses: [502] } } });
    const response = await get(`${s.providerUrl('crm')}/health`);
    expect(response.status).toBe(502);
    expect(response.headers.get('content-type')).toMatch(/^text\/html/);
    expect(await response.text()).toContain('502 Bad Gateway');
  });

  it('fails nothing at errorRate 0 and leaves the other provider alone', async () => {
    const s = await start({ faults: { payments: { errorRate: 0 }, crm: { errorRate: 1 } } });
    expect(await probeStatuses(s, 5)).toEqual([200, 200, 200, 200, 200]);
    expect((await probeStatuses(s, 3, 'crm')).every((status) => status >= 500)).toBe(true);
  });
});

describe('sandbox faults: fixed status', () => {
  it('answers the configured status with a matching error body, without running the route', async () => {
    const s = await start();
    s.setFaults('payments', { status: 503 });
    const response = await postPayments(s, '/charges', chargeBody());
    expect(response.status).toBe(503);
    expect(await errorCode(response)).toBe('service_unavailable');
    expect(s.payments.charges()).toHaveLength(0);
    expect(s.journal.entries({ provider: 'payments' })[0]).toMatchObject({ fault: 'status', status: 503, route: '/charges' });
  });

  it('answers 401 invalid_credentials even to valid credentials (to drive the rotation path)', async () => {
    const s = await start();
    const token = await crmToken(s);
    s.setFaults('crm', { status: 401 });
    const response = await postFile(s, token);
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('invalid_credentials');
  });

  it('applies to health probes too', async () => {
    const s = await start({ faults: { crm: { status: 500 } } });
    expect(await probeStatuses(s, 1, 'crm')).toEqual([500]);
    s.clearFaults('crm');
    expect(await probeStatuses(s, 1, 'crm')).toEqual([200]);
  });
});

describe('sandbox faults: latency', () => {
  it('delays the answer by at least latencyMs', async () => {
    const s = await start();
    s.setFaults('payments', { latencyMs: 120 });
    const started = performance.now();
    const response = await postPayments(s, '/charges', chargeBody());
    const elapsed = performance.now() - started;
    expect(response.status).toBe(201);
    expect(elapsed).toBeGreaterThanOrEqual(118); // timer and clock granularity
    expect(s.journal.entries({ provider: 'payments' })[0]?.injectedLatencyMs).toBe(120);
  });

  it('adds the sandbox-wide latency and a seeded jitter below latencyJitterMs', async () => {
    const jitters = async (): Promise<number[]> => {
      const s = await start({ latencyMs: 5, faults: { crm: { latencyJitterMs: 40 } } });
      await probeStatuses(s, 6, 'crm');
      return s.journal.entries({ provider: 'crm' }).map((entry) => entry.injectedLatencyMs);
    };
    const first = await jitters();
    expect(await jitters()).toEqual(first);
    for (const latency of first) {
      expect(latency).toBeGreaterThanOrEqual(5);
      expect(latency).toBeLessThan(45);
    }
    expect(new Set(first).size).toBeGreaterThan(1);
  });
});

describe('sandbox faults: hang and reset', () => {
  it('hangs until the client aborts, journals the abandoned request, and still closes cleanly', async () => {
    const s = await start();
    s.setFaults('payments', { hang: true });
    const aborted = postPayments(s, '/charges', chargeBody(), {}).catch((error: unknown) => error);
    const abortedWithSignal = get(`${s.providerUrl('payments')}/health`, {}, AbortSignal.timeout(100));
    await expect(abortedWithSignal).rejects.toMatchObject({ name: 'TimeoutError' });
    await eventually(() => s.journal.count({ provider: 'payments', path: '/health', fault: 'hang' }) === 1);
    expect(s.journal.entries({ path: '/health' })[0]).toMatchObject({ status: null, clientAborted: true });

    // The other hung request never got an answer; close() releases it.
    await s.close();
    expect(await aborted).toBeInstanceOf(TypeError);
    expect(s.payments.charges()).toHaveLength(0);
    expect(s.journal.entries({ path: '/charges' })[0]).toMatchObject({ status: null, fault: 'hang', clientAborted: false });
  });

  it('destroys the socket without a response: fetch throws and nothing is created', async () => {
    const s = await start();
    s.setFaults('payments', { reset: true });
    await expect(postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k' })).rejects.toThrow(TypeError);
    expect(s.payments.charges()).toHaveLength(0);
    expect(s.journal.entries({ provider: 'payments' })).toMatchObject([{ status: null, fault: 'reset' }]);
    s.clearFaults();
    // The key was never used, so the retry executes.
    const retry = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k' });
    expect(retry.status).toBe(201);
    expect(retry.headers.get('idempotent-replayed')).toBeNull();
  });
});

describe('sandbox faults: throttle', () => {
  it('answers 429 with Retry-After in seconds', async () => {
    const s = await start({ faults: { payments: { throttle: { retryAfterSeconds: 30 } } } });
    const response = await postPayments(s, '/charges', chargeBody());
    expect(response.status).toBe(429);
    expect(response.headers.get('retry-after')).toBe('30');
    expect(await errorCode(response)).toBe('rate_limited');
    expect(s.payments.charges()).toHaveLength(0);
  });

  it('answers 429 with Retry-After as an HTTP-date on the sandbox clock', async () => {
    const clock = manualClock(Date.UTC(2030, 0, 1, 12, 0, 0, 400));
    const s = await start({ now: clock.now, faults: { crm: { throttle: { retryAfterSeconds: 30, asHttpDate: true } } } });
    const response = await get(`${s.providerUrl('crm')}/health`);
    expect(response.status).toBe(429);
    // Rounded up to the next whole second so the client never retries early.
    expect(response.headers.get('retry-after')).toBe('Tue, 01 Jan 2030 12:00:31 GMT');
  });

  it('throttles only a seeded share of requests when a rate is given', async () => {
    const s = await start({ faults: { payments: { throttle: { retryAfterSeconds: 1, rate: 0.5 } } } });
    const statuses = await probeStatuses(s, 20);
    expect(statuses).toContain(429);
    expect(statuses).toContain(200);
  });
});

describe('sandbox faults: outage windows', () => {
  it('answers 503 to every request, health probes included, only inside a window relative to when it was set', async () => {
    const clock = manualClock();
    const s = await start({ now: clock.now });
    s.setFaults('crm', { outage: { fromMs: 1_000, toMs: 2_000 } });
    const token = await crmToken(s);
    expect(await probeStatuses(s, 1, 'crm')).toEqual([200]);
    clock.advance(1_000);
    expect(await probeStatuses(s, 1, 'crm')).toEqual([503]);
    expect((await postFile(s, token)).status).toBe(503);
    clock.advance(999);
    expect(await probeStatuses(s, 1, 'crm')).toEqual([503]);
    clock.advance(1);
    expect(await probeStatuses(s, 1, 'crm')).toEqual([200]);
    expect(s.journal.count({ provider: 'crm', fault: 'outage' })).toBe(3);
  });

  it('takes absolute epoch windows, and several of them', async () => {
    const clock = manualClock(10_000);
    const s = await start({ now: clock.now });
    s.setFaults('payments', {
      outage: [
        { fromMs: 11_000, toMs: 12_000, clock: 'epoch' },
        { fromMs: 13_000, toMs: 14_000, clock: 'epoch' },
      ],
    });
    const statuses: number[] = [];
    for (let i = 0; i < 5; i++) {
      statuses.push(...(await probeStatuses(s, 1)));
      clock.advance(1_000);
    }
    expect(statuses).toEqual([200, 503, 200, 503, 200]);
  });

  it('resets connections during an outage in reset mode', async () => {
    const s = await start({ faults: { payments: { outage: { fromMs: 0, toMs: 60_000, mode: 'reset' } } } });
    await expect(get(`${s.providerUrl('payments')}/health`)).rejects.toThrow(TypeError);
    expect(s.journal.entries({ provider: 'payments' })).toMatchObject([{ fault: 'outage', status: null }]);
  });

  it('hangs during an outage in hang mode', async () => {
    const s = await start({ faults: { payments: { outage: { fromMs: 0, toMs: 60_000, mode: 'hang' } } } });
    await expect(get(`${s.providerUrl('payments')}/health`, {}, AbortSignal.timeout(50))).rejects.toMatchObject({ name: 'TimeoutError' });
  });

  it('takes precedence over a fixed status', async () => {
    const s = await start({ faults: { payments: { status: 400, outage: { fromMs: 0, toMs: 60_000 } } } });
    expect(await probeStatuses(s, 1)).toEqual([503]);
  });
});

describe('sandbox faults: malformed bodies', () => {
  it('truncates a 2xx body after the side effect happened; a retry with the same key replays the clean body', async () => {
    const s = await start({ faults: { payments: { malformedRate: 1 } } });
    const mangled = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k' });
    expect(mangled.status).toBe(201);
    const text = await mangled.text();
    expect(() => JSON.parse(text) as unknown).toThrow(SyntaxError);
    expect(s.payments.charges()).toHaveLength(1);
    expect(s.journal.entries({ provider: 'payments' })[0]).toMatchObject({ fault: 'malformed', sideEffect: true });

    s.clearFaults('payments');
    const retry = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k' });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.json()).toMatchObject({ id: 'ch_1', status: 'succeeded' });
    expect(s.payments.charges()).toHaveLength(1);
  });

  it('leaves error answers intact', async () => {
    const s = await start({ faults: { payments: { malformedRate: 1 } } });
    const response = await postPayments(s, '/charges', chargeBody({ amount: -1 }));
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe('invalid_request');
  });
});

describe('sandbox faults: configuration', () => {
  it('rejects invalid options listing every problem, and keeps the previous faults', async () => {
    const s = await start();
    s.setFaults('crm', { latencyMs: 10 });
    let thrown: unknown;
    try {
      s.setFaults('crm', { errorRate: 2, status: 200, throttle: { retryAfterSeconds: -1 }, outage: { fromMs: 5, toMs: 1 } });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SandboxConfigError);
    expect((thrown as SandboxConfigError).problems).toHaveLength(4);
    expect(s.faults('crm')).toEqual({ latencyMs: 10 });
  });

  it('rejects invalid initial faults at start', async () => {
    await expect(startSandbox({ faults: { crm: { malformedRate: -0.1 } } })).rejects.toThrow(SandboxConfigError);
  });
});

describe('sandbox faults: failNext', () => {
  it('fails exactly the next count requests with 503, then lets requests through', async () => {
    const s = await start();
    s.setFaults('shipping', { failNext: { count: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 4; i++) {
      const response = await postAs(s, 'shipping', '/shipments', shipmentBody(), { 'idempotency-key': 'create-shipment:exec-1' });
      statuses.push(response.status);
      if (response.status === 503) expect(await errorCode(response)).toBe('service_unavailable');
      else await response.arrayBuffer();
    }
    expect(statuses).toEqual([503, 503, 201, 201]);
    expect(s.journal.entries({ provider: 'shipping' }).map((entry) => [entry.fault, entry.replayed])).toEqual([
      ['failNext', false],
      ['failNext', false],
      [null, false],
      [null, true],
    ]);
    expect(s.shipping.shipments()).toHaveLength(1);
    expect(s.faults('shipping')).toEqual({ failNext: { count: 2 } });
  });

  it('answers the given status, counts again when set again, and stops when cleared', async () => {
    const s = await start();
    s.setFaults('email', { failNext: { count: 1, status: 429 } });
    expect(await probeStatuses(s, 2, 'email')).toEqual([429, 200]);
    s.setFaults('email', { failNext: { count: 1, status: 502 } });
    expect(await probeStatuses(s, 2, 'email')).toEqual([502, 200]);
    s.setFaults('email', { failNext: { count: 5 } });
    expect(await probeStatuses(s, 1, 'email')).toEqual([503]);
    s.clearFaults('email');
    expect(await probeStatuses(s, 1, 'email')).toEqual([200]);
  });

  it('is not used up by requests an outage already fails', async () => {
    const clock = manualClock();
    const s = await start({ now: clock.now });
    s.setFaults('inventory', { failNext: { count: 1, status: 500 }, outage: { fromMs: 0, toMs: 1_000 } });
    expect(await probeStatuses(s, 2, 'inventory')).toEqual([503, 503]);
    clock.advance(1_000);
    expect(await probeStatuses(s, 2, 'inventory')).toEqual([500, 200]);
    expect(s.journal.entries({ provider: 'inventory' }).map((entry) => entry.fault)).toEqual(['outage', 'outage', 'failNext', null]);
  });

  it('can be set and filtered over the control plane', async () => {
    const s = await start();
    const set = await postJson(`${s.baseUrl}/_sandbox/faults`, { provider: 'contacts', faults: { failNext: { count: 1 }, pathFilter: '/health' } });
    expect(set.status).toBe(200);
    expect(await probeStatuses(s, 2, 'contacts')).toEqual([503, 200]);
    const journal = (await (await get(`${s.baseUrl}/_sandbox/journal?fault=failNext`)).json()) as { count: number };
    expect(journal.count).toBe(1);
  });
});

describe('sandbox faults: pathFilter', () => {
  it('faults only requests whose path starts with the filter', async () => {
    const s = await start();
    s.setFaults('shipping', { status: 503, pathFilter: '/shipments' });
    expect(await probeStatuses(s, 1, 'shipping')).toEqual([200]);
    expect((await postAs(s, 'shipping', '/shipments', shipmentBody())).status).toBe(503);
    expect((await postAs(s, 'shipping', '/shipments/shp_1/cancel', {})).status).toBe(503);
    expect(s.shipping.shipments()).toHaveLength(0);
  });

  it('is a plain string prefix: a trailing slash targets only sub-resources, and failNext counts only matching requests', async () => {
    const s = await start();
    s.setFaults('inventory', { failNext: { count: 1 }, pathFilter: '/reservations/' });
    const reserve = await postAs(s, 'inventory', '/reservations', { orderId: 'o-1', items: [{ sku: 'SKU-1', quantity: 1 }] });
    expect(reserve.status).toBe(201);
    expect((await postAs(s, 'inventory', '/reservations/res_1/release', {})).status).toBe(503);
    expect(s.inventory.reservation('res_1')?.status).toBe('reserved');
    expect((await postAs(s, 'inventory', '/reservations/res_1/release', {})).status).toBe(200);
  });

  it('keeps latency and malformed bodies to the matching paths too', async () => {
    const s = await start({ latencyMs: 1 });
    s.setFaults('payments', { latencyMs: 300, malformedRate: 1, pathFilter: '/refunds' });
    const started = performance.now();
    const charge = await postPayments(s, '/charges', chargeBody());
    expect(performance.now() - started).toBeLessThan(250);
    expect(await charge.json()).toMatchObject({ id: 'ch_1' });
    expect(s.journal.entries({ provider: 'payments' })[0]).toMatchObject({ injectedLatencyMs: 1, fault: null });
  });

  it('keeps the seeded fault sequence of matching requests whatever other requests come in between', async () => {
    const sequence = async (interleave: boolean): Promise<number[]> => {
      const s = await start({ faults: { payments: { errorRate: 0.5, pathFilter: '/health' } } });
      const statuses: number[] = [];
      for (let i = 0; i < 12; i++) {
        statuses.push(...(await probeStatuses(s, 1)));
        if (interleave) await (await postPayments(s, '/charges', chargeBody())).arrayBuffer();
      }
      return statuses;
    };
    const plain = await sequence(false);
    expect(plain).toContain(200);
    expect(plain.some((status) => status >= 500)).toBe(true);
    // Requests outside the filter still draw from the stream (determinism by request order), so the sequence differs
    // but is itself repeatable.
    expect(await sequence(true)).toEqual(await sequence(true));
  });
});

describe('sandbox faults: failNext and pathFilter validation', () => {
  it('rejects malformed failNext and pathFilter options, listing every problem', async () => {
    const s = await start();
    let thrown: unknown;
    try {
      s.setFaults('shipping', { failNext: { count: 1.5, status: 200, extra: true } as never, pathFilter: 'shipments' });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SandboxConfigError);
    expect((thrown as SandboxConfigError).problems).toEqual([
      expect.stringContaining('failNext.count'),
      expect.stringContaining('failNext.status'),
      expect.stringContaining('unknown failNext option "extra"'),
      expect.stringContaining('pathFilter'),
    ]);
    expect(() => s.setFaults('shipping', { failNext: 3 as never })).toThrow(/failNext must be an object/);
    expect(() => s.setFaults('shipping', { pathFilter: '/a?b=1' })).toThrow(/pathFilter/);
    expect(s.faults('shipping')).toEqual({});
  });
});

describe('sandbox faults: precedence (ProviderFaults)', () => {
  const decide = (options: Parameters<ProviderFaults['set']>[0], path?: string) => {
    const faults = new ProviderFaults(new SeededRandom(1, 'test'), 0);
    faults.set(options, 0);
    return faults.decide(0, path);
  };

  it('puts failNext after outage, reset and hang, and before throttle, status and errorRate', () => {
    const failNext = { failNext: { count: 1, status: 500 } };
    expect(decide({ ...failNext, hang: true })).toMatchObject({ action: 'hang' });
    expect(decide({ ...failNext, reset: true })).toMatchObject({ action: 'reset' });
    expect(decide({ ...failNext, throttle: { retryAfterSeconds: 1 }, status: 418, errorRate: 1 })).toMatchObject({
      fault: 'failNext',
      answer: { status: 500 },
    });
    expect(decide({ ...failNext, pathFilter: '/b' }, '/a')).toMatchObject({ action: 'proceed' });
    expect(decide({ ...failNext, pathFilter: '/a' }, '/a/1')).toMatchObject({ fault: 'failNext' });
  });

  it('resolves outage > reset > hang > throttle > status > errorRate', () => {
    const all = { outage: { fromMs: 0, toMs: 10 }, reset: true, hang: true, throttle: { retryAfterSeconds: 1 }, status: 418, errorRate: 1 };
    expect(decide(all)).toMatchObject({ fault: 'outage' });
    expect(decide({ ...all, outage: undefined })).toMatchObject({ action: 'reset', fault: 'reset' });
    expect(decide({ ...all, outage: undefined, reset: false })).toMatchObject({ action: 'hang', fault: 'hang' });
    expect(decide({ throttle: { retryAfterSeconds: 1 }, status: 418, errorRate: 1 })).toMatchObject({ fault: 'throttle' });
    expect(decide({ status: 418, errorRate: 1 })).toMatchObject({ fault: 'status', answer: { status: 418 } });
    expect(decide({ errorRate: 1 })).toMatchObject({ fault: 'error' });
    expect(decide({})).toMatchObject({ action: 'proceed', malformed: false });
  });
});
