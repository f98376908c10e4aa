/**
 * The outage benchmark's compressed time: every setting of one scenario run, with the reason for each value, so
 * the results can state exactly what was measured.
 *
 * The catalog's durations (queue visibility, circuit break, cache TTL, prober schedule, ...) are divided by one
 * compression factor F = real visibility / compressed visibility (catalog: visibility = 6 × 30 s = 180 s). The
 * budgets that meet this machine's fixed latencies (the Lambda function timeout, the HTTP timeout and backoff) are
 * NOT divided by F: dynalite (single-threaded, milliseconds per write) and the loopback sandbox do not get faster with
 * the clock, so they are set to what a 2-core machine needs, and say so.
 */
import { breakDurationMs, type CircuitBreakerSettingsInput, resolveCircuitBreakerSettings } from '../../functions/runtime/circuit-settings.js';

/** The catalog's visibility timeout of the payments queue: 6 × its 30 s function timeout. */
export const CATALOG_VISIBILITY_SECONDS = 180;

/** Everything one scenario run is configured by. Durations in ms unless the name says seconds. */
export interface OutageSettings {
  /** Simulated Lambda instances (each its own runtime and caches); the mapping's maximum concurrency. */
  readonly instances: number;
  /** Steady producer rate, messages per second, for the whole run. */
  readonly eventsPerSecond: number;
  /** Source queue visibility timeout (SQS: whole seconds). */
  readonly visibilityTimeoutSeconds: number;
  /** Redrive policy: receives before the DLQ. */
  readonly maxReceiveCount: number;
  /** Lambda function timeout (the context's remaining time). */
  readonly functionTimeoutMs: number;
  /** Event source mapping batch size. */
  readonly batchSize: number;
  /** How often an idle mapping polls (Lambda long-polls; this is the compressed equivalent). */
  readonly pollIntervalMs: number;
  /** Healthy traffic before the outage starts (caches warm, circuit closed). */
  readonly warmupMs: number;
  /** How long the sandbox payments API answers 503 to everything (health included). */
  readonly outageMs: number;
  /** After the API is back: the longest wait for the backlog to drain before giving up (reported). */
  readonly drainCapMs: number;
  /** After the drain: the longest wait for the messages produced meanwhile to finish (accounting only). */
  readonly settleCapMs: number;
  /** The shared breaker (strategy a) and the per-instance breakers (strategy b) use these. */
  readonly circuit: Required<Pick<CircuitBreakerSettingsInput, 'failureThreshold' | 'breakMs' | 'breakMultiplier' | 'maxBreakMs' | 'cacheTtlMs' | 'probeLeaseMs'>>;
  /** The HTTP client of every strategy: per-attempt timeout, attempts per delivery, backoff. */
  readonly http: {
    readonly timeoutMs: number;
    readonly maxAttempts: number;
    readonly baseDelayMs: number;
    readonly maxDelayMs: number;
    readonly safetyMarginMs: number;
  };
  /** Runtime parking jitter (seconds, fractional). */
  readonly parkJitterSeconds: number;
  /** Runtime retry delay after a transient failure: base × 2^(receives − 1), capped (seconds; SQS rounds up to 1 s). */
  readonly retryBaseDelaySeconds: number;
  readonly retryMaxDelaySeconds: number;
  /** The prober's schedule period (EventBridge rate(1 minute) on AWS). */
  readonly proberIntervalMs: number;
  /** How long a circuit stays closed before the prober restores the mapping's concurrency (RESTORE_AFTER_SECONDS). */
  readonly restoreAfterMs: number;
  /**
   * The maximum concurrency the prober restores the hub's mapping to after an outage (the catalog's
   * `maxConcurrency`). Machine-bound: the mapping starts at `instances`, but dynalite serves ~150 operations/s
   * here, and 50 × 10 records at once would queue each write for seconds (every record then runs out of Lambda
   * time — a congestion collapse DynamoDB would not cause).
   */
  readonly restoredConcurrency: number;
  /** How often the circuits table is scanned in place of its DynamoDB stream (dynalite has none). */
  readonly streamIntervalMs: number;
  /** Latency the sandbox adds to every request. */
  readonly sandboxLatencyMs: number;
}

/** The compression factor of `settings`: catalog visibility ÷ compressed visibility. */
export function compressionFactor(settings: Pick<OutageSettings, 'visibilityTimeoutSeconds'>): number {
  return CATALOG_VISIBILITY_SECONDS / settings.visibilityTimeoutSeconds;
}

