/**
 * An in-memory HubOperator for the CLI and transport tests: two integrations, a DLQ each, circuits, a ledger and
 * workflow executions, with the port's errors (unknown integration, redrive refused while the circuit is not closed).
 * Its integrations and provider are made up (alpha, beta-two, gamma): the CLI works on whatever names the hub has, so
 * nothing here follows the shipped catalog.
 */
import type { CircuitState } from '../../../functions/runtime/circuit-store.js';
import type { LedgerEntry } from '../../../functions/runtime/sync-ledger.js';
import {
  CircuitNotClosedError,
  type CircuitView,
  type DeadLetterMessage,
  type HubDescription,
  type HubOperator,
  NotFoundError,
  OperatorError,
  type LedgerShowOptions,
  type RedriveOptions,
  type RedriveResult,
  type SendRequest,
  type SendResult,
  UnknownCircuitError,
  UnknownIntegrationError,
  type WorkflowExecutionView,
  type WorkflowListRequest,
  type WorkflowRedriveResult,
  type WebhookActivity,
  type WebhookDeliveryView,
  type WebhookListRequest,
  type WebhookRejectionView,
  type CircuitCredentials,
  type RefreshTokenSetResult,
  webhookIntegrationsToList,
} from '../../../local/cli/hub-operator.js';
import { refreshTokenSecretOf } from '../../../local/cli/refresh-token-operation.js';

/** A closed circuit as the breaker reports a never-used one. */
export function circuitView(circuit: string, state: CircuitState = 'closed', extra: Partial<CircuitView> = {}): CircuitView {
  return {
    circuit,
    circuitId: circuit,
    state,
    effectiveState: state,
    version: 0,
    updatedAt: 0,
    consecutiveFailures: 0,
    window: { calls: 0, failures: 0, windowMs: 60_000 },
    reopenCount: 0,
    nextBreakMs: 30_000,
    probe: { successes: 0, successesToClose: 1 },
    usingFallback: false,
    ...extra,
  };
}

/** The fake; its fields are open so tests can arrange and inspect state. */
export class FakeHubOperator implements HubOperator {
  readonly integrations = ['alpha', 'beta-two'];
  /** Where `send` says an event of each detail type was routed; other detail types match no rule. */
  readonly routes = new Map<string, string[]>([['AlphaRequested', ['alpha']]]);
  readonly sent: SendRequest[] = [];
  readonly dlqs = new Map<string, DeadLetterMessage[]>([
    [
      'alpha',
      [
        {
          messageId: 'm-1',
          body: '{"itemId":"i-1","version":2}',
          attributes: { errorClass: 'ValidationFailed', errorMessage: 'name: Required', correlationId: 'c-1', failedAt: '2026-11-20T10:00:00.000Z' },
          sentAt: Date.parse('2026-11-20T09:59:59Z'),
          receiveCount: 1,
        },
      ],
    ],
    ['beta-two', []],
  ]);
  readonly queues = new Map<string, DeadLetterMessage[]>([
    ['alpha', []],
    ['beta-two', []],
  ]);
  /** The integrations' circuits and a workflow provider's (gamma). */
  readonly circuits = new Map<string, CircuitView>([...this.integrations, 'gamma'].map((name) => [name, circuitView(name)]));
  readonly ledger: LedgerEntry[] = [
    {
      entityType: 'item',
      entityId: 'i-1',
      integration: 'alpha',
      status: 'synced',
      entityVersion: 2,
      attempts: 1,
      externalId: 'ext-9',
      correlationId: 'c-1',
      createdAt: '2026-11-20T09:00:00.000Z',
      updatedAt: '2026-11-20T09:00:01.000Z',
      syncedAt: '2026-11-20T09:00:01.000Z',
      log: [
        { at: '2026-11-20T09:00:00.000Z', event: 'syncing', version: 2, attempt: 1, correlationId: 'c-1' },
        { at: '2026-11-20T09:00:01.000Z', event: 'synced', version: 2, attempt: 1, correlationId: 'c-1', externalId: 'ext-9' },
      ],
    },
  ];
  readonly executions: WorkflowExecutionView[] = [
    { workflow: 'order-saga', name: 'order-o-1', status: 'FAILED', startedAt: Date.parse('2026-11-20T08:00:00Z'), stoppedAt: Date.parse('2026-11-20T08:01:00Z'), executionArn: 'arn:local:execution:order-saga:order-o-1', error: 'CompensationFailed' },
    { workflow: 'contact-sync', name: 'sync-1', status: 'SUCCEEDED', startedAt: Date.parse('2026-11-20T07:00:00Z'), stoppedAt: Date.parse('2026-11-20T07:00:05Z'), executionArn: 'arn:local:execution:contact-sync:sync-1' },
  ];
  /** The integrations whose webhooks the hub receives (alpha only: beta-two declares none). */
  readonly webhookIntegrations = ['alpha'];
  /** Newest first, as the port answers. */
  readonly webhookDeliveries: WebhookDeliveryView[] = [
    { webhookId: 'msg_2', integration: 'alpha', type: 'thing.updated', outcome: 'duplicate', at: Date.parse('2026-11-20T10:05:00Z'), forwardedAt: Date.parse('2026-11-20T10:00:00Z') },
    { webhookId: 'msg_2', integration: 'alpha', type: 'thing.updated', outcome: 'accepted', at: Date.parse('2026-11-20T10:00:00Z'), forwardedAt: Date.parse('2026-11-20T10:00:00Z') },
  ];
  readonly webhookRejections: WebhookRejectionView[] = [
    { at: Date.parse('2026-11-20T10:06:00Z'), integration: 'alpha', reason: 'bad_signature', detail: 'no signature matches any of the signing secrets', webhookId: 'msg_3' },
    { at: Date.parse('2026-11-20T10:04:00Z'), integration: 'alpha', reason: 'not_json', detail: 'the body is not JSON' },
  ];
  /** Every call, as `method(args)`, for assertions on what the CLI asked. */
  readonly calls: { method: string; args: unknown[] }[] = [];

