/**
 * The HTTP client every adapter calls its third party with, created per record. It owns the reliability concerns
 * of one logical call: circuit/throttle check per attempt, credentials, per-attempt timeout bounded by the
 * remaining Lambda time, outcome classification into the runtime's error hierarchy, retries with full-jitter
 * backoff and Retry-After, and the one-time credential refresh on 401/403.
 *
 * Error messages carry the method, the URL path (never the query string, which may hold tokens), the status and
 * a short summary of the provider's error body — never a header value or a credential.
 */
import { nextRetryDelayMs, parseRetryAfterMs, type RetryPolicy } from './backoff.js';
import { systemClock } from './clock.js';
import {
  AuthenticationError,
  REAUTHORIZATION_NEEDED,
  ReauthorizationRequiredError,
  CallTimeoutError,
  ConfigurationError,
  ConnectionError,
  IntegrationError,
  InvalidCredentialsError,
  MalformedResponseError,
  NotAttemptedError,
  ProviderRejectedError,
  RetryableStatusError,
  TokenEndpointError,
  TransientError,
  toIntegrationError,
} from './errors.js';
import { checkSchema, type Schema } from './schema.js';
import { describeIssues } from './inbound-record.js';
import type { CallGuard, CallPermit, Clock, CredentialsProvider } from './ports.js';

/** HTTP methods the client speaks. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** Query parameters; `undefined` values are skipped, arrays repeat the key. */
export type QueryParams = Record<string, string | number | boolean | undefined | ReadonlyArray<string | number | boolean>>;

/** Per-request options. */
export interface RequestOptions<T = unknown> {
  /** Extra headers for this request (override `defaultHeaders`; never override auth/correlation headers). */
  readonly headers?: Record<string, string>;
  readonly query?: QueryParams;
  /**
   * What a 2xx body must be (a zod schema). Checked inside the attempt, before the breaker hears of it: a 2xx the
   * adapter cannot use (`200 {}` where an id is due) is a MalformedResponseError, counted as a provider failure and
   * retried like one — checked after the call returns, it would already have been counted as a success.
   */
  readonly schema?: Schema<T>;
}

/** A full request description for {@link HttpClient.request}. */
export interface HttpRequest<T = unknown> extends RequestOptions<T> {
  readonly method: HttpMethod;
  /** Path relative to `baseUrl`, e.g. `/files/42`. */
  readonly path: string;
  /** Sent as JSON when not undefined. */
  readonly body?: unknown;
}

/** A successful (2xx) response. `body` is the parsed JSON, or undefined for an empty body. */
export interface HttpResponse<T> {
  readonly status: number;
  /** Response headers, lower-case names. */
  readonly headers: Record<string, string>;
  readonly body: T;
}

/** What an adapter sees: resolves only with a 2xx (that matches `schema` when given), rejects with an {@link IntegrationError}. */
export interface HttpClient {
  request<T = unknown>(request: HttpRequest<T>): Promise<HttpResponse<T>>;
  get<T = unknown>(path: string, options?: RequestOptions<T>): Promise<HttpResponse<T>>;
  delete<T = unknown>(path: string, options?: RequestOptions<T>): Promise<HttpResponse<T>>;
  post<T = unknown>(path: string, body?: unknown, options?: RequestOptions<T>): Promise<HttpResponse<T>>;
  put<T = unknown>(path: string, body?: unknown, options?: RequestOptions<T>): Promise<HttpResponse<T>>;
  patch<T = unknown>(path: string, body?: unknown, options?: RequestOptions<T>): Promise<HttpResponse<T>>;
}

/** One finished attempt, for logs and metrics. */
export interface AttemptEvent {
  /** 1-based, counting every HTTP attempt (including the one after a credential refresh). */
  readonly attempt: number;
  readonly latencyMs: number;
  /** The HTTP status, when a response arrived. */
  readonly status?: number;
  /** The classified failure, when the attempt failed. */
  readonly error?: IntegrationError;
}

