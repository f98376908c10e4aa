import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  CircuitBreaker,
  defaultFailureClassifier,
  type CircuitBreakerOptions,
  type CircuitEvent,
  type CircuitPermit,
} from '../../../functions/runtime/circuit-breaker.js';
import type { CircuitBreakerSettingsInput } from '../../../functions/runtime/circuit-settings.js';
import { InMemoryCircuitStore } from '../../../functions/runtime/circuit-store.js';
import {
  CircuitOpenError,
  ConfigurationError,
  DependencyError,
  DuplicateInFlightError,
  PoisonMessageError,
  RetryableStatusError,
  ThrottledError,
} from '../../../functions/runtime/errors.js';
import { startLocalDynamo, type LocalDynamo } from '../../support/dynalite.js';
import {
  badRequest,
  connectionReset,
  CountingCircuitStore,
  dynamoBackend,
  FakeClock,
  memoryBackend,
  rejectionOf,
  serverError,
  SwitchableCircuitStore,
  type StoreBackend,
} from './circuit-test-support.js';

const CIRCUIT = 'crm';
const BASE: CircuitBreakerSettingsInput = { failureThreshold: 5, breakMs: 1_000, breakMultiplier: 2, maxBreakMs: 5_000, probeLeaseMs: 3_000, cacheTtlMs: 2_000 };

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo?.close();
});

const backends: { name: string; make: () => Promise<StoreBackend> }[] = [
  { name: 'in-memory store', make: async () => memoryBackend() },
  { name: 'DynamoDB (dynalite)', make: () => dynamoBackend(dynamo) },
];

/** acquire + report: 'called' when a permit was granted (and the outcome reported), else the rejection. */
async function attempt(breaker: CircuitBreaker, outcome: 'fail' | 'ok', latencyMs = 10): Promise<'called' | CircuitOpenError | ThrottledError> {
  let permit: CircuitPermit;
  try {
    permit = await breaker.acquire();
  } catch (error) {
    if (error instanceof CircuitOpenError || error instanceof ThrottledError) return error;
    throw error;
  }
  if (outcome === 'fail') await permit.failed(serverError(), latencyMs);
  else await permit.succeeded(latencyMs);
  return 'called';
}

