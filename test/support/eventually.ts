/**
 * Waiting for asynchronous outcomes in tests without racing wall time: poll until the outcome holds, and let the
 * deadline only turn a hang into a failure (a busy machine polls longer; the outcome asserted stays the same).
 */

/** Polls `check` until it returns without throwing; after `timeoutMs` rethrows its last error. */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000, pollMs = 25): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, pollMs));
    }
  }
}

/** Polls `condition` until it is true; after `timeoutMs` fails saying so. */
export async function until(condition: () => boolean, timeoutMs = 5_000, pollMs = 5): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}
