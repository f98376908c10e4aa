/**
 * Fault injection, per provider. Faults are set at runtime (TypeScript API or `POST /_sandbox/faults`) and
 * decided per request with the provider's seeded stream.
 *
 * Precedence, first match wins (each request gets at most one outcome-changing fault):
 *   1. `outage`      a window is active          -> its mode: 503 (default), socket reset, or hang
 *   2. `reset`       always                       -> socket destroyed (TCP RST), no response
 *   3. `hang`        always                       -> no response until the client gives up or the sandbox closes
 *   4. `failNext`    while its count lasts        -> `status` (503), then the count goes down by one
 *   5. `throttle`    with probability `rate` (1)  -> 429 with Retry-After (seconds, or an HTTP-date)
 *   6. `status`      always                       -> that status with a matching error body
 *   7. `errorRate`   with that probability        -> one of `errorStatuses` (500/502/503; 502 has an HTML body)
 *   8. the route runs (auth, validation, idempotency, side effect), then `malformedRate` mangles a 2xx body:
 *      the side effect has happened, only the response is truncated (a proxy cutting the body).
 * With `pathFilter`, all of the above (latency included) applies only to requests whose provider-relative path starts
 * with it; other requests of the provider run untouched (the sandbox-wide latency still applies).
 * Latency (`startSandbox({ latencyMs })` + `latencyMs` + up to `latencyJitterMs`) is added before every answer,
 * including fault answers and resets; a hang never answers. On routes that honour Idempotency-Key the key is
 * held as "in progress" during that latency, so concurrent duplicates see 409.
 *
 * Determinism: every request draws exactly the same number of values from the provider's stream whatever the
 * options are, so the same seed and the same request order give the same faults even when options change.
 */
import type { SeededRandom } from './random.js';

/** 429 answers. */
export interface ThrottleFault {
  /** Value of Retry-After, in seconds. */
  readonly retryAfterSeconds: number;
  /** Send Retry-After as an HTTP-date (`now + retryAfterSeconds`, rounded up to the second) instead of seconds. */
  readonly asHttpDate?: boolean;
  /** Probability of throttling a request. @default 1 */
  readonly rate?: number;
}

/** Fail exactly the next `count` requests (then answer normally): "transient failure, then success". */
export interface FailNextFault {
  /** How many requests to fail; counts down as requests are failed. */
  readonly count: number;
  /** Status of the failed requests (400..599). @default 503 */
  readonly status?: number;
}

/** How a provider behaves during an outage window. */
export type OutageMode = 'unavailable' | 'reset' | 'hang';

/** A time window during which every request to the provider fails. */
export interface OutageWindow {
  /** Window start (inclusive), in ms; see `clock`. */
  readonly fromMs: number;
  /** Window end (exclusive), in ms; see `clock`. */
  readonly toMs: number;
  /**
   * `since-set`: ms after the faults were set, on the sandbox clock; `epoch`: absolute epoch ms.
   * @default 'since-set'
   */
  readonly clock?: 'since-set' | 'epoch';
  /** `unavailable`: 503; `reset`: socket destroyed; `hang`: never answers. @default 'unavailable' */
  readonly mode?: OutageMode;
}

/** The common fault options every provider accepts. See the file comment for precedence. */
export interface FaultOptions {
  /** Probability (0..1) of answering with one of `errorStatuses`. */
  readonly errorRate?: number;
  /** Statuses `errorRate` picks from, uniformly. @default [500, 502, 503] */
  readonly errorStatuses?: readonly number[];
  /** Always answer this status (400..599) with a matching error body. */
  readonly status?: number;
  /** Latency added before every answer, in ms. */
  readonly latencyMs?: number;
  /** Extra latency, uniform in [0, latencyJitterMs), in ms. */
  readonly latencyJitterMs?: number;
  /** Never answer; the request stays open until the client aborts or the sandbox closes. */
  readonly hang?: boolean;
  /** Destroy the socket (TCP RST) without a response. */
  readonly reset?: boolean;
  /** Answer 429 with Retry-After. */
  readonly throttle?: ThrottleFault;
  /** One or more outage windows. */
  readonly outage?: OutageWindow | readonly OutageWindow[];
  /** Probability (0..1) that a 2xx body is truncated into invalid JSON (after the side effect happened). */
  readonly malformedRate?: number;
  /** Fail exactly the next `count` requests with `status` (503), deterministically; see precedence. */
  readonly failNext?: FailNextFault;
  /**
   * Apply these faults only to requests whose path below the provider prefix starts with this string (a plain
   * string prefix: `/shipments` also matches `/shipments/shp_1/cancel`; `/shipments/` only the sub-resources).
   * @default every path
   */
  readonly pathFilter?: string;
}