/** A retry about to be scheduled. */
export interface RetryEvent {
  /** The attempt that failed. */
  readonly attempt: number;
  readonly delayMs: number;
  readonly error: IntegrationError;
}

/** Receives attempt and retry events; must not throw (exceptions are swallowed). */
export interface HttpClientObserver {
  attempt(event: AttemptEvent): void;
  retry(event: RetryEvent): void;
}

/** Retry settings of the client. */
export interface HttpRetryOptions extends RetryPolicy {
  /**
   * The shortest attempt worth starting; a retry (or a first attempt) that cannot get this much time before
   * `remaining − safetyMargin` is not made.
   * @default min(timeoutMs, 500)
   */
  readonly minAttemptMs?: number;
}

/** Options of {@link createHttpClient}. */
export interface HttpClientOptions {
  /** e.g. `https://api.example.com/v2`; request paths are appended. */
  readonly baseUrl: string;
  /** Per-attempt timeout (further bounded by the remaining Lambda time). */
  readonly timeoutMs: number;
  readonly retry: HttpRetryOptions;
  /** Time kept in reserve after the call for the ledger, metrics and the batch response. */
  readonly safetyMarginMs: number;
  /** `context.getRemainingTimeInMillis`. */
  readonly remainingTimeMs: () => number;
  readonly credentials: CredentialsProvider;
  readonly guard: CallGuard;
  /** Sent as `X-Correlation-Id`. */
  readonly correlationId: string;
  /** Sent as `Idempotency-Key`, identical on every attempt. */
  readonly idempotencyKey?: string;
  /** Headers sent with every request (overridable per request). */
  readonly defaultHeaders?: Record<string, string>;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  readonly observer?: HttpClientObserver;
}

/** Longest provider error summary (code + message) put into an error message. */
const MAX_SUMMARY_LENGTH = 200;
const USER_AGENT = 'integration-hub';

/** Creates the client for one record. Throws ConfigurationError on an invalid base URL or policy. */
export function createHttpClient(options: HttpClientOptions): HttpClient {
  const config = validate(options);
  const request = <T>(req: HttpRequest<T>) => execute<T>(config, req);
  return {
    request,
    get: (path, opts) => request({ method: 'GET', path, ...opts }),
    delete: (path, opts) => request({ method: 'DELETE', path, ...opts }),
    post: (path, body, opts) => request({ method: 'POST', path, body, ...opts }),
    put: (path, body, opts) => request({ method: 'PUT', path, body, ...opts }),
    patch: (path, body, opts) => request({ method: 'PATCH', path, body, ...opts }),
  };
}

interface ClientConfig extends HttpClientOptions {
  readonly clock: Clock;
  readonly fetch: typeof fetch;
  readonly minAttemptMs: number;
  readonly base: URL;
}

function validate(options: HttpClientOptions): ClientConfig {
  const problems: string[] = [];
  let base: URL | undefined;
  try {
    base = new URL(options.baseUrl);
    if (base.protocol !== 'https:' && base.protocol !== 'http:') problems.push('baseUrl must be http(s)');
    if (base.search || base.hash) problems.push('baseUrl must not contain a query string or fragment');
    if (base.username || base.password) problems.push('baseUrl must not contain credentials');
  } catch {
    problems.push('baseUrl is not a valid URL');
  }
  const positive = (name: string, value: number) => {
    if (!(Number.isFinite(value) && value > 0)) problems.push(`${name} must be a positive number`);
  };
  const nonNegative = (name: string, value: number) => {
    if (!(Number.isFinite(value) && value >= 0)) problems.push(`${name} must be a non-negative number`);
  };
  positive('timeoutMs', options.timeoutMs);
  nonNegative('safetyMarginMs', options.safetyMarginMs);
  if (!(Number.isInteger(options.retry.maxAttempts) && options.retry.maxAttempts >= 1)) problems.push('retry.maxAttempts must be an integer >= 1');
  nonNegative('retry.baseDelayMs', options.retry.baseDelayMs);
  nonNegative('retry.maxDelayMs', options.retry.maxDelayMs);
  if (options.retry.minAttemptMs !== undefined) nonNegative('retry.minAttemptMs', options.retry.minAttemptMs);
  if (problems.length > 0 || !base) throw new ConfigurationError(`Invalid HTTP client options: ${problems.join('; ')}`);

  // Wrapped so the platform fetch is never called with `this` bound to our config object.
  const fetchImpl: typeof fetch = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
  return {
    ...options,
    base,
    clock: options.clock ?? systemClock,
    fetch: fetchImpl,
    minAttemptMs: options.retry.minAttemptMs ?? Math.min(options.timeoutMs, 500),
  };
}

