/**
 * Property-based tests of the shared breaker: random interleavings of acquire / report / time / flush / throttle /
 * operator actions across several instances sharing one in-memory store (each with its own cache).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { CircuitBreaker, type CircuitPermit } from '../../../functions/runtime/circuit-breaker.js';
import type { CircuitBreakerSettingsInput } from '../../../functions/runtime/circuit-settings.js';
import { CIRCUIT_STATES, emptyCircuitRecord, InMemoryCircuitStore, type CircuitRecord } from '../../../functions/runtime/circuit-store.js';
import { NotAttemptedError, RetryableStatusError } from '../../../functions/runtime/errors.js';
import { badRequest, FakeClock, serverError } from './circuit-test-support.js';

const CIRCUIT = 'crm';
const INSTANCES = 3;

const settingsArb: fc.Arbitrary<CircuitBreakerSettingsInput & { cacheTtlMs: number }> = fc
  .record({
    mode: fc.constantFrom('consecutive' as const, 'ratio' as const),
    failureThreshold: fc.integer({ min: 1, max: 4 }),
    failureRatio: fc.constantFrom(0.25, 0.5, 1),
    minimumThroughput: fc.integer({ min: 1, max: 6 }),
    windowMs: fc.constant(6_000),
    windowBuckets: fc.constantFrom(1, 3, 6),
    breakMs: fc.integer({ min: 200, max: 3_000 }),
    breakMultiplier: fc.constantFrom(1, 2, 3),
    probeLeaseMs: fc.integer({ min: 200, max: 4_000 }),
    probeSuccessesToClose: fc.integer({ min: 1, max: 3 }),
    cacheTtlMs: fc.constantFrom(0, 500, 2_000),
    suspectIsZero: fc.boolean(),
    slowCallMs: fc.constant(100),
    // Throttles in the commands last up to 3 s: some of these open the circuit on a long one, 60 s never does.
    openOnThrottleMs: fc.constantFrom(0, 500, 2_000, 60_000),
  })
  .map(({ suspectIsZero, ...s }) => ({ ...s, maxBreakMs: s.breakMs * 4, suspectCacheTtlMs: suspectIsZero ? 0 : s.cacheTtlMs }));

const who = fc.integer({ min: 0, max: INSTANCES - 1 });
type Outcome = 'success' | 'failure' | 'slow' | 'permanent' | 'rate_limited';
const outcomeArb: fc.Arbitrary<Outcome> = fc.oneof(
  { weight: 4, arbitrary: fc.constant('failure' as const) },
  { weight: 3, arbitrary: fc.constant('success' as const) },
  { weight: 1, arbitrary: fc.constantFrom<Outcome>('slow', 'permanent', 'rate_limited') },
);

type Command =
  | { kind: 'call'; who: number; outcome: Outcome }
  | { kind: 'acquire'; who: number }
  | { kind: 'report'; who: number; pick: number; outcome: Outcome }
  | { kind: 'advance'; ms: number }
  | { kind: 'flush'; who: number }
  | { kind: 'throttle'; who: number; ms: number }
  | { kind: 'check'; who: number }
  | { kind: 'probeLease'; who: number }
  | { kind: 'isolate' }
  | { kind: 'reset' };

const commandArb: fc.Arbitrary<Command> = fc.oneof(
  { weight: 10, arbitrary: fc.record({ kind: fc.constant('call' as const), who, outcome: outcomeArb }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('acquire' as const), who }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('report' as const), who, pick: fc.nat(), outcome: outcomeArb }) },
  { weight: 5, arbitrary: fc.record({ kind: fc.constant('advance' as const), ms: fc.integer({ min: 1, max: 4_000 }) }) },
  { weight: 3, arbitrary: fc.record({ kind: fc.constant('flush' as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('throttle' as const), who, ms: fc.integer({ min: 1, max: 3_000 }) }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('check' as const), who }) },
  { weight: 1, arbitrary: fc.record({ kind: fc.constant('probeLease' as const), who }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'isolate' as const }) },
  { weight: 1, arbitrary: fc.constant({ kind: 'reset' as const }) },
);

interface Held {
  permit: CircuitPermit;
  /** An operator reset/isolate cancels every probe lease. */
  revoked: boolean;
}

async function report(permit: CircuitPermit, outcome: Outcome): Promise<void> {
  if (outcome === 'success') await permit.succeeded(10);
  else if (outcome === 'slow') await permit.succeeded(500);
  else if (outcome === 'failure') await permit.failed(serverError(), 10);
  else if (outcome === 'permanent') await permit.failed(badRequest(), 10);
  else await permit.failed(new RetryableStatusError(429, 'HTTP 429', { retryAfterMs: 1_000 }), 10);
}

