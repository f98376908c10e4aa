/**
 * The order-fulfilment saga's task Lambdas: one entry file, one export per state (the CDK binds
 * `handler: '<export>'`). Forward steps return their `SagaSteps` value; compensations return a
 * {@link CompensationResult}. Every task takes a {@link SagaTaskInput} and runs on the integration runtime
 * (define-workflow-task.ts): one effect per execution and step (Idempotency-Key `<task>:<execution name>`), the
 * provider's shared circuit, a ledger row per step under `order#<orderId>`, typed errors for the state machine.
 *
 * | export            | task (ledger sk)   | provider (circuit) | auth     | call                                  | refusals → Integration.Permanent |
 * |-------------------|--------------------|--------------------|----------|---------------------------------------|-----------------------------------|
 * | reserveInventory  | reserve-inventory  | inventory          | api_key  | POST /reservations                    | 409 InsufficientStock, 400        |
 * | chargePayment     | charge-payment     | payments           | bearer   | POST /charges                         | failed/canceled PaymentDeclined   |
 * | createShipment    | create-shipment    | shipping           | basic    | POST /shipments                       | 422 AddressUndeliverable          |
 * | sendConfirmation  | send-confirmation  | email              | bearer   | POST /messages                        | 422 InvalidRecipient              |
 * | cancelShipment    | cancel-shipment    | shipping           | basic    | [GET /shipments?idempotencyKey=]      | 404 → already compensated         |
 * |                   |                    |                    |          | POST /shipments/:id/cancel            |                                   |
 * | refundPayment     | refund-payment     | payments           | bearer   | [GET /charges?idempotencyKey=]        | 404 → already compensated; RefundFailed |
 * |                   |                    |                    |          | POST /refunds                         |                                   |
 * | releaseInventory  | release-inventory  | inventory          | api_key  | [GET /reservations?idempotencyKey=]   | 404 → already compensated         |
 * |                   |                    |                    |          | POST /reservations/:id/release        |                                   |
 *
 * A compensation undoes what its forward step did: the id in `steps` when the step completed; otherwise the step
 * failed, perhaps after acting (a timeout, a lost or unusable answer, a crash after the call), so the provider is
 * asked for the record made with the step's Idempotency-Key (the GET in brackets, {@link forwardEffect}). When the
 * provider holds none that still needs undoing, the compensation answers `{ compensated: false, reason }` with the
 * reason, and makes no undoing call.
 *
 * Environment of each task Lambda (see define-workflow-task.ts): BASE_URL and SECRET_NAME of ITS provider,
 * LEDGER_TABLE_NAME, CIRCUITS_TABLE_NAME; optional CIRCUIT_SETTINGS (use the provider's catalog circuit settings, so
 * every caller of one circuit agrees), HTTP_TIMEOUT_MS, HTTP_MAX_ATTEMPTS, HTTP_BASE_DELAY_MS, HTTP_MAX_DELAY_MS,
 * HTTP_SAFETY_MARGIN_MS, SECRET_MAX_AGE_SECONDS, IDEMPOTENCY_TTL_SECONDS. Secrets: inventory `{ apiKey }`,
 * payments `{ token }`, shipping `{ username, password }`, email `{ token }`.
 */
import * as z from 'zod/mini';
import type { ProbeContext, SendContext, SendResult } from '../runtime/integration-definition.js';
import { operationIdempotencyKey } from '../runtime/operation-executor.js';
import type { Schema } from '../runtime/schema.js';
import { payments, toMinorUnits, toPaymentStatus } from '../integrations/payments.js';
import { defineWorkflowTask, type WorkflowTask } from './define-workflow-task.js';
import { orderPlacedSchema } from './order-placed.js';
import { BusinessRefusalError, refusalsOf, unlessNotFound } from './workflow-errors.js';
import type { CompensationResult, SagaSteps, SagaTaskInput } from './workflow-contract.js';

// ---------------------------------------------------------------- input

const id = () => z.string().check(z.minLength(1));

const sagaStepsSchema = z.object({
  reserveInventory: z.optional(z.object({ reservationId: id() })),
  chargePayment: z.optional(z.object({ chargeId: id(), status: z.string() })),
  createShipment: z.optional(z.object({ shipmentId: id(), trackingNumber: z.string() })),
  sendConfirmation: z.optional(z.object({ messageId: id() })),
});

/** Every saga task's input: `{ order, steps, executionName, retryCount }`. */
export const sagaTaskInputSchema = z.object({
  order: orderPlacedSchema,
  steps: z._default(sagaStepsSchema, {}),
  executionName: z.string().check(z.minLength(1), z.maxLength(80)),
  retryCount: z._default(z.int().check(z.nonnegative()), 0),
});

