import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { retryDelaySeconds } from '../../../functions/runtime/integration-runtime.js';

describe('retryDelaySeconds', () => {
  it('doubles per receive from the base, with the random factor in [0.5, 1)', () => {
    expect([1, 2, 3, 4].map((receive) => retryDelaySeconds(receive, 10, 300, 0))).toEqual([5, 10, 20, 40]);
    expect([1, 2, 3, 4].map((receive) => retryDelaySeconds(receive, 10, 300, 0.999))).toEqual([10, 20, 40, 80]);
  });

  it('is off (undefined) with a base of 0, so the visibility timeout decides', () => {
    expect(retryDelaySeconds(3, 0, 300, 0.5)).toBeUndefined();
  });

  it('never exceeds the cap and is never below 1 second', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 1000 }), fc.integer({ min: 1, max: 600 }), fc.integer({ min: 1, max: 43_200 }), fc.double({ min: 0, max: 0.9999, noNaN: true }), (receive, base, cap, random) => {
        const delay = retryDelaySeconds(receive, Math.min(base, cap), cap, random)!;
        expect(delay).toBeGreaterThanOrEqual(1);
        expect(delay).toBeLessThanOrEqual(cap);
      }),
    );
  });
});