  async describe(): Promise<HubDescription> {
    this.record('describe');
    return { target: 'local', location: 'http://127.0.0.1:0', integrations: this.integrations, workflows: ['order-saga', 'contact-sync'], circuits: [...this.circuits.keys()] };
  }

  async send(request: SendRequest): Promise<SendResult> {
    this.record('send', request);
    this.sent.push(request);
    return { eventId: `e-${this.sent.length}`, routedTo: this.routes.get(request.detailType) ?? [] };
  }

  async dlqList(integration: string, options?: { readonly limit?: number }): Promise<DeadLetterMessage[]> {
    this.record('dlqList', integration, options);
    return this.dlq(integration).slice(0, options?.limit ?? 10);
  }

  async dlqShow(integration: string, messageId: string): Promise<DeadLetterMessage> {
    this.record('dlqShow', integration, messageId);
    const message = this.dlq(integration).find((m) => m.messageId === messageId);
    if (!message) throw new NotFoundError(`Message ${messageId} is not in the DLQ of '${integration}'`);
    return message;
  }

  async dlqRedrive(integration: string, options?: RedriveOptions): Promise<RedriveResult> {
    this.record('dlqRedrive', integration, options);
    const messages = this.dlq(integration);
    const circuit = this.circuits.get(integration)!;
    if (!options?.force && circuit.state !== 'closed') throw new CircuitNotClosedError(integration, circuit.state);
    const moved = messages.splice(0);
    this.queues.get(integration)!.push(...moved);
    return { integration, messages: moved.length };
  }

  async circuitStatus(circuit?: string): Promise<CircuitView[]> {
    this.record('circuitStatus', circuit);
    if (circuit === undefined) return [...this.circuits.values()];
    this.knownCircuit(circuit);
    return [this.circuits.get(circuit)!];
  }

