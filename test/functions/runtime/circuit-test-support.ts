/** Test doubles shared by the circuit breaker tests: a fake clock, counting and failing store wrappers, errors. */
import { randomUUID } from 'node:crypto';
import { ConnectionError, ProviderRejectedError, RetryableStatusError } from '../../../functions/runtime/errors.js';
import type { Clock } from '../../../functions/runtime/ports.js';
import { InMemoryCircuitStore, type CircuitStore } from '../../../functions/runtime/circuit-store.js';
import { DynamoDbCircuitStore } from '../../../functions/runtime/dynamodb-circuit-store.js';
import type { LocalDynamo } from '../../support/dynalite.js';

/** A clock that only moves when told to. */
export class FakeClock implements Clock {
  constructor(private current = Date.UTC(2030, 0, 1)) {}

  now(): number {
    return this.current;
  }

  advance(ms: number): void {
    this.current += ms;
  }

  async sleep(ms: number): Promise<void> {
    this.current += Math.max(0, ms);
  }

  random(): number {
    return 0.5;
  }
}

type StoreMethod = keyof CircuitStore;

/** Wraps a store and counts calls per method. */
export class CountingCircuitStore implements CircuitStore {
  readonly calls: Record<StoreMethod, number> = { get: 0, put: 0, incrementFailures: 0, clearFailures: 0, addToWindow: 0, advanceThrottle: 0, takeDoubtfulSlot: 0, releaseDoubtfulSlot: 0 };

  constructor(private readonly inner: CircuitStore) {}

  get reads(): number {
    return this.calls.get;
  }

  get writes(): number {
    return (Object.keys(this.calls) as StoreMethod[]).filter((method) => method !== 'get').reduce((sum, method) => sum + this.calls[method], 0);
  }

  resetCounts(): void {
    for (const key of Object.keys(this.calls) as StoreMethod[]) this.calls[key] = 0;
  }

  get: CircuitStore['get'] = (...args) => this.count('get', () => this.inner.get(...args));
  put: CircuitStore['put'] = (...args) => this.count('put', () => this.inner.put(...args));
  incrementFailures: CircuitStore['incrementFailures'] = (...args) => this.count('incrementFailures', () => this.inner.incrementFailures(...args));
  clearFailures: CircuitStore['clearFailures'] = (...args) => this.count('clearFailures', () => this.inner.clearFailures(...args));
  addToWindow: CircuitStore['addToWindow'] = (...args) => this.count('addToWindow', () => this.inner.addToWindow(...args));
  advanceThrottle: CircuitStore['advanceThrottle'] = (...args) => this.count('advanceThrottle', () => this.inner.advanceThrottle(...args));
  takeDoubtfulSlot: CircuitStore['takeDoubtfulSlot'] = (...args) => this.count('takeDoubtfulSlot', () => this.inner.takeDoubtfulSlot(...args));
  releaseDoubtfulSlot: CircuitStore['releaseDoubtfulSlot'] = (...args) => this.count('releaseDoubtfulSlot', () => this.inner.releaseDoubtfulSlot(...args));

  private count<T>(method: StoreMethod, call: () => Promise<T>): Promise<T> {
    this.calls[method] += 1;
    return call();
  }
}

/** Wraps a store; while `failing` is set every call throws `error` (like a throttled or unreachable table). */
export class SwitchableCircuitStore implements CircuitStore {
  failing = false;
  failedCalls = 0;

  constructor(
    private readonly inner: CircuitStore,
    private readonly error: unknown = Object.assign(new Error('ProvisionedThroughputExceededException: rate exceeded'), { name: 'ProvisionedThroughputExceededException' }),
  ) {}

  get: CircuitStore['get'] = (...args) => this.guard(() => this.inner.get(...args));
  put: CircuitStore['put'] = (...args) => this.guard(() => this.inner.put(...args));
  incrementFailures: CircuitStore['incrementFailures'] = (...args) => this.guard(() => this.inner.incrementFailures(...args));
  clearFailures: CircuitStore['clearFailures'] = (...args) => this.guard(() => this.inner.clearFailures(...args));
  addToWindow: CircuitStore['addToWindow'] = (...args) => this.guard(() => this.inner.addToWindow(...args));
  advanceThrottle: CircuitStore['advanceThrottle'] = (...args) => this.guard(() => this.inner.advanceThrottle(...args));
  takeDoubtfulSlot: CircuitStore['takeDoubtfulSlot'] = (...args) => this.guard(() => this.inner.takeDoubtfulSlot(...args));
  releaseDoubtfulSlot: CircuitStore['releaseDoubtfulSlot'] = (...args) => this.guard(() => this.inner.releaseDoubtfulSlot(...args));

  private async guard<T>(call: () => Promise<T>): Promise<T> {
    if (this.failing) {
      this.failedCalls += 1;
      throw this.error;
    }
    return call();
  }
}

/** A store backend for suites that run against both implementations. */
export interface StoreBackend {
  readonly name: string;
  /** A store sharing state with every other store this backend made (one "table"). */
  store(): CircuitStore;
}

/** An in-memory backend: every store() is the same shared in-memory store. */
export function memoryBackend(): StoreBackend {
  const shared = new InMemoryCircuitStore();
  return { name: 'in-memory store', store: () => shared };
}

/** A dynalite backend: a fresh table; every store() is a separate adapter (separate SDK wrapper) on it. */
export async function dynamoBackend(dynamo: LocalDynamo): Promise<StoreBackend> {
  const tableName = `circuits-${randomUUID()}`;
  await dynamo.createTable(tableName, { partitionKey: 'circuitId' });
  return { name: 'DynamoDB (dynalite)', store: () => new DynamoDbCircuitStore({ tableName, client: dynamo.client }) };
}

/** A provider failure (5xx). */
export const serverError = (): RetryableStatusError => new RetryableStatusError(503, 'HTTP 503: unavailable');
/** A connection reset. */
export const connectionReset = (): ConnectionError => new ConnectionError('ECONNRESET');
/** A permanent 4xx: the provider is up. */
export const badRequest = (): ProviderRejectedError => new ProviderRejectedError(400, 'HTTP 400: invalid field');

/** Runs `fn` and returns the error it rejects with (fails the test if it resolves). */
export async function rejectionOf(fn: () => Promise<unknown>): Promise<unknown> {
  try {
    await fn();
  } catch (error) {
    return error;
  }
  throw new Error('expected a rejection');
}
