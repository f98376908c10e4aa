/**
 * The circuit breaker shared by every Lambda instance of an integration (docs/architecture.md "Circuit breaker, controller and prober").
 *
 *   closed ── N failures in a row, or failure ratio over the window ──▶ open ── openUntil passes ──▶ half_open
 *   half_open (one probe at a time, across all instances) ── K probe successes ──▶ closed
 *   half_open ── probe failure ──▶ open again, for a break that grows ×breakMultiplier (capped); a close resets it,
 *   unless the circuit trips again within flapWindowMs (a failed recovery: the break grows on, so flapping damps)
 *   isolated: forced open by an operator until reset().
 *
 * Doubtful budget ('consecutive' mode): closed with failures in a row, a call needs a slot — failures plus slots in
 * flight stay under the threshold — so instances that know of a failure cannot pile calls onto a dying provider.
 *
 * Cost model: the state is cached per instance for `cacheTtlMs`, so a healthy circuit costs at most one read per
 * TTL and no write at all. Failures are written ('consecutive': one atomic increment each; 'ratio': one atomic ADD
 * per `flush()`). Transitions are read-modify-write with a version check, so exactly one instance wins each one;
 * the half-open probe is a lease (owner token + expiry) won the same way, and it expires if its holder crashes.
 *
 * If the shared store fails, the breaker falls back to a per-instance in-memory breaker with the same settings
 * (reported through `onStoreFallback`) and tries the shared store again after `storeRetryMs`.
 */
import { randomUUID } from 'node:crypto';
import { systemClock } from './clock.js';
import {
  CircuitOpenError,
  ConfigurationError,
  DependencyError,
  DuplicateInFlightError,
  RetryableStatusError,
  ThrottledError,
  type IntegrationError,
  type NotAttemptedError,
} from './errors.js';
import type { CallGuard, CallPermit, Clock } from './ports.js';
import {
  breakDurationMs,
  bucketMs,
  resolveCircuitBreakerSettings,
  type CircuitBreakerSettings,
  type CircuitBreakerSettingsInput,
} from './circuit-settings.js';
import {
  emptyCircuitRecord,
  InMemoryCircuitStore,
  type CircuitRecord,
  type CircuitState,
  type CircuitStore,
  type WriteResult,
} from './circuit-store.js';

// ---------------------------------------------------------------- public types

/** How an attempt's error counts for the breaker. */
export type FailureVerdict = 'failure' | 'success' | 'ignore';

/** Decides how an error reported through `CallPermit.failed` counts. */
export type FailureClassifier = (error: IntegrationError) => FailureVerdict;

/**
 * Transient errors are provider failures; permanent ones (4xx) prove the provider is up. A 429 with Retry-After is
 * not a failure: the provider is pacing us and the caller shares that through `throttle()`. A 429 without
 * Retry-After counts (the breaker is then the only shared backpressure). Our own dependencies failing, or an
 * attempt that was not made, say nothing about the provider.
 */
export const defaultFailureClassifier: FailureClassifier = (error) => {
  if (error instanceof RetryableStatusError && error.status === 429 && error.retryAfterMs !== undefined) return 'ignore';
  if (error instanceof DuplicateInFlightError || error instanceof DependencyError) return 'ignore';
  if (error.category === 'transient') return 'failure';
  if (error.category === 'permanent') return 'success';
  return 'ignore';
};

/** Which store an event happened on. */
export type CircuitStoreSource = 'shared' | 'fallback';

/** Why a call was not allowed. */
export type RejectionReason = 'open' | 'half_open' | 'isolated' | 'throttled' | 'doubtful';

/** What the breaker tells its observer; the runtime turns these into metrics (CircuitOpened, CircuitRejected, ...). */
export type CircuitEvent = { readonly circuitId: string; readonly at: number; readonly store: CircuitStoreSource } & (
  | { readonly type: 'opened'; readonly reason: 'consecutive_failures' | 'failure_ratio' | 'probe_failed' | 'throttled'; readonly openUntil: number; readonly breakMs: number }
  | { readonly type: 'probe_elected'; readonly owner: string; readonly leaseUntil: number }
  | { readonly type: 'probe_succeeded'; readonly successes: number; readonly successesToClose: number }
  | { readonly type: 'closed' }
  | { readonly type: 'rejected'; readonly reason: RejectionReason; readonly retryAt: number }
  | { readonly type: 'throttled'; readonly until: number }
  | { readonly type: 'isolated'; readonly reason: string }
  | { readonly type: 'reset' }
);

/** Observer hooks. They must not throw (a throwing hook is ignored). */
export interface CircuitBreakerHooks {
  /** Every transition (opened, closed, probe elected, ...) and every rejection. Only the instance that made a transition reports it. */
  onEvent?(event: CircuitEvent): void;
  /** The shared store failed; this instance now uses its per-instance breaker (BreakerStoreFallback metric). */
  onStoreFallback?(error: unknown): void;
  /** The shared store answered again after a fallback. */
  onStoreRecovered?(): void;
}

