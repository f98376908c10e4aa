/**
 * Settings of the shared circuit breaker (docs/architecture.md "Circuit breaker, controller and prober"): one plain-data type, so the catalog can
 * carry it per integration, with documented defaults, validated up front with every problem reported at once.
 */
import { ConfigurationError } from './errors.js';

/** How the closed circuit decides to open. */
export type CircuitTripMode = 'consecutive' | 'ratio';

/** Every knob of the breaker. Durations are milliseconds. */
export interface CircuitBreakerSettings {
  /**
   * 'consecutive': open after `failureThreshold` failures in a row (shared, one atomic write per failure).
   * 'ratio': open when the failure ratio over the sliding window reaches `failureRatio` with at least
   * `minimumThroughput` calls (counts accumulated per instance, one write per `flush()`).
   * @default 'consecutive'
   */
  readonly mode: CircuitTripMode;
  /** Consecutive failures that open the circuit ('consecutive' mode). @default 5 */
  readonly failureThreshold: number;
  /** Failure ratio in (0, 1] that opens the circuit ('ratio' mode). @default 0.5 */
  readonly failureRatio: number;
  /** Calls in the window below which the ratio is not evaluated ('ratio' mode). @default 20 */
  readonly minimumThroughput: number;
  /** Length of the sliding window ('ratio' mode). @default 60_000 */
  readonly windowMs: number;
  /** Buckets the window is split into; `windowMs` must be a multiple of it ('ratio' mode). @default 6 */
  readonly windowBuckets: number;
  /** A success slower than this counts as a failure; undefined turns slow-call detection off. @default undefined */
  readonly slowCallMs: number | undefined;
  /** How long the circuit stays open the first time. @default 30_000 */
  readonly breakMs: number;
  /** Factor applied to the break on every re-open without a successful close in between. @default 2 */
  readonly breakMultiplier: number;
  /** Upper bound of the grown break. @default 600_000 */
  readonly maxBreakMs: number;
  /**
   * A circuit that recovered (a probe closed it) and trips again within this long is flapping: its next break grows
   * from the one before the recovery instead of starting over at `breakMs`, so a provider that comes back for a few
   * seconds at a time costs fewer and fewer calls. A trip later than this starts over. 0 turns it off. @default 120_000
   */
  readonly flapWindowMs: number;
  /** Lifetime of the half-open probe lease: a prober that crashes frees the circuit after this. @default 30_000 */
  readonly probeLeaseMs: number;
  /** Successful probes (each elected separately) needed to close a half-open circuit. @default 1 */
  readonly probeSuccessesToClose: number;
  /** How long an instance trusts its cached copy of the shared state. @default 2_000 */
  readonly cacheTtlMs: number;
  /**
   * Cache lifetime while the cached state shows failures in progress ('consecutive' mode, closed with
   * consecutive failures > 0), so an outage stops close to the threshold on every instance. Bounded by
   * `cacheTtlMs`. @default 0
   */
  readonly suspectCacheTtlMs: number;
  /** After the circuits table fails, how long to use the per-instance fallback before trying the table again. @default 10_000 */
  readonly storeRetryMs: number;
  /** An isolated circuit has no end time: parked messages come back after this to check again. @default 300_000 */
  readonly isolatedRetryAfterMs: number;
  /** Cap on a provider's Retry-After so a bogus header cannot stop an integration for days. @default 900_000 */
  readonly maxThrottleMs: number;
  /**
   * A provider Retry-After at least this long (after the `maxThrottleMs` cap) also opens a closed circuit until it
   * ends (reason 'throttled'): the circuit controller then pauses the consumption, so a long throttle does not cost
   * every queued message a receive per throttle window on its way to the DLQ. Not a failure: the break does not
   * grow. 0 turns it off (the throttle is then only shared). @default 60_000
   */
  readonly openOnThrottleMs: number;
}

/** The defaults; see each field of {@link CircuitBreakerSettings}. */
export const DEFAULT_CIRCUIT_BREAKER_SETTINGS: CircuitBreakerSettings = Object.freeze({
  mode: 'consecutive',
  failureThreshold: 5,
  failureRatio: 0.5,
  minimumThroughput: 20,
  windowMs: 60_000,
  windowBuckets: 6,
  slowCallMs: undefined,
  breakMs: 30_000,
  breakMultiplier: 2,
  maxBreakMs: 600_000,
  flapWindowMs: 120_000,
  probeLeaseMs: 30_000,
  probeSuccessesToClose: 1,
  cacheTtlMs: 2_000,
  suspectCacheTtlMs: 0,
  storeRetryMs: 10_000,
  isolatedRetryAfterMs: 300_000,
  maxThrottleMs: 900_000,
  openOnThrottleMs: 60_000,
});

/** What callers may pass: any subset of the settings. */
export type CircuitBreakerSettingsInput = Partial<CircuitBreakerSettings>;

