/**
 * N simulated Lambda instances behind one event source mapping. Lambda runs one invocation at a time per
 * container and keeps each container's module-scope state (caches, breakers) between invocations; the mapping's
 * maximum concurrency is set to N, so there is always an idle instance for an invocation.
 *
 * Dispatch order: the instance idle the longest takes the next invocation (round-robin over warm containers). That
 * spreads work over every instance, so every instance's caches matter — the case the shared breaker is built for.
 */
import type { Context, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import type { SqsBatchHandler } from '../../local/local-event-source.js';

/** One simulated container: its handler with its own state. */
export interface SimulatedInstance {
  handle(event: SQSEvent, context: Context): Promise<SQSBatchResponse>;
}

/** The pool, as the mapping's handler. */
export class InstancePool {
  readonly #idle: SimulatedInstance[];
  readonly size: number;
  /** Invocations per instance index (how evenly the work was spread). */
  readonly invocations: number[];
  /** Every invocation: when it started (epoch ms), how long it took, how many records it had. */
  readonly calls: { at: number; ms: number; records: number }[] = [];
  readonly #index = new Map<SimulatedInstance, number>();

  constructor(instances: readonly SimulatedInstance[]) {
    this.#idle = [...instances];
    this.size = instances.length;
    this.invocations = instances.map(() => 0);
    instances.forEach((instance, i) => this.#index.set(instance, i));
  }

  /**
   * Warms every instance with one invocation of its own (`event(i)`), `parallelism` at a time, outside the measured
   * traffic: a container's first invocation pays for creating its SDK clients and caches, which on Lambda happens in
   * the init phase and does not count against the function timeout.
   */
  async prewarm(event: (index: number) => SQSEvent, context: () => Context, parallelism: number): Promise<number> {
    const instances = [...this.#idle];
    let next = 0;
    let failedRecords = 0;
    await Promise.all(
      Array.from({ length: Math.min(parallelism, instances.length) }, async () => {
        while (next < instances.length) {
          const index = next++;
          const response = await (instances[index] as SimulatedInstance).handle(event(index), context());
          failedRecords += response.batchItemFailures.length;
        }
      }),
    );
    return failedRecords;
  }

  /** The mapping's handler: runs the invocation on an idle instance. */
  readonly handler: SqsBatchHandler = async (event, context) => {
    const instance = this.#idle.shift();
    if (!instance) throw new Error(`All ${this.size} instances are busy: the mapping's maximum concurrency is above the pool size`);
    const index = this.#index.get(instance) ?? 0;
    this.invocations[index] = (this.invocations[index] ?? 0) + 1;
    const at = Date.now();
    try {
      return await instance.handle(event, context);
    } finally {
      this.calls.push({ at, ms: Date.now() - at, records: event.Records.length });
      this.#idle.push(instance);
    }
  };
}
