import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import {
  breakDurationMs,
  DEFAULT_CIRCUIT_BREAKER_SETTINGS,
  resolveCircuitBreakerSettings,
  type CircuitBreakerSettingsInput,
} from '../../../functions/runtime/circuit-settings.js';

describe('resolveCircuitBreakerSettings', () => {
  it('returns the documented defaults when nothing is overridden', () => {
    expect(resolveCircuitBreakerSettings()).toEqual({
      mode: 'consecutive',
      failureThreshold: 5,
      failureRatio: 0.5,
      minimumThroughput: 20,
      windowMs: 60_000,
      windowBuckets: 6,
      slowCallMs: undefined,
      breakMs: 30_000,
      breakMultiplier: 2,
      maxBreakMs: 600_000,
      flapWindowMs: 120_000,
      probeLeaseMs: 30_000,
      probeSuccessesToClose: 1,
      cacheTtlMs: 2_000,
      suspectCacheTtlMs: 0,
      storeRetryMs: 10_000,
      isolatedRetryAfterMs: 300_000,
      maxThrottleMs: 900_000,
      openOnThrottleMs: 60_000,
    });
  });

  it('merges overrides over the defaults and ignores undefined values', () => {
    const settings = resolveCircuitBreakerSettings({ mode: 'ratio', failureRatio: 0.25, breakMs: undefined });
    expect(settings.mode).toBe('ratio');
    expect(settings.failureRatio).toBe(0.25);
    expect(settings.breakMs).toBe(DEFAULT_CIRCUIT_BREAKER_SETTINGS.breakMs);
  });

  it('accepts an already resolved settings object (idempotent)', () => {
    const once = resolveCircuitBreakerSettings({ slowCallMs: 800 });
    expect(resolveCircuitBreakerSettings(once)).toEqual(once);
  });

  it('reports every problem at once, naming the circuit', () => {
    const bad = {
      mode: 'sometimes',
      failureThreshold: 0,
      failureRatio: 1.5,
      windowMs: 1000,
      windowBuckets: 3,
      breakMs: 10_000,
      maxBreakMs: 5_000,
      breakMultiplier: 0.5,
      suspectCacheTtlMs: 5_000,
      slowCallMs: -1,
      probeLeaseMs: 0,
      typoKey: 1,
    } as unknown as CircuitBreakerSettingsInput;
    let error: unknown;
    try {
      resolveCircuitBreakerSettings(bad, "crm circuit");
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    const message = (error as Error).message;
    expect(message).toContain('crm circuit');
    for (const fragment of [
      "unknown setting 'typoKey'",
      'mode must be',
      'failureThreshold',
      'failureRatio',
      'windowMs (1000) must be a multiple of windowBuckets (3)',
      'maxBreakMs (5000) must be >= breakMs (10000)',
      'breakMultiplier',
      'suspectCacheTtlMs (5000) must be <= cacheTtlMs (2000)',
      'slowCallMs',
      'probeLeaseMs',
    ]) {
      expect(message).toContain(fragment);
    }
  });
});

describe('breakDurationMs', () => {
  it('grows the break by the multiplier on every re-open and caps it', () => {
    const settings = resolveCircuitBreakerSettings({ breakMs: 1_000, breakMultiplier: 2, maxBreakMs: 5_000 });
    expect([0, 1, 2, 3, 4, 10].map((n) => breakDurationMs(settings, n))).toEqual([1_000, 2_000, 4_000, 5_000, 5_000, 5_000]);
  });
});
