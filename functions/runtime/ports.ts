/**
 * The small interfaces (ports) the runtime's logic is written against. AWS SDK calls live in adapter files that
 * implement these (`dynamodb-*.ts`, `sqs-*.ts`, `secrets-manager-*.ts`); tests use in-memory fakes or dynalite.
 */
import type { IntegrationError, NotAttemptedError } from './errors.js';

// ---------------------------------------------------------------- clock

/** Time and randomness, injectable so backoff, leases and jitter are deterministic in tests. */
export interface Clock {
  /** Epoch milliseconds. */
  now(): number;
  /** Resolves after `ms` milliseconds (or rejects with the signal's reason when aborted). */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
  /** Uniform in [0, 1). */
  random(): number;
}

// ---------------------------------------------------------------- circuit breaker

/** Reports the outcome of one attempt that a {@link CallGuard} allowed. */
export interface CallPermit {
  /** True when this attempt is the single half-open probe elected across all instances. */
  readonly isProbe: boolean;
  /** The provider answered in a way that says it is healthy (2xx, or a permanent 4xx). */
  succeeded(latencyMs: number): Promise<void>;
  /** The provider failed (timeout, connection error, 5xx, ...). */
  failed(error: IntegrationError, latencyMs: number): Promise<void>;
}

/** What the HTTP client asks before every attempt. */
export interface CallGuard {
  /**
   * Returns a permit when a call may be made now. Throws CircuitOpenError or ThrottledError (both
   * NotAttemptedError, carrying `retryAt`) when it must not.
   */
  acquire(): Promise<CallPermit>;
  /** A 429 with Retry-After: every instance backs off until `untilMs` (epoch ms). */
  throttle(untilMs: number): Promise<void>;
  /**
   * The credentials can no longer work for any message (the provider revoked the OAuth grant): isolates the circuit
   * for every instance with `reason` and returns the refusal (a NotAttemptedError: the message is parked) for the
   * call that found out. Throws if the shared circuit store cannot be written.
   */
  isolateAndRefuse(reason: string): Promise<NotAttemptedError>;
}

// ---------------------------------------------------------------- credentials

/** Reads JSON secrets (Secrets Manager in AWS). Implementations cache; `forceFetch` bypasses the cache. */
export interface SecretSource {
  getJson(secretName: string, options?: { forceFetch?: boolean }): Promise<Record<string, unknown>>;
}

/** A {@link SecretSource} that can also write: a new version of the whole JSON secret (Secrets Manager PutSecretValue). */
export interface WritableSecretSource extends SecretSource {
  putJson(secretName: string, value: Record<string, unknown>): Promise<void>;
}

/** What the instances share about one refresh-token grant (functions/runtime/refresh-token-credentials.ts). */
export interface RefreshLeaseState {
  /** The instance refreshing now, and until when its lease holds (epoch ms); absent when nobody is. */
  readonly owner?: string;
  readonly until?: number;
  /** Fingerprint (never the value) of the last refresh token the provider refused; that token is not tried again. */
  readonly rejectedRefreshToken?: string;
}

/**
 * The lease that elects one refresher across every instance (a conditional write with an expiry, so a crashed
 * holder does not wedge it).
 */
export interface RefreshLeases {
  /** Takes the lease `key` for `owner` until `until` when nobody holds it or the holder's lease ended by `now`. */
  acquire(key: string, owner: string, now: number, until: number): Promise<boolean>;
  /** Frees the lease if `owner` still holds it, recording which refresh token was refused (or that none was). */
  release(key: string, owner: string, outcome: { readonly rejectedRefreshToken?: string }): Promise<void>;
  /** A consistent read. */
  read(key: string): Promise<RefreshLeaseState>;
}

/** Options of {@link CredentialsProvider.headers}. */
export interface HeadersOptions {
  readonly fresh?: boolean;
  /** With `fresh`: the auth headers of the call the provider refused (401/403). */
  readonly refused?: Readonly<Record<string, string>>;
}

/** Produces the auth headers for a provider call. */
export interface CredentialsProvider {
  /**
   * Headers to add to a request. `fresh: true` re-reads the secret (and token) bypassing every cache; `refused` are
   * the headers the provider just refused, so a token another call already replaced is not replaced twice.
   */
  headers(options?: HeadersOptions): Promise<Record<string, string>>;
  /**
   * True when a 401/403 with freshly obtained credentials means the provider revoked the grant (an OAuth refresh
   * token's access token, refused right after it was issued): the HTTP client then isolates the circuit for
   * re-authorization instead of counting a failure. @default false
   */
  readonly rejectionAfterFreshMeansReauthorization?: boolean;
}

// ---------------------------------------------------------------- queues

/** The facts about one SQS message that the queue adapters need. */
export interface QueueMessageRef {
  messageId: string;
  receiptHandle: string;
  /** The queue the message came from (event source ARN). */
  eventSourceArn: string;
  body: string;
  /** Original message attributes, string-valued, to carry into the DLQ. */
  attributes?: Record<string, string>;
}

/** Why a message was sent to the DLQ, written as message attributes. */
export interface DeadLetterReason {
  errorClass: string;
  errorMessage: string;
  correlationId: string;
}

/** Sends poison / permanently failed messages straight to the integration's DLQ. */
export interface DeadLetterQueue {
  send(message: QueueMessageRef, reason: DeadLetterReason): Promise<void>;
}

/** Keeps a message invisible until a given time so it does not burn its receive count (circuit open / throttled). */
export interface MessageParker {
  /** Makes the message visible again after `delaySeconds` (SQS caps this at 12 hours). */
  park(message: QueueMessageRef, delaySeconds: number): Promise<void>;
  /**
   * Sends a copy of the message to its own queue, visible after `delaySeconds` (SQS caps a delay at 15 minutes),
   * with `attributes` as its string message attributes: a fresh receive count for a message that only waited. The
   * caller then lets the original be deleted.
   */
  requeue(message: QueueMessageRef, delaySeconds: number, attributes: Record<string, string>): Promise<void>;
}

/**
 * The queue ports of a runtime that never delivers an SQS message (the circuit prober, a workflow task): they exist
 * for the runtime's type and reject with `reason` if ever reached.
 */
export function noQueue(reason: string): DeadLetterQueue & MessageParker {
  const refuse = () => Promise.reject(new Error(reason));
  return { send: refuse, park: refuse, requeue: refuse };
}
