/**
 * The port the circuit breaker's logic is written against, the shape of one circuit's shared state, and an
 * in-memory implementation (the per-instance fallback when the circuits table fails, and the unit-test store).
 *
 * Every write is a single-item conditional write that bumps `version` (docs/architecture.md "Conventions": no transactions). Two kinds:
 * - `put`: replace the whole record if `version` is still the one that was read (optimistic concurrency); every
 *   state transition uses it, so two instances can never both win one transition.
 * - atomic counter updates (`incrementFailures`, `clearFailures`, `addToWindow`, `advanceThrottle`): conditioned
 *   on the state rather than the version, so many instances reporting at once do not contend.
 * A failed condition is a normal answer (`{ applied: false }`), never an exception: the caller re-reads (DynamoDB
 * local does not return the item on a failed condition). Anything thrown means the store itself failed.
 */

/** The states a circuit can be in. `state` is an explicit attribute so a stream consumer sees every change. */
export type CircuitState = 'closed' | 'open' | 'half_open' | 'isolated';

/** Every valid {@link CircuitState}. */
export const CIRCUIT_STATES: readonly CircuitState[] = Object.freeze(['closed', 'open', 'half_open', 'isolated']);

/** True when `value` is one of {@link CIRCUIT_STATES}. */
export function isCircuitState(value: unknown): value is CircuitState {
  return typeof value === 'string' && (CIRCUIT_STATES as readonly string[]).includes(value);
}

/**
 * One fixed bucket of the 'ratio' mode sliding window, keyed by its start. Keying by start (not by a ring slot)
 * lets every instance ADD into the same bucket without any condition, so counts from many instances merge exactly.
 */
export interface WindowBucket {
  /** Epoch ms at which the bucket starts (a multiple of the bucket length). */
  readonly start: number;
  readonly calls: number;
  readonly failures: number;
}

/** The shared state of one circuit. Optional fields are absent from the stored item when undefined. */
export interface CircuitRecord {
  readonly circuitId: string;
  readonly state: CircuitState;
  /** Bumped by every write; 0 means nothing is stored yet (a healthy circuit that never failed). */
  readonly version: number;
  /** Epoch ms of the last write. */
  readonly updatedAt: number;
  /** Epoch ms of the last state change. */
  readonly stateSince?: number;
  /** Why the circuit is in its state: 'consecutive_failures' | 'failure_ratio' | 'probe_failed' | 'throttled' | an operator's reason. */
  readonly stateReason?: string;
  /** Failures in a row while closed ('consecutive' mode). */
  readonly consecutiveFailures: number;
  /** The sliding window's buckets ('ratio' mode), oldest first; buckets that left the window are pruned by later writes. */
  readonly window: readonly WindowBucket[];
  /** While open: when a half-open probe may be elected. */
  readonly openUntil?: number;
  /** Re-opens since the circuit last stayed closed for `flapWindowMs`; grows the break. */
  readonly reopenCount: number;
  /** While half-open: the token of the elected prober. */
  readonly probeOwner?: string;
  /** While half-open: when the prober's lease expires and another instance may probe. */
  readonly probeLeaseUntil?: number;
  /** Successful probes since the circuit went half-open. */
  readonly probeSuccesses: number;
  /** Every instance backs off until then (provider's Retry-After). Only ever moves forward. */
  readonly throttledUntil?: number;
  /**
   * Calls in flight that were let through while the circuit was doubtful (closed with failures in a row): with the
   * failures they may still add, they never exceed the threshold ('consecutive' mode; see `takeDoubtfulSlot`).
   */
  readonly doubtfulCalls?: number;
  /** When those calls' slots are void (an instance that died while holding one does not keep it). */
  readonly doubtfulUntil?: number;
}

/** How a call let through while doubtful ended, for {@link CircuitStore.releaseDoubtfulSlot}. */
export type DoubtfulOutcome = 'failure' | 'success' | 'ignore';

/** Outcome of a conditional write: the record as stored after it, or `applied: false` when the condition failed. */
export type WriteResult = { readonly applied: true; readonly record: CircuitRecord } | { readonly applied: false };

/** Shared circuit state. Implementations: {@link InMemoryCircuitStore}, `DynamoDbCircuitStore`. */
export interface CircuitStore {
  /** The current record (strongly consistent), or undefined when nothing is stored. */
  get(circuitId: string): Promise<CircuitRecord | undefined>;
  /**
   * Replaces the record if its stored version is `expectedVersion` (0: nothing stored). The stored version
   * becomes `expectedVersion + 1`; `record.version` is ignored.
   */
  put(record: CircuitRecord, expectedVersion: number): Promise<WriteResult>;
  /** Adds one consecutive failure if the circuit is closed (or not stored yet). */
  incrementFailures(circuitId: string, now: number): Promise<WriteResult>;
  /** Sets consecutive failures to 0 if the circuit is closed and has any. */
  clearFailures(circuitId: string, now: number): Promise<WriteResult>;
  /**
   * In one write, if the circuit is closed (or not stored yet): adds `counts` to their buckets (creating them) and
   * removes the buckets starting at `expired` (they left the window).
   */
  addToWindow(circuitId: string, counts: readonly WindowBucket[], expired: readonly number[], now: number): Promise<WriteResult>;
  /** Sets `throttledUntil` if it is unset or earlier (never moves it back). */
  advanceThrottle(circuitId: string, untilMs: number, now: number): Promise<WriteResult>;
  /**
   * Lets one more call through a doubtful circuit: adds one to `doubtfulCalls` (and sets `doubtfulUntil`) if the
   * circuit is closed, still has `observedFailures` failures in a row, and fewer than `limit` doubtful calls in flight.
   */
  takeDoubtfulSlot(circuitId: string, observedFailures: number, limit: number, until: number, now: number): Promise<WriteResult>;
  /**
   * A doubtful call ended: its slot is given back and, in the same write, a failure adds one to the failures in a
   * row, a success clears them. Only while the circuit is closed and has doubtful calls.
   */
  releaseDoubtfulSlot(circuitId: string, outcome: DoubtfulOutcome, now: number): Promise<WriteResult>;
}