/** A validated saga task input. */
export type SagaInput = z.infer<typeof sagaTaskInputSchema>;

// The schema's output must stay assignable to the contract's type (a compile-time check).
const _contract: (input: SagaInput) => SagaTaskInput = (input) => input;
void _contract;

// ---------------------------------------------------------------- providers

/** The saga's providers, by role (lib/workflow-catalog.ts names the catalog provider of each). */
type SagaProvider = 'inventory' | 'payments' | 'shipping' | 'email';

const reservationCreated = z.object({ id: id() });
const reservationReleased = z.object({ id: id(), status: z.string() });
const reservationList = z.object({ data: z.array(z.object({ id: id(), status: z.string() })) });
const gatewayAnswer = z.object({ id: id(), status: z.string() });
const chargeList = z.object({ data: z.array(gatewayAnswer) });
const shipmentCreated = z.object({ id: id(), trackingNumber: z.string() });
const shipmentCancelled = z.object({ id: id(), status: z.string() });
const shipmentList = z.object({ data: z.array(z.object({ id: id(), status: z.string() })) });
const messageQueued = z.object({ id: id() });

/*
 * Each call names the schema of its 2xx answer: the HTTP client checks it inside the attempt, so an unusable answer is
 * a MalformedResponseError counted against the provider's circuit and retried with the same key (the effect may have
 * happened), never a success followed by a failure (functions/runtime/http-client.ts RequestOptions.schema).
 */

const COMPENSATION_REASON = 'order_cancelled';
const NOT_FOUND = 'not found at the provider: treated as already compensated';

// ---------------------------------------------------------------- task factory

/** What each step declares; the saga's common parts (input, entity, key, probe, output) are added. */
interface SagaStep<TResult extends SendResult & object> {
  name: string;
  provider: SagaProvider;
  send(input: SagaInput, context: SendContext): Promise<TResult>;
}

/** A compensation's stored result: its return value plus `externalId` for the ledger. */
type CompensationSendResult = SendResult & CompensationResult;

/** The stored result minus `externalId` (kept for the ledger) is the step's return value. */
type WithoutExternalId<T> = Omit<T, 'externalId'>;

function sagaTask<TResult extends SendResult & object>(
  step: SagaStep<TResult>,
): WorkflowTask<SagaInput, TResult, WithoutExternalId<TResult> | CompensationResult> {
  return defineWorkflowTask({
    name: step.name,
    provider: step.provider,
    input: sagaTaskInputSchema,
    entity: (input) => ({ type: 'order', id: input.order.orderId }),
    idempotencyKey: (input) => input.executionName,
    send: step.send,
    output: (result) => {
      const { externalId: _externalId, ...value } = result;
      return value;
    },
    probe: async ({ http }: ProbeContext) => {
      await http.get('/health');
    },
  });
}

// ---------------------------------------------------------------- forward steps

/** Reserves the order's items: `{ reservationId }`. */
const reserveInventoryTask = sagaTask({
  name: 'reserve-inventory',
  provider: 'inventory',
  async send({ order }, { http }): Promise<{ externalId: string } & NonNullable<SagaSteps['reserveInventory']>> {
    const response = await refusalsOf(
      () =>
        http.post('/reservations', { orderId: order.orderId, items: order.items.map(({ sku, quantity }) => ({ sku, quantity })) }, { schema: reservationCreated }),
      { 409: 'InsufficientStock' },
    );
    const { id } = response.body;
    return { externalId: id, reservationId: id };
  },
});

/** Charges the order's amount: `{ chargeId, status }` (completed, or processing while the gateway decides). */
const chargePaymentTask = sagaTask({
  name: 'charge-payment',
  provider: 'payments',
  async send({ order }, { http }): Promise<{ externalId: string } & NonNullable<SagaSteps['chargePayment']>> {
    const currency = order.currency.toUpperCase();
    const response = await http.post(
      '/charges',
      { amount: toMinorUnits(order.amount, currency), currency, reference: order.orderId, customerId: order.customerId },
      { schema: gatewayAnswer },
    );
    const charge = response.body;
    const status = toPaymentStatus(charge.status);
    if (status === 'failed' || status === 'cancelled') {
      throw new BusinessRefusalError('PaymentDeclined', `Payment for order ${order.orderId} was declined: charge ${charge.id} is ${charge.status}`);
    }
    return { externalId: charge.id, chargeId: charge.id, status };
  },
});