/** Construction options of {@link CircuitBreaker}. */
export interface CircuitBreakerOptions {
  /** The shared circuit's key: `integration` or `integration#endpoint`. */
  readonly circuitId: string;
  /** Where the shared state lives (`DynamoDbCircuitStore` in AWS). */
  readonly store: CircuitStore;
  /** Overrides of the defaults; validated at construction. */
  readonly settings?: CircuitBreakerSettingsInput;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Identifies this instance in probe lease owners. @default a random UUID */
  readonly instanceId?: string;
  /** @default defaultFailureClassifier */
  readonly classifyError?: FailureClassifier;
  readonly hooks?: CircuitBreakerHooks;
}

/** A permit handed out by {@link CircuitBreaker}. */
export interface CircuitPermit extends CallPermit {
  readonly circuitId: string;
  /** For the probe permit: the lease owner token written to the circuit (`<instanceId>:<n>`). */
  readonly probeOwner?: string;
  /** For the probe permit: when its lease expires (another instance may probe after that). */
  readonly leaseUntil?: number;
}

/** A snapshot of a circuit's shared state, for the CLI and dashboards. */
export interface CircuitStatus {
  readonly circuitId: string;
  /** The stored state. */
  readonly state: CircuitState;
  /** What a caller meets now: 'half_open' when the circuit is open but its break is over (the next caller probes). */
  readonly effectiveState: CircuitState;
  readonly version: number;
  readonly updatedAt: number;
  readonly stateSince?: number;
  readonly stateReason?: string;
  readonly consecutiveFailures: number;
  /** Merged counts of the current sliding window ('ratio' mode). */
  readonly window: { readonly calls: number; readonly failures: number; readonly windowMs: number };
  readonly openUntil?: number;
  readonly reopenCount: number;
  /** How long the next (re-)open would last. */
  readonly nextBreakMs: number;
  readonly probe: { readonly owner?: string; readonly leaseUntil?: number; readonly successes: number; readonly successesToClose: number };
  readonly throttledUntil?: number;
  /** True when this instance currently uses its per-instance fallback breaker. */
  readonly usingFallback: boolean;
}

// ---------------------------------------------------------------- the breaker

/** Conflicting writes tolerated before an operation gives up (each conflict means another instance made progress). */
const MAX_ATTEMPTS = 8;

/** Thrown by the guarded shared store: the store itself failed (not a failed condition). */
class StoreFailure extends Error {
  constructor(readonly original: unknown) {
    super('circuit store failed', { cause: original });
  }
}

/** The shared circuit breaker; implements the runtime's CallGuard. One instance per circuit per Lambda instance. */
export class CircuitBreaker implements CallGuard {
  readonly circuitId: string;
  readonly settings: CircuitBreakerSettings;
  readonly instanceId: string;
  private readonly clock: Clock;
  private readonly hooks: CircuitBreakerHooks;
  private readonly classify: FailureClassifier;
  private readonly shared: CircuitEngine;
  private fallback: CircuitEngine;
  /** Set while in fallback: when to try the shared store again. */
  private retrySharedAt: number | undefined;
  private probeSeq = 0;

  constructor(options: CircuitBreakerOptions) {
    if (typeof options.circuitId !== 'string' || options.circuitId.trim() === '') {
      throw new ConfigurationError('circuit breaker: circuitId must be a non-empty string');
    }
    this.circuitId = options.circuitId;
    this.settings = resolveCircuitBreakerSettings(options.settings, `circuit breaker '${options.circuitId}'`);
    this.clock = options.clock ?? systemClock;
    this.instanceId = options.instanceId ?? randomUUID();
    this.hooks = options.hooks ?? {};
    this.classify = options.classifyError ?? defaultFailureClassifier;
    this.shared = this.engine(guardStore(options.store), 'shared');
    this.fallback = this.engine(new InMemoryCircuitStore(), 'fallback');
  }

  /** True while this instance uses its per-instance fallback breaker because the shared store failed. */
  get usingFallback(): boolean {
    return this.retrySharedAt !== undefined;
  }

  /**
   * Returns a permit when a call may be made now (possibly the single half-open probe). Throws CircuitOpenError
   * (retryAt = openUntil, or the probe lease's expiry) or ThrottledError (retryAt = throttledUntil) otherwise.
   */
  acquire(): Promise<CircuitPermit> {
    return this.withEngine((engine) => engine.acquire());
  }

  /**
   * Cheap pre-check before any per-record work: throws like acquire() when a call would certainly be refused, but
   * takes no permit and never writes (a due probe is left to acquire()).
   */
  check(): Promise<void> {
    return this.withEngine((engine) => engine.check());
  }

  /** The earliest epoch ms at which a parked message should come back (now when a call would be allowed). */
  nextRetryAt(): Promise<number> {
    return this.withEngine((engine) => engine.nextRetryAt());
  }

  /** A 429 with Retry-After: every instance backs off until `untilMs` (capped by `maxThrottleMs`; only moves forward). */
  throttle(untilMs: number): Promise<void> {
    return this.withEngine((engine) => engine.throttle(untilMs));
  }

  /** 'ratio' mode: writes this instance's accumulated counts in one atomic write and opens on the merged window. Call at the end of each batch. */
  flush(): Promise<void> {
    return this.withEngine((engine) => engine.flush());
  }

  /**
   * For the prober: becomes the half-open probe if one is due (fresh read, conditional write). Returns the probe
   * permit, or undefined when no probe is due or another instance holds the lease. Report through the permit.
   */
  tryAcquireProbeLease(): Promise<CircuitPermit | undefined> {
    return this.withEngine((engine) => engine.tryAcquireProbeLease());
  }