  async circuitIsolate(circuit: string, reason: string): Promise<CircuitView> {
    this.record('circuitIsolate', circuit, reason);
    this.knownCircuit(circuit);
    const view = circuitView(circuit, 'isolated', { stateReason: reason, stateSince: Date.parse('2026-11-20T11:00:00Z'), version: 1 });
    this.circuits.set(circuit, view);
    return view;
  }

  async circuitReset(circuit: string): Promise<CircuitView> {
    this.record('circuitReset', circuit);
    this.knownCircuit(circuit);
    const view = circuitView(circuit, 'closed', { version: 2 });
    this.circuits.set(circuit, view);
    return view;
  }

  async ledgerShow(entityType: string, entityId: string, options?: LedgerShowOptions): Promise<LedgerEntry[]> {
    this.record('ledgerShow', entityType, entityId, options);
    return this.ledger.filter((e) => e.entityType === entityType && e.entityId === entityId);
  }

  async workflowsList(request?: WorkflowListRequest): Promise<WorkflowExecutionView[]> {
    this.record('workflowsList', request);
    if (request?.workflow !== undefined && !['order-saga', 'contact-sync'].includes(request.workflow)) {
      throw new OperatorError(`Unknown workflow '${request.workflow}'. The hub has: order-saga, contact-sync`);
    }
    return this.executions
      .filter((e) => (request?.workflow === undefined || e.workflow === request.workflow) && (request?.status === undefined || e.status === request.status))
      .slice(0, request?.limit ?? 50);
  }

  async workflowsRedrive(execution: string): Promise<WorkflowRedriveResult> {
    this.record('workflowsRedrive', execution);
    const found = this.executions.find((e) => e.executionArn === execution || e.name === execution);
    if (!found) throw new NotFoundError(`No execution '${execution}'`);
    if (found.status === 'SUCCEEDED') return { executionArn: found.executionArn, redriven: false, detail: 'it succeeded' };
    return { executionArn: found.executionArn, redriven: true };
  }

  async webhooksList(request?: WebhookListRequest): Promise<WebhookActivity> {
    this.record('webhooksList', request);
    const integrations = webhookIntegrationsToList(request?.integration, this.webhookIntegrations, this.integrations);
    const limit = request?.limit ?? 20;
    const since = request?.since ?? 0;
    // The window is not applied: the fixtures' times are fixed, the CLI's window is relative to now.
    const inScope = <T extends { integration: string }>(items: T[]) => items.filter((i) => integrations.includes(i.integration)).slice(0, limit);
    return { integrations, since, deliveries: request?.rejectedOnly ? [] : inScope(this.webhookDeliveries), rejections: inScope(this.webhookRejections) };
  }

  /** How the circuits authenticate: gamma takes a refresh token. */
  readonly credentials = new Map<string, CircuitCredentials>([
    ['alpha', { scheme: 'api_key', secretName: 'hub/alpha' }],
    ['beta-two', { scheme: 'none' }],
    ['gamma', { scheme: 'oauth2_refresh_token', secretName: 'hub/gamma' }],
  ]);
  /** Secret name → the refresh token written. */
  readonly refreshTokens = new Map<string, string>();

  async authSetRefreshToken(circuit: string, refreshToken: string): Promise<RefreshTokenSetResult> {
    this.record('authSetRefreshToken', circuit, refreshToken);
    const secret = refreshTokenSecretOf(circuit, this.credentials, [...this.circuits.keys()]);
    this.refreshTokens.set(secret, refreshToken);
    return { circuit, secret, unsetFields: [], replacedRefusedToken: true, droppedAccessToken: true, circuitAfter: this.circuits.get(circuit)! };
  }

  private dlq(integration: string): DeadLetterMessage[] {
    this.known(integration);
    return this.dlqs.get(integration)!;
  }

  private known(integration: string): void {
    if (!this.integrations.includes(integration)) throw new UnknownIntegrationError(integration, this.integrations);
  }

  private knownCircuit(circuit: string): void {
    if (!this.circuits.has(circuit)) throw new UnknownCircuitError(circuit, [...this.circuits.keys()]);
  }

  private record(method: string, ...args: unknown[]): void {
    this.calls.push({ method, args });
  }
}