const KNOWN_KEYS = new Set(Object.keys(DEFAULT_CIRCUIT_BREAKER_SETTINGS));

/**
 * Merges `input` over the defaults and validates the result. Throws one ConfigurationError listing every problem.
 * `label` names the circuit in the message.
 */
export function resolveCircuitBreakerSettings(input: CircuitBreakerSettingsInput = {}, label = 'circuit breaker'): CircuitBreakerSettings {
  const { settings, problems } = checkCircuitBreakerSettings(input);
  if (problems.length > 0) {
    throw new ConfigurationError(`Invalid ${label} settings:\n  - ${problems.join('\n  - ')}`, problems);
  }
  return settings;
}

/**
 * Every problem of `input` as breaker settings, or none. The catalogs (lib/catalog.ts, lib/workflow-catalog.ts) call
 * it at synth, so a bad value fails `cdk synth` with the runtime's own rules instead of the first invocation.
 */
export function circuitBreakerSettingsProblems(input: CircuitBreakerSettingsInput = {}): string[] {
  return checkCircuitBreakerSettings(input).problems;
}

function checkCircuitBreakerSettings(input: CircuitBreakerSettingsInput): { settings: CircuitBreakerSettings; problems: string[] } {
  const problems: string[] = [];
  for (const key of Object.keys(input)) {
    if (!KNOWN_KEYS.has(key)) problems.push(`unknown setting '${key}'`);
  }
  const defined = Object.fromEntries(Object.entries(input).filter(([, value]) => value !== undefined));
  const s: CircuitBreakerSettings = { ...DEFAULT_CIRCUIT_BREAKER_SETTINGS, ...defined };

  const integer = (name: keyof CircuitBreakerSettings, min: number, max = Number.MAX_SAFE_INTEGER) => {
    const value = s[name];
    if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
      problems.push(`${name} must be an integer in [${min}, ${max === Number.MAX_SAFE_INTEGER ? '∞' : max}] (got ${String(value)})`);
      return false;
    }
    return true;
  };

  if (s.mode !== 'consecutive' && s.mode !== 'ratio') problems.push(`mode must be 'consecutive' or 'ratio' (got ${String(s.mode)})`);
  integer('failureThreshold', 1);
  if (typeof s.failureRatio !== 'number' || !(s.failureRatio > 0 && s.failureRatio <= 1)) {
    problems.push(`failureRatio must be a number in (0, 1] (got ${String(s.failureRatio)})`);
  }
  integer('minimumThroughput', 1);
  const windowOk = integer('windowMs', 1);
  const bucketsOk = integer('windowBuckets', 1, 60);
  if (windowOk && bucketsOk && s.windowMs % s.windowBuckets !== 0) {
    problems.push(`windowMs (${s.windowMs}) must be a multiple of windowBuckets (${s.windowBuckets})`);
  }
  if (s.slowCallMs !== undefined && (typeof s.slowCallMs !== 'number' || !(s.slowCallMs > 0) || !Number.isFinite(s.slowCallMs))) {
    problems.push(`slowCallMs must be a positive number or undefined (got ${String(s.slowCallMs)})`);
  }
  const breakOk = integer('breakMs', 1);
  if (typeof s.breakMultiplier !== 'number' || !(s.breakMultiplier >= 1) || !Number.isFinite(s.breakMultiplier)) {
    problems.push(`breakMultiplier must be a finite number >= 1 (got ${String(s.breakMultiplier)})`);
  }
  if (integer('maxBreakMs', 1) && breakOk && s.maxBreakMs < s.breakMs) {
    problems.push(`maxBreakMs (${s.maxBreakMs}) must be >= breakMs (${s.breakMs})`);
  }
  integer('flapWindowMs', 0, 86_400_000);
  integer('probeLeaseMs', 1);
  integer('probeSuccessesToClose', 1, 100);
  const ttlOk = integer('cacheTtlMs', 0);
  if (integer('suspectCacheTtlMs', 0) && ttlOk && s.suspectCacheTtlMs > s.cacheTtlMs) {
    problems.push(`suspectCacheTtlMs (${s.suspectCacheTtlMs}) must be <= cacheTtlMs (${s.cacheTtlMs})`);
  }
  integer('storeRetryMs', 1);
  integer('isolatedRetryAfterMs', 1);
  integer('maxThrottleMs', 1);
  integer('openOnThrottleMs', 0);

  return { settings: Object.freeze(s), problems };
}

/** Break duration after `reopenCount` re-opens without a successful close: breakMs × multiplier^n, capped. */
export function breakDurationMs(settings: CircuitBreakerSettings, reopenCount: number): number {
  const grown = settings.breakMs * settings.breakMultiplier ** Math.max(0, reopenCount);
  return Math.min(settings.maxBreakMs, Math.round(grown));
}

/** Length of one window bucket ('ratio' mode). */
export function bucketMs(settings: CircuitBreakerSettings): number {
  return settings.windowMs / settings.windowBuckets;
}
