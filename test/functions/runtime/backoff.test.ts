import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  backoffCeilingMs,
  fullJitterDelayMs,
  MAX_RETRY_AFTER_MS,
  nextRetryDelayMs,
  parseRetryAfterMs,
  type RetryDecisionInput,
} from '../../../functions/runtime/backoff.js';

const policy = { maxAttempts: 5, baseDelayMs: 100, maxDelayMs: 2000 };
const NOW = Date.UTC(2030, 0, 1, 12, 0, 0);

function decision(overrides: Partial<RetryDecisionInput> = {}): RetryDecisionInput {
  return { attempt: 1, policy, remainingTimeMs: 60_000, safetyMarginMs: 1000, minAttemptMs: 200, random: () => 0.5, ...overrides };
}

describe('fullJitterDelayMs', () => {
  it('doubles the ceiling with every attempt until the cap', () => {
    expect([1, 2, 3, 4, 5, 6, 7].map((attempt) => backoffCeilingMs(attempt, policy))).toEqual([100, 200, 400, 800, 1600, 2000, 2000]);
  });

  it('spans the whole range from 0 to the ceiling', () => {
    expect(fullJitterDelayMs(3, policy, () => 0)).toBe(0);
    expect(fullJitterDelayMs(3, policy, () => 0.999_999_9)).toBe(400);
    expect(fullJitterDelayMs(3, policy, () => 0.5)).toBe(200);
  });

  it('stays at the cap for huge attempt numbers instead of overflowing', () => {
    expect(backoffCeilingMs(5000, policy)).toBe(2000);
    expect(fullJitterDelayMs(Number.MAX_SAFE_INTEGER, policy, () => 0.999)).toBeLessThanOrEqual(2000);
  });

  it('is 0 for a zero base or cap, and treats attempts below 1 as the first', () => {
    expect(fullJitterDelayMs(4, { baseDelayMs: 0, maxDelayMs: 1000 }, () => 0.9)).toBe(0);
    expect(fullJitterDelayMs(4, { baseDelayMs: 100, maxDelayMs: 0 }, () => 0.9)).toBe(0);
    expect(backoffCeilingMs(0, policy)).toBe(100);
    expect(backoffCeilingMs(-3, policy)).toBe(100);
  });

  it('keeps every delay within [0, min(cap, base * 2^(attempt-1))] (property)', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 200 }),
        fc.integer({ min: 0, max: 100_000 }),
        fc.integer({ min: 0, max: 1_000_000 }),
        fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        (attempt, baseDelayMs, maxDelayMs, r) => {
          const delay = fullJitterDelayMs(attempt, { baseDelayMs, maxDelayMs }, () => r);
          const cap = Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1));
          expect(Number.isInteger(delay)).toBe(true);
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay).toBeLessThanOrEqual(cap);
        },
      ),
    );
  });
});