/** Describes the call in error messages (method and path, no query string), and what its 2xx body must be. */
interface CallTarget {
  readonly method: HttpMethod;
  readonly url: URL;
  readonly label: string;
  readonly schema?: Schema;
}

async function execute<T>(config: ClientConfig, req: HttpRequest<T>): Promise<HttpResponse<T>> {
  const url = buildUrl(config.base, req.path, req.query);
  const target: CallTarget = { method: req.method, url, label: `${req.method} ${url.pathname}`, schema: req.schema };
  // Serialised once: every attempt sends byte-identical content (the Idempotency-Key promises that).
  const body = req.body === undefined ? undefined : JSON.stringify(req.body);
  const { clock } = config;

  let attempt = 0; // every HTTP attempt, for the observer
  let countedAttempts = 0; // attempts counted against retry.maxAttempts (the credential-refresh retry is extra)
  let refreshCredentials = false; // the next attempt re-reads the secret / token, bypassing caches
  let authRefreshed = false;
  let refusedAuthHeaders: Record<string, string> | undefined; // the last attempt's: what a 401/403 refused
  let uncountedRetry = false; // the immediate retry after a 401/403 does not use up the retry budget
  // The permit of a first 401/403, carried to the immediate retry: the circuit hears one outcome for the two attempts
  // (a first 401 is neither a failure nor a success of the provider; counted as a success, it would reset the
  // failure count of every message, so rejected credentials would never open the circuit).
  let heldPermit: CallPermit | undefined;
  let lastError: IntegrationError | undefined;

  for (;;) {
    const timeoutMs = Math.min(config.timeoutMs, config.remainingTimeMs() - config.safetyMarginMs);
    if (!(timeoutMs > 0 && timeoutMs >= config.minAttemptMs)) {
      // Too little Lambda time for a useful attempt: hand the message back to SQS (transient) rather than be
      // killed mid-call. After a failure we rethrow that failure, which says more than "no time".
      if (lastError instanceof TransientError) throw lastError;
      throw new CallTimeoutError(`${target.label}: not attempted, too little Lambda time left for a call`, { cause: lastError });
    }

    // A NotAttemptedError (circuit open, throttled) from the guard propagates: the message gets parked, not retried.
    // After a failed attempt it carries that failure, the provider's real answer, so the ledger does not lose it.
    let permit: CallPermit;
    try {
      permit = heldPermit ?? (await config.guard.acquire());
      heldPermit = undefined;
    } catch (error) {
      if (error instanceof NotAttemptedError && lastError !== undefined) error.providerError = lastError;
      throw error;
    }
    attempt += 1;
    if (uncountedRetry) uncountedRetry = false;
    else countedAttempts += 1;

    const started = clock.now();
    let outcome: AttemptOutcome<T>;
    try {
      const authHeaders = await config.credentials.headers(refreshCredentials ? { fresh: true, refused: refusedAuthHeaders } : undefined);
      refreshCredentials = false;
      refusedAuthHeaders = authHeaders;
      outcome = await attemptOnce<T>(config, target, body, req.headers, authHeaders, timeoutMs);
    } catch (error) {
      const failure = toIntegrationError(error);
      if (failure instanceof ReauthorizationRequiredError) {
        notify(() => config.observer?.attempt({ attempt, latencyMs: Math.max(0, clock.now() - started), error: failure }));
        throw await isolatedForReauthorization(config, failure);
      }
      outcome =
        failure instanceof TokenEndpointError || failure instanceof AuthenticationError
          ? // The provider's own token endpoint failed or refused our client credentials: the breaker must see it.
            { kind: 'failure', error: failure, countsAgainstProvider: true }
          : // Our secret store failed: the provider was never contacted, so the permit gets no report (a probe
            // lease simply expires). Transient, retried like the rest.
            { kind: 'failure', error: failure, countsAgainstProvider: false, noPermitReport: true };
    }
    const latencyMs = Math.max(0, clock.now() - started);
    if (outcome.kind === 'auth' && !authRefreshed) {
      // Maybe the secret was rotated: fetch it fresh and retry once, immediately, under the same permit.
      const { status, error } = outcome;
      notify(() => config.observer?.attempt({ attempt, latencyMs, status, error }));
      lastError = error;
      authRefreshed = true;
      refreshCredentials = true;
      uncountedRetry = true;
      heldPermit = permit;
      continue;
    }
    if (outcome.kind === 'auth' && config.credentials.rejectionAfterFreshMeansReauthorization) {
      // An access token issued moments ago is refused: the grant behind it is gone (errors.ts ReauthorizationRequiredError).
      const revoked = new ReauthorizationRequiredError(`${outcome.error.message} (right after a fresh access token)`, { cause: outcome.error });
      notify(() => config.observer?.attempt({ attempt, latencyMs, status: outcome.status, error: revoked }));
      throw await isolatedForReauthorization(config, revoked);
    }
    if (outcome.kind === 'auth') {
      // Rejected again with credentials read fresh: the credentials are wrong for every message, which the circuit
      // must see like an outage (errors.ts AuthenticationError), not as a provider answering normally.
      const rejected = new AuthenticationError(outcome.status, `${outcome.error.message} (also with freshly fetched credentials)`, { cause: outcome.error });
      outcome = { kind: 'failure', status: outcome.status, error: rejected, countsAgainstProvider: true };
    }

    await report(config, permit, outcome, latencyMs);
    notify(() => config.observer?.attempt({ attempt, latencyMs, status: outcome.status, error: outcome.kind === 'success' ? undefined : outcome.error }));

    if (outcome.kind === 'success') return outcome.response;

    const { error } = outcome;
    lastError = error;
    // Rejected credentials fail every retry alike: the message waits for the secret to be fixed, outside this call.
    if (!(error instanceof TransientError) || error instanceof AuthenticationError) throw error;

    const delayMs = nextRetryDelayMs({
      attempt: countedAttempts,
      policy: config.retry,
      retryAfterMs: error.retryAfterMs,
      remainingTimeMs: config.remainingTimeMs(),
      safetyMarginMs: config.safetyMarginMs,
      minAttemptMs: config.minAttemptMs,
      random: () => clock.random(),
    });
    if (delayMs === undefined) throw error;
    notify(() => config.observer?.retry({ attempt, delayMs, error }));
    if (delayMs > 0) await clock.sleep(delayMs);
  }
}