  /** Operator: forces the circuit open (every instance) until reset(). Throws if the shared store fails. */
  async isolate(reason: string): Promise<CircuitStatus> {
    await this.operator((engine) => engine.isolate(reason));
    return this.status();
  }

  /** The runtime: the credentials are revoked for every message (ports.ts CallGuard). */
  async isolateAndRefuse(reason: string): Promise<NotAttemptedError> {
    await this.isolate(reason);
    const retryAt = this.clock.now() + this.settings.isolatedRetryAfterMs;
    return new CircuitOpenError(this.circuitId, retryAt, `Circuit ${this.circuitId} is isolated: ${reason}`);
  }

  /** Operator: closes the circuit and clears every counter, the grown break and the throttle. Throws if the shared store fails. */
  async reset(): Promise<CircuitStatus> {
    await this.operator((engine) => engine.reset());
    return this.status();
  }

  /** A fresh snapshot of the shared state. Throws if the shared store fails. */
  status(): Promise<CircuitStatus> {
    return this.operator((engine) => engine.status(this.usingFallback));
  }

  private engine(store: CircuitStore, source: CircuitStoreSource): CircuitEngine {
    return new CircuitEngine(store, {
      circuitId: this.circuitId,
      settings: this.settings,
      clock: this.clock,
      classify: this.classify,
      source,
      // The fallback is local: there is nothing to cache.
      cacheTtlMs: source === 'shared' ? this.settings.cacheTtlMs : 0,
      suspectCacheTtlMs: source === 'shared' ? this.settings.suspectCacheTtlMs : 0,
      emit: (event) => safely(() => this.hooks.onEvent?.(event)),
      newProbeToken: () => `${this.instanceId}:${++this.probeSeq}`,
      report: (permit, outcome) => this.withEngine((engine) => engine.report(permit, outcome)),
    });
  }

  private async withEngine<T>(operation: (engine: CircuitEngine) => Promise<T>): Promise<T> {
    if (this.retrySharedAt !== undefined && this.clock.now() < this.retrySharedAt) return operation(this.fallback);
    try {
      const result = await operation(this.shared);
      if (this.retrySharedAt !== undefined) this.leaveFallback();
      return result;
    } catch (error) {
      if (!(error instanceof StoreFailure)) throw error;
      this.enterFallback(error.original);
      return operation(this.fallback);
    }
  }

  private async operator<T>(operation: (engine: CircuitEngine) => Promise<T>): Promise<T> {
    try {
      return await operation(this.shared);
    } catch (error) {
      if (error instanceof StoreFailure) {
        throw error.original instanceof Error
          ? error.original
          : new DependencyError('Circuits', `circuit store failed: ${String(error.original)}`, { cause: error.original });
      }
      throw error;
    }
  }

  private enterFallback(error: unknown): void {
    const now = this.clock.now();
    // Concurrent callers hitting the same outage report it once.
    if (this.retrySharedAt !== undefined && now < this.retrySharedAt) return;
    this.retrySharedAt = now + this.settings.storeRetryMs;
    this.shared.invalidate();
    this.fallback.adoptPending(this.shared.takePending());
    safely(() => this.hooks.onStoreFallback?.(error));
  }

  private leaveFallback(): void {
    this.retrySharedAt = undefined;
    // The next outage starts from a fresh local breaker rather than from stale local state.
    this.fallback = this.engine(new InMemoryCircuitStore(), 'fallback');
    safely(() => this.hooks.onStoreRecovered?.());
  }
}

// ---------------------------------------------------------------- the logic against one store

type Outcome = { readonly kind: 'success'; readonly latencyMs: number } | { readonly kind: 'failure'; readonly error: IntegrationError; readonly latencyMs: number };

interface EngineContext {
  readonly circuitId: string;
  readonly settings: CircuitBreakerSettings;
  readonly clock: Clock;
  readonly classify: FailureClassifier;
  readonly source: CircuitStoreSource;
  readonly cacheTtlMs: number;
  readonly suspectCacheTtlMs: number;
  emit(event: CircuitEvent): void;
  newProbeToken(): string;
  report(permit: BreakerPermit, outcome: Outcome): Promise<void>;
}

type Decision =
  | { readonly kind: 'allow' }
  | { readonly kind: 'elect' }
  | { readonly kind: 'reject'; readonly reason: RejectionReason; readonly error: NotAttemptedError };
type Rejection = Extract<Decision, { kind: 'reject' }>;

class BreakerPermit implements CircuitPermit {
  private reported = false;

  constructor(
    readonly circuitId: string,
    readonly engine: CircuitEngine,
    private readonly sink: (permit: BreakerPermit, outcome: Outcome) => Promise<void>,
    readonly isProbe: boolean,
    readonly probeOwner?: string,
    readonly leaseUntil?: number,
    /** Let through while the circuit was doubtful: holds one of its `doubtfulCalls` until it reports. */
    readonly doubtfulSlot = false,
  ) {}

  succeeded(latencyMs: number): Promise<void> {
    return this.once({ kind: 'success', latencyMs });
  }

  failed(error: IntegrationError, latencyMs: number): Promise<void> {
    return this.once({ kind: 'failure', error, latencyMs });
  }