/** Which fault changed a request's outcome (journaled). */
export type FaultKind = 'outage' | 'reset' | 'hang' | 'failNext' | 'throttle' | 'status' | 'error' | 'malformed';

/** A canned answer a fault produces instead of the route's. */
export interface FaultAnswer {
  readonly status: number;
  readonly contentType: string;
  readonly body: string;
  readonly headers: Readonly<Record<string, string>>;
}

/** What to do with one request. */
export type FaultDecision =
  | { readonly action: 'proceed'; readonly latencyMs: number; readonly malformed: boolean }
  | { readonly action: 'answer'; readonly latencyMs: number; readonly fault: FaultKind; readonly answer: FaultAnswer }
  | { readonly action: 'reset'; readonly latencyMs: number; readonly fault: FaultKind }
  | { readonly action: 'hang'; readonly latencyMs: number; readonly fault: FaultKind };

/** Keys of {@link FaultOptions}, for validation of untyped input. */
export const COMMON_FAULT_KEYS: readonly (keyof FaultOptions)[] = [
  'errorRate',
  'errorStatuses',
  'status',
  'latencyMs',
  'latencyJitterMs',
  'hang',
  'reset',
  'throttle',
  'outage',
  'malformedRate',
  'failNext',
  'pathFilter',
];

/** Result of {@link validateFaultOptions}: the common options, the provider-specific rest, every problem found. */
export interface FaultValidation {
  readonly options: FaultOptions;
  readonly extras: Readonly<Record<string, unknown>>;
  readonly problems: readonly string[];
}

const MAX_LATENCY_MS = 120_000;
const MAX_FAIL_NEXT = 1_000_000;
const MAX_PATH_FILTER_LENGTH = 1024;
const DEFAULT_FAIL_NEXT_STATUS = 503;
const DEFAULT_ERROR_STATUSES: readonly number[] = [500, 502, 503];