/** What may be chosen per run; the rest follows from these. */
export interface OutageSettingsInput {
  readonly instances: number;
  readonly eventsPerSecond?: number;
  readonly visibilityTimeoutSeconds?: number;
  readonly maxReceiveCount?: number;
  /** @default 10 × maxReceiveCount × visibility (the outage) */
  readonly outageMs?: number;
  readonly warmupMs?: number;
  readonly drainCapMs?: number;
  readonly settleCapMs?: number;
  readonly sandboxLatencyMs?: number;
  readonly restoredConcurrency?: number;
}

/**
 * The settings of a run. Catalog durations are divided by F (rounded); machine-bound budgets are fixed. The
 * defaults are the benchmark's: visibility 2 s (F = 90), maxReceiveCount 3, outage 60 s.
 */
export function outageSettings(input: OutageSettingsInput): OutageSettings {
  const visibilityTimeoutSeconds = input.visibilityTimeoutSeconds ?? 2;
  const maxReceiveCount = input.maxReceiveCount ?? 3;
  const f = CATALOG_VISIBILITY_SECONDS / visibilityTimeoutSeconds;
  const compress = (realMs: number) => Math.max(1, Math.round(realMs / f));
  const settings: OutageSettings = {
    instances: input.instances,
    eventsPerSecond: input.eventsPerSecond ?? 5,
    visibilityTimeoutSeconds,
    maxReceiveCount,
    // Machine-bound (see the file comment): Lambda requires visibility >= timeout; the catalog's 6× would leave
    // 333 ms, less than a batch takes here when dynalite queues its writes.
    functionTimeoutMs: Math.min(1_500, visibilityTimeoutSeconds * 1000),
    batchSize: 10,
    pollIntervalMs: 50,
    warmupMs: input.warmupMs ?? 8_000,
    outageMs: input.outageMs ?? 10 * maxReceiveCount * visibilityTimeoutSeconds * 1000,
    drainCapMs: input.drainCapMs ?? 90_000,
    settleCapMs: input.settleCapMs ?? 10_000,
    circuit: {
      failureThreshold: 5, // catalog
      breakMs: compress(30_000), // catalog 30 s
      breakMultiplier: 2, // runtime default
      maxBreakMs: compress(600_000), // runtime default 10 min
      cacheTtlMs: compress(2_000), // runtime default 2 s
      probeLeaseMs: compress(30_000), // runtime default 30 s
    },
    // Machine-bound: the sandbox adds `sandboxLatencyMs` per call and the event loop is shared by every instance.
    http: { timeoutMs: 1_000, maxAttempts: 3, baseDelayMs: 20, maxDelayMs: 200, safetyMarginMs: 100 },
    parkJitterSeconds: 10 / f, // runtime default 10 s
    retryBaseDelaySeconds: 10 / f, // runtime default 10 s
    retryMaxDelaySeconds: 300 / f, // runtime default 300 s
    proberIntervalMs: compress(60_000), // rate(1 minute)
    restoreAfterMs: compress(60_000), // RESTORE_AFTER_SECONDS default 60
    restoredConcurrency: Math.min(input.instances, input.restoredConcurrency ?? 2),
    // Not compressed: a scan of dynalite per 250 ms is what it can afford; DynamoDB Streams → Lambda takes ~0.1–1 s.
    streamIntervalMs: 250,
    sandboxLatencyMs: input.sandboxLatencyMs ?? 20,
  };
  resolveCircuitBreakerSettings(settings.circuit, 'outage benchmark circuit');
  return settings;
}

/**
 * Break intervals that END inside the outage, if the circuit opened at its very start and every due probe ran at
 * once and failed: the most probes the outage can see. The bound is `failureThreshold + this`.
 */
export function breakIntervalsInOutage(settings: Pick<OutageSettings, 'circuit' | 'outageMs'>): number {
  const resolved = resolveCircuitBreakerSettings(settings.circuit);
  let elapsed = 0;
  let intervals = 0;
  for (let reopen = 0; ; reopen++) {
    elapsed += breakDurationMs(resolved, reopen);
    if (elapsed >= settings.outageMs) return intervals;
    intervals += 1;
  }
}

/** The target for the hub: at most `failureThreshold` calls to trip, plus one probe per break interval. */
export function callsDuringOutageBound(settings: Pick<OutageSettings, 'circuit' | 'outageMs'>): number {
  return settings.circuit.failureThreshold + breakIntervalsInOutage(settings);
}