/** Creates the shipment: `{ shipmentId, trackingNumber }`. */
const createShipmentTask = sagaTask({
  name: 'create-shipment',
  provider: 'shipping',
  async send({ order }, { http }): Promise<{ externalId: string } & NonNullable<SagaSteps['createShipment']>> {
    const { name, line1, line2, city, postalCode, country } = order.shippingAddress;
    const response = await refusalsOf(
      () =>
        http.post(
          '/shipments',
          {
            orderId: order.orderId,
            address: { name, line1, ...(line2 !== undefined ? { line2 } : {}), city, postalCode, country },
            items: order.items.map(({ sku, quantity }) => ({ sku, quantity })),
          },
          { schema: shipmentCreated },
        ),
      { 422: 'AddressUndeliverable' },
    );
    const shipment = response.body;
    return { externalId: shipment.id, shipmentId: shipment.id, trackingNumber: shipment.trackingNumber };
  },
});

/** E-mails the order confirmation: `{ messageId }`. */
const sendConfirmationTask = sagaTask({
  name: 'send-confirmation',
  provider: 'email',
  async send({ order, steps }, { http }): Promise<{ externalId: string } & NonNullable<SagaSteps['sendConfirmation']>> {
    const response = await refusalsOf(
      () =>
        http.post(
          '/messages',
          {
            to: order.email,
            template: 'order-confirmation',
            data: {
              orderId: order.orderId,
              amount: String(order.amount),
              currency: order.currency.toUpperCase(),
              ...(steps.createShipment ? { trackingNumber: steps.createShipment.trackingNumber } : {}),
            },
          },
          { schema: messageQueued },
        ),
      { 422: 'InvalidRecipient' },
    );
    const { id } = response.body;
    return { externalId: id, messageId: id };
  },
});

// ---------------------------------------------------------------- compensations

/** A provider's record as its lookup route lists it (`GET <path>?idempotencyKey=` → `{ data: [...] }`). */
interface ProviderRecord {
  id: string;
  status: string;
}

/** Where a compensation finds what its forward step did. */
interface ForwardEffectSource<TRecord extends ProviderRecord> {
  /** The forward step: its Idempotency-Key is `<task>:<execution name>` (functions/runtime/operation-executor.ts). */
  step: { readonly name: string };
  /** The id in the forward step's result (`steps.<step>`): set when the step completed. */
  recorded: string | undefined;
  /** The provider's lookup route, answering `{ data: [record, ...] }` for `?idempotencyKey=<key>`. */
  lookup: string;
  schema: Schema<{ data: TRecord[] }>;
  /** Whether a record found still needs undoing (a released reservation, a cancelled shipment, a declined charge: no). */
  undoable(record: TRecord): boolean;
  /** Who answers and what it makes, for the reason: 'the gateway', 'charge'. */
  provider: string;
  noun: string;
}

/** The id to undo, or the compensation's answer when there is nothing to undo. */
type ForwardEffect = { found: true; id: string } | { found: false; result: CompensationSendResult };

/**
 * The forward step's result, or the provider's record found by the step's Idempotency-Key. Without a result in
 * `steps` the step failed after its retries, and the failure may be ambiguous: it may have acted at the provider and
 * lost the answer. The provider is asked, not guessed; a request replayed under the key created nothing new, so at
 * most one record answers.
 */
async function forwardEffect<TRecord extends ProviderRecord>(
  { executionName }: SagaInput,
  http: SendContext['http'],
  source: ForwardEffectSource<TRecord>,
): Promise<ForwardEffect> {
  if (source.recorded !== undefined) return { found: true, id: source.recorded };
  const key = operationIdempotencyKey(source.step.name, executionName);
  const response = await http.get(source.lookup, { query: { idempotencyKey: key }, schema: source.schema });
  const records = response.body.data;
  const undoable = records.find((record) => source.undoable(record));
  if (undoable) return { found: true, id: undoable.id };
  const reason =
    records.length === 0
      ? `${source.provider} made no ${source.noun} for this order (asked by its Idempotency-Key)`
      : `nothing to undo: ${source.provider}'s ${source.noun} ${records.map((record) => `${record.id} is ${record.status}`).join(', ')} (asked by its Idempotency-Key)`;
  return { found: false, result: { externalId: key, compensated: false, reason } };
}

/**
 * Cancels the shipment created by `createShipment`. Also entered when CreateShipment itself failed: the carrier is
 * asked by the step's Idempotency-Key whether it created one.
 */
