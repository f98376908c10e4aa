/**
 * Retry timing: exponential backoff with full jitter, `Retry-After` parsing, and the decision whether another
 * attempt still fits into the remaining Lambda time. Pure functions (randomness and time are passed in), so the
 * HTTP client stays simple and the rules are property-tested.
 */

/** How often and how patiently a call is retried. */
export interface RetryPolicy {
  /** Total attempts including the first one (1 = never retry). */
  readonly maxAttempts: number;
  /** Ceiling of the first retry's delay; doubles with every further attempt. */
  readonly baseDelayMs: number;
  /** Upper bound of any jittered delay (a provider's Retry-After may demand more). */
  readonly maxDelayMs: number;
}

/**
 * Longest `Retry-After` we accept, in ms (1 hour). A provider's value is used both for the in-process wait and,
 * for 429s, as the shared `throttledUntil` of every instance and the parking delay of messages. A buggy or
 * quota-style value ("come back in 3 days") must not wedge an integration for days: after an hour we simply ask
 * again, which costs one call. An hour is far beyond any Lambda deadline, so in-process it always means "give up
 * now and park"; it is also well inside SQS's 12-hour visibility limit.
 */
export const MAX_RETRY_AFTER_MS = 60 * 60 * 1000;

/**
 * Exponential backoff with FULL jitter (AWS Architecture Blog, "Exponential Backoff and Jitter"): a delay drawn
 * uniformly from `[0, min(maxDelayMs, baseDelayMs * 2^(attempt-1))]`, in whole milliseconds.
 *
 * @param attempt the number of the attempt that just failed (1 for the first call); values < 1 count as 1.
 * @param random uniform in [0, 1), e.g. `clock.random`.
 */
export function fullJitterDelayMs(
  attempt: number,
  policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>,
  random: () => number,
): number {
  const ceiling = backoffCeilingMs(attempt, policy);
  if (ceiling <= 0) return 0;
  // floor(r * (ceiling + 1)) makes both ends reachable; the min() guards against a random() that returns 1.
  return Math.min(ceiling, Math.floor(clampUnit(random()) * (ceiling + 1)));
}

/** The upper bound of {@link fullJitterDelayMs} for an attempt: `min(maxDelayMs, baseDelayMs * 2^(attempt-1))`, ≥ 0. */
export function backoffCeilingMs(attempt: number, policy: Pick<RetryPolicy, 'baseDelayMs' | 'maxDelayMs'>): number {
  const base = finiteNonNegative(policy.baseDelayMs);
  const cap = finiteNonNegative(policy.maxDelayMs);
  if (base === 0 || cap === 0) return 0;
  const exponent = Math.max(0, Math.floor(Number.isFinite(attempt) ? attempt : 1) - 1);
  // 2^exponent overflows to Infinity for large attempts; min() then yields the cap, never NaN (base > 0 here).
  return Math.floor(Math.min(cap, base * 2 ** exponent));
}

// IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), obsolete RFC 850 ("Sunday, 06-Nov-94 08:49:37 GMT") and
// asctime ("Sun Nov  6 08:49:37 1994"), RFC 9110 §5.6.7. Date.parse alone is far too lenient ("foo 1" parses).
const IMF_FIXDATE = /^[A-Z][a-z]{2}, \d{2} [A-Z][a-z]{2} \d{4} \d{2}:\d{2}:\d{2} GMT$/;
const RFC_850_DATE = /^[A-Z][a-z]+, \d{2}-[A-Z][a-z]{2}-\d{2} \d{2}:\d{2}:\d{2} GMT$/;
const ASCTIME_DATE = /^[A-Z][a-z]{2} [A-Z][a-z]{2} [ \d]\d \d{2}:\d{2}:\d{2} \d{4}$/;
// RFC 9110 says 1*DIGIT; some providers send fractions ("1.5"), which cost nothing to honour.
const DELTA_SECONDS = /^\d+(?:\.\d+)?$/;

/**
 * Parses a `Retry-After` header (delta-seconds or HTTP-date) into a wait in ms from `nowMs`.
 *
 * @returns ms ≥ 0, capped at `maxMs` (default {@link MAX_RETRY_AFTER_MS}); a date in the past gives 0;
 *   `undefined` when the header is absent, empty or unparseable.
 */
export function parseRetryAfterMs(
  headerValue: string | null | undefined,
  nowMs: number,
  maxMs: number = MAX_RETRY_AFTER_MS,
): number | undefined {
  if (headerValue === null || headerValue === undefined) return undefined;
  const value = headerValue.trim();
  if (value === '') return undefined;

  let ms: number;
  if (DELTA_SECONDS.test(value)) {
    ms = Math.ceil(Number(value) * 1000);
  } else if (IMF_FIXDATE.test(value) || RFC_850_DATE.test(value)) {
    ms = Date.parse(value) - nowMs;
  } else if (ASCTIME_DATE.test(value)) {
    // asctime carries no zone but is defined as GMT; without the suffix Date.parse would use local time.
    ms = Date.parse(`${value} GMT`) - nowMs;
  } else {
    return undefined;
  }
  if (Number.isNaN(ms)) return undefined;
  return Math.min(Math.max(0, Math.ceil(ms)), Math.max(0, maxMs));
}

/** Everything {@link nextRetryDelayMs} needs to decide. */
export interface RetryDecisionInput {
  /** The number of the attempt that just failed (1 for the first call). */
  readonly attempt: number;
  readonly policy: RetryPolicy;
  /** What the provider asked for (Retry-After), if anything. */
  readonly retryAfterMs?: number;
  /** `context.getRemainingTimeInMillis()` now. */
  readonly remainingTimeMs: number;
  /** Time kept in reserve for the work after the call (ledger, metrics, batch response). */
  readonly safetyMarginMs: number;
  /** The shortest attempt worth making; an attempt that cannot get this much time is not started. */
  readonly minAttemptMs: number;
  /** Uniform in [0, 1). */
  readonly random: () => number;
}

/**
 * How long to wait before the next attempt, or `undefined` to give up now.
 *
 * The delay is the full-jitter delay, raised to the provider's Retry-After when that is longer (honoured: we
 * wait at least that long, even beyond `maxDelayMs`). We give up when `maxAttempts` is reached, or when the wait
 * plus the next attempt's minimum useful time would run past the remaining Lambda time minus the safety margin —
 * better to hand the message back to SQS now than to be killed mid-call. Hence a returned delay `d` always
 * satisfies `d + minAttemptMs <= remainingTimeMs - safetyMarginMs`.
 */
export function nextRetryDelayMs(input: RetryDecisionInput): number | undefined {
  const { attempt, policy } = input;
  if (!(attempt < policy.maxAttempts)) return undefined;

  const jittered = fullJitterDelayMs(attempt, policy, input.random);
  const retryAfter = input.retryAfterMs !== undefined && Number.isFinite(input.retryAfterMs) ? Math.max(0, Math.ceil(input.retryAfterMs)) : 0;
  const delay = Math.max(jittered, retryAfter);

  const usable = input.remainingTimeMs - input.safetyMarginMs;
  if (!(delay + Math.max(0, input.minAttemptMs) <= usable)) return undefined;
  return delay;
}

function finiteNonNegative(value: number): number {
  return Number.isFinite(value) && value > 0 ? value : 0;
}

function clampUnit(value: number): number {
  if (!(value > 0)) return 0; // also NaN
  return value >= 1 ? 1 : value;
}