describe('parseRetryAfterMs', () => {
  it('reads delta-seconds', () => {
    expect(parseRetryAfterMs('120', NOW)).toBe(120_000);
    expect(parseRetryAfterMs(' 3 ', NOW)).toBe(3000);
    expect(parseRetryAfterMs('0', NOW)).toBe(0);
    expect(parseRetryAfterMs('1.5', NOW)).toBe(1500);
  });

  it('reads an IMF-fixdate relative to now', () => {
    expect(parseRetryAfterMs(new Date(NOW + 30_000).toUTCString(), NOW)).toBe(30_000);
  });

  it('reads the obsolete RFC 850 and asctime date formats as GMT', () => {
    const now = Date.UTC(1994, 10, 6, 8, 49, 0);
    expect(parseRetryAfterMs('Sunday, 06-Nov-94 08:49:37 GMT', now)).toBe(37_000);
    expect(parseRetryAfterMs('Sun Nov  6 08:49:37 1994', now)).toBe(37_000);
  });

  it('gives 0 for a date in the past', () => {
    expect(parseRetryAfterMs(new Date(NOW - 60_000).toUTCString(), NOW)).toBe(0);
  });

  it('caps absurd values at one hour (or a given maximum)', () => {
    expect(parseRetryAfterMs('999999999', NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfterMs(new Date(NOW + 7 * 86_400_000).toUTCString(), NOW)).toBe(MAX_RETRY_AFTER_MS);
    expect(parseRetryAfterMs('600', NOW, 60_000)).toBe(60_000);
  });

  it.each([undefined, null, '', '   ', '-5', 'soon', 'foo 1', '1e3', '2030-01-01T12:00:30Z', 'Wed, 32 Foo 2030 99:00:00 GMT'])(
    'returns undefined for absent or unparseable %j',
    (value) => {
      expect(parseRetryAfterMs(value, NOW)).toBeUndefined();
    },
  );
});

describe('nextRetryDelayMs', () => {
  it('gives up once maxAttempts attempts have been made', () => {
    expect(nextRetryDelayMs(decision({ attempt: 4 }))).toBeTypeOf('number');
    expect(nextRetryDelayMs(decision({ attempt: 5 }))).toBeUndefined();
    expect(nextRetryDelayMs(decision({ attempt: 1, policy: { ...policy, maxAttempts: 1 } }))).toBeUndefined();
  });

  it('uses the full-jitter delay when the provider gave no Retry-After', () => {
    expect(nextRetryDelayMs(decision({ attempt: 2, random: () => 0.5 }))).toBe(100);
  });

  it('waits at least as long as Retry-After, even beyond maxDelayMs', () => {
    expect(nextRetryDelayMs(decision({ retryAfterMs: 5000 }))).toBe(5000);
  });

  it('keeps the longer jittered delay when Retry-After is shorter', () => {
    expect(nextRetryDelayMs(decision({ attempt: 4, random: () => 0.999, retryAfterMs: 10 }))).toBe(800);
  });

  it('gives up when Retry-After runs past the remaining time minus the margin', () => {
    expect(nextRetryDelayMs(decision({ retryAfterMs: 30_000, remainingTimeMs: 20_000 }))).toBeUndefined();
  });

  it('gives up when the delay plus the minimum attempt time does not fit before the deadline', () => {
    // usable = 1500 - 1000 = 500; delay 0..100 + minAttempt 450 fits only for delays <= 50
    expect(nextRetryDelayMs(decision({ remainingTimeMs: 1500, minAttemptMs: 450, random: () => 0 }))).toBe(0);
    expect(nextRetryDelayMs(decision({ remainingTimeMs: 1500, minAttemptMs: 450, random: () => 0.9 }))).toBeUndefined();
    expect(nextRetryDelayMs(decision({ remainingTimeMs: 900 }))).toBeUndefined();
  });

  it('never exceeds maxDelayMs unless Retry-After demands more, and never schedules past remaining − margin (property)', () => {
    fc.assert(
      fc.property(
        fc.record({
          attempt: fc.integer({ min: 1, max: 60 }),
          maxAttempts: fc.integer({ min: 1, max: 60 }),
          baseDelayMs: fc.integer({ min: 0, max: 30_000 }),
          maxDelayMs: fc.integer({ min: 0, max: 120_000 }),
          retryAfterMs: fc.option(fc.integer({ min: 0, max: MAX_RETRY_AFTER_MS }), { nil: undefined }),
          remainingTimeMs: fc.integer({ min: -10_000, max: 900_000 }),
          safetyMarginMs: fc.integer({ min: 0, max: 30_000 }),
          minAttemptMs: fc.integer({ min: 0, max: 30_000 }),
          r: fc.double({ min: 0, max: 1, maxExcluded: true, noNaN: true }),
        }),
        (p) => {
          const input: RetryDecisionInput = {
            attempt: p.attempt,
            policy: { maxAttempts: p.maxAttempts, baseDelayMs: p.baseDelayMs, maxDelayMs: p.maxDelayMs },
            retryAfterMs: p.retryAfterMs,
            remainingTimeMs: p.remainingTimeMs,
            safetyMarginMs: p.safetyMarginMs,
            minAttemptMs: p.minAttemptMs,
            random: () => p.r,
          };
          const delay = nextRetryDelayMs(input);
          const usable = p.remainingTimeMs - p.safetyMarginMs;
          if (p.attempt >= p.maxAttempts) {
            expect(delay).toBeUndefined();
            return;
          }
          if (p.retryAfterMs !== undefined && p.retryAfterMs + p.minAttemptMs > usable) {
            // Retry-After demands more than the deadline allows: give up rather than wait or cut it short.
            expect(delay).toBeUndefined();
            return;
          }
          if (delay === undefined) {
            // Giving up is only allowed when the jittered delay itself did not fit.
            const jitter = fullJitterDelayMs(p.attempt, input.policy, input.random);
            expect(Math.max(jitter, p.retryAfterMs ?? 0) + p.minAttemptMs).toBeGreaterThan(usable);
            return;
          }
          expect(delay).toBeGreaterThanOrEqual(0);
          expect(delay + p.minAttemptMs).toBeLessThanOrEqual(usable);
          if (p.retryAfterMs !== undefined) expect(delay).toBeGreaterThanOrEqual(p.retryAfterMs);
          if (p.retryAfterMs === undefined || p.retryAfterMs <= p.maxDelayMs) expect(delay).toBeLessThanOrEqual(p.maxDelayMs);
          else expect(delay).toBe(p.retryAfterMs);
        },
      ),
      { numRuns: 2000 },
    );
  });
});