describe('CircuitBreaker properties (sequential interleavings across instances)', () => {
  it('never grants two live probe permits, never grants a permit while open before openUntil, isolated or throttled (beyond the cache TTL), and keeps the state valid', async () => {
    await fc.assert(
      fc.asyncProperty(settingsArb, fc.array(commandArb, { minLength: 20, maxLength: 120, size: 'large' }), async (settings, commands) => {
        const clock = new FakeClock();
        const store = new InMemoryCircuitStore();
        const make = (id: string) => new CircuitBreaker({ circuitId: CIRCUIT, store, settings, clock, instanceId: id });
        const fleet = Array.from({ length: INSTANCES }, (_, i) => make(`i${i}`));
        const operator = make('operator');
        const held: Held[][] = fleet.map(() => []);
        const ttl = settings.cacheTtlMs;

        const peek = (): CircuitRecord => store.peek(CIRCUIT) ?? emptyCircuitRecord(CIRCUIT);
        let observed = peek();
        let stateChangedAt = clock.now();
        let throttleChangedAt = clock.now();

        /** True when a fresh instance would refuse any call: open before openUntil, isolated, probe in flight, throttled. */
        const blocked = (r: CircuitRecord, t: number) =>
          r.state === 'isolated' ||
          (r.state === 'open' && r.openUntil !== undefined && t < r.openUntil) ||
          (r.state === 'half_open' && r.probeOwner !== undefined && r.probeLeaseUntil !== undefined && t < r.probeLeaseUntil) ||
          (r.throttledUntil !== undefined && t < r.throttledUntil);
        /** True when a cache fetched before the latest change could still be in use. */
        const mayBeStale = (r: CircuitRecord, t: number) =>
          t - stateChangedAt < ttl || (r.throttledUntil !== undefined && t < r.throttledUntil && t - throttleChangedAt < ttl);

        const checkProbeGrant = (permit: CircuitPermit, before: CircuitRecord, t: number) => {
          const eligible =
            (before.state === 'open' && (before.openUntil === undefined || t >= before.openUntil)) ||
            (before.state === 'half_open' && !(before.probeOwner !== undefined && before.probeLeaseUntil !== undefined && t < before.probeLeaseUntil));
          expect(eligible, 'a probe is elected only once the break is over and no live lease exists').toBe(true);
          expect(before.throttledUntil === undefined || t >= before.throttledUntil, 'no probe while throttled').toBe(true);
          const live = held.flat().filter((h) => h.permit.isProbe && !h.revoked && (h.permit.leaseUntil ?? 0) > t);
          expect(live, 'never two probe permits outstanding at once').toHaveLength(0);
          expect(permit.leaseUntil).toBe(t + settings.probeLeaseMs!);
          expect(peek()).toMatchObject({ state: 'half_open', probeOwner: permit.probeOwner, probeLeaseUntil: permit.leaseUntil });
        };

        const checkOrdinaryGrant = (before: CircuitRecord, t: number) => {
          if (blocked(before, t) || before.state === 'half_open') {
            expect(mayBeStale(before, t), `permit granted while ${before.state} (stored ${JSON.stringify(before)}) at ${t}`).toBe(true);
          }
        };

        for (const command of commands) {
          const t = clock.now();
          const before = peek();
          switch (command.kind) {
            case 'call':
            case 'acquire':
            case 'probeLease': {
              const b = fleet[command.who]!;
              try {
                const permit = command.kind === 'probeLease' ? await b.tryAcquireProbeLease() : await b.acquire();
                if (!permit) break;
                if (permit.isProbe) checkProbeGrant(permit, before, t);
                else checkOrdinaryGrant(before, t);
                if (command.kind === 'call') {
                  await report(permit, command.outcome);
                  if (command.outcome === 'rate_limited') await b.throttle(t + 1_000);
                } else {
                  held[command.who]!.push({ permit, revoked: false });
                }
              } catch (error) {
                expect(error).toBeInstanceOf(NotAttemptedError);
                expect((error as NotAttemptedError).retryAt, 'a parked message never comes back in the past').toBeGreaterThan(t);
              }
              break;
            }
            case 'check': {
              try {
                await fleet[command.who]!.check();
                if (blocked(before, t)) expect(mayBeStale(before, t)).toBe(true);
              } catch (error) {
                expect(error).toBeInstanceOf(NotAttemptedError);
                expect((error as NotAttemptedError).retryAt).toBeGreaterThan(t);
              }
              break;
            }
            case 'report': {
              const mine = held[command.who]!;
              if (mine.length === 0) break;
              const [h] = mine.splice(command.pick % mine.length, 1);
              await report(h!.permit, command.outcome);
              if (command.outcome === 'rate_limited') await fleet[command.who]!.throttle(t + 1_000);
              break;
            }
            case 'advance':
              clock.advance(command.ms);
              break;
            case 'flush':
              await fleet[command.who]!.flush();
              break;
            case 'throttle':
              await fleet[command.who]!.throttle(t + command.ms);
              break;
            case 'isolate':
            case 'reset':
              if (command.kind === 'isolate') await operator.isolate('property test');
              else await operator.reset();
              for (const h of held.flat()) h.revoked = true;
              break;
          }

          const after = peek();
          expect(CIRCUIT_STATES).toContain(after.state);
          expect(after.version, 'versions only grow').toBeGreaterThanOrEqual(observed.version);
          if (after.state === 'open') expect(after.openUntil).toBeDefined();
          if (after.state !== 'half_open') expect(after.probeOwner).toBeUndefined();
          if (after.state === 'half_open' && after.probeOwner !== undefined) expect(after.probeLeaseUntil).toBeDefined();
          expect(after.probeSuccesses).toBeLessThan(settings.probeSuccessesToClose!);
          // A probe that fails re-opens within one command (open → half_open → open): the state name is unchanged
          // but openUntil moved, and caches fetched before still hold the old break.
          if (after.state !== observed.state || after.openUntil !== observed.openUntil || after.probeLeaseUntil !== observed.probeLeaseUntil) {
            stateChangedAt = clock.now();
          }
          if (after.throttledUntil !== observed.throttledUntil) throttleChangedAt = clock.now();
          observed = after;
        }
        const status = await fleet[0]!.status();
        expect(CIRCUIT_STATES).toContain(status.state);
        expect(CIRCUIT_STATES).toContain(status.effectiveState);
      }),
      { numRuns: 250 },
    );
    // Hundreds of generated interleavings: give a loaded 2-core machine room (no speed is asserted).
  }, 120_000);
});