  private async once(outcome: Outcome): Promise<void> {
    // A permit reports one attempt; a second report is a caller bug and must not double count.
    if (this.reported) return;
    this.reported = true;
    await this.sink(this, outcome);
  }
}

/** The breaker's logic against one store, with that store's cache and pending window counts. */
class CircuitEngine {
  private cache: { record: CircuitRecord; fetchedAt: number; ticket: number } | undefined;
  /** Orders store calls by start, so a read that began after a write may replace it even with a lower version (item deleted). */
  private tickets = 0;
  private reading: Promise<CircuitRecord> | undefined;
  /** 'ratio' mode: counts not yet flushed, by bucket start. */
  private pending = new Map<number, { calls: number; failures: number }>();

  constructor(
    private readonly store: CircuitStore,
    private readonly ctx: EngineContext,
  ) {}

  // ------------------------------------------------ callers

  async acquire(): Promise<CircuitPermit> {
    let record = await this.view();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const decision = this.decide(record);
      if (decision.kind === 'allow' && !this.doubtful(record)) return new BreakerPermit(this.ctx.circuitId, this, this.ctx.report, false);
      if (decision.kind === 'allow') {
        const slot = await this.takeDoubtfulSlot(record);
        if (slot.permit) return slot.permit;
        if (slot.rejection) throw this.rejected(slot.rejection);
        record = slot.record;
        continue;
      }
      if (decision.kind === 'reject') throw this.rejected(decision);
      const elected = await this.elect(record);
      if (elected.permit) return elected.permit;
      record = elected.record;
    }
    throw this.rejected(this.contended());
  }

  async check(): Promise<void> {
    const decision = this.decide(await this.view());
    if (decision.kind === 'reject') throw this.rejected(decision);
  }

  async nextRetryAt(): Promise<number> {
    const decision = this.decide(await this.view());
    return decision.kind === 'reject' ? decision.error.retryAt : this.now();
  }

  async tryAcquireProbeLease(): Promise<CircuitPermit | undefined> {
    let record = await this.reload();
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      if (this.decide(record).kind !== 'elect') return undefined;
      const elected = await this.elect(record);
      if (elected.permit) return elected.permit;
      record = elected.record;
    }
    return undefined;
  }

  async report(permit: BreakerPermit, outcome: Outcome): Promise<void> {
    const { settings } = this.ctx;
    let verdict: FailureVerdict = outcome.kind === 'success' ? 'success' : this.ctx.classify(outcome.error);
    if (verdict === 'success' && settings.slowCallMs !== undefined && outcome.latencyMs > settings.slowCallMs) verdict = 'failure';
    // A probe permit from the other store (fallback switch in between) reports like an ordinary call.
    if (permit.isProbe && permit.engine === this && permit.probeOwner !== undefined) return this.reportProbe(permit.probeOwner, verdict);
    if (permit.doubtfulSlot && permit.engine === this) return this.releaseDoubtfulSlot(verdict);
    if (verdict === 'ignore') return;
    if (settings.mode === 'ratio') return this.count(verdict === 'failure');
    return verdict === 'failure' ? this.recordFailure() : this.recordSuccess();
  }

  async throttle(untilMs: number): Promise<void> {
    const now = this.now();
    const until = Math.min(untilMs, now + this.ctx.settings.maxThrottleMs);
    if (!Number.isFinite(until) || until <= now) return;
    // throttledUntil only moves forward, so a cached value at least as late makes the write pointless.
    const cached = this.cache?.record.throttledUntil;
    if (cached !== undefined && cached >= until) return;
    const result = await this.write(() => this.store.advanceThrottle(this.ctx.circuitId, until, now));
    if (!result.applied) {
      await this.reload();
      return;
    }
    this.ctx.emit({ ...this.base(), type: 'throttled', until });
    const { openOnThrottleMs } = this.ctx.settings;
    if (openOnThrottleMs > 0 && until - now >= openOnThrottleMs) await this.openForThrottle(result.record, until);
  }

  /**
   * closed → open until a long throttle ends, so the controller pauses the consumption (see `openOnThrottleMs`).
   * Not a failure: the re-open count, and so the next break, stay as they are. A circuit already open, half-open or
   * isolated is left alone: its rejections already wait for `throttledUntil`.
   */
  private async openForThrottle(record: CircuitRecord, until: number): Promise<void> {
    const { record: opened, changed } = await this.mutate((r) => {
      if (r.state !== 'closed') return undefined;
      const now = this.now();
      if (until <= now) return undefined;
      return {
        ...cleared(r),
        state: 'open',
        stateSince: now,
        stateReason: 'throttled',
        openUntil: until,
        reopenCount: r.reopenCount,
        throttledUntil: Math.max(r.throttledUntil ?? until, until),
      };
    }, record);
    if (changed) this.ctx.emit({ ...this.base(), type: 'opened', reason: 'throttled', openUntil: opened.openUntil ?? until, breakMs: until - opened.stateSince! });
  }

  async flush(): Promise<void> {
    if (this.ctx.settings.mode !== 'ratio' || this.pending.size === 0) return;
    const batch = this.takePending();
    try {
      await this.flushBatch(batch);
    } catch (error) {
      this.adoptPending(batch);
      throw error;
    }
  }

  // ------------------------------------------------ operator

  async isolate(reason: string): Promise<void> {
    const now = this.now();
    const { changed } = await this.mutate((r) => ({
      ...cleared(r),
      state: 'isolated',
      stateSince: r.state === 'isolated' ? r.stateSince : now,
      stateReason: reason,
      reopenCount: r.reopenCount,
      throttledUntil: r.throttledUntil,
    }));
    if (!changed) throw new DependencyError('Circuits', `could not isolate circuit ${this.ctx.circuitId}: too many conflicting writes, retry`);
    this.ctx.emit({ ...this.base(), type: 'isolated', reason });
  }

  async reset(): Promise<void> {
    const now = this.now();
    const { changed } = await this.mutate((r) => ({ ...cleared(r), state: 'closed', stateSince: now }));
    if (!changed) throw new DependencyError('Circuits', `could not reset circuit ${this.ctx.circuitId}: too many conflicting writes, retry`);
    this.ctx.emit({ ...this.base(), type: 'reset' });
  }

  async status(usingFallback: boolean): Promise<CircuitStatus> {
    const r = await this.reload();
    const now = this.now();
    const { settings } = this.ctx;
    const effectiveState: CircuitState = r.state === 'open' && (r.openUntil === undefined || now >= r.openUntil) ? 'half_open' : r.state;
    const totals = this.windowTotals(r, now);
    return {
      circuitId: r.circuitId,
      state: r.state,
      effectiveState,
      version: r.version,
      updatedAt: r.updatedAt,
      stateSince: r.stateSince,
      stateReason: r.stateReason,
      consecutiveFailures: r.consecutiveFailures,
      window: { calls: totals.calls, failures: totals.failures, windowMs: settings.windowMs },
      openUntil: r.openUntil,
      reopenCount: r.reopenCount,
      nextBreakMs: breakDurationMs(settings, r.state === 'open' || r.state === 'half_open' ? r.reopenCount + 1 : r.state === 'closed' ? breakCountOnTrip(r, settings, now) : r.reopenCount),
      probe: { owner: r.probeOwner, leaseUntil: r.probeLeaseUntil, successes: r.probeSuccesses, successesToClose: settings.probeSuccessesToClose },
      throttledUntil: r.throttledUntil,
      usingFallback,
    };
  }

  // ------------------------------------------------ fallback plumbing

  invalidate(): void {
    this.cache = undefined;
  }

  takePending(): Map<number, { calls: number; failures: number }> {
    const taken = this.pending;
    this.pending = new Map();
    return taken;
  }

  adoptPending(counts: Map<number, { calls: number; failures: number }>): void {
    for (const [start, c] of counts) {
      const p = this.pending.get(start) ?? { calls: 0, failures: 0 };
      this.pending.set(start, { calls: p.calls + c.calls, failures: p.failures + c.failures });
    }
  }

  // ------------------------------------------------ decisions

  private decide(r: CircuitRecord): Decision {
    const now = this.now();
    const { circuitId, settings } = this.ctx;
    const throttledUntil = r.throttledUntil !== undefined && r.throttledUntil > now ? r.throttledUntil : undefined;
    // retryAt is the earliest moment a call could be allowed, so a throttle that outlasts the break pushes it out.
    const open = (reason: RejectionReason, until: number, message: string): Decision => ({
      kind: 'reject',
      reason,
      error: new CircuitOpenError(circuitId, Math.max(until, throttledUntil ?? until), message),
    });
    switch (r.state) {
      case 'isolated':
        return open('isolated', now + settings.isolatedRetryAfterMs, `Circuit ${circuitId} is isolated by an operator${r.stateReason ? `: ${r.stateReason}` : ''}`);
      case 'open':
        if (r.openUntil !== undefined && now < r.openUntil) return open('open', r.openUntil, `Circuit ${circuitId} is open until ${iso(r.openUntil)}`);
        break;
      case 'half_open':
        if (r.probeOwner !== undefined && r.probeLeaseUntil !== undefined && now < r.probeLeaseUntil) {
          return open('half_open', r.probeLeaseUntil, `Circuit ${circuitId} is half-open and its probe is in flight until ${iso(r.probeLeaseUntil)}`);
        }
        break;
      case 'closed':
        break;
    }
    if (throttledUntil !== undefined) {
      return { kind: 'reject', reason: 'throttled', error: new ThrottledError(circuitId, throttledUntil, `Calls to ${circuitId} are throttled until ${iso(throttledUntil)}`) };
    }
    return r.state === 'closed' ? { kind: 'allow' } : { kind: 'elect' };
  }

  private contended(): Rejection {
    const retryAt = this.now() + Math.max(this.ctx.settings.cacheTtlMs, 1_000);
    return { kind: 'reject', reason: 'half_open', error: new CircuitOpenError(this.ctx.circuitId, retryAt, `Circuit ${this.ctx.circuitId} is changing state; try again`) };
  }

  private rejected(decision: Rejection): NotAttemptedError {
    this.ctx.emit({ ...this.base(), type: 'rejected', reason: decision.reason, retryAt: decision.error.retryAt });
    return decision.error;
  }

  /**
   * Closed, but failing ('consecutive' mode, failures in a row): every call still in flight may fail too, so a call
   * is let through only while the failures and the doubtful calls in flight stay under the threshold. That bounds the
   * calls a dying provider gets to the threshold at any concurrency, once instances know of the first failure.
   */
  private doubtful(r: CircuitRecord): boolean {
    return this.ctx.settings.mode === 'consecutive' && r.state === 'closed' && r.consecutiveFailures > 0;
  }

  /**
   * One slot of the doubtful budget (a conditional write), or the fresh record to decide again, or a rejection
   * while the budget is taken by calls in flight. Slots of calls that never reported (their instance died) are void
   * after `probeLeaseMs`, like a probe's lease.
   */
  private async takeDoubtfulSlot(
    record: CircuitRecord,
  ): Promise<{ permit: CircuitPermit; record?: undefined; rejection?: undefined } | { permit?: undefined; record: CircuitRecord; rejection?: undefined } | { permit?: undefined; record?: undefined; rejection: Rejection }> {
    const { circuitId, settings } = this.ctx;
    const now = this.now();
    const limit = settings.failureThreshold - record.consecutiveFailures;
    if (limit > 0) {
      const result = await this.write(() => this.store.takeDoubtfulSlot(circuitId, record.consecutiveFailures, limit, now + settings.probeLeaseMs, now));
      if (result.applied) return { permit: new BreakerPermit(circuitId, this, this.ctx.report, false, undefined, undefined, true) };
    }
    const fresh = await this.reload();
    // Opened, recovered or another failure meanwhile: decide again on what is stored now.
    if (!this.doubtful(fresh) || fresh.consecutiveFailures !== record.consecutiveFailures) return { record: fresh };
    const taken = fresh.doubtfulCalls ?? 0;
    if (taken > 0 && (fresh.doubtfulUntil ?? 0) <= now) {
      // Every slot outlived its lease: their holders died. Free them and decide again.
      const { record: freed } = await this.mutate((r) => (this.doubtful(r) && (r.doubtfulUntil ?? 0) <= this.now() ? { ...r, doubtfulCalls: 0, doubtfulUntil: undefined } : undefined), fresh);
      return { record: freed };
    }
    const retryAt = Math.min(fresh.doubtfulUntil ?? now, now + Math.max(settings.cacheTtlMs, 1_000));
    return {
      rejection: {
        kind: 'reject',
        reason: 'doubtful',
        error: new CircuitOpenError(circuitId, Math.max(retryAt, now + 1), `Circuit ${circuitId} has ${fresh.consecutiveFailures} failures in a row and ${taken} calls in flight that may fail too: no more calls until they end`),
      },
    };
  }

  /** A doubtful call ended: its slot back, its failure counted (or the run cleared) in the same write. */
  private async releaseDoubtfulSlot(verdict: FailureVerdict): Promise<void> {
    const result = await this.write(() => this.store.releaseDoubtfulSlot(this.ctx.circuitId, verdict, this.now()));
    if (!result.applied) {
      // Opened (or reset) meanwhile: the slot went with the doubtful period.
      await this.reload();
      return;
    }
    if (verdict === 'failure' && result.record.consecutiveFailures >= this.ctx.settings.failureThreshold) await this.trip(result.record, 'consecutive_failures');
  }

  /** Tries to become the half-open probe with a conditional write; on a lost race returns the fresh record. */
  private async elect(record: CircuitRecord): Promise<{ permit: CircuitPermit; record?: undefined } | { permit?: undefined; record: CircuitRecord }> {
    const now = this.now();
    const token = this.ctx.newProbeToken();
    const leaseUntil = now + this.ctx.settings.probeLeaseMs;
    const wasHalfOpen = record.state === 'half_open';
    const next: CircuitRecord = {
      ...record,
      updatedAt: now,
      state: 'half_open',
      stateSince: wasHalfOpen ? record.stateSince : now,
      openUntil: undefined,
      probeOwner: token,
      probeLeaseUntil: leaseUntil,
      probeSuccesses: wasHalfOpen ? record.probeSuccesses : 0,
    };
    const result = await this.write(() => this.store.put(next, record.version));
    if (!result.applied) return { record: await this.reload() };
    this.ctx.emit({ ...this.base(), type: 'probe_elected', owner: token, leaseUntil });
    return { permit: new BreakerPermit(this.ctx.circuitId, this, this.ctx.report, true, token, leaseUntil) };
  }

  // ------------------------------------------------ outcomes

  private async recordFailure(): Promise<void> {
    const result = await this.write(() => this.store.incrementFailures(this.ctx.circuitId, this.now()));
    if (!result.applied) {
      // Not closed any more (opened elsewhere, or half-open): learn the new state.
      await this.reload();
      return;
    }
    if (result.record.consecutiveFailures >= this.ctx.settings.failureThreshold) await this.trip(result.record, 'consecutive_failures');
  }

  private async recordSuccess(): Promise<void> {
    // A healthy circuit writes nothing: only a run of failures that this instance knows about needs resetting.
    const cached = this.cache?.record;
    if (!cached || cached.state !== 'closed' || cached.consecutiveFailures === 0) return;
    const result = await this.write(() => this.store.clearFailures(this.ctx.circuitId, this.now()));
    if (!result.applied) await this.reload();
  }

  private count(failure: boolean): void {
    const size = bucketMs(this.ctx.settings);
    const start = Math.floor(this.now() / size) * size;
    const counts = this.pending.get(start) ?? { calls: 0, failures: 0 };
    this.pending.set(start, { calls: counts.calls + 1, failures: counts.failures + (failure ? 1 : 0) });
  }

  private async flushBatch(batch: Map<number, { calls: number; failures: number }>): Promise<void> {
    let record = this.cache?.record ?? (await this.view());
    // Counts gathered before the circuit opened are history: the window starts over when it closes.
    if (record.state !== 'closed') record = await this.reload();
    for (let attempt = 0; attempt < MAX_ATTEMPTS && record.state === 'closed'; attempt++) {
      const now = this.now();
      const counts = [...batch]
        .filter(([start, c]) => c.calls > 0 && this.inWindow(start, record, now))
        .map(([start, c]) => ({ start, calls: c.calls, failures: c.failures }));
      if (counts.length === 0) return;
      // Pruning what this instance knows has left the window keeps the item small.
      const expired = record.window.filter((b) => !this.inWindow(b.start, record, now)).map((b) => b.start);
      const result = await this.write(() => this.store.addToWindow(this.ctx.circuitId, counts, expired, now));
      if (result.applied) {
        if (this.ratioTripped(result.record, now)) await this.trip(result.record, 'failure_ratio');
        return;
      }
      // Only refused when the circuit is no longer closed.
      record = await this.reload();
    }
  }

  private async reportProbe(token: string, verdict: FailureVerdict): Promise<void> {
    const { settings } = this.ctx;
    const { record, changed } = await this.mutate(
      (r) => {
        // The lease expired and another instance took over, or an operator stepped in: this result is stale.
        if (r.state !== 'half_open' || r.probeOwner !== token) return undefined;
        const now = this.now();
        if (verdict === 'failure') {
          const reopenCount = r.reopenCount + 1;
          return { ...cleared(r), state: 'open', stateSince: now, stateReason: 'probe_failed', openUntil: now + breakDurationMs(settings, reopenCount), reopenCount, throttledUntil: r.throttledUntil };
        }
        if (verdict === 'ignore') {
          return { ...r, probeOwner: undefined, probeLeaseUntil: undefined };
        }
        const successes = r.probeSuccesses + 1;
        if (successes >= settings.probeSuccessesToClose) {
          // The grown break is remembered for flapWindowMs (see `breakCountOnTrip`); an open for a throttle was no
          // failure, so its recovery is not one to remember.
          const failed = r.stateReason !== 'throttled';
          return {
            ...cleared(r),
            state: 'closed',
            stateSince: now,
            ...(failed ? { stateReason: RECOVERED, reopenCount: r.reopenCount } : {}),
            throttledUntil: r.throttledUntil,
          };
        }
        return { ...r, probeSuccesses: successes, probeOwner: undefined, probeLeaseUntil: undefined };
      },
      this.cache?.record,
    );
    if (!changed) return;
    if (record.state === 'open') {
      this.ctx.emit({ ...this.base(), type: 'opened', reason: 'probe_failed', openUntil: record.openUntil ?? this.now(), breakMs: breakDurationMs(settings, record.reopenCount) });
    } else if (record.state === 'closed') {
      this.ctx.emit({ ...this.base(), type: 'closed' });
    } else if (verdict === 'success') {
      this.ctx.emit({ ...this.base(), type: 'probe_succeeded', successes: record.probeSuccesses, successesToClose: settings.probeSuccessesToClose });
    }
  }

  /** closed → open, if the fresh record still says so (another instance may have opened or reset meanwhile). */
  private async trip(record: CircuitRecord, reason: 'consecutive_failures' | 'failure_ratio'): Promise<void> {
    const { settings } = this.ctx;
    const { record: opened, changed } = await this.mutate((r) => {
      const now = this.now();
      const stillTripped = reason === 'consecutive_failures' ? r.consecutiveFailures >= settings.failureThreshold : this.ratioTripped(r, now);
      if (r.state !== 'closed' || !stillTripped) return undefined;
      const reopenCount = breakCountOnTrip(r, settings, now);
      return {
        ...cleared(r),
        state: 'open',
        stateSince: now,
        stateReason: reason,
        openUntil: now + breakDurationMs(settings, reopenCount),
        reopenCount,
        throttledUntil: r.throttledUntil,
      };
    }, record);
    if (changed) {
      this.ctx.emit({ ...this.base(), type: 'opened', reason, openUntil: opened.openUntil ?? this.now(), breakMs: breakDurationMs(settings, opened.reopenCount) });
    }
  }

  private ratioTripped(r: CircuitRecord, now: number): boolean {
    const { settings } = this.ctx;
    const { calls, failures } = this.windowTotals(r, now);
    return calls >= settings.minimumThroughput && failures / calls >= settings.failureRatio;
  }

  /** Sums the buckets inside the window ending now. */
  private windowTotals(r: CircuitRecord, now: number): { calls: number; failures: number } {
    let calls = 0;
    let failures = 0;
    for (const bucket of r.window) {
      if (!this.inWindow(bucket.start, r, now)) continue;
      calls += bucket.calls;
      failures += bucket.failures;
    }
    return { calls, failures };
  }

  /**
   * A bucket counts while it is one of the `windowBuckets` most recent ones, and only if it did not end before the
   * last state change (counted before an open but flushed after the close, it would judge the wrong period).
   */
  private inWindow(start: number, r: CircuitRecord, now: number): boolean {
    const size = bucketMs(this.ctx.settings);
    const oldest = Math.floor(now / size) * size - (this.ctx.settings.windowBuckets - 1) * size;
    return start >= oldest && start + size > (r.stateSince ?? 0);
  }

  // ------------------------------------------------ store access

  /**
   * Read-modify-write with a version check, retried on conflicts. `change` returns undefined for "nothing to do".
   * Starts from `start` when given (saves a read), else from a fresh read.
   */
  private async mutate(change: (r: CircuitRecord) => CircuitRecord | undefined, start?: CircuitRecord): Promise<{ record: CircuitRecord; changed: boolean }> {
    let record = start ?? (await this.reload());
    for (let attempt = 0; attempt < MAX_ATTEMPTS; attempt++) {
      const next = change(record);
      if (!next) return { record, changed: false };
      const result: WriteResult = await this.write(() => this.store.put({ ...next, updatedAt: this.now() }, record.version));
      if (result.applied) return { record: result.record, changed: true };
      record = await this.reload();
    }
    return { record, changed: false };
  }

  /** The cached record while fresh, else one read shared by concurrent callers. */
  private async view(): Promise<CircuitRecord> {
    const cached = this.cache;
    if (cached && this.now() - cached.fetchedAt < this.ttlFor(cached.record)) return cached.record;
    this.reading ??= this.reload().finally(() => {
      this.reading = undefined;
    });
    return this.reading;
  }

  /** A fresh read (after a failed condition a joined older read could be stale). */
  private async reload(): Promise<CircuitRecord> {
    const fetchedAt = this.now();
    const ticket = ++this.tickets;
    const record = (await this.store.get(this.ctx.circuitId)) ?? emptyCircuitRecord(this.ctx.circuitId);
    this.remember(record, ticket, fetchedAt);
    return this.cache?.record ?? record;
  }

  private ttlFor(record: CircuitRecord): number {
    const suspect = this.ctx.settings.mode === 'consecutive' && record.state === 'closed' && record.consecutiveFailures > 0;
    return suspect ? this.ctx.suspectCacheTtlMs : this.ctx.cacheTtlMs;
  }

  /**
   * Caches a record unless the cache holds a newer version that this record's read did not see (a read that
   * started before a write and finished after it). Versions only grow, except when an item is deleted.
   */
  private remember(record: CircuitRecord, ticket: number, fetchedAt = this.now()): void {
    if (this.cache && this.cache.record.version > record.version && this.cache.ticket > ticket) return;
    this.cache = { record, fetchedAt, ticket };
  }

  /** Runs one conditional write and caches the record it stored. */
  private async write(operation: () => Promise<WriteResult>): Promise<WriteResult> {
    const ticket = ++this.tickets;
    const result = await operation();
    if (result.applied) this.remember(result.record, ticket);
    return result;
  }

  private now(): number {
    return this.ctx.clock.now();
  }

  private base(): { circuitId: string; at: number; store: CircuitStoreSource } {
    return { circuitId: this.ctx.circuitId, at: this.now(), store: this.ctx.source };
  }
}

