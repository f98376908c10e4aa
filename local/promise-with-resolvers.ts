/**
 * Node 20 lacks Promise.withResolvers, which aws-local-stepfunctions needs (docs/architecture.md "Conventions": toolchain). Imported for its effect by
 * local-step-functions.ts, so every user of the harness (tests, the local hub) gets it.
 */
if (typeof (Promise as unknown as { withResolvers?: unknown }).withResolvers !== 'function') {
  (Promise as unknown as { withResolvers: () => unknown }).withResolvers = function withResolvers<T>() {
    let resolve!: (value: T) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}