/**
 * Isolates the circuit with "re-authorization needed" and returns the refusal to throw: the message is parked like
 * any other under an isolated circuit, carrying the provider's answer for the ledger. The permit gets no report: the
 * circuit's counters no longer matter, and a probe's lease expires by itself.
 */
async function isolatedForReauthorization(config: ClientConfig, error: ReauthorizationRequiredError): Promise<IntegrationError> {
  const refusal = await config.guard.isolateAndRefuse(`${REAUTHORIZATION_NEEDED}: ${error.message}`);
  refusal.providerError = error;
  return refusal;
}

type AttemptOutcome<T> =
  | { kind: 'success'; response: HttpResponse<T>; status: number }
  | {
      kind: 'failure';
      error: IntegrationError;
      status?: number;
      /** False for answers that say the provider is up (permanent 4xx, 429 with Retry-After). */
      countsAgainstProvider: boolean;
      /** 429 with Retry-After: every instance backs off until then (epoch ms). */
      throttleUntil?: number;
      /** The provider was never contacted. */
      noPermitReport?: boolean;
    }
  | { kind: 'auth'; error: ProviderRejectedError; status: number };

/** One HTTP exchange, classified. Throws only for invalid caller-supplied headers (a programming error). */
async function attemptOnce<T>(
  config: ClientConfig,
  target: CallTarget,
  body: string | undefined,
  requestHeaders: Record<string, string> | undefined,
  authHeaders: Record<string, string>,
  timeoutMs: number,
): Promise<AttemptOutcome<T>> {
  const headers = new Headers();
  headers.set('Accept', 'application/json');
  headers.set('User-Agent', USER_AGENT);
  if (body !== undefined) headers.set('Content-Type', 'application/json');
  for (const [name, value] of Object.entries(config.defaultHeaders ?? {})) headers.set(name, value);
  for (const [name, value] of Object.entries(requestHeaders ?? {})) headers.set(name, value);
  headers.set('X-Correlation-Id', config.correlationId);
  if (config.idempotencyKey !== undefined) headers.set('Idempotency-Key', config.idempotencyKey);
  for (const [name, value] of Object.entries(authHeaders)) {
    try {
      headers.set(name, value);
    } catch {
      // The Headers error quotes the value, i.e. the credential: replace it, keep no cause.
      return { kind: 'failure', error: new InvalidCredentialsError(`Credentials produced an invalid value for header '${name}'`), countsAgainstProvider: false, noPermitReport: true };
    }
  }
  const secrets = secretFragments(authHeaders);

  // Our own controller (not AbortSignal.timeout) so we know the abort was our timeout, and it also bounds reading
  // the body — a provider that sends headers and then stalls is a timeout too.
  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, timeoutMs);

  try {
    let response: Response;
    let text: string;
    try {
      response = await config.fetch(target.url, {
        method: target.method,
        headers,
        body,
        signal: controller.signal,
        // Never follow redirects: fetch would forward custom auth headers (X-Api-Key, ...) to wherever the
        // Location points. A redirect from an API is a misconfigured base URL; it is reported as a rejection.
        redirect: 'manual',
      });
      text = await response.text();
    } catch (error) {
      if (timedOut) {
        return transientFailure(new CallTimeoutError(`${target.label}: no response within ${timeoutMs} ms`, { cause: sanitizeCause(error, secrets) }));
      }
      return transientFailure(new ConnectionError(`${target.label}: connection failed (${describeNetworkError(error)})`, { cause: sanitizeCause(error, secrets) }));
    }
    return classify<T>(config, target, response, text, secrets);
  } finally {
    clearTimeout(timer);
  }
}

