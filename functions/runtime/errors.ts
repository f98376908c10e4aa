/**
 * The one error hierarchy of the runtime (docs/architecture.md "Conventions"). Every failure of a record ends up as exactly one of
 * these classes, and the class alone decides what happens to the message:
 *
 * - {@link TransientError}: retried in-process while time allows, then reported as a batch item failure (rejected
 *   credentials too: {@link AuthenticationError}).
 * - {@link PermanentError}: never retried; the message goes to the DLQ with the reason.
 * - {@link NotAttemptedError}: the call was not made (circuit open, throttled); the message is parked.
 * - {@link StaleEventError}: a newer version of the entity is already synced; the message is dropped.
 *
 * `errorClass` is the short, stable name written to DLQ attributes, logs and metric dimensions. Messages never
 * contain credentials: callers pass only status codes, URLs without query strings and provider error summaries.
 */

/** Which handling a failure gets; see the file comment. */
export type FailureCategory = 'transient' | 'permanent' | 'not_attempted' | 'stale';

/** Base of every error the runtime raises on purpose. */
export abstract class IntegrationError extends Error {
  abstract readonly category: FailureCategory;
  /** Stable, short name for DLQ attributes, logs and metric dimensions. */
  abstract readonly errorClass: string;

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

// ---------------------------------------------------------------- transient

/** A failure that may succeed on a later attempt. */
export abstract class TransientError extends IntegrationError {
  readonly category = 'transient' as const;
  /** When the provider asked us to come back (Retry-After), in ms from now. */
  readonly retryAfterMs?: number;

  constructor(message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    this.retryAfterMs = options?.retryAfterMs;
  }
}

/** The attempt did not complete within its per-attempt timeout. */
export class CallTimeoutError extends TransientError {
  readonly errorClass = 'Timeout';
}

/** The connection could not be made or was reset before a response arrived. */
export class ConnectionError extends TransientError {
  readonly errorClass = 'ConnectionError';
}

/** The provider answered with a retryable status: 5xx, 408, 425 or 429. */
export class RetryableStatusError extends TransientError {
  readonly errorClass: string;
  readonly status: number;

  constructor(status: number, message: string, options?: { cause?: unknown; retryAfterMs?: number }) {
    super(message, options);
    this.status = status;
    this.errorClass = status === 429 ? 'RateLimited' : status >= 500 ? 'ServerError' : `Http${status}`;
  }
}

/** A 2xx response whose body could not be parsed: the effect may or may not have happened, so retry (idempotently). */
export class MalformedResponseError extends TransientError {
  readonly errorClass = 'MalformedResponse';
}

/** The same idempotency key is being processed elsewhere right now; try again later, never DLQ. */
export class DuplicateInFlightError extends TransientError {
  readonly errorClass = 'DuplicateInFlight';
}

/**
 * The provider's OAuth2 token endpoint did not hand out a token (5xx, 408/425/429, timeout, unreachable, unusable
 * answer). It belongs to the provider, so unlike our own dependencies it counts as a provider failure.
 */
export class TokenEndpointError extends TransientError {
  readonly errorClass = 'TokenEndpointUnavailable';
}

/**
 * 401/403 even with freshly fetched credentials, or a token endpoint that refuses the client credentials: the
 * integration's credentials are rejected, whatever the message (revoked, rotated at the provider before the secret,
 * lacking a scope). Not the message's fault, so not a DLQ matter: it counts against the circuit like an outage (the
 * circuit opens, messages wait parked and are handed back, never dead-lettered for waiting), is not retried within the
 * invocation (the same credentials would fail again), and delivery resumes once the secret holds working credentials
 * (every 401 reads the secret fresh; a probe does too).
 */
export class AuthenticationError extends TransientError {
  readonly errorClass = 'AuthenticationFailed';
  readonly status: number;

  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
  }
}

/**
 * The provider refused the refresh token (`invalid_grant`: revoked, expired, or reused after a lost rotation), or
 * rejected an access token it had just issued: the customer's authorization is gone, and only a person can grant it
 * again (docs/runbooks/circuit-open-too-long.md "Re-authorization needed"). The call that finds out isolates the integration's circuit with
 * reason {@link REAUTHORIZATION_NEEDED}, so messages wait instead of failing; the circuit resumes by itself once a
 * refresh with a new refresh token succeeds. Transient where it surfaces anywhere else: never a DLQ matter.
 */
export class ReauthorizationRequiredError extends TransientError {
  readonly errorClass = 'ReauthorizationRequired';
}

/** The reason of a circuit isolated by {@link ReauthorizationRequiredError} (what the prober looks for). */
export const REAUTHORIZATION_NEEDED = 're-authorization needed';

/** A dependency of the runtime itself (idempotency/ledger table, secret store, SQS) failed. */
export class DependencyError extends TransientError {
  readonly errorClass: string;

  constructor(dependency: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.errorClass = `${dependency}Unavailable`;
  }
}

// ---------------------------------------------------------------- permanent

/** A failure that will fail again on every retry: the message goes to the DLQ. */
export abstract class PermanentError extends IntegrationError {
  readonly category = 'permanent' as const;
}