const cancelShipmentTask = sagaTask({
  name: 'cancel-shipment',
  provider: 'shipping',
  async send(input, { http }): Promise<CompensationSendResult> {
    const shipment = await forwardEffect(input, http, {
      step: createShipmentTask,
      recorded: input.steps.createShipment?.shipmentId,
      lookup: '/shipments',
      schema: shipmentList,
      undoable: (found) => found.status !== 'cancelled',
      provider: 'the carrier',
      noun: 'shipment',
    });
    if (!shipment.found) return shipment.result;
    const shipmentId = shipment.id;
    return unlessNotFound<CompensationSendResult>(
      async () => {
        const response = await http.post(`/shipments/${encodeURIComponent(shipmentId)}/cancel`, { reason: COMPENSATION_REASON }, { schema: shipmentCancelled });
        const cancelled = response.body;
        return { externalId: shipmentId, compensated: true, shipmentId, status: cancelled.status };
      },
      () => ({ externalId: shipmentId, compensated: true, shipmentId, reason: NOT_FOUND }),
    );
  },
});

/**
 * Refunds the charge made by `chargePayment` (what remains refundable of it). Also entered when ChargePayment itself
 * failed: a failure after its retries may be ambiguous (a timeout, a lost or unusable answer, a crash after the
 * gateway charged), so the gateway is asked by the charge's Idempotency-Key whether it charged, rather than guessed.
 */
const refundPaymentTask = sagaTask({
  name: 'refund-payment',
  provider: 'payments',
  async send(input, { http }): Promise<CompensationSendResult> {
    const charge = await forwardEffect(input, http, {
      step: chargePaymentTask,
      recorded: input.steps.chargePayment?.chargeId,
      lookup: '/charges',
      schema: chargeList,
      undoable: (found) => ['completed', 'processing'].includes(toPaymentStatus(found.status)),
      provider: 'the gateway',
      noun: 'charge',
    });
    if (!charge.found) return charge.result;
    const refunded = charge.id;
    return unlessNotFound<CompensationSendResult>(
      async () => {
        const response = await http.post('/refunds', { chargeId: refunded, reason: COMPENSATION_REASON }, { schema: gatewayAnswer });
        const refund = response.body;
        if (refund.status === 'failed') {
          throw new BusinessRefusalError('RefundFailed', `Refund ${refund.id} of charge ${refunded} failed at the gateway`);
        }
        return { externalId: refund.id, compensated: true, chargeId: refunded, refundId: refund.id, status: refund.status };
      },
      () => ({ externalId: refunded, compensated: true, chargeId: refunded, reason: NOT_FOUND }),
    );
  },
});

/**
 * Releases the reservation made by `reserveInventory`. Also entered when ReserveInventory itself failed: the
 * warehouse is asked by the step's Idempotency-Key whether it reserved.
 */
const releaseInventoryTask = sagaTask({
  name: 'release-inventory',
  provider: 'inventory',
  async send(input, { http }): Promise<CompensationSendResult> {
    const reservation = await forwardEffect(input, http, {
      step: reserveInventoryTask,
      recorded: input.steps.reserveInventory?.reservationId,
      lookup: '/reservations',
      schema: reservationList,
      undoable: (found) => found.status !== 'released',
      provider: 'the warehouse',
      noun: 'reservation',
    });
    if (!reservation.found) return reservation.result;
    const reservationId = reservation.id;
    return unlessNotFound<CompensationSendResult>(
      async () => {
        const response = await http.post(`/reservations/${encodeURIComponent(reservationId)}/release`, { reason: COMPENSATION_REASON }, {
          schema: reservationReleased,
        });
        const released = response.body;
        return { externalId: reservationId, compensated: true, reservationId, status: released.status };
      },
      () => ({ externalId: reservationId, compensated: true, reservationId, reason: NOT_FOUND }),
    );
  },
});

// ---------------------------------------------------------------- Lambda entries

/** Every saga task by its export name (tests and local Step Functions runs build runtimes from these). */
export const ORDER_SAGA_TASKS = {
  reserveInventory: reserveInventoryTask,
  chargePayment: chargePaymentTask,
  createShipment: createShipmentTask,
  sendConfirmation: sendConfirmationTask,
  cancelShipment: cancelShipmentTask,
  refundPayment: refundPaymentTask,
  releaseInventory: releaseInventoryTask,
} as const;

/** Export name of a saga task handler. */
export type OrderSagaHandlerName = keyof typeof ORDER_SAGA_TASKS;

export const reserveInventory = reserveInventoryTask.handler;
export const chargePayment = chargePaymentTask.handler;
export const createShipment = createShipmentTask.handler;
export const sendConfirmation = sendConfirmationTask.handler;
export const cancelShipment = cancelShipmentTask.handler;
export const refundPayment = refundPaymentTask.handler;
export const releaseInventory = releaseInventoryTask.handler;
