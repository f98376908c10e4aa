/**
 * Strategy (b): the plain adapter behind a circuit breaker per Lambda instance (cockatiel), as a team would add one
 * without shared state. Each instance has its own ConsecutiveBreaker with the hub's threshold and the hub's break
 * (same initial break, ×2 growth and cap: cockatiel's ExponentialBackoff without jitter as `halfOpenAfter`), and the
 * same retry budget as the hub's HTTP client (3 attempts, full-jitter exponential backoff; an open breaker is not
 * retried). A record that fails or meets an open breaker is a batch item failure: no parking, no mapping pause. No
 * retry starts after the invocation's deadline (outage-plain-adapter.ts).
 */
import {
  BrokenCircuitError,
  ConsecutiveBreaker,
  circuitBreaker,
  ExponentialBackoff,
  fullJitterGenerator,
  handleAll,
  handleWhen,
  noJitterGenerator,
  retry,
  wrap,
} from 'cockatiel';
import { PlainChargeClient, plainBatchHandler } from './outage-plain-adapter.js';
import type { SimulatedInstance } from './outage-instance-pool.js';
import type { OutageStrategy } from './outage-strategy.js';

export const perInstanceBreakers: OutageStrategy = {
  key: 'b',
  name: 'per-instance breakers',
  description:
    'plain fetch adapter, one cockatiel ConsecutiveBreaker per instance (hub threshold and break), 3 attempts with backoff; failures are batch item failures (no parking, no pause)',
  async prepare({ settings, sandbox, paymentsSecretKey }) {
    const client = new PlainChargeClient(sandbox.paymentsUrl, paymentsSecretKey, settings.http.timeoutMs);
    let breakerOpenings = 0;
    let rejectedByOpenBreaker = 0;
    const instances: SimulatedInstance[] = Array.from({ length: settings.instances }, () => {
      const breaker = circuitBreaker(handleAll, {
        halfOpenAfter: new ExponentialBackoff({ generator: noJitterGenerator, initialDelay: settings.circuit.breakMs, maxDelay: settings.circuit.maxBreakMs }),
        breaker: new ConsecutiveBreaker(settings.circuit.failureThreshold),
      });
      breaker.onBreak(() => {
        breakerOpenings += 1;
      });
      const retries = retry(
        handleWhen((error) => !(error instanceof BrokenCircuitError)),
        {
          maxAttempts: settings.http.maxAttempts - 1, // cockatiel counts retries after the first attempt
          backoff: new ExponentialBackoff({ generator: fullJitterGenerator, initialDelay: settings.http.baseDelayMs, maxDelay: settings.http.maxDelayMs }),
        },
      );
      const policy = wrap(retries, breaker);
      return {
        handle: plainBatchHandler(async (event, correlationId, deadline) => {
          try {
            await policy.execute(() => client.charge(event, correlationId, deadline), deadline);
          } catch (error) {
            if (error instanceof BrokenCircuitError) rejectedByOpenBreaker += 1;
            throw error;
          }
        }),
      };
    });
    return {
      instances,
      stop: async () => undefined,
      details: () => ({ breakerOpenings, rejectedByOpenBreaker }),
    };
  },
};