function transientFailure(error: TransientError): AttemptOutcome<never> {
  return { kind: 'failure', error, countsAgainstProvider: true };
}

function classify<T>(config: ClientConfig, target: CallTarget, response: Response, text: string, secrets: string[]): AttemptOutcome<T> {
  const { status } = response;
  const statusLabel = `${target.label} -> ${status}`;

  if (status >= 200 && status < 300) {
    const contentType = response.headers.get('content-type') ?? '';
    const answered = (body: unknown): AttemptOutcome<T> => {
      if (target.schema) {
        const checked = checkSchema(target.schema, body);
        if (!checked.success) {
          return { kind: 'failure', status, countsAgainstProvider: true, error: new MalformedResponseError(`${statusLabel}: unusable answer (${describeIssues(checked.error)})`) };
        }
        body = checked.data;
      }
      return { kind: 'success', status, response: { status, headers: headersToRecord(response.headers), body: body as T } };
    };
    if (text.trim() === '') {
      // No content is not malformed content (204, a 202/200 with nothing to say, even if labelled JSON): the
      // adapter gets `undefined` and decides whether it needed a body (or its schema does). Retrying would repeat a
      // call that took effect.
      return answered(undefined);
    }
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      // No cause: the SyntaxError quotes the body, which is the provider's data, not ours to log.
      return {
        kind: 'failure',
        status,
        countsAgainstProvider: true,
        error: new MalformedResponseError(`${statusLabel}: body is not valid JSON (content-type ${contentType ? `'${truncate(contentType, 60)}'` : 'absent'})`),
      };
    }
    return answered(parsed);
  }

  const summary = providerErrorSummary(text, secrets);
  const message = summary ? `${statusLabel}: ${summary}` : statusLabel;

  if (isRetryableStatus(status)) {
    const retryAfterMs = parseRetryAfterMs(response.headers.get('retry-after'), config.clock.now());
    const error = new RetryableStatusError(status, message, { retryAfterMs });
    if (status === 429 && retryAfterMs !== undefined) {
      // The provider is healthy and told us exactly how long to wait: share that with every instance instead of
      // counting it as a failure (which could open the circuit and hide a provider that is merely pacing us).
      return { kind: 'failure', status, error, countsAgainstProvider: false, throttleUntil: config.clock.now() + retryAfterMs };
    }
    // 5xx/408/425, and a 429 without Retry-After: the breaker is then the only shared backpressure we have.
    return { kind: 'failure', status, error, countsAgainstProvider: true };
  }

  if (status === 409 && config.idempotencyKey !== undefined && isIdempotencyKeyBusy(text)) {
    // Stripe-like providers answer 409 while an earlier request with the same Idempotency-Key is still being
    // processed: the operation is in flight, not refused. Retry (the provider is healthy, so not a breaker failure).
    return { kind: 'failure', status, error: new RetryableStatusError(status, message), countsAgainstProvider: false };
  }
  if (status === 401 || status === 403) {
    return { kind: 'auth', status, error: new ProviderRejectedError(status, message) };
  }
  // Other 4xx (and 3xx, since redirects are not followed): the provider answered and will answer the same again.
  return { kind: 'failure', status, error: new ProviderRejectedError(status, message), countsAgainstProvider: false };
}