/** The record of a circuit that has nothing stored: closed, no counters. */
export function emptyCircuitRecord(circuitId: string): CircuitRecord {
  return { circuitId, state: 'closed', version: 0, updatedAt: 0, consecutiveFailures: 0, window: [], reopenCount: 0, probeSuccesses: 0 };
}

/** Options of {@link InMemoryCircuitStore}. */
export interface InMemoryCircuitStoreOptions {
  /**
   * Awaited at the start of every operation; tests pass a scheduler hook here to interleave concurrent callers.
   * Each operation is atomic once it resumes, like a single-item DynamoDB write.
   */
  readonly interleave?: () => Promise<void>;
}

/** A {@link CircuitStore} in process memory, with exactly the conditions of the DynamoDB adapter. */
export class InMemoryCircuitStore implements CircuitStore {
  private readonly items = new Map<string, CircuitRecord>();
  private readonly interleave?: () => Promise<void>;

  constructor(options: InMemoryCircuitStoreOptions = {}) {
    this.interleave = options.interleave;
  }

  /** Synchronous read for tests and diagnostics. */
  peek(circuitId: string): CircuitRecord | undefined {
    const item = this.items.get(circuitId);
    return item && structuredClone(item);
  }

  async get(circuitId: string): Promise<CircuitRecord | undefined> {
    await this.interleave?.();
    return this.peek(circuitId);
  }

  async put(record: CircuitRecord, expectedVersion: number): Promise<WriteResult> {
    await this.interleave?.();
    const current = this.items.get(record.circuitId);
    if ((current?.version ?? 0) !== expectedVersion || (expectedVersion === 0 && current)) return { applied: false };
    return this.store(withoutUndefined({ ...record, version: expectedVersion + 1 }));
  }

  async incrementFailures(circuitId: string, now: number): Promise<WriteResult> {
    await this.interleave?.();
    const current = this.current(circuitId);
    if (current.state !== 'closed') return { applied: false };
    return this.store({ ...current, consecutiveFailures: current.consecutiveFailures + 1, version: current.version + 1, updatedAt: now });
  }

  async clearFailures(circuitId: string, now: number): Promise<WriteResult> {
    await this.interleave?.();
    const current = this.items.get(circuitId);
    if (!current || current.state !== 'closed' || !(current.consecutiveFailures > 0)) return { applied: false };
    return this.store({ ...current, consecutiveFailures: 0, version: current.version + 1, updatedAt: now });
  }

  async addToWindow(circuitId: string, counts: readonly WindowBucket[], expired: readonly number[], now: number): Promise<WriteResult> {
    await this.interleave?.();
    const current = this.current(circuitId);
    if (current.state !== 'closed') return { applied: false };
    const buckets = new Map(current.window.map((b) => [b.start, b]));
    for (const start of expired) buckets.delete(start);
    for (const add of counts) {
      const existing = buckets.get(add.start) ?? { start: add.start, calls: 0, failures: 0 };
      buckets.set(add.start, { start: add.start, calls: existing.calls + add.calls, failures: existing.failures + add.failures });
    }
    const window = [...buckets.values()].sort((a, b) => a.start - b.start);
    return this.store({ ...current, window, version: current.version + 1, updatedAt: now });
  }

  async advanceThrottle(circuitId: string, untilMs: number, now: number): Promise<WriteResult> {
    await this.interleave?.();
    const current = this.current(circuitId);
    if (current.throttledUntil !== undefined && !(current.throttledUntil < untilMs)) return { applied: false };
    return this.store({ ...current, throttledUntil: untilMs, version: current.version + 1, updatedAt: now });
  }

  async takeDoubtfulSlot(circuitId: string, observedFailures: number, limit: number, until: number, now: number): Promise<WriteResult> {
    await this.interleave?.();
    const current = this.items.get(circuitId);
    if (!current || current.state !== 'closed' || current.consecutiveFailures !== observedFailures || !((current.doubtfulCalls ?? 0) < limit)) return { applied: false };
    return this.store({ ...current, doubtfulCalls: (current.doubtfulCalls ?? 0) + 1, doubtfulUntil: until, version: current.version + 1, updatedAt: now });
  }

  async releaseDoubtfulSlot(circuitId: string, outcome: DoubtfulOutcome, now: number): Promise<WriteResult> {
    await this.interleave?.();
    const current = this.items.get(circuitId);
    if (!current || current.state !== 'closed' || !((current.doubtfulCalls ?? 0) > 0)) return { applied: false };
    const consecutiveFailures = outcome === 'failure' ? current.consecutiveFailures + 1 : outcome === 'success' ? 0 : current.consecutiveFailures;
    return this.store({ ...current, consecutiveFailures, doubtfulCalls: current.doubtfulCalls! - 1, version: current.version + 1, updatedAt: now });
  }

  private current(circuitId: string): CircuitRecord {
    return this.items.get(circuitId) ?? emptyCircuitRecord(circuitId);
  }

  private store(record: CircuitRecord): WriteResult {
    this.items.set(record.circuitId, structuredClone(record));
    return { applied: true, record: structuredClone(record) };
  }
}

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}
