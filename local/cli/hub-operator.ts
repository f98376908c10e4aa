/**
 * What an operator can do to a running hub, as one port with two implementations: the deployed hub on AWS
 * (`aws-hub-operator.ts`, SDK calls) and the local hub of `npm start` (the hub implements it in-process and serves it
 * on loopback with `local-hub-http.ts`, whose `LocalHubClient` calls it). The CLI (`npm run hub -- …`) is written
 * against this port only, so every command behaves the same in both places.
 *
 * Every method throws an `OperatorError` (or a subclass) with a message an operator can act on; an unknown
 * integration is an `UnknownIntegrationError` and an unknown circuit an `UnknownCircuitError`, listing the known ones.
 */
import type { CircuitStatus } from '../../functions/runtime/circuit-breaker.js';
import type { LedgerEntry } from '../../functions/runtime/sync-ledger.js';
import type { AuthScheme } from '../../functions/runtime/auth-config.js';

/** Which hub an operator talks to. */
export type HubTarget = 'local' | 'aws';

/** What the hub is made of (names only). */
export interface HubDescription {
  readonly target: HubTarget;
  /** Where it is: the local hub's URL, or `<stack> in <region>`. */
  readonly location: string;
  readonly integrations: readonly string[];
  readonly workflows: readonly string[];
  /** The circuits: each integration's and each standalone workflow provider's (inventory, shipping, …). */
  readonly circuits: readonly string[];
}

/** The source of an event sent without one. */
export const DEFAULT_EVENT_SOURCE = 'integration-hub.cli';

/** An event put on the hub's bus. */
export interface SendRequest {
  readonly detailType: string;
  readonly detail: unknown;
  /** @default 'integration-hub.cli' */
  readonly source?: string;
}

/** What the bus did with an event. */
export interface SendResult {
  readonly eventId: string;
  /** Local hub only: the queues / state machines its rules delivered it to (AWS does not say). */
  readonly routedTo?: readonly string[];
}

/** One message of an integration's DLQ. */
export interface DeadLetterMessage {
  readonly messageId: string;
  readonly body: string;
  /** The reason the runtime attached (errorClass, errorMessage, correlationId, sourceMessageId, failedAt, …). */
  readonly attributes: Readonly<Record<string, string>>;
  /** When it was first sent to its source queue (epoch ms). */
  readonly sentAt: number;
  /** Receives in the DLQ so far (listing is a receive on SQS). */
  readonly receiveCount: number;
}

/** Options of a DLQ redrive. */
export interface RedriveOptions {
  /** Redrive even though the circuit is not closed. */
  readonly force?: boolean;
  /**
   * AWS: the move task's MaxNumberOfMessagesPerSecond (1–500), to spare a provider that just recovered; the local
   * hub refuses it (it moves the messages at once). @default the rate SQS chooses
   */
  readonly maxMessagesPerSecond?: number;
}

/** The move task's rate limit SQS accepts (StartMessageMoveTask MaxNumberOfMessagesPerSecond). */
export const MAX_REDRIVE_MESSAGES_PER_SECOND = 500;

/** Options of `ledger show`. */
export interface LedgerShowOptions {
  /** Read the audit log pages archived out of the entries too (one more Query per entry that has any). */
  readonly fullLog?: boolean;
}

/** What a redrive did. */
export interface RedriveResult {
  readonly integration: string;
  /** AWS: the StartMessageMoveTask handle; local: absent (the move is immediate). */
  readonly taskHandle?: string;
  /** Local: messages moved back to the source queue; AWS: ApproximateNumberOfMessages of the DLQ at the start. */
  readonly messages: number;
}

/** A circuit as the CLI shows it; `circuit` is its id: the integration's or the workflow provider's name. */
export type CircuitView = CircuitStatus & { readonly circuit: string };