// ---------------------------------------------------------------- helpers

/** `stateReason` of a circuit a probe closed after a failure open (what {@link breakCountOnTrip} looks for). */
const RECOVERED = 'recovered';

/**
 * The re-open count a closed circuit trips with, which sets its break: a circuit that recovered less than
 * `flapWindowMs` ago failed its recovery, so the break grows on from the last one (flapping damps); otherwise the
 * break starts over at `breakMs`.
 */
function breakCountOnTrip(r: CircuitRecord, settings: CircuitBreakerSettings, now: number): number {
  const recovered = r.stateReason === RECOVERED && r.stateSince !== undefined;
  return recovered && now - r.stateSince! < settings.flapWindowMs ? r.reopenCount + 1 : 0;
}

/** The record with every counter, window bucket, probe lease and throttle cleared (callers put back what they keep). */
function cleared(r: CircuitRecord): CircuitRecord {
  return {
    circuitId: r.circuitId,
    state: r.state,
    version: r.version,
    updatedAt: r.updatedAt,
    consecutiveFailures: 0,
    window: [],
    reopenCount: 0,
    probeSuccesses: 0,
  };
}

/** Marks every error thrown by the shared store, so only store failures (not logic bugs) trigger the fallback. */
function guardStore(store: CircuitStore): CircuitStore {
  const guarded = async <T>(call: () => Promise<T>): Promise<T> => {
    try {
      return await call();
    } catch (error) {
      throw new StoreFailure(error);
    }
  };
  return {
    get: (id) => guarded(() => store.get(id)),
    put: (record, expectedVersion) => guarded(() => store.put(record, expectedVersion)),
    incrementFailures: (id, now) => guarded(() => store.incrementFailures(id, now)),
    clearFailures: (id, now) => guarded(() => store.clearFailures(id, now)),
    addToWindow: (id, counts, expired, now) => guarded(() => store.addToWindow(id, counts, expired, now)),
    advanceThrottle: (id, until, now) => guarded(() => store.advanceThrottle(id, until, now)),
    takeDoubtfulSlot: (id, failures, limit, until, now) => guarded(() => store.takeDoubtfulSlot(id, failures, limit, until, now)),
    releaseDoubtfulSlot: (id, outcome, now) => guarded(() => store.releaseDoubtfulSlot(id, outcome, now)),
  };
}

function safely(hook: () => void): void {
  try {
    hook();
  } catch {
    // Observers must not break the breaker.
  }
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}
