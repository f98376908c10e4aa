import { describe, expect, it } from 'vitest';
import { ConcurrencyLimit } from '../../../functions/runtime/concurrency.js';

describe('ConcurrencyLimit', () => {
  it('runs at most the limit at once and starts waiting tasks in arrival order', async () => {
    const limit = new ConcurrencyLimit(2);
    const started: number[] = [];
    const releases: Array<() => void> = [];
    const tasks = [0, 1, 2, 3].map((id) =>
      limit.run(async () => {
        started.push(id);
        await new Promise<void>((resolve) => releases.push(resolve));
        return id;
      }),
    );
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1]);

    releases[1]?.();
    await new Promise((resolve) => setImmediate(resolve));
    expect(started).toEqual([0, 1, 2]);

    releases[0]?.();
    await new Promise((resolve) => setImmediate(resolve));
    releases[2]?.();
    releases[3]?.();
    await expect(Promise.all(tasks)).resolves.toEqual([0, 1, 2, 3]);
  });

  it('frees its slot when a task fails', async () => {
    const limit = new ConcurrencyLimit(1);
    await expect(limit.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    await expect(limit.run(async () => 'next')).resolves.toBe('next');
  });

  it('refuses a limit that is not a positive integer', () => {
    expect(() => new ConcurrencyLimit(0)).toThrow(RangeError);
  });
});