describe.each(backends)('CircuitBreaker on the $name', ({ make }) => {
  let backend: StoreBackend;
  let clock: FakeClock;
  let events: CircuitEvent[];
  let instances = 0;

  beforeEach(async () => {
    backend = await make();
    clock = new FakeClock();
    events = [];
  });

  const breaker = (settings: CircuitBreakerSettingsInput = {}, options: Partial<CircuitBreakerOptions> = {}) =>
    new CircuitBreaker({
      circuitId: CIRCUIT,
      store: backend.store(),
      settings: { ...BASE, ...settings },
      clock,
      instanceId: `instance-${++instances}`,
      hooks: { onEvent: (event) => events.push(event) },
      ...options,
    });

  /** Opens the circuit through one instance (N failures) and returns openUntil. */
  async function openIt(b: CircuitBreaker): Promise<number> {
    for (let i = 0; i < b.settings.failureThreshold; i++) expect(await attempt(b, 'fail')).toBe('called');
    const status = await b.status();
    expect(status.state).toBe('open');
    return status.openUntil!;
  }

  // ------------------------------------------------------------ closed → open

  describe('consecutive failures', () => {
    it('opens after 5 consecutive failures: exactly 5 calls are made, then every call is rejected until openUntil', async () => {
      const b = breaker();
      const results = [];
      for (let i = 0; i < 20; i++) results.push(await attempt(b, 'fail'));
      expect(results.filter((r) => r === 'called')).toHaveLength(5);
      const rejections = results.filter((r) => r !== 'called');
      expect(rejections).toHaveLength(15);
      for (const r of rejections) {
        expect(r).toBeInstanceOf(CircuitOpenError);
        expect((r as CircuitOpenError).retryAt).toBe(clock.now() + 1_000);
        expect((r as CircuitOpenError).circuitId).toBe(CIRCUIT);
      }
      expect(events.filter((e) => e.type === 'opened')).toEqual([
        expect.objectContaining({ type: 'opened', reason: 'consecutive_failures', openUntil: clock.now() + 1_000, breakMs: 1_000, store: 'shared' }),
      ]);
      expect(events.filter((e) => e.type === 'rejected')).toHaveLength(15);
    });

    it('stops a shared outage at the threshold across instances that take turns', async () => {
      const fleet = [breaker(), breaker(), breaker()];
      let called = 0;
      for (let i = 0; i < 30; i++) if ((await attempt(fleet[i % 3]!, 'fail')) === 'called') called++;
      expect(called).toBe(5);
      // Only the instance whose write reached the threshold reports the transition (one CircuitOpened metric).
      expect(events.filter((e) => e.type === 'opened')).toHaveLength(1);
    });

    it('lets a fleet racing into a failing provider make no more calls than the threshold: a doubtful budget', async () => {
      const first = breaker();
      expect(await attempt(first, 'fail')).toBe('called');
      // 20 instances at once, each knowing of the failure: only threshold − 1 more calls may be in flight.
      const fleet = Array.from({ length: 20 }, () => breaker());
      const outcomes = await Promise.allSettled(fleet.map((b) => b.acquire()));
      const permits = outcomes.filter((o): o is PromiseFulfilledResult<CircuitPermit> => o.status === 'fulfilled').map((o) => o.value);
      expect(permits).toHaveLength(4);
      const refused = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected').map((o) => o.reason);
      expect(refused).toHaveLength(16);
      for (const error of refused) expect(error).toBeInstanceOf(CircuitOpenError);
      expect(events.filter((e) => e.type === 'rejected').map((e) => (e as { reason: string }).reason)).toContain('doubtful');
      // They all fail: the circuit opens with exactly `threshold` calls made, and the fleet's next tries are refused.
      for (const permit of permits) await permit.failed(serverError(), 10);
      expect(await first.status()).toMatchObject({ state: 'open', consecutiveFailures: 0 });
      const again = await Promise.allSettled(fleet.map((b) => b.acquire()));
      expect(again.every((o) => o.status === 'rejected')).toBe(true);
      expect(events.filter((e) => e.type === 'opened')).toHaveLength(1);
    });

    it('frees the doubtful budget when a doubtful call succeeds, and counts nothing for an ignored outcome', async () => {
      const b = breaker();
      for (let i = 0; i < 3; i++) await attempt(b, 'fail');
      const ignored = await b.acquire();
      await ignored.failed(new DuplicateInFlightError('already in flight'), 5);
      expect(await b.status()).toMatchObject({ state: 'closed', consecutiveFailures: 3 });
      const ok = await b.acquire();
      await ok.succeeded(10);
      expect(await b.status()).toMatchObject({ state: 'closed', consecutiveFailures: 0 });
      // Healthy again: calls need no slot.
      const fleet = Array.from({ length: 10 }, () => breaker());
      expect((await Promise.allSettled(fleet.map((other) => other.acquire()))).every((o) => o.status === 'fulfilled')).toBe(true);
    });

    it('voids the slots of an instance that died holding them after probeLeaseMs', async () => {
      const a = breaker();
      for (let i = 0; i < 4; i++) await attempt(a, 'fail');
      const dying = breaker();
      await dying.acquire(); // never reports: its instance died
      const other = breaker();
      const refused = await rejectionOf(() => other.acquire());
      expect(refused).toBeInstanceOf(CircuitOpenError);
      clock.advance(other.settings.probeLeaseMs);
      const permit = await other.acquire();
      await permit.failed(serverError(), 10);
      expect((await other.status()).state).toBe('open');
    });

    it('resets the shared count on a success, so only failures in a row open it', async () => {
      const b = breaker();
      for (let i = 0; i < 4; i++) await attempt(b, 'fail');
      await attempt(b, 'ok');
      for (let i = 0; i < 4; i++) await attempt(b, 'fail');
      expect((await b.status()).state).toBe('closed');
      await attempt(b, 'fail');
      expect((await b.status()).state).toBe('open');
    });

    it('counts a permanent 4xx as proof the provider is up (resets the count)', async () => {
      const b = breaker();
      for (let i = 0; i < 4; i++) await attempt(b, 'fail');
      const permit = await b.acquire();
      await permit.failed(badRequest(), 5);
      expect((await b.status()).consecutiveFailures).toBe(0);
    });

    it('does not count a 429 with Retry-After, our own dependency failures or duplicates as provider failures', async () => {
      const b = breaker({ failureThreshold: 1 });
      for (const error of [
        new RetryableStatusError(429, 'HTTP 429', { retryAfterMs: 1_000 }),
        new DependencyError('Ledger', 'ledger table unavailable'),
        new DuplicateInFlightError('in flight'),
        new PoisonMessageError('ValidationFailed', 'bad'),
      ]) {
        const permit = await b.acquire();
        await permit.failed(error, 5);
      }
      expect((await b.status()).state).toBe('closed');
      const permit = await b.acquire();
      await permit.failed(connectionReset(), 5);
      expect((await b.status()).state).toBe('open');
    });

    it('counts a success slower than slowCallMs as a failure', async () => {
      const b = breaker({ failureThreshold: 2, slowCallMs: 500 });
      await attempt(b, 'ok', 501);
      await attempt(b, 'ok', 499);
      expect((await b.status()).consecutiveFailures).toBe(0);
      await attempt(b, 'ok', 900);
      await attempt(b, 'ok', 900);
      expect((await b.status()).state).toBe('open');
    });

    it('ignores a second report on the same permit', async () => {
      const b = breaker({ failureThreshold: 2 });
      const permit = await b.acquire();
      await permit.failed(serverError(), 1);
      await permit.failed(serverError(), 1);
      expect((await b.status()).consecutiveFailures).toBe(1);
    });
  });

  // ------------------------------------------------------------ healthy circuit cost

  describe('healthy circuit cost', () => {
    it('makes 0 writes and at most 1 read per cache TTL over 1000 successful calls', async () => {
      const counting = new CountingCircuitStore(backend.store());
      const b = breaker({}, { store: counting });
      const readsPerTtlWindow = new Map<number, number>();
      for (let i = 0; i < 1000; i++) {
        const before = counting.reads;
        const permit = await b.acquire();
        await permit.succeeded(20);
        if (counting.reads > before) {
          const window = Math.floor(i * 10 / 2_000);
          readsPerTtlWindow.set(window, (readsPerTtlWindow.get(window) ?? 0) + counting.reads - before);
        }
        clock.advance(10);
      }
      expect(counting.writes).toBe(0);
      // 10 s of traffic with a 2 s TTL: one read per TTL, never more.
      expect(counting.reads).toBe(5);
      expect(Math.max(...readsPerTtlWindow.values())).toBe(1);
    });

    it('shares one read among concurrent callers when the cache expires', async () => {
      const counting = new CountingCircuitStore(backend.store());
      const b = breaker({}, { store: counting });
      const permits = await Promise.all(Array.from({ length: 50 }, () => b.acquire()));
      await Promise.all(permits.map((p) => p.succeeded(5)));
      expect(counting.reads).toBe(1);
      expect(counting.writes).toBe(0);
    });
  });

  // ------------------------------------------------------------ open → half-open → closed / re-open

  describe('half-open probe', () => {
    it.each([
      { caches: 'warm (all race with the same cached version)', warm: true },
      { caches: 'cold (each reads, then races)', warm: false },
    ])('lets exactly one of 20 racing instances probe after openUntil, the others get CircuitOpenError until the lease expires; caches $caches', async ({ warm }) => {
      const opener = breaker();
      const openUntil = await openIt(opener);
      const fleet = Array.from({ length: 20 }, () => breaker());
      if (warm) for (const b of fleet) await expect(b.check()).rejects.toBeInstanceOf(CircuitOpenError);
      clock.advance(openUntil - clock.now());

      const outcomes = await Promise.allSettled(fleet.map((b) => b.acquire()));
      const probes = outcomes.filter((o): o is PromiseFulfilledResult<CircuitPermit> => o.status === 'fulfilled');
      const rejected = outcomes.filter((o): o is PromiseRejectedResult => o.status === 'rejected');
      expect(probes).toHaveLength(1);
      expect(probes[0]!.value.isProbe).toBe(true);
      expect(rejected).toHaveLength(19);
      const leaseUntil = clock.now() + 3_000;
      expect(probes[0]!.value.leaseUntil).toBe(leaseUntil);
      for (const r of rejected) {
        expect(r.reason).toBeInstanceOf(CircuitOpenError);
        expect((r.reason as CircuitOpenError).retryAt).toBe(leaseUntil);
      }
      expect(events.filter((e) => e.type === 'probe_elected')).toHaveLength(1);
      expect((await opener.status()).state).toBe('half_open');
    });

    it('re-opens on a probe failure with a break that doubles each time, capped at maxBreakMs, and starts over once it stayed closed', async () => {
      const b = breaker();
      let openUntil = await openIt(b);
      expect(openUntil - clock.now()).toBe(1_000);
      const breaks = [];
      for (let i = 0; i < 4; i++) {
        clock.advance(openUntil - clock.now());
        const probe = await b.acquire();
        expect(probe.isProbe).toBe(true);
        await probe.failed(serverError(), 10);
        const status = await b.status();
        expect(status.state).toBe('open');
        openUntil = status.openUntil!;
        breaks.push(openUntil - clock.now());
      }
      expect(breaks).toEqual([2_000, 4_000, 5_000, 5_000]);
      expect(events.filter((e) => e.type === 'opened').map((e) => (e as { breakMs: number }).breakMs)).toEqual([1_000, 2_000, 4_000, 5_000, 5_000]);

      clock.advance(openUntil - clock.now());
      await (await b.acquire()).succeeded(10);
      expect((await b.status()).state).toBe('closed');
      // Closed for flapWindowMs: the provider is back for good, and the next outage starts from breakMs again.
      clock.advance(b.settings.flapWindowMs);
      expect((await b.status()).nextBreakMs).toBe(1_000);
      openUntil = await openIt(b);
      expect(openUntil - clock.now()).toBe(1_000);
    });

    it('damps flapping: a trip soon after a recovery grows the break on from the last one instead of starting over', async () => {
      const b = breaker({ flapWindowMs: 10_000 });
      const breaks: number[] = [];
      let openUntil = await openIt(b);
      breaks.push(openUntil - clock.now());
      for (let cycle = 0; cycle < 3; cycle++) {
        // Up just long enough for the probe to close the circuit, then down again within the flap window.
        clock.advance(openUntil - clock.now());
        await (await b.acquire()).succeeded(10);
        expect((await b.status()).state).toBe('closed');
        clock.advance(9_000);
        openUntil = await openIt(b);
        breaks.push(openUntil - clock.now());
      }
      expect(breaks).toEqual([1_000, 2_000, 4_000, 5_000]);
      // Each of those opens cost the threshold's calls and one probe: fewer cycles per minute as the break grows.
      expect(events.filter((e) => e.type === 'opened').map((e) => (e as { breakMs: number }).breakMs)).toEqual(breaks);
      // An operator's reset forgets it.
      await b.reset();
      expect((await b.status()).nextBreakMs).toBe(1_000);
    });

    it('does not count the recovery from a throttle as a failed one (a throttle is no failure)', async () => {
      const b = breaker({ openOnThrottleMs: 5_000, flapWindowMs: 10_000 });
      const until = clock.now() + 6_000;
      await b.throttle(until);
      clock.advance(6_000);
      await (await b.acquire()).succeeded(10);
      expect((await b.status()).state).toBe('closed');
      const openUntil = await openIt(b);
      expect(openUntil - clock.now()).toBe(1_000);
    });

    it('lets another instance probe once the lease of a crashed prober expires, and ignores the late result', async () => {
      const [a, b] = [breaker(), breaker()];
      const openUntil = await openIt(a);
      clock.advance(openUntil - clock.now());
      const crashed = await a.acquire();
      expect(crashed.isProbe).toBe(true);

      const early = await rejectionOf(() => b.acquire());
      expect(early).toBeInstanceOf(CircuitOpenError);
      expect((early as CircuitOpenError).retryAt).toBe(crashed.leaseUntil);

      clock.advance(3_000);
      const takeover = await b.acquire();
      expect(takeover.isProbe).toBe(true);
      // The crashed prober's late success must not close the circuit under the new prober's feet.
      await crashed.succeeded(10);
      const status = await b.status();
      expect(status.state).toBe('half_open');
      expect(status.probe.owner).toMatch(/^instance-\d+:\d+$/);
      expect(status.probe.leaseUntil).toBe(takeover.leaseUntil);
      await takeover.succeeded(10);
      expect((await b.status()).state).toBe('closed');
    });

    it('closes after K probe successes, each probe elected separately, then grants ordinary permits', async () => {
      const fleet = [breaker({ probeSuccessesToClose: 3 }), breaker({ probeSuccessesToClose: 3 })];
      const openUntil = await openIt(fleet[0]!);
      clock.advance(openUntil - clock.now());
      for (let i = 0; i < 3; i++) {
        const b = fleet[i % 2]!;
        const probe = await b.acquire();
        expect(probe.isProbe).toBe(true);
        // While this probe is in flight nobody else gets a permit.
        await expect(fleet[(i + 1) % 2]!.acquire()).rejects.toBeInstanceOf(CircuitOpenError);
        await probe.succeeded(10);
        clock.advance(2_001); // the other instance's cache expires
        expect((await b.status()).state).toBe(i < 2 ? 'half_open' : 'closed');
      }
      const permit = await fleet[1]!.acquire();
      expect(permit.isProbe).toBe(false);
      expect(events.filter((e) => e.type === 'probe_succeeded')).toHaveLength(2);
      expect(events.filter((e) => e.type === 'closed')).toHaveLength(1);
      const status = await fleet[0]!.status();
      expect(status).toMatchObject({ state: 'closed', reopenCount: 0, consecutiveFailures: 0, probe: { successes: 0 } });
    });

    it('releases the lease without judging the provider when the probe ends in a non-failure (e.g. a 429 with Retry-After)', async () => {
      const [a, b] = [breaker(), breaker()];
      const openUntil = await openIt(a);
      clock.advance(openUntil - clock.now());
      const probe = await a.acquire();
      await probe.failed(new RetryableStatusError(429, 'HTTP 429', { retryAfterMs: 10 }), 5);
      const next = await b.acquire();
      expect(next.isProbe).toBe(true);
    });

    it('lets a prober take the probe lease with tryAcquireProbeLease only when a probe is due', async () => {
      const [runtime, prober] = [breaker(), breaker()];
      expect(await prober.tryAcquireProbeLease()).toBeUndefined();
      const openUntil = await openIt(runtime);
      expect(await prober.tryAcquireProbeLease()).toBeUndefined();
      clock.advance(openUntil - clock.now());
      const lease = await prober.tryAcquireProbeLease();
      expect(lease?.isProbe).toBe(true);
      expect(await breaker().tryAcquireProbeLease()).toBeUndefined();
      await expect(runtime.acquire()).rejects.toBeInstanceOf(CircuitOpenError);
      await lease!.succeeded(100);
      expect((await runtime.status()).state).toBe('closed');
    });
  });

  // ------------------------------------------------------------ check, nextRetryAt, status

  describe('pre-check and parking', () => {
    it('check() rejects like acquire() while open but takes no permit and writes nothing', async () => {
      const b = breaker();
      await b.check();
      const openUntil = await openIt(b);
      const error = await rejectionOf(() => b.check());
      expect(error).toBeInstanceOf(CircuitOpenError);
      expect((error as CircuitOpenError).retryAt).toBe(openUntil);
      clock.advance(openUntil - clock.now());
      await b.check(); // a probe is due: acquire() will elect it
      expect((await b.status()).state).toBe('open');
    });

    it('nextRetryAt() is now when callable, openUntil when open, the lease expiry while a probe is in flight', async () => {
      const [a, b] = [breaker(), breaker()];
      expect(await a.nextRetryAt()).toBe(clock.now());
      const openUntil = await openIt(a);
      expect(await a.nextRetryAt()).toBe(openUntil);
      clock.advance(openUntil - clock.now());
      const probe = await a.acquire();
      expect(await b.nextRetryAt()).toBe(probe.leaseUntil);
    });

    it('reports a status snapshot with state, counters, openUntil, probe lease, version and updatedAt', async () => {
      const b = breaker();
      await attempt(b, 'fail');
      await attempt(b, 'fail');
      expect(await b.status()).toMatchObject({
        circuitId: CIRCUIT,
        state: 'closed',
        effectiveState: 'closed',
        consecutiveFailures: 2,
        // The first failure: one write; the second call was let through a doubtful circuit: its slot, then its failure.
        version: 3,
        updatedAt: clock.now(),
        reopenCount: 0,
        nextBreakMs: 1_000,
        usingFallback: false,
      });
      for (let i = 0; i < 3; i++) await attempt(b, 'fail');
      const { openUntil } = await b.status();
      clock.advance(openUntil! - clock.now());
      expect(await b.status()).toMatchObject({ state: 'open', effectiveState: 'half_open', stateReason: 'consecutive_failures', nextBreakMs: 2_000 });
    });
  });

  // ------------------------------------------------------------ throttle

  describe('throttle', () => {
    it('shares throttledUntil with every instance and never moves it back', async () => {
      const [a, b] = [breaker(), breaker()];
      const until = clock.now() + 5_000;
      await a.throttle(until);
      await a.throttle(until - 4_000);
      for (const instance of [a, b]) {
        const error = await rejectionOf(() => instance.acquire());
        expect(error).toBeInstanceOf(ThrottledError);
        expect((error as ThrottledError).retryAt).toBe(until);
      }
      expect((await b.status()).throttledUntil).toBe(until);
      expect(await b.nextRetryAt()).toBe(until);
      clock.advance(5_000);
      expect(await attempt(b, 'ok')).toBe('called');
      expect(events.filter((e) => e.type === 'throttled')).toHaveLength(1);
    });

    it('caps a provider Retry-After at maxThrottleMs', async () => {
      const b = breaker({ maxThrottleMs: 60_000 });
      await b.throttle(clock.now() + 86_400_000);
      expect((await b.status()).throttledUntil).toBe(clock.now() + 60_000);
    });

    it('opens a closed circuit until a throttle of at least openOnThrottleMs ends, without growing the break', async () => {
      const [a, b] = [breaker({ openOnThrottleMs: 60_000 }), breaker({ openOnThrottleMs: 60_000 })];
      const until = clock.now() + 120_000;
      await a.throttle(until);
      expect(await b.status()).toMatchObject({ state: 'open', stateReason: 'throttled', openUntil: until, throttledUntil: until, reopenCount: 0 });
      expect(events.filter((e) => e.type === 'opened')).toEqual([expect.objectContaining({ reason: 'throttled', openUntil: until, breakMs: 120_000 })]);
      const rejected = await rejectionOf(() => b.acquire());
      expect(rejected).toBeInstanceOf(CircuitOpenError);
      expect((rejected as CircuitOpenError).retryAt).toBe(until);
      // After it, one probe; its success closes the circuit and the next open starts from breakMs again.
      clock.advance(120_000);
      const probe = await b.acquire();
      expect(probe.isProbe).toBe(true);
      await probe.succeeded(10);
      expect(await b.status()).toMatchObject({ state: 'closed', reopenCount: 0, nextBreakMs: 1_000 });
    });

    it('only shares a shorter throttle, and never opens with openOnThrottleMs 0', async () => {
      const short = breaker({ openOnThrottleMs: 60_000 });
      await short.throttle(clock.now() + 59_000);
      expect(await short.status()).toMatchObject({ state: 'closed', throttledUntil: clock.now() + 59_000 });
      const off = breaker({ openOnThrottleMs: 0 });
      await off.throttle(clock.now() + 600_000);
      expect((await off.status()).state).toBe('closed');
      expect(events.filter((e) => e.type === 'opened')).toHaveLength(0);
    });

    it('leaves an isolated circuit isolated when a long throttle arrives', async () => {
      const b = breaker({ openOnThrottleMs: 60_000 });
      await b.isolate('maintenance');
      await b.throttle(clock.now() + 120_000);
      expect(await b.status()).toMatchObject({ state: 'isolated', stateReason: 'maintenance' });
    });

    it('keeps a throttle through open and half-open: the probe waits for it', async () => {
      const b = breaker();
      const openUntil = await openIt(b);
      await b.throttle(openUntil + 10_000);
      const whileOpen = await rejectionOf(() => b.acquire());
      expect(whileOpen).toBeInstanceOf(CircuitOpenError);
      expect((whileOpen as CircuitOpenError).retryAt).toBe(openUntil + 10_000);
      clock.advance(openUntil - clock.now());
      expect(await rejectionOf(() => b.acquire())).toBeInstanceOf(ThrottledError);
      clock.advance(10_000);
      expect((await b.acquire()).isProbe).toBe(true);
    });
  });

  // ------------------------------------------------------------ operators

  describe('isolate and reset', () => {
    it('isolate() forces the circuit open for every instance until reset(), whatever the time', async () => {
      const [operator, worker] = [breaker(), breaker()];
      await attempt(worker, 'ok');
      const isolated = await operator.isolate('provider maintenance window');
      expect(isolated).toMatchObject({ state: 'isolated', stateReason: 'provider maintenance window' });
      clock.advance(2_000); // the worker's cache expires
      for (let i = 0; i < 3; i++) {
        const error = await rejectionOf(() => worker.acquire());
        expect(error).toBeInstanceOf(CircuitOpenError);
        expect((error as CircuitOpenError).retryAt).toBe(clock.now() + 300_000);
        expect((error as CircuitOpenError).message).toContain('provider maintenance window');
        clock.advance(3_600_000);
      }
      expect(await worker.tryAcquireProbeLease()).toBeUndefined();
      const reset = await operator.reset();
      expect(reset).toMatchObject({ state: 'closed', consecutiveFailures: 0, reopenCount: 0 });
      clock.advance(2_000);
      expect(await attempt(worker, 'ok')).toBe('called');
      expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['isolated', 'reset']));
    });

    it('reset() clears counters, the grown break and the throttle', async () => {
      const b = breaker();
      let openUntil = await openIt(b);
      clock.advance(openUntil - clock.now());
      await (await b.acquire()).failed(serverError(), 1);
      await b.throttle(clock.now() + 60_000);
      expect((await b.status()).reopenCount).toBe(1);
      await b.reset();
      expect(await b.status()).toMatchObject({ state: 'closed', reopenCount: 0, consecutiveFailures: 0, nextBreakMs: 1_000 });
      expect((await b.status()).throttledUntil).toBeUndefined();
      openUntil = await openIt(b);
      expect(openUntil - clock.now()).toBe(1_000);
    });
  });

  // ------------------------------------------------------------ ratio mode

  describe('failure ratio over a sliding window', () => {
    const RATIO: CircuitBreakerSettingsInput = { mode: 'ratio', failureRatio: 0.5, minimumThroughput: 20, windowMs: 60_000, windowBuckets: 6 };

    async function batch(b: CircuitBreaker, calls: number, failures: number): Promise<void> {
      for (let i = 0; i < calls; i++) {
        const permit = await b.acquire();
        if (i < failures) await permit.failed(serverError(), 5);
        else await permit.succeeded(5);
      }
    }

    it('opens on the merged ratio of several instances only once the merged window reaches the minimum throughput', async () => {
      const counting = new CountingCircuitStore(backend.store());
      const fleet = [breaker(RATIO, { store: counting }), breaker(RATIO, { store: counting }), breaker(RATIO, { store: counting })];
      // Each instance alone is far below the minimum throughput, with a failure ratio of 75%.
      for (const b of fleet) await batch(b, 4, 3);
      expect(counting.writes).toBe(0);
      for (const b of fleet) await b.flush();
      expect(counting.calls.addToWindow).toBe(3);
      expect(await fleet[0]!.status()).toMatchObject({ state: 'closed', window: { calls: 12, failures: 9 } });

      await batch(fleet[0]!, 4, 1);
      await fleet[0]!.flush(); // merged: 16 calls, still below 20
      expect((await fleet[0]!.status()).state).toBe('closed');
      await batch(fleet[1]!, 4, 1);
      await fleet[1]!.flush(); // merged: 20 calls, 11 failures = 55% ≥ 50%
      expect(await fleet[2]!.status()).toMatchObject({ state: 'open', stateReason: 'failure_ratio' });
      expect(events.filter((e) => e.type === 'opened')).toEqual([expect.objectContaining({ reason: 'failure_ratio' })]);
    });

    it('does not open when the merged ratio stays below the threshold, however high the throughput', async () => {
      const fleet = [breaker(RATIO), breaker(RATIO)];
      for (let round = 0; round < 5; round++) {
        for (const b of fleet) {
          await batch(b, 10, 4);
          await b.flush();
        }
        clock.advance(1_000);
      }
      expect(await fleet[0]!.status()).toMatchObject({ state: 'closed', window: { calls: 100, failures: 40 } });
    });

    it('forgets failures that slid out of the window', async () => {
      const [a, b] = [breaker(RATIO), breaker(RATIO)];
      await batch(a, 15, 15);
      await a.flush();
      clock.advance(60_000);
      await batch(b, 10, 5);
      await b.flush();
      expect(await b.status()).toMatchObject({ state: 'closed', window: { calls: 10, failures: 5 } });
    });

    it('merges counts from instances that flush into the same bucket concurrently', async () => {
      const fleet = Array.from({ length: 8 }, () => breaker({ ...RATIO, minimumThroughput: 1_000 }));
      for (const b of fleet) await batch(b, 5, 1);
      await Promise.all(fleet.map((b) => b.flush()));
      expect((await fleet[0]!.status()).window).toMatchObject({ calls: 40, failures: 8 });
    });

    it('writes nothing on flush when there is nothing to flush', async () => {
      const counting = new CountingCircuitStore(backend.store());
      const b = breaker(RATIO, { store: counting });
      await b.flush();
      expect(counting.writes).toBe(0);
    });

    it('still uses single probes and K successes to close in ratio mode', async () => {
      const b = breaker({ ...RATIO, minimumThroughput: 4 });
      await batch(b, 4, 4);
      await b.flush();
      const { openUntil } = await b.status();
      clock.advance(openUntil! - clock.now());
      const probe = await b.acquire();
      expect(probe.isProbe).toBe(true);
      await probe.succeeded(5);
      expect(await b.status()).toMatchObject({ state: 'closed', window: { calls: 0, failures: 0 } });
    });
  });

  // ------------------------------------------------------------ store failure

  describe('circuits table failure', () => {
    it('falls back to a per-instance breaker that still protects, calls onStoreFallback, and returns to the shared store', async () => {
      const flaky = new SwitchableCircuitStore(backend.store());
      const fallbacks: unknown[] = [];
      let recovered = 0;
      const b = breaker({ storeRetryMs: 10_000, breakMs: 60_000, maxBreakMs: 60_000 }, { store: flaky, hooks: { onEvent: (e) => events.push(e), onStoreFallback: (e) => fallbacks.push(e), onStoreRecovered: () => recovered++ } });
      flaky.failing = true;

      const results = [];
      for (let i = 0; i < 10; i++) results.push(await attempt(b, 'fail'));
      expect(results.filter((r) => r === 'called')).toHaveLength(5);
      expect(results.slice(5).every((r) => r instanceof CircuitOpenError)).toBe(true);
      expect(fallbacks).toHaveLength(1);
      expect((fallbacks[0] as Error).name).toBe('ProvisionedThroughputExceededException');
      expect(b.usingFallback).toBe(true);
      expect(events.find((e) => e.type === 'opened')).toMatchObject({ store: 'fallback' });
      // Only the first call touched the broken table; the rest stayed local until the retry interval.
      expect(flaky.failedCalls).toBe(1);

      // Still down at the retry: reported again, still protected by the local state.
      clock.advance(10_000);
      expect(await rejectionOf(() => b.acquire())).toBeInstanceOf(CircuitOpenError);
      expect(fallbacks).toHaveLength(2);

      // Operators must see the failure rather than a per-instance view.
      await expect(b.status()).rejects.toThrow('ProvisionedThroughputExceededException');

      flaky.failing = false;
      clock.advance(10_000);
      expect(await attempt(b, 'ok')).toBe('called');
      expect(b.usingFallback).toBe(false);
      expect(recovered).toBe(1);
      expect(await b.status()).toMatchObject({ state: 'closed', usingFallback: false });
    });

    it('fails open rather than blocking calls when the table fails on a healthy circuit', async () => {
      const flaky = new SwitchableCircuitStore(backend.store());
      const b = breaker({}, { store: flaky });
      flaky.failing = true;
      expect(await attempt(b, 'ok')).toBe('called');
      await b.check();
      await b.throttle(clock.now() + 1_000);
      await expect(b.acquire()).rejects.toBeInstanceOf(ThrottledError);
    });

    it('keeps unflushed ratio counts when the flush fails and uses them in the fallback', async () => {
      const flaky = new SwitchableCircuitStore(backend.store());
      const b = breaker({ mode: 'ratio', minimumThroughput: 4 }, { store: flaky });
      for (let i = 0; i < 4; i++) await (await b.acquire()).failed(serverError(), 5);
      flaky.failing = true;
      await b.flush();
      await expect(b.acquire()).rejects.toBeInstanceOf(CircuitOpenError);
    });
  });
});