/** One workflow execution. */
export interface WorkflowExecutionView {
  readonly workflow: string;
  readonly name: string;
  readonly status: 'RUNNING' | 'SUCCEEDED' | 'FAILED' | 'TIMED_OUT' | 'ABORTED' | 'PENDING_REDRIVE';
  readonly startedAt: number;
  readonly stoppedAt?: number;
  /** The execution ARN on AWS; the local hub's fake ARN locally. */
  readonly executionArn: string;
  /** Error name of a failed execution, when known. */
  readonly error?: string;
}

/** Filters of `workflows list`. */
export interface WorkflowListRequest {
  readonly workflow?: string;
  readonly status?: WorkflowExecutionView['status'];
  /** @default 50 */
  readonly limit?: number;
}

/** What `workflows redrive` did. */
export interface WorkflowRedriveResult {
  readonly executionArn: string;
  readonly redriven: boolean;
  readonly detail?: string;
}

/** One webhook delivery the hub accepted: forwarded to the bus now, or acknowledged as a replay of a forwarded one. */
export interface WebhookDeliveryView {
  /** The sender's id of the delivery ('-' for a record stored before the records named it). */
  readonly webhookId: string;
  readonly integration: string;
  /** The provider's event type (the forwarded event's detail-type). */
  readonly type: string;
  /** `accepted`: put on the bus; `duplicate`: a replay, acknowledged and not forwarded again. */
  readonly outcome: 'accepted' | 'duplicate';
  /** When it was received (epoch ms): for an accepted delivery, when it was forwarded. */
  readonly at: number;
  /** When it was put on the bus (epoch ms), when known: for a duplicate, the first time. */
  readonly forwardedAt?: number;
}

/** One webhook delivery the hub refused. Never holds a secret or a signature. */
export interface WebhookRejectionView {
  /** When (epoch ms). */
  readonly at: number;
  readonly integration: string;
  /** `bad_signature`, `timestamp_out_of_tolerance`, `missing_headers`, `not_json`, `body_too_large`, `id_reused`, … */
  readonly reason: string;
  /** Why, in words. */
  readonly detail?: string;
  /** The id the request claimed (unverified), when it claimed one. */
  readonly webhookId?: string;
}

/** Filters of `webhooks`. */
export interface WebhookListRequest {
  /** Only this integration's. @default every integration that declares webhooks */
  readonly integration?: string;
  /** At most this many deliveries and this many rejections. @default 20 */
  readonly limit?: number;
  /** Only the rejections. */
  readonly rejectedOnly?: boolean;
  /** Only what happened at or after this time (epoch ms). @default one hour ago */
  readonly since?: number;
}

/** Recent webhook activity, newest first. */
export interface WebhookActivity {
  /** The integrations listed (the one asked for, or every one that declares webhooks). */
  readonly integrations: readonly string[];
  /** The window's start (epoch ms). */
  readonly since: number;
  /** Empty when only the rejections were asked for. */
  readonly deliveries: readonly WebhookDeliveryView[];
  readonly rejections: readonly WebhookRejectionView[];
  /** Set when the hub could not read the whole window (a bounded read): what was left out. */
  readonly partial?: string;
}

/** How far back `webhooks` looks by default. */
export const DEFAULT_WEBHOOK_WINDOW_MS = 60 * 60 * 1000;

/** Deliveries and rejections `webhooks` lists by default (each). */
export const DEFAULT_WEBHOOK_LIST_LIMIT = 20;

/** How a circuit's provider is authenticated, and the secret its functions read (absent for auth scheme none). */
export interface CircuitCredentials {
  readonly scheme: AuthScheme;
  readonly secretName?: string;
}

/** What `auth set-refresh-token` did. Never holds the token. */
export interface RefreshTokenSetResult {
  readonly circuit: string;
  /** The secret written: its name or ARN. */
  readonly secret: string;
  /** Fields the secret lacks or still holds the deploy placeholder in (clientId, clientSecret): set them too. */
  readonly unsetFields: readonly string[];
  /** The secret held the refresh token the provider had refused. */
  readonly replacedRefusedToken: boolean;
  /** The secret held an access token of the old grant, now dropped. */
  readonly droppedAccessToken: boolean;
  /** The circuit right after the write (the prober closes a "re-authorization needed" isolation on its next run). */
  readonly circuitAfter: CircuitView;
}