/** 5xx, 408 Request Timeout, 425 Too Early, 429 Too Many Requests. */
function isRetryableStatus(status: number): boolean {
  return status >= 500 || status === 408 || status === 425 || status === 429;
}

/** Reports the attempt to the circuit permit. A failing guard must never change the call's outcome. */
async function report<T>(config: ClientConfig, permit: CallPermit, outcome: AttemptOutcome<T>, latencyMs: number): Promise<void> {
  try {
    if (outcome.kind === 'failure' && outcome.noPermitReport) return;
    if (outcome.kind === 'failure' && outcome.countsAgainstProvider) {
      await permit.failed(outcome.error, latencyMs);
    } else {
      // 2xx, permanent 4xx and a 429 with Retry-After: the provider is up and answering.
      await permit.succeeded(latencyMs);
    }
    if (outcome.kind === 'failure' && outcome.throttleUntil !== undefined) {
      await config.guard.throttle(outcome.throttleUntil);
    }
  } catch {
    // The breaker owns its own failure handling (it fails open to a per-instance breaker). Turning a provider's
    // 2xx into an error here would make us retry a call that already took effect.
  }
}

function notify(fn: () => void): void {
  try {
    fn();
  } catch {
    // Observers are for logs/metrics; they must not change the outcome of a call.
  }
}

function buildUrl(base: URL, path: string, query: QueryParams | undefined): URL {
  const basePath = base.pathname.endsWith('/') ? base.pathname.slice(0, -1) : base.pathname;
  const relative = path === '' ? '' : path.startsWith('/') ? path : `/${path}`;
  const url = new URL(base.href);
  // Split off a query string written into the path so it is encoded as a query, not as part of the path.
  const queryIndex = relative.indexOf('?');
  url.pathname = basePath + (queryIndex >= 0 ? relative.slice(0, queryIndex) : relative);
  if (queryIndex >= 0) url.search = relative.slice(queryIndex);
  for (const [key, value] of Object.entries(query ?? {})) {
    if (value === undefined) continue;
    if (Array.isArray(value)) for (const item of value) url.searchParams.append(key, String(item));
    else url.searchParams.append(key, String(value));
  }
  return url;
}