// ------------------------------------------------------------ construction and classification

describe('CircuitBreaker construction', () => {
  it('validates settings up front and reports every problem at once', () => {
    const create = () =>
      new CircuitBreaker({ circuitId: 'crm', store: new InMemoryCircuitStore(), settings: { failureThreshold: 0, breakMs: -1, probeSuccessesToClose: 0 } });
    expect(create).toThrow(ConfigurationError);
    expect(create).toThrow(/failureThreshold[\s\S]*breakMs[\s\S]*probeSuccessesToClose/);
  });

  it('refuses an empty circuitId', () => {
    expect(() => new CircuitBreaker({ circuitId: ' ', store: new InMemoryCircuitStore() })).toThrow(ConfigurationError);
  });

  it('ignores a throwing observer', async () => {
    const b = new CircuitBreaker({
      circuitId: 'crm',
      store: new InMemoryCircuitStore(),
      clock: new FakeClock(),
      settings: { failureThreshold: 1 },
      hooks: {
        onEvent: () => {
          throw new Error('observer bug');
        },
      },
    });
    await (await b.acquire()).failed(serverError(), 1);
    await expect(b.acquire()).rejects.toBeInstanceOf(CircuitOpenError);
  });
});

describe('defaultFailureClassifier', () => {
  it('classifies by category: transient = failure, permanent = success, 429 with Retry-After and not-attempted = ignore', () => {
    expect(defaultFailureClassifier(serverError())).toBe('failure');
    expect(defaultFailureClassifier(connectionReset())).toBe('failure');
    expect(defaultFailureClassifier(new RetryableStatusError(429, 'HTTP 429'))).toBe('failure');
    expect(defaultFailureClassifier(new RetryableStatusError(429, 'HTTP 429', { retryAfterMs: 5 }))).toBe('ignore');
    expect(defaultFailureClassifier(badRequest())).toBe('success');
    expect(defaultFailureClassifier(new CircuitOpenError('crm', 0, 'open'))).toBe('ignore');
    expect(defaultFailureClassifier(new DependencyError('Secrets', 'down'))).toBe('ignore');
  });
});
