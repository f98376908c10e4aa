/**
 * The operator port on the local hub of `npm start`, in-process: the same operations an operator has on AWS
 * (`aws-hub-operator.ts`), done on the hub's own parts — its bus, its {@link LocalQueue}s, the shared circuits table
 * through each integration's breaker, the ledger and the Step Functions executions. `local-hub-http.ts` serves it on
 * loopback for the CLI.
 *
 * Where AWS differs, the local hub does what AWS would show an operator:
 * - listing a DLQ is a receive, as on SQS (there is no peek): each message listed once more counts one more receive
 *   in the DLQ (`receiveCount`), and no message is ever taken away from the queue (see {@link LocalHubOperator.dlqList});
 * - a DLQ redrive is SQS's message move task done at once: every message is sent back to the source queue with its
 *   body and attributes, and only then deleted from the DLQ, so nothing is lost;
 * - a circuit isolate / reset writes the circuits table; the hub's controller sees the change on its next scan of the
 *   table (≈250 ms, AWS: the table's stream) and pauses or resumes the integration's event source mapping;
 * - recent webhook deliveries and rejections come from the endpoints' in-memory list of their last outcomes
 *   (local-webhooks.ts), where AWS reads the delivery table and the functions' logs.
 */
import type { CircuitBreaker } from '../../functions/runtime/circuit-breaker.js';
import type { LedgerEntry } from '../../functions/runtime/sync-ledger.js';
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
  DEFAULT_EVENT_SOURCE,
  DEFAULT_WEBHOOK_LIST_LIMIT,
  DEFAULT_WEBHOOK_WINDOW_MS,
  type WebhookActivity,
  type WebhookDeliveryView,
  type WebhookListRequest,
  type WebhookRejectionView,
  webhookIntegrationsToList,
  type RefreshTokenSetResult,
} from '../cli/hub-operator.js';
import { setRefreshToken } from '../cli/refresh-token-operation.js';
import { type LocalQueue, type ReceivedMessage, SQS_LIMITS } from '../local-queue.js';
import type { HubExecution, HubIntegration, HubWorkflow, LocalHub } from './local-hub.js';

/** Messages `dlq list` returns when the caller gives no limit (as on AWS). */
export const DEFAULT_DLQ_LIST_LIMIT = 10;

/** Executions `workflows list` returns when the caller gives no limit (the port's default). */
export const DEFAULT_WORKFLOW_LIST_LIMIT = 50;