function headersToRecord(headers: Headers): Record<string, string> {
  const record: Record<string, string> = {};
  headers.forEach((value, name) => {
    record[name.toLowerCase()] = value;
  });
  return record;
}

/**
 * A short "code: message" from the provider's error body, if it is JSON in a common shape: `{error, error_description}`
 * (OAuth), `{error: {code, message}}`, `{code, message}`, `{errors: [{code, message}]}`, `{title, detail}` (RFC 9457).
 * Non-JSON bodies (HTML error pages) give nothing. Anything that looks like one of our credentials is redacted.
 */
export function providerErrorSummary(text: string, secrets: readonly string[] = []): string | undefined {
  if (text.trim() === '') return undefined;
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    return undefined;
  }
  const pick = (value: unknown): string | undefined => {
    if (typeof value === 'string' && value.trim() !== '') return value.trim();
    if (typeof value === 'number') return String(value);
    return undefined;
  };
  const fromObject = (obj: unknown): string | undefined => {
    if (!isRecord(obj)) return undefined;
    const nested = isRecord(obj.error) ? obj.error : undefined;
    const firstOfErrors = Array.isArray(obj.errors) && isRecord(obj.errors[0]) ? obj.errors[0] : undefined;
    if (nested) return fromObject(nested);
    if (firstOfErrors) return fromObject(firstOfErrors);
    const code = pick(obj.code) ?? pick(obj.error) ?? pick(obj.errorCode) ?? pick(obj.error_code) ?? pick(obj.type) ?? pick(obj.title);
    const detail = pick(obj.message) ?? pick(obj.error_description) ?? pick(obj.errorMessage) ?? pick(obj.detail) ?? pick(obj.description);
    if (code && detail) return `${code}: ${detail}`;
    return code ?? detail;
  };
  const summary = fromObject(body);
  if (summary === undefined) return undefined;
  return truncate(redact(summary.replace(/\s+/g, ' '), secrets), MAX_SUMMARY_LENGTH);
}

/** True when an error body's code says the Idempotency-Key is in use by a request still in progress. */
function isIdempotencyKeyBusy(text: string): boolean {
  const code = providerErrorSummary(text)?.split(':')[0] ?? '';
  return /idempotenc/i.test(code) && /(in_progress|in_use|processing|concurrent)/i.test(code);
}

/** The credential strings to keep out of messages: every auth header value and the token after its scheme word. */
function secretFragments(authHeaders: Record<string, string>): string[] {
  const fragments = new Set<string>();
  for (const value of Object.values(authHeaders)) {
    if (value.length >= 4) fragments.add(value);
    const token = /^\S+\s+(\S{4,})$/.exec(value)?.[1];
    if (token) fragments.add(token);
  }
  // Longest first so a token inside a full header value is not half-replaced.
  return [...fragments].sort((a, b) => b.length - a.length);
}

function redact(text: string, secrets: readonly string[]): string {
  let result = text;
  for (const secret of secrets) result = result.split(secret).join('[redacted]');
  return result;
}

function truncate(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The most specific network error code in the chain (ECONNRESET, UND_ERR_SOCKET, ...), for the message. */
export function describeNetworkError(error: unknown): string {
  let current: unknown = error;
  for (let depth = 0; depth < 5 && current; depth += 1) {
    if (isRecord(current) && typeof current.code === 'string') return current.code;
    current = current instanceof Error ? current.cause : undefined;
  }
  return error instanceof Error ? error.name : 'unknown error';
}

/**
 * Keeps the network error as `cause` for diagnosis, but as a plain copy of names, codes and redacted messages —
 * undici errors can hold the request (and with it the headers) in their properties.
 */
function sanitizeCause(error: unknown, secrets: readonly string[], depth = 0): Error | undefined {
  if (!(error instanceof Error) || depth > 5) return undefined;
  const copy = new Error(redact(error.message, secrets), { cause: sanitizeCause(error.cause, secrets, depth + 1) });
  copy.name = error.name;
  const code = (error as { code?: unknown }).code;
  if (typeof code === 'string') (copy as Error & { code?: string }).code = code;
  return copy;
}
