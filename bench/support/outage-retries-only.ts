/**
 * Strategy (c): the plain adapter with an in-handler retry loop and no breaker: 3 attempts with full-jitter
 * exponential backoff (the hub's HTTP budget), then a batch item failure. No parking, no mapping pause. No attempt
 * starts after the invocation's deadline (outage-plain-adapter.ts).
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { PlainChargeClient, plainBatchHandler } from './outage-plain-adapter.js';
import type { SimulatedInstance } from './outage-instance-pool.js';
import type { OutageStrategy } from './outage-strategy.js';

export const retriesOnly: OutageStrategy = {
  key: 'c',
  name: 'retries only',
  description: 'plain fetch adapter, 3 attempts with full-jitter exponential backoff, no breaker; failures are batch item failures (no parking, no pause)',
  async prepare({ settings, sandbox, paymentsSecretKey }) {
    const client = new PlainChargeClient(sandbox.paymentsUrl, paymentsSecretKey, settings.http.timeoutMs);
    const { maxAttempts, baseDelayMs, maxDelayMs } = settings.http;
    let retries = 0;
    const instances: SimulatedInstance[] = Array.from({ length: settings.instances }, () => ({
      handle: plainBatchHandler(async (event, correlationId, deadline) => {
        for (let attempt = 1; ; attempt++) {
          try {
            return await client.charge(event, correlationId, deadline);
          } catch (error) {
            if (attempt >= maxAttempts || deadline.aborted) throw error;
            retries += 1;
            await sleep(Math.random() * Math.min(maxDelayMs, baseDelayMs * 2 ** (attempt - 1)));
            if (deadline.aborted) throw error;
          }
        }
      }),
    }));
    return { instances, stop: async () => undefined, details: () => ({ inHandlerRetries: retries }) };
  },
};
