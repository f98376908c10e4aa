import type { HttpClient } from './http-client.js';
import type { Schema } from './schema.js';
import type { RecordLogger } from './telemetry.js';

/** What an adapter's `send` returns: JSON only (it is stored for idempotent replays); `externalId` goes to the ledger. */
export interface SendResult {
  /** The provider's id of what was created or updated. */
  externalId?: string;
  [field: string]: unknown;
}

/**
 * Turns a payload of one `schemaVersion` into the payload of the next one, `schemaVersion` included. Pure: it may run
 * again on every redelivery, so it must not call out or depend on the time.
 */
export type Upcaster = (payload: Readonly<Record<string, unknown>>) => Record<string, unknown>;

/** What `send` gets besides the validated input. */
export interface SendContext {
  /** Base URL, credentials, timeout, retries, circuit breaker, correlation and idempotency headers built in. */
  http: HttpClient;
  /** The logger of this record (correlation id, integration, idempotency key already attached). */
  logger: RecordLogger;
  correlationId: string;
  /** The namespaced idempotency key, also sent as the `Idempotency-Key` header. */
  idempotencyKey: string;
  /** EventBridge detail-type, when the event came through the bus. */
  detailType?: string;
}

/** What `probe` gets: an HTTP client with the same credentials, without retries. */
export interface ProbeContext {
  http: HttpClient;
  logger: RecordLogger;
}

/**
 * An adapter for one third party: a small declaration in functions/integrations/<adapter>.ts, named by its file. The
 * runtime supplies every reliability concern (validation, idempotency, circuit breaking, credentials, retries,
 * ledger, DLQ, telemetry). One adapter may serve several catalog integrations (two accounts of one CRM), each
 * deployed with its own name, queue, secret and circuit.
 */
export interface AdapterDefinition<TInput, TResult extends SendResult = SendResult> {
  /** The schema of the event at `schemaVersion`, checked after upcasting; a message that fails it is poison (DLQ, never retried). */
  input: Schema<TInput>;
  /** The event's current `schemaVersion` (a whole number in a string), the one `input` describes. @default '1' */
  schemaVersion?: string;
  /** Per older `schemaVersion`, the step to the next one; chained up to `schemaVersion` before `input` validates. @default {} */
  upcasters?: Readonly<Record<string, Upcaster>>;
  /** Versions `input` validates as they arrive, without upcasting (payloads without the field are '1'). @default [schemaVersion] */
  supportedVersions?: readonly string[];
  /**
   * The business key of the operation. Must be a function of the entity's type, id and version: the same
   * operation always yields the same key, a different operation a different key.
   */
  idempotencyKey(input: TInput): string;
  /** The ledger entity the event is about; `version` (default 0) orders updates: older ones are skipped. */
  entity(input: TInput): { type: string; id: string; version?: number };
  /** Calls the provider. Throw (or let the http client throw) an IntegrationError to fail. */
  send(input: TInput, context: SendContext): Promise<TResult>;
  /** A cheap health call, used by the prober while the circuit is open. */
  probe?(context: ProbeContext): Promise<void>;
  /**
   * The n-th example event (n = 0, 1, …) as a producer sends it (an EventBridge event's `detail`, or an SQS body):
   * valid input at the current `schemaVersion`, a different operation for every n. `npm start` publishes examples of
   * every catalog integration, tests send them, the adapter guide shows one; a test checks each validates.
   */
  example(n: number): unknown;
}

/**
 * What the runtime executes: an adapter bound to one integration of the catalog, or a workflow task's declaration.
 * `name` is the integration's (circuit id, ledger integration,
 * metric dimension and idempotency namespace), so two integrations of one adapter never share a circuit or a key.
 */
export interface IntegrationDefinition<TInput, TResult extends SendResult = SendResult> extends Omit<AdapterDefinition<TInput, TResult>, 'example'> {
  /** The integration's lower-kebab-case name. */
  name: string;
  /** The adapter's examples; a workflow task, which is not an adapter, has none. */
  example?(n: number): unknown;
}