/** Validates untyped fault options (from the HTTP control endpoint or a test); reports every problem at once. */
export function validateFaultOptions(input: unknown, extraKeys: readonly string[]): FaultValidation {
  const problems: string[] = [];
  if (!isRecord(input)) return { options: {}, extras: {}, problems: ['faults must be a JSON object'] };
  const extras: Record<string, unknown> = {};
  for (const key of Object.keys(input)) {
    if (extraKeys.includes(key)) extras[key] = input[key];
    else if (!(COMMON_FAULT_KEYS as readonly string[]).includes(key)) problems.push(`unknown fault option "${key}"`);
  }
  const probability = (key: string, value: unknown): void => {
    if (value !== undefined && !(typeof value === 'number' && value >= 0 && value <= 1)) problems.push(`${key} must be a number in 0..1`);
  };
  const latency = (key: string, value: unknown): void => {
    if (value !== undefined && !(typeof value === 'number' && Number.isFinite(value) && value >= 0 && value <= MAX_LATENCY_MS)) {
      problems.push(`${key} must be a number of ms in 0..${MAX_LATENCY_MS}`);
    }
  };
  const flag = (key: string, value: unknown): void => {
    if (value !== undefined && typeof value !== 'boolean') problems.push(`${key} must be a boolean`);
  };
  probability('errorRate', input.errorRate);
  probability('malformedRate', input.malformedRate);
  latency('latencyMs', input.latencyMs);
  latency('latencyJitterMs', input.latencyJitterMs);
  flag('hang', input.hang);
  flag('reset', input.reset);
  if (input.status !== undefined && !isErrorStatus(input.status)) problems.push('status must be an integer in 400..599');
  if (input.errorStatuses !== undefined) {
    if (!Array.isArray(input.errorStatuses) || input.errorStatuses.length === 0 || !input.errorStatuses.every(isErrorStatus)) {
      problems.push('errorStatuses must be a non-empty array of integers in 400..599');
    }
  }
  if (input.throttle !== undefined) {
    const throttle = input.throttle;
    if (!isRecord(throttle)) {
      problems.push('throttle must be an object { retryAfterSeconds, asHttpDate?, rate? }');
    } else {
      const seconds = throttle.retryAfterSeconds;
      if (!(Number.isInteger(seconds) && typeof seconds === 'number' && seconds >= 0 && seconds <= 86_400)) {
        problems.push('throttle.retryAfterSeconds must be an integer in 0..86400');
      }
      flag('throttle.asHttpDate', throttle.asHttpDate);
      probability('throttle.rate', throttle.rate);
      for (const key of Object.keys(throttle)) {
        if (!['retryAfterSeconds', 'asHttpDate', 'rate'].includes(key)) problems.push(`unknown throttle option "${key}"`);
      }
    }
  }
  if (input.outage !== undefined) {
    const windows = Array.isArray(input.outage) ? input.outage : [input.outage];
    windows.forEach((window: unknown, index) => {
      const label = Array.isArray(input.outage) ? `outage[${index}]` : 'outage';
      if (!isRecord(window)) {
        problems.push(`${label} must be an object { fromMs, toMs, clock?, mode? }`);
        return;
      }
      const { fromMs, toMs, clock, mode } = window;
      if (typeof fromMs !== 'number' || !Number.isFinite(fromMs)) problems.push(`${label}.fromMs must be a number`);
      if (typeof toMs !== 'number' || !Number.isFinite(toMs)) problems.push(`${label}.toMs must be a number`);
      if (typeof fromMs === 'number' && typeof toMs === 'number' && !(toMs > fromMs)) problems.push(`${label}.toMs must be greater than fromMs`);
      if (clock !== undefined && clock !== 'since-set' && clock !== 'epoch') problems.push(`${label}.clock must be "since-set" or "epoch"`);
      if (mode !== undefined && mode !== 'unavailable' && mode !== 'reset' && mode !== 'hang') {
        problems.push(`${label}.mode must be "unavailable", "reset" or "hang"`);
      }
      for (const key of Object.keys(window)) {
        if (!['fromMs', 'toMs', 'clock', 'mode'].includes(key)) problems.push(`unknown outage option "${key}"`);
      }
    });
  }
  if (input.failNext !== undefined) {
    const failNext = input.failNext;
    if (!isRecord(failNext)) {
      problems.push('failNext must be an object { count, status? }');
    } else {
      const { count, status } = failNext;
      if (!(typeof count === 'number' && Number.isInteger(count) && count >= 0 && count <= MAX_FAIL_NEXT)) {
        problems.push(`failNext.count must be an integer in 0..${MAX_FAIL_NEXT}`);
      }
      if (status !== undefined && !isErrorStatus(status)) problems.push('failNext.status must be an integer in 400..599');
      for (const key of Object.keys(failNext)) {
        if (!['count', 'status'].includes(key)) problems.push(`unknown failNext option "${key}"`);
      }
    }
  }
  if (input.pathFilter !== undefined) {
    const filter = input.pathFilter;
    if (typeof filter !== 'string' || !filter.startsWith('/') || filter.length > MAX_PATH_FILTER_LENGTH || /[?#\s]/.test(filter)) {
      problems.push(`pathFilter must be a path prefix starting with "/" (no query string, at most ${MAX_PATH_FILTER_LENGTH} characters)`);
    }
  }
  const options: Record<string, unknown> = {};
  for (const key of COMMON_FAULT_KEYS) if (input[key] !== undefined) options[key] = input[key];
  // Every field was checked above, so the record now has the FaultOptions shape.
  return { options: problems.length === 0 ? (options as FaultOptions) : {}, extras, problems };
}

/** An outage window resolved to absolute epoch ms. */
interface AbsoluteWindow {
  readonly startsAt: number;
  readonly endsAt: number;
  readonly mode: OutageMode;
}

/** The faults of one provider and its seeded stream; decides the fate of each request. */
export class ProviderFaults {
  private options: FaultOptions = {};
  private windows: readonly AbsoluteWindow[] = [];
  /** Requests `failNext` still fails. */
  private failNextLeft = 0;

  /** `baseLatencyMs` is the sandbox-wide latency added to every request of this provider. */
  constructor(
    private readonly random: SeededRandom,
    private readonly baseLatencyMs: number,
  ) {}

  /** Replaces the options (already validated); `since-set` windows start counting at `nowMs`. */
  set(options: FaultOptions, nowMs: number): void {
    this.options = options;
    this.failNextLeft = options.failNext?.count ?? 0;
    const windows = options.outage === undefined ? [] : Array.isArray(options.outage) ? options.outage : [options.outage];
    this.windows = (windows as readonly OutageWindow[]).map((window) => {
      const origin = (window.clock ?? 'since-set') === 'epoch' ? 0 : nowMs;
      return { startsAt: origin + window.fromMs, endsAt: origin + window.toMs, mode: window.mode ?? 'unavailable' };
    });
  }

  /** The options as set. */
  current(): FaultOptions {
    return this.options;
  }

  /** Removes every fault (the stream keeps its position). */
  clear(): void {
    this.options = {};
    this.windows = [];
    this.failNextLeft = 0;
  }

  /** Removes every fault and rewinds the stream, so the next requests see the same faults as after start. */
  reset(): void {
    this.clear();
    this.random.restart();
  }

  /**
   * Decides what happens to the next request, at sandbox time `nowMs`; `path` is the request's path below the
   * provider prefix (checked against `pathFilter`; omitted, the faults apply).
   */
  decide(nowMs: number, path?: string): FaultDecision {
    // Always the same five draws, in the same order, even for requests outside `pathFilter`: see the determinism
    // note in the file comment.
    const jitterDraw = this.random.float();
    const throttleDraw = this.random.float();
    const errorDraw = this.random.float();
    const errorPickDraw = this.random.float();
    const malformedDraw = this.random.float();

    const o = this.options;
    if (o.pathFilter !== undefined && path !== undefined && !path.startsWith(o.pathFilter)) {
      return { action: 'proceed', latencyMs: this.baseLatencyMs, malformed: false };
    }
    const latencyMs = this.baseLatencyMs + (o.latencyMs ?? 0) + Math.floor(jitterDraw * (o.latencyJitterMs ?? 0));
    const outage = this.windows.find((w) => nowMs >= w.startsAt && nowMs < w.endsAt);
    if (outage) {
      if (outage.mode === 'reset') return { action: 'reset', latencyMs, fault: 'outage' };
      if (outage.mode === 'hang') return { action: 'hang', latencyMs, fault: 'outage' };
      return { action: 'answer', latencyMs, fault: 'outage', answer: statusAnswer(503) };
    }
    if (o.reset) return { action: 'reset', latencyMs, fault: 'reset' };
    if (o.hang) return { action: 'hang', latencyMs, fault: 'hang' };
    if (this.failNextLeft > 0) {
      this.failNextLeft--;
      const status = o.failNext?.status ?? DEFAULT_FAIL_NEXT_STATUS;
      return { action: 'answer', latencyMs, fault: 'failNext', answer: statusAnswer(status) };
    }
    if (o.throttle && throttleDraw < (o.throttle.rate ?? 1)) {
      return { action: 'answer', latencyMs, fault: 'throttle', answer: throttleAnswer(o.throttle, nowMs) };
    }
    if (o.status !== undefined) return { action: 'answer', latencyMs, fault: 'status', answer: statusAnswer(o.status) };
    if (o.errorRate !== undefined && errorDraw < o.errorRate) {
      const statuses = o.errorStatuses ?? DEFAULT_ERROR_STATUSES;
      const status = statuses[Math.floor(errorPickDraw * statuses.length)] ?? 500;
      return { action: 'answer', latencyMs, fault: 'error', answer: statusAnswer(status) };
    }
    return { action: 'proceed', latencyMs, malformed: o.malformedRate !== undefined && malformedDraw < o.malformedRate };
  }
}

/** Truncates a serialized JSON body so it no longer parses (keeps at least one character). */
export function truncateBody(body: string): string {
  return body.slice(0, Math.max(1, Math.floor(body.length / 2)));
}

const STATUS_CODES: Readonly<Record<number, string>> = {
  400: 'bad_request',
  401: 'invalid_credentials',
  403: 'forbidden',
  404: 'not_found',
  408: 'request_timeout',
  409: 'conflict',
  422: 'unprocessable_entity',
  425: 'too_early',
  429: 'rate_limited',
  500: 'internal_error',
  502: 'bad_gateway',
  503: 'service_unavailable',
  504: 'gateway_timeout',
};

function statusAnswer(status: number): FaultAnswer {
  // Real 502s come from a proxy in front of the API, with an HTML page rather than the API's JSON.
  if (status === 502) {
    return {
      status,
      contentType: 'text/html; charset=utf-8',
      body: '<html><head><title>502 Bad Gateway</title></head><body><h1>502 Bad Gateway</h1></body></html>',
      headers: {},
    };
  }
  const code = STATUS_CODES[status] ?? (status >= 500 ? 'server_error' : 'client_error');
  return jsonAnswer(status, code, `simulated ${status}`, {});
}

function throttleAnswer(throttle: ThrottleFault, nowMs: number): FaultAnswer {
  const retryAfter = throttle.asHttpDate
    ? new Date(Math.ceil((nowMs + throttle.retryAfterSeconds * 1000) / 1000) * 1000).toUTCString()
    : String(throttle.retryAfterSeconds);
  return jsonAnswer(429, 'rate_limited', 'too many requests', { 'retry-after': retryAfter });
}

function jsonAnswer(status: number, code: string, message: string, headers: Record<string, string>): FaultAnswer {
  return { status, contentType: 'application/json; charset=utf-8', body: JSON.stringify({ error: { code, message } }), headers };
}

function isErrorStatus(value: unknown): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= 400 && value <= 599;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