/** Every status of the port's {@link WorkflowExecutionView} (the local hub only produces RUNNING, SUCCEEDED, FAILED). */
export const WORKFLOW_STATUSES: readonly WorkflowExecutionView['status'][] = ['RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'ABORTED', 'PENDING_REDRIVE'];

/**
 * How long messages taken by a listing or a redrive are invisible at most. Both give them back (or delete them) in
 * the same synchronous step, so no consumer ever sees them invisible; the value only matters if that step throws.
 */
const HOLD_SECONDS = 30;

/** {@link HubOperator} on a running {@link LocalHub}, in the hub's process. */
export class LocalHubOperator implements HubOperator {
  readonly #location: () => string;

  constructor(
    /** The running hub. */
    readonly hub: LocalHub,
    /** Where the hub is, as `describe()` tells it: its URL, or a function giving it once the server listens. @default 'in-process' */
    location: string | (() => string) = 'in-process',
  ) {
    this.#location = typeof location === 'function' ? location : () => location;
  }

  async describe(): Promise<HubDescription> {
    return {
      target: 'local',
      location: this.#location(),
      integrations: [...this.hub.integrations.keys()],
      workflows: [...this.hub.workflows.keys()],
      circuits: this.hub.circuitIds,
    };
  }

  /** PutEvents on the hub's bus. An event no rule matched still succeeds, as on EventBridge: `routedTo` is then empty. */
  async send(request: SendRequest): Promise<SendResult> {
    if (!request.detailType) throw new OperatorError('An event needs a detail type');
    const [result] = this.hub.putEvents([{ source: request.source ?? DEFAULT_EVENT_SOURCE, detailType: request.detailType, detail: request.detail }]);
    if (!result) throw new OperatorError('The local bus accepted no event');
    return { eventId: result.eventId, routedTo: result.routedTo };
  }

  /**
   * Up to `limit` (default 10) messages of the integration's DLQ, oldest available first. Listing is a receive, as on
   * SQS: each listed message's `receiveCount` grows by one (the DLQ has no redrive policy, so the count has no
   * effect). The messages are received and made visible again (ChangeMessageVisibility 0) in one synchronous step,
   * so they are never hidden from a consumer or a redrive, and — unlike repeated receives with a visibility timeout
   * of 0 — one listing sees each message once.
   */
  async dlqList(integration: string, options: { readonly limit?: number } = {}): Promise<DeadLetterMessage[]> {
    const limit = options.limit ?? DEFAULT_DLQ_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new OperatorError(`The limit must be a positive integer, got ${limit}`);
    return this.#sample(this.#integration(integration).deadLetterQueue, limit);
  }

  /** One DLQ message by id (a listing of the whole DLQ: the same receive-count note as {@link dlqList}). */
  async dlqShow(integration: string, messageId: string): Promise<DeadLetterMessage> {
    const { deadLetterQueue } = this.#integration(integration);
    const messages = this.#sample(deadLetterQueue, Number.POSITIVE_INFINITY);
    const found = messages.find((message) => message.messageId === messageId);
    if (found) return found;
    const inFlight = deadLetterQueue.stats().inFlight;
    throw new NotFoundError(
      `Message ${messageId} is not in the DLQ of '${integration}' (it has ${plural(messages.length, 'message')}` +
        `${inFlight > 0 ? ` visible and ${inFlight} in flight` : ''}; see \`dlq list\`)`,
    );
  }

  /**
   * Moves every message of the integration's DLQ back to its queue, as SQS's message move task: body and message
   * attributes kept (the reason attributes too; the runtime ignores them), each message sent to the source queue
   * before it is deleted from the DLQ. Refused while the circuit is not closed unless `force`: the messages would
   * only be parked or fail into the DLQ again. A message that fails again comes back to the DLQ under a new id.
   */
  async dlqRedrive(integration: string, options: RedriveOptions = {}): Promise<RedriveResult> {
    const { name, queue, deadLetterQueue } = this.#integration(integration);
    if (options.maxMessagesPerSecond !== undefined) {
      // Moving at a rate would let a message that fails again return to the DLQ mid-move and be moved twice.
      throw new OperatorError('The local hub moves a DLQ back at once: a redrive rate applies on AWS only');
    }
    if (!options.force) {
      const state = await this.#store(`read the circuit of '${name}'`, () => this.hub.circuitState(name));
      if (state !== 'closed') throw new CircuitNotClosedError(name, state);
    }
    // Synchronous from the first receive to the last delete: a message that fails again cannot reach the DLQ during
    // the move, so the loop ends and never moves a message twice.
    let moved = 0;
    for (let batch = this.#receive(deadLetterQueue); batch.length > 0; batch = this.#receive(deadLetterQueue)) {
      for (const message of batch) {
        try {
          queue.send({ body: message.body, attributes: message.attributes });
        } catch (error) {
          // Give back what was received and not moved, then report: the DLQ keeps them.
          for (const rest of batch.slice(batch.indexOf(message))) release(deadLetterQueue, rest);
          throw new OperatorError(`Redrive of '${name}' stopped after ${plural(moved, 'message')}: could not send message ${message.messageId} to its queue: ${messageOf(error)}`, {
            cause: error,
          });
        }
        deadLetterQueue.delete(message.receiptHandle);
        moved += 1;
      }
    }
    return { integration: name, messages: moved };
  }

  async circuitStatus(circuit?: string): Promise<CircuitView[]> {
    const circuits = circuit === undefined ? this.hub.circuitIds.map((name) => this.#circuit(name)) : [this.#circuit(circuit)];
    return Promise.all(
      circuits.map(async ({ name, breaker }) => ({ ...(await this.#store(`read the circuit of '${name}'`, () => breaker.status())), circuit: name })),
    );
  }

  /** Forces the circuit open for every instance; the hub's controller then pauses the integration's mapping (if it is one). */
  async circuitIsolate(circuit: string, reason: string): Promise<CircuitView> {
    const { name, breaker } = this.#circuit(circuit);
    if (!reason.trim()) throw new OperatorError('Isolating a circuit needs a reason (it is shown in the circuit status and the logs)');
    const status = await this.#store(`isolate the circuit of '${name}'`, () => breaker.isolate(reason));
    return { ...status, circuit: name };
  }

  /** Closes the circuit and clears its counters; the hub's controller then resumes the integration's mapping (if it is one). */
  async circuitReset(circuit: string): Promise<CircuitView> {
    const { name, breaker } = this.#circuit(circuit);
    const status = await this.#store(`reset the circuit of '${name}'`, () => breaker.reset());
    return { ...status, circuit: name };
  }

  async ledgerShow(entityType: string, entityId: string, options: LedgerShowOptions = {}): Promise<LedgerEntry[]> {
    const ledger = this.hub.ledger;
    return this.#store(`read the ledger of ${entityType} ${entityId}`, () => (options.fullLog ? ledger.entriesWithFullLog(entityType, entityId) : ledger.entries(entityType, entityId)));
  }

  /** The hub's executions, newest first, filtered by workflow and status. */
  async workflowsList(request: WorkflowListRequest = {}): Promise<WorkflowExecutionView[]> {
    const limit = request.limit ?? DEFAULT_WORKFLOW_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new OperatorError(`The limit must be a positive integer, got ${limit}`);
    if (request.workflow !== undefined) this.#workflow(request.workflow);
    if (request.status !== undefined && !WORKFLOW_STATUSES.includes(request.status)) {
      throw new OperatorError(`Unknown execution status '${request.status}'. Statuses: ${WORKFLOW_STATUSES.join(', ')}`);
    }
    return this.hub.executions
      .filter((e) => (request.workflow === undefined || e.workflow === request.workflow) && (request.status === undefined || e.status === request.status))
      .map((execution, index) => ({ execution, index }))
      // Newest first; executions started in the same millisecond keep the reverse of their start order.
      .sort((a, b) => b.execution.startedAt - a.execution.startedAt || b.index - a.index)
      .slice(0, limit)
      .map(({ execution }) => this.#view(execution));
  }

  /**
   * Redrives a FAILED execution, given by name or by ARN: it runs again under the same name; the steps that
   * completed return their stored result from their idempotency records without calling the provider, so the run
   * goes on from the step that failed (the effect of Step Functions' RedriveExecution).
   */
  async workflowsRedrive(execution: string): Promise<WorkflowRedriveResult> {
    const found = this.#execution(execution);
    const executionArn = this.#arnOf(found);
    try {
      this.hub.redriveExecution(found.workflow, found.name);
    } catch (error) {
      throw new OperatorError(`Execution ${executionArn} cannot be redriven: ${messageOf(error)}`, { cause: error });
    }
    return {
      executionArn,
      redriven: true,
      detail:
        `continuing '${found.name}' of ${found.workflow} from the state that failed, with that state's input (redrive ${found.redrives}); ` +
        'the states that succeeded are not run again, and an execution that ended in a Fail state fails again at once',
    };
  }

  /** The webhook endpoints' last outcomes (local-webhooks.ts keeps 500), newest first, filtered and bounded. */
  async webhooksList(request: WebhookListRequest = {}): Promise<WebhookActivity> {
    const limit = request.limit ?? DEFAULT_WEBHOOK_LIST_LIMIT;
    if (!Number.isInteger(limit) || limit < 1) throw new OperatorError(`The limit must be a positive integer, got ${limit}`);
    const server = this.hub.webhooks;
    const integrations = webhookIntegrationsToList(request.integration, server?.integrations ?? [], [...this.hub.integrations.keys()]);
    const since = request.since ?? Date.now() - DEFAULT_WEBHOOK_WINDOW_MS;
    const deliveries: WebhookDeliveryView[] = [];
    const rejections: WebhookRejectionView[] = [];
    for (const outcome of server?.recent() ?? []) {
      const at = outcome.receivedAt.getTime();
      if (at < since || !integrations.includes(outcome.provider)) continue;
      if (outcome.kind === 'rejected') {
        if (rejections.length < limit) {
          rejections.push({
            at,
            integration: outcome.provider,
            reason: outcome.reason,
            detail: outcome.detail,
            ...(outcome.webhookId !== undefined ? { webhookId: outcome.webhookId } : {}),
          });
        }
      } else if (!request.rejectedOnly && deliveries.length < limit) {
        const forwardedAt = outcome.forwardedAt === undefined ? undefined : Date.parse(outcome.forwardedAt);
        deliveries.push({
          webhookId: outcome.webhookId,
          integration: outcome.provider,
          type: outcome.type,
          outcome: outcome.kind,
          // An accepted delivery's time is its forward's, as on AWS (the delivery record's forwardedAt).
          at: outcome.kind === 'accepted' && forwardedAt !== undefined ? forwardedAt : at,
          ...(forwardedAt !== undefined ? { forwardedAt } : {}),
        });
      }
    }
    return { integrations, since, deliveries, rejections };
  }

  /**
   * Writes the new refresh token into the circuit's secret in the hub's Secrets Manager, under the refresh lease in
   * its circuits table; the hub's prober re-authorizes on its next run (local/cli/refresh-token-operation.ts).
   */
  async authSetRefreshToken(circuit: string, refreshToken: string): Promise<RefreshTokenSetResult> {
    return setRefreshToken(circuit, refreshToken, {
      ...this.hub.refreshTokenStore(),
      credentials: this.hub.circuitCredentials,
      circuits: this.hub.circuitIds,
      translate: (error, action) => new OperatorError(`Could not ${action}: ${messageOf(error)}`, { cause: error }),
      status: async (name) => (await this.circuitStatus(name))[0]!,
    });
  }

  // ---------------------------------------------------------------- internals

  #integration(name: string): HubIntegration {
    const integration = this.hub.integration(name);
    if (!integration) throw new UnknownIntegrationError(name, [...this.hub.integrations.keys()]);
    return integration;
  }

  #circuit(name: string): { name: string; breaker: CircuitBreaker } {
    const breaker = this.hub.circuitBreaker(name);
    if (!breaker) throw new UnknownCircuitError(name, this.hub.circuitIds);
    return { name, breaker };
  }

  #workflow(name: string): HubWorkflow {
    const workflow = this.hub.workflows.get(name);
    if (!workflow) throw new OperatorError(`Unknown workflow '${name}'. The hub has: ${[...this.hub.workflows.keys()].join(', ') || '(none)'}`);
    return workflow;
  }

  /** An execution by ARN, or by name across every workflow (a name used by several needs the ARN). */
  #execution(execution: string): HubExecution {
    if (execution.startsWith('arn:')) {
      const found = this.hub.executions.find((e) => this.#arnOf(e) === execution);
      if (!found) throw new NotFoundError(`No execution ${execution} in this hub (see \`workflows list\`)`);
      return found;
    }
    const found = this.hub.executions.filter((e) => e.name === execution);
    if (found.length === 0) {
      throw new NotFoundError(`No execution named '${execution}' in ${[...this.hub.workflows.keys()].join(', ') || 'any workflow'}: see \`workflows list\``);
    }
    if (found.length > 1) throw new OperatorError(`Several workflows have an execution named '${execution}': pass its ARN\n  ${found.map((e) => this.#arnOf(e)).join('\n  ')}`);
    return found[0]!;
  }

  #arnOf(execution: HubExecution): string {
    return this.hub.executionArn(this.#workflow(execution.workflow), execution.name);
  }

  #view(execution: HubExecution): WorkflowExecutionView {
    const error = execution.status === 'FAILED' ? execution.error : undefined;
    return {
      workflow: execution.workflow,
      name: execution.name,
      status: execution.status,
      startedAt: execution.startedAt,
      ...(execution.stoppedAt !== undefined ? { stoppedAt: execution.stoppedAt } : {}),
      executionArn: this.#arnOf(execution),
      ...(error !== undefined ? { error } : {}),
    };
  }

  /**
   * Receives up to `limit` visible messages and makes them visible again, all synchronously: a peek built from
   * SQS's own calls (ReceiveMessage, then ChangeMessageVisibility 0).
   */
  #sample(queue: LocalQueue, limit: number): DeadLetterMessage[] {
    const received: ReceivedMessage[] = [];
    try {
      while (received.length < limit) {
        const batch = this.#receive(queue, Math.min(SQS_LIMITS.maxReceiveMessages, limit - received.length));
        if (batch.length === 0) break;
        received.push(...batch);
      }
    } finally {
      for (const message of received) release(queue, message);
    }
    return received.map(toDeadLetterMessage);
  }

  #receive(queue: LocalQueue, max: number = SQS_LIMITS.maxReceiveMessages): ReceivedMessage[] {
    return queue.receive(max, { visibilityTimeoutSeconds: HOLD_SECONDS });
  }

  /** Runs a call on the hub's tables, translating a failure into an OperatorError naming what was attempted. */
  async #store<T>(what: string, call: () => Promise<T>): Promise<T> {
    try {
      return await call();
    } catch (error) {
      throw new OperatorError(`Could not ${what}: ${messageOf(error)}`, { cause: error });
    }
  }
}

/** Makes a received message visible again at once. */
function release(queue: LocalQueue, message: ReceivedMessage): void {
  queue.changeVisibility(message.receiptHandle, 0);
}

function toDeadLetterMessage(message: ReceivedMessage): DeadLetterMessage {
  return {
    messageId: message.messageId,
    body: message.body,
    attributes: { ...message.attributes },
    sentAt: message.sentTimestamp,
    receiveCount: message.receiveCount,
  };
}

function plural(count: number, noun: string): string {
  return `${count} ${noun}${count === 1 ? '' : 's'}`;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