/** The operations; see the file comment. */
export interface HubOperator {
  describe(): Promise<HubDescription>;
  send(request: SendRequest): Promise<SendResult>;
  dlqList(integration: string, options?: { readonly limit?: number }): Promise<DeadLetterMessage[]>;
  dlqShow(integration: string, messageId: string): Promise<DeadLetterMessage>;
  /** Moves the DLQ's messages back to the integration's queue. Refused (CircuitNotClosedError) while its circuit is not closed unless `force`. */
  dlqRedrive(integration: string, options?: RedriveOptions): Promise<RedriveResult>;
  /** Every circuit (each integration's and each standalone workflow provider's), or one. */
  circuitStatus(circuit?: string): Promise<CircuitView[]>;
  circuitIsolate(circuit: string, reason: string): Promise<CircuitView>;
  circuitReset(circuit: string): Promise<CircuitView>;
  /**
   * The entity's ledger rows, one per integration (empty when the hub never saw it), with the inline audit log, or
   * with the whole log (the archived pages too) when `fullLog`.
   */
  ledgerShow(entityType: string, entityId: string, options?: LedgerShowOptions): Promise<LedgerEntry[]>;
  workflowsList(request?: WorkflowListRequest): Promise<WorkflowExecutionView[]>;
  /** Redrives a failed execution (by ARN or, locally, by name). */
  workflowsRedrive(execution: string): Promise<WorkflowRedriveResult>;
  /**
   * Recent webhook deliveries and rejections, newest first. An integration that is not the hub's is an
   * UnknownIntegrationError; one that declares no webhooks an OperatorError naming those that do.
   */
  webhooksList(request?: WebhookListRequest): Promise<WebhookActivity>;
  /**
   * Writes a new refresh token into the secret of a circuit of auth scheme `oauth2_refresh_token` (the customer
   * re-authorized the hub), dropping the old grant's access token, under the refresh lease. A circuit of another
   * scheme is an OperatorError naming the circuits that take one.
   */
  authSetRefreshToken(circuit: string, refreshToken: string): Promise<RefreshTokenSetResult>;
}

/** Base of the operator's errors: the message is what the CLI prints. */
export class OperatorError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
  }
}

/** The integration is not one of the hub's. */
export class UnknownIntegrationError extends OperatorError {
  constructor(
    readonly integration: string,
    readonly known: readonly string[],
  ) {
    super(`Unknown integration '${integration}'. The hub has: ${known.join(', ') || '(none)'}`);
  }
}

/** The circuit is not one of the hub's. */
export class UnknownCircuitError extends OperatorError {
  constructor(
    readonly circuit: string,
    readonly known: readonly string[],
  ) {
    super(`Unknown circuit '${circuit}'. The hub has: ${known.join(', ') || '(none)'}`);
  }
}

/** A DLQ redrive was refused because the circuit is not closed. */
export class CircuitNotClosedError extends OperatorError {
  constructor(
    readonly integration: string,
    readonly state: string,
  ) {
    super(`The circuit of '${integration}' is ${state}: redriving now would send the messages into the same failure. Wait until it closes, or pass --force.`);
  }
}

/** The hub's integrations that declare webhooks, or an error saying why `integration` cannot be listed. */
export function webhookIntegrationsToList(integration: string | undefined, withWebhooks: readonly string[], all: readonly string[]): string[] {
  if (withWebhooks.length === 0) throw new OperatorError('The hub receives no webhooks: no integration of its catalog declares `webhooks` (docs/webhooks.md)');
  if (integration === undefined) return [...withWebhooks];
  if (withWebhooks.includes(integration)) return [integration];
  if (!all.includes(integration)) throw new UnknownIntegrationError(integration, all);
  throw new OperatorError(`Integration '${integration}' declares no webhooks. Integrations with webhooks: ${withWebhooks.join(', ')}`);
}

/** Something the operator asked for does not exist (a DLQ message, an execution). */
export class NotFoundError extends OperatorError {}