/** The message cannot be processed as it is: bad JSON, schema violation, unknown event version, failed upcast. */
export class PoisonMessageError extends PermanentError {
  readonly errorClass: string;

  constructor(
    errorClass: 'InvalidJson' | 'ValidationFailed' | 'UnsupportedEventVersion' | 'UpcastFailed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.errorClass = errorClass;
  }
}

/** The provider rejected the request with a non-retryable 4xx. */
export class ProviderRejectedError extends PermanentError {
  readonly errorClass: string;
  readonly status: number;

  constructor(status: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.status = status;
    this.errorClass = `Http${status}`;
  }
}


/** The idempotency key was used before with a different payload. */
export class IdempotencyKeyReuseError extends PermanentError {
  readonly errorClass = 'IdempotencyKeyReused';
}

/** The secret exists but cannot be used: not JSON, or missing the fields the auth scheme needs. */
export class InvalidCredentialsError extends PermanentError {
  readonly errorClass = 'InvalidCredentials';
}

/** Why an inbound webhook was refused (functions/webhooks/webhook-scheme.ts); each has its HTTP status. */
export type WebhookRejectionReason = 'body_too_large' | 'missing_headers' | 'bad_timestamp' | 'timestamp_out_of_tolerance' | 'bad_signature' | 'not_json' | 'missing_event_fields';

/** The HTTP status the endpoint answers for each rejection. */
export const WEBHOOK_REJECTION_STATUS: Readonly<Record<WebhookRejectionReason, number>> = {
  body_too_large: 413,
  missing_headers: 400,
  bad_timestamp: 400,
  timestamp_out_of_tolerance: 401,
  bad_signature: 401,
  not_json: 400,
  missing_event_fields: 400,
};

/** An inbound webhook refused before anything was forwarded: unsigned, tampered, late, too big or unreadable. */
export class WebhookRejectedError extends PermanentError {
  readonly errorClass = 'WebhookRejected';
  readonly status: number;

  constructor(
    readonly reason: WebhookRejectionReason,
    message: string,
  ) {
    super(message);
    this.status = WEBHOOK_REJECTION_STATUS[reason];
  }
}

// ---------------------------------------------------------------- not attempted

/** The call was deliberately not made; the message is parked until `retryAt`. */
export abstract class NotAttemptedError extends IntegrationError {
  readonly category = 'not_attempted' as const;
  /** Epoch ms before which a new attempt is pointless. */
  readonly retryAt: number;
  readonly circuitId: string;
  /**
   * What the provider answered on this delivery before the circuit (or throttle) refused the retry, if it was
   * called: the real cause, which the ledger keeps beside the parking reason (functions/runtime/http-client.ts).
   */
  providerError?: IntegrationError;

  constructor(circuitId: string, retryAt: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.circuitId = circuitId;
    this.retryAt = retryAt;
  }
}

/** The shared circuit for the provider is open (or isolated by an operator, or a probe is in flight). */
export class CircuitOpenError extends NotAttemptedError {
  readonly errorClass = 'CircuitOpen';
}

/** The provider asked every caller to back off (429 with Retry-After) until `retryAt`. */
export class ThrottledError extends NotAttemptedError {
  readonly errorClass = 'Throttled';
}

// ---------------------------------------------------------------- stale

/** A newer version of the entity is already synced (or in flight): this event must never be sent. */
export class StaleEventError extends IntegrationError {
  readonly category = 'stale' as const;
  readonly errorClass = 'StaleVersion';
}

// ---------------------------------------------------------------- configuration

/**
 * Raised when configuration is missing or invalid: at init in a function (not a record outcome: it fails fast), or at
 * synth for a catalog or construct props. Validation collects every problem and throws once, so one run shows the
 * whole list; `problems` holds them (empty when the message is the only problem).
 */
export class ConfigurationError extends Error {
  constructor(
    message: string,
    /** Every problem found, one line each. */
    readonly problems: readonly string[] = [],
  ) {
    super(message);
    this.name = 'ConfigurationError';
  }

  /** `Invalid <subject>:` followed by one line per problem. */
  static listing(subject: string, problems: readonly string[]): ConfigurationError {
    return new ConfigurationError(`Invalid ${subject}:\n- ${problems.join('\n- ')}`, problems);
  }
}

/** Throws {@link ConfigurationError.listing} when `problems` is not empty. */
export function assertNoConfigurationProblems(subject: string, problems: readonly string[]): void {
  if (problems.length > 0) throw ConfigurationError.listing(subject, problems);
}

/** Wraps anything that is not an IntegrationError: unknown failures are treated as transient so nothing is lost. */
export class UnexpectedError extends TransientError {
  readonly errorClass = 'Unexpected';
}

/** Returns the error as an IntegrationError, wrapping unknown values (which count as transient). */
export function toIntegrationError(error: unknown): IntegrationError {
  if (error instanceof IntegrationError) return error;
  const message = error instanceof Error ? error.message : String(error);
  return new UnexpectedError(`Unexpected failure: ${message}`, { cause: error });
}