describe('CircuitBreaker properties (concurrent interleavings of store calls)', () => {
  it('never elects a second probe while a live lease exists, however the store calls of many instances interleave', async () => {
    const taskArb = fc.record({
      who: fc.integer({ min: 0, max: 4 }),
      advanceMs: fc.constantFrom(0, 0, 0, 100, 1_000, 5_000),
      outcome: fc.constantFrom('success', 'failure', 'crash' as const),
    });
    await fc.assert(
      fc.asyncProperty(fc.scheduler(), settingsArb, fc.array(taskArb, { minLength: 2, maxLength: 30 }), async (s, settings, tasks) => {
        const clock = new FakeClock();
        let interleaving = false;
        const store = new InMemoryCircuitStore({ interleave: () => (interleaving ? s.schedule(Promise.resolve(), 'store call') : Promise.resolve()) });
        // Start open with the break almost over, so most runs exercise the half-open election.
        await store.put({ ...emptyCircuitRecord(CIRCUIT), state: 'open', openUntil: clock.now() + 100, updatedAt: clock.now() }, 0);
        interleaving = true;

        const leases = new Map<string, number>();
        const violations: string[] = [];
        const fleet = Array.from(
          { length: 5 },
          (_, i) =>
            new CircuitBreaker({
              circuitId: CIRCUIT,
              store,
              settings,
              clock,
              instanceId: `i${i}`,
              hooks: {
                onEvent: (event) => {
                  if (event.type !== 'probe_elected') return;
                  for (const [owner, until] of leases) if (until > event.at) violations.push(`${event.owner} elected at ${event.at} while ${owner} holds a lease until ${until}`);
                  leases.set(event.owner, event.leaseUntil);
                },
              },
            }),
        );

        const running = tasks.map(async (task) => {
          await s.schedule(Promise.resolve(), 'start');
          clock.advance(task.advanceMs);
          try {
            const permit = await fleet[task.who]!.acquire();
            if (task.outcome === 'crash') return; // never reports: its lease must expire
            if (permit.probeOwner) leases.delete(permit.probeOwner);
            if (task.outcome === 'success') await permit.succeeded(5);
            else await permit.failed(serverError(), 5);
          } catch (error) {
            if (!(error instanceof NotAttemptedError)) throw error;
          }
        });
        await s.waitFor(Promise.all(running));

        expect(violations).toEqual([]);
        interleaving = false;
        expect(CIRCUIT_STATES).toContain(store.peek(CIRCUIT)?.state);
      }),
      { numRuns: 300 },
    );
  }, 120_000);
});
