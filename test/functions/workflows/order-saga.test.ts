import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { payments } from '../../../functions/integrations/payments.js';
import { ORDER_SAGA_TASKS } from '../../../functions/workflows/order-saga.js';
import { TASK_ERROR_NAMES, type OrderPlaced, type SagaSteps, type SagaTaskInput } from '../../../functions/workflows/workflow-contract.js';
import { lambdaContext, sqsEvent } from '../../../local/lambda-events.js';
import { createHubTables, createLocalIntegration } from '../../../local/local-integration.js';
import type { LocalSecretsManager } from '../../../local/local-secrets-manager.js';
import { SecretsManagerSecretSource } from '../../../functions/runtime/secrets-manager-secret-source.js';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { postAs } from '../../local/sandbox/helpers.js';
import { buildTask, providerSecrets, rejectionOf, type TaskEnvironment } from './workflow-test-kit.js';
import { catalogIntegration } from '../../../lib/catalog.js';

let dynamo: LocalDynamo;
let sandbox: Sandbox;
let secretsManager: LocalSecretsManager;
let tables: { ledger: string; circuits: string };
let tableSeq = 0;
let env: TaskEnvironment;

beforeAll(async () => {
  [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 11 })]);
});
afterAll(async () => {
  await Promise.all([dynamo.close(), sandbox.close()]);
});

beforeEach(async () => {
  sandbox.reset();
  tableSeq += 1;
  tables = { ledger: `saga-ledger-${tableSeq}`, circuits: `saga-circuits-${tableSeq}` };
  await createHubTables(dynamo, tables);
  secretsManager = providerSecrets(sandbox);
  env = { dynamo, tables, sandbox, secretsManager };
});

function order(orderId: string, overrides: Partial<OrderPlaced> = {}): OrderPlaced {
  return {
    orderId,
    customerId: 'cust-1',
    email: 'ana@example.com',
    items: [
      { sku: 'SKU-1', quantity: 2 },
      { sku: 'SKU-2', quantity: 1 },
    ],
    amount: '49.90',
    currency: 'eur',
    shippingAddress: { name: 'Ana Lima', line1: 'Rua Augusta 1', city: 'Lisboa', postalCode: '1100-053', country: 'PT' },
    ...overrides,
  };
}

function sagaInput(o: OrderPlaced, steps: SagaSteps = {}, retryCount = 0): SagaTaskInput {
  return { order: o, steps, executionName: o.orderId, retryCount };
}

const ctx = () => lambdaContext('saga-task', 30_000);

/** Runs the four forward steps like the state machine, accumulating `steps`. */
async function runForward(o: OrderPlaced): Promise<SagaSteps> {
  const steps: SagaSteps = {};
  steps.reserveInventory = (await buildTask(ORDER_SAGA_TASKS.reserveInventory, env).runtime.handle(sagaInput(o, steps), ctx())) as SagaSteps['reserveInventory'];
  steps.chargePayment = (await buildTask(ORDER_SAGA_TASKS.chargePayment, env).runtime.handle(sagaInput(o, steps), ctx())) as SagaSteps['chargePayment'];
  steps.createShipment = (await buildTask(ORDER_SAGA_TASKS.createShipment, env).runtime.handle(sagaInput(o, steps), ctx())) as SagaSteps['createShipment'];
  steps.sendConfirmation = (await buildTask(ORDER_SAGA_TASKS.sendConfirmation, env).runtime.handle(sagaInput(o, steps), ctx())) as SagaSteps['sendConfirmation'];
  return steps;
}

describe('order saga tasks: forward steps', () => {
  it('reserves, charges, ships and confirms an order, each step returning its SagaSteps value', async () => {
    const o = order('ord-happy');
    const steps = await runForward(o);

    const reservation = sandbox.inventory.reservations()[0];
    expect(steps.reserveInventory).toEqual({ reservationId: reservation?.id });
    expect(reservation).toMatchObject({ orderId: 'ord-happy', status: 'reserved', items: o.items });

    const charge = sandbox.payments.charges()[0];
    expect(steps.chargePayment).toEqual({ chargeId: charge?.id, status: 'completed' });
    expect(charge).toMatchObject({ amount: 4990, currency: 'EUR', reference: 'ord-happy', customerId: 'cust-1' });

    const shipment = sandbox.shipping.shipments()[0];
    expect(steps.createShipment).toEqual({ shipmentId: shipment?.id, trackingNumber: shipment?.trackingNumber });
    expect(shipment).toMatchObject({ orderId: 'ord-happy', status: 'created', address: { postalCode: '1100-053', country: 'PT' } });

    const message = sandbox.email.messages()[0];
    expect(steps.sendConfirmation).toEqual({ messageId: message?.id });
    expect(message).toMatchObject({ to: 'ana@example.com', template: 'order-confirmation' });
  });

  it('sends the execution name and the step as Idempotency-Key and the execution name as correlation id', async () => {
    await buildTask(ORDER_SAGA_TASKS.reserveInventory, env).runtime.handle(sagaInput(order('ord-headers')), ctx());

    const [call] = sandbox.journal.entries({ provider: 'inventory', path: '/reservations' });
    expect(call).toMatchObject({ idempotencyKey: 'reserve-inventory:ord-headers', correlationId: 'ord-headers', status: 201 });
  });

  it('runs without a Lambda context, as a local Step Functions task handler', async () => {
    const result = await buildTask(ORDER_SAGA_TASKS.reserveInventory, env).runtime.handle(sagaInput(order('ord-local')));
    expect(result).toEqual({ reservationId: sandbox.inventory.reservations()[0]?.id });
  });

  it('writes one ledger row per executed step under order#<orderId>, with status and external id', async () => {
    const o = order('ord-ledger');
    const steps = await runForward(o);
    await buildTask(ORDER_SAGA_TASKS.refundPayment, env).runtime.handle(sagaInput(o, steps), ctx());

    const { ledger } = buildTask(ORDER_SAGA_TASKS.reserveInventory, env);
    const entries = await ledger.entries('order', 'ord-ledger');
    const byTask = Object.fromEntries(entries.map((e) => [e.integration, e]));
    expect(Object.keys(byTask).sort()).toEqual(['charge-payment', 'create-shipment', 'refund-payment', 'reserve-inventory', 'send-confirmation']);
    expect(byTask['reserve-inventory']).toMatchObject({ status: 'synced', externalId: steps.reserveInventory?.reservationId, correlationId: 'ord-ledger' });
    expect(byTask['charge-payment']).toMatchObject({ status: 'synced', externalId: steps.chargePayment?.chargeId });
    expect(byTask['create-shipment']).toMatchObject({ status: 'synced', externalId: steps.createShipment?.shipmentId });
    expect(byTask['send-confirmation']).toMatchObject({ status: 'synced', externalId: steps.sendConfirmation?.messageId });
    expect(byTask['refund-payment']).toMatchObject({ status: 'synced', externalId: sandbox.payments.refunds()[0]?.id });
  });
});

describe('order saga tasks: idempotency', () => {
  it('makes one side effect when the same execution runs a step twice, and returns the stored result', async () => {
    const o = order('ord-twice');
    const first = buildTask(ORDER_SAGA_TASKS.chargePayment, env);
    const result = await first.runtime.handle(sagaInput(o, { reserveInventory: { reservationId: 'res_1' } }), ctx());
    // Another container, a retry of the same state (retryCount 1): same operation, stored result.
    const second = buildTask(ORDER_SAGA_TASKS.chargePayment, env);
    const again = await second.runtime.handle(sagaInput(o, { reserveInventory: { reservationId: 'res_1' } }, 1), ctx());

    expect(again).toEqual(result);
    expect(sandbox.sideEffects('payments')).toHaveLength(1);
    expect(sandbox.journal.count({ provider: 'payments', path: '/charges' })).toBe(1);
    expect(second.metrics.total('IdempotentReplay')).toBe(1);
  });

  it('makes one side effect per step for every forward step and compensation run twice', async () => {
    const o = order('ord-all-twice');
    const steps = await runForward(o);
    await runForward(o);
    for (const compensation of ['cancelShipment', 'refundPayment', 'releaseInventory'] as const) {
      const first = await buildTask(ORDER_SAGA_TASKS[compensation], env).runtime.handle(sagaInput(o, steps), ctx());
      const second = await buildTask(ORDER_SAGA_TASKS[compensation], env).runtime.handle(sagaInput(o, steps, 3), ctx());
      expect(second).toEqual(first);
    }

    expect(sandbox.inventory.reservations()).toHaveLength(1);
    expect(sandbox.payments.charges()).toHaveLength(1);
    expect(sandbox.payments.refunds()).toHaveLength(1);
    expect(sandbox.shipping.shipments()).toHaveLength(1);
    expect(sandbox.email.messages()).toHaveLength(1);
    expect(sandbox.journal.count({ provider: 'inventory', route: '/reservations/:id/release' })).toBe(1);
    expect(sandbox.journal.count({ provider: 'shipping', route: '/shipments/:id/cancel' })).toBe(1);
  });
});

describe('order saga tasks: failures', () => {
  it('fails with Integration.Permanent (InsufficientStock) when the warehouse lacks stock, and records sync_failed', async () => {
    sandbox.inventory.setStock('SKU-1', 1);
    const local = buildTask(ORDER_SAGA_TASKS.reserveInventory, env);
    const error = await rejectionOf(local.runtime.handle(sagaInput(order('ord-stock')), ctx()));

    expect(error.name).toBe(TASK_ERROR_NAMES.permanent);
    expect(error.errorClass).toBe('InsufficientStock');
    expect(sandbox.journal.count({ provider: 'inventory', path: '/reservations' })).toBe(1);
    const [entry] = await local.ledger.entries('order', 'ord-stock');
    expect(entry).toMatchObject({ integration: 'reserve-inventory', status: 'sync_failed', lastErrorClass: 'InsufficientStock' });
  });

  it('fails with Integration.Permanent (PaymentDeclined) when the gateway declines or cancels the charge', async () => {
    for (const [chargeStatus, orderId] of [['failed', 'ord-declined'], ['canceled', 'ord-canceled']] as const) {
      sandbox.setFaults('payments', { chargeStatus });
      const error = await rejectionOf(buildTask(ORDER_SAGA_TASKS.chargePayment, env).runtime.handle(sagaInput(order(orderId)), ctx()));
      expect(error.name).toBe(TASK_ERROR_NAMES.permanent);
      expect(error.errorClass).toBe('PaymentDeclined');
    }
  });

  it('fails with Integration.Permanent (AddressUndeliverable) for an address the carrier refuses', async () => {
    const o = order('ord-address', { shippingAddress: { name: 'Ana', line1: 'Nowhere 1', city: 'Void', postalCode: '00000', country: 'PT' } });
    const error = await rejectionOf(buildTask(ORDER_SAGA_TASKS.createShipment, env).runtime.handle(sagaInput(o), ctx()));

    expect(error.name).toBe(TASK_ERROR_NAMES.permanent);
    expect(error.errorClass).toBe('AddressUndeliverable');
    expect(sandbox.shipping.shipments()).toHaveLength(0);
  });

  it('fails with Integration.Permanent (InvalidRecipient) when the e-mail provider refuses the recipient', async () => {
    const o = order('ord-recipient', { email: 'ana@invalid.example' });
    const error = await rejectionOf(buildTask(ORDER_SAGA_TASKS.sendConfirmation, env).runtime.handle(sagaInput(o), ctx()));

    expect(error.name).toBe(TASK_ERROR_NAMES.permanent);
    expect(error.errorClass).toBe('InvalidRecipient');
  });

  it('fails with Integration.Permanent without any call when the task input is invalid', async () => {
    const bad = { ...sagaInput(order('ord-bad')), order: { ...order('ord-bad'), items: [] } };
    const error = await rejectionOf(buildTask(ORDER_SAGA_TASKS.reserveInventory, env).runtime.handle(bad, ctx()));
    const noName = await rejectionOf(buildTask(ORDER_SAGA_TASKS.reserveInventory, env).runtime.handle({ order: order('ord-bad') }, ctx()));

    expect(error.name).toBe(TASK_ERROR_NAMES.permanent);
    expect(error.errorClass).toBe('ValidationFailed');
    expect(error.message).toContain('order.items');
    expect(noName.name).toBe(TASK_ERROR_NAMES.permanent);
    expect(sandbox.journal.count({ provider: 'inventory' })).toBe(0);
  });

  it('fails with Integration.Transient after the in-process retries on 503, and a later retry succeeds once', async () => {
    sandbox.setFaults('shipping', { status: 503 });
    const o = order('ord-503');
    const local = buildTask(ORDER_SAGA_TASKS.createShipment, env, { http: { maxAttempts: 3 } });
    const error = await rejectionOf(local.runtime.handle(sagaInput(o), ctx()));

    expect(error.name).toBe(TASK_ERROR_NAMES.transient);
    expect(error.errorClass).toBe('ServerError');
    expect(sandbox.journal.count({ provider: 'shipping', path: '/shipments' })).toBe(3);
    const [pending] = await local.ledger.entries('order', 'ord-503');
    expect(pending).toMatchObject({ status: 'syncing', lastErrorClass: 'ServerError' });

    sandbox.clearFaults('shipping');
    const result = await local.runtime.handle(sagaInput(o, {}, 1), ctx());
    expect(result).toEqual({ shipmentId: sandbox.shipping.shipments()[0]?.id, trackingNumber: expect.any(String) });
    expect(sandbox.shipping.shipments()).toHaveLength(1);
  });

  it('fails with Integration.CircuitOpen, without calling, while the provider circuit is open', async () => {
    sandbox.setFaults('inventory', { status: 503 });
    const local = buildTask(ORDER_SAGA_TASKS.reserveInventory, env, { circuit: { failureThreshold: 2, breakMs: 60_000 }, http: { maxAttempts: 2 } });
    await rejectionOf(local.runtime.handle(sagaInput(order('ord-trip')), ctx()));
    const circuit = await local.breaker.status();
    expect(circuit).toMatchObject({ circuitId: 'inventory', state: 'open' });
    const callsBefore = sandbox.journal.count({ provider: 'inventory' });

    const error = await rejectionOf(local.runtime.handle(sagaInput(order('ord-open')), ctx()));

    expect(error.name).toBe(TASK_ERROR_NAMES.circuitOpen);
    expect(error.errorClass).toBe('CircuitOpen');
    expect(error.retryAt).toBe(new Date(circuit.openUntil ?? 0).toISOString());
    expect(error.message).toContain(`retry after ${error.retryAt}`);
    expect(sandbox.journal.count({ provider: 'inventory' })).toBe(callsBefore);
    expect(local.metrics.total('CircuitRejected')).toBe(1);
  });

  it('shares the payments circuit with the payments SQS integration: its outage stops the saga step too', async () => {
    sandbox.setFaults('payments', { status: 503 });
    const integration = createLocalIntegration(payments, {
      name: 'payments',
      auth: catalogIntegration('payments').auth,
      dynamo,
      tables,
      baseUrl: sandbox.providerUrl('payments'),
      secrets: new SecretsManagerSecretSource({ client: secretsManager.client }),
      secretName: 'payments/credentials',
      circuit: { failureThreshold: 2, breakMs: 60_000 },
      settings: { recordConcurrency: 1, http: { maxAttempts: 1, baseDelayMs: 1, maxDelayMs: 2 } },
    });
    const charge = (id: string) => ({ body: JSON.stringify({ action: 'charge', paymentId: id, orderId: id, customerId: 'c', amount: '1.00', currency: 'EUR' }) });
    await integration.runtime.handleBatch(sqsEvent([charge('p1'), charge('p2')]), lambdaContext('payments'));
    expect((await integration.breaker.status()).state).toBe('open');
    const callsBefore = sandbox.journal.count({ provider: 'payments' });

    const error = await rejectionOf(buildTask(ORDER_SAGA_TASKS.chargePayment, env).runtime.handle(sagaInput(order('ord-shared')), ctx()));

    expect(error.name).toBe(TASK_ERROR_NAMES.circuitOpen);
    expect(sandbox.journal.count({ provider: 'payments' })).toBe(callsBefore);
  });
});

describe('order saga tasks: compensations', () => {
  it('releases the reservation, refunds the charge and cancels the shipment', async () => {
    const o = order('ord-undo');
    const steps = await runForward(o);

    const cancelled = await buildTask(ORDER_SAGA_TASKS.cancelShipment, env).runtime.handle(sagaInput(o, steps), ctx());
    const refunded = await buildTask(ORDER_SAGA_TASKS.refundPayment, env).runtime.handle(sagaInput(o, steps), ctx());
    const released = await buildTask(ORDER_SAGA_TASKS.releaseInventory, env).runtime.handle(sagaInput(o, steps), ctx());

    expect(cancelled).toEqual({ compensated: true, shipmentId: steps.createShipment?.shipmentId, status: 'cancelled' });
    const refund = sandbox.payments.refunds()[0];
    expect(refunded).toEqual({ compensated: true, chargeId: steps.chargePayment?.chargeId, refundId: refund?.id, status: 'succeeded' });
    expect(refund).toMatchObject({ chargeId: steps.chargePayment?.chargeId, amount: 4990 });
    expect(released).toEqual({ compensated: true, reservationId: steps.reserveInventory?.reservationId, status: 'released' });
    expect(sandbox.inventory.reservations()[0]?.status).toBe('released');
    expect(sandbox.inventory.stock('SKU-1')).toMatchObject({ reserved: 0 });
    expect(sandbox.shipping.shipments()[0]?.status).toBe('cancelled');
  });

  it("asks the warehouse and the carrier, by the forward step's Idempotency-Key, before answering that nothing needs undoing", async () => {
    const o = order('ord-nothing');
    const released = await buildTask(ORDER_SAGA_TASKS.releaseInventory, env).runtime.handle(sagaInput(o), ctx());
    const cancelled = await buildTask(ORDER_SAGA_TASKS.cancelShipment, env).runtime.handle(sagaInput(o), ctx());

    expect(released).toEqual({ compensated: false, reason: 'the warehouse made no reservation for this order (asked by its Idempotency-Key)' });
    expect(cancelled).toEqual({ compensated: false, reason: 'the carrier made no shipment for this order (asked by its Idempotency-Key)' });
    expect(sandbox.journal.entries({}).map((entry) => `${entry.method} ${entry.provider} ${entry.path}`)).toEqual([
      'GET inventory /reservations',
      'GET shipping /shipments',
    ]);
    // The ledger row of the compensation names the key it asked by.
    const rows = await buildTask(ORDER_SAGA_TASKS.releaseInventory, env).ledger.entries('order', 'ord-nothing');
    expect(rows.find((row) => row.integration === 'release-inventory')).toMatchObject({ status: 'synced', externalId: 'reserve-inventory:ord-nothing' });
  });

  it('releases the reservation and cancels the shipment their steps made but never reported, found by Idempotency-Key', async () => {
    const o = order('ord-lost-answers');
    // The forward steps acted at the providers; their results never reached the saga's state.
    await buildTask(ORDER_SAGA_TASKS.reserveInventory, env).runtime.handle(sagaInput(o), ctx());
    await buildTask(ORDER_SAGA_TASKS.createShipment, env).runtime.handle(sagaInput(o), ctx());
    const [reservation] = sandbox.inventory.reservations();
    const [shipment] = sandbox.shipping.shipments();

    const cancelled = await buildTask(ORDER_SAGA_TASKS.cancelShipment, env).runtime.handle(sagaInput(o), ctx());
    const released = await buildTask(ORDER_SAGA_TASKS.releaseInventory, env).runtime.handle(sagaInput(o), ctx());

    expect(cancelled).toEqual({ compensated: true, shipmentId: shipment?.id, status: 'cancelled' });
    expect(released).toEqual({ compensated: true, reservationId: reservation?.id, status: 'released' });
    expect(sandbox.shipping.shipment(shipment!.id)?.status).toBe('cancelled');
    expect(sandbox.inventory.reservation(reservation!.id)?.status).toBe('released');
    expect(sandbox.inventory.stock('SKU-1')).toMatchObject({ reserved: 0 });
  });

  it('undoes nothing when the record found by Idempotency-Key is already released or cancelled', async () => {
    const o = order('ord-already-undone');
    await buildTask(ORDER_SAGA_TASKS.reserveInventory, env).runtime.handle(sagaInput(o), ctx());
    await buildTask(ORDER_SAGA_TASKS.createShipment, env).runtime.handle(sagaInput(o), ctx());
    const [reservation] = sandbox.inventory.reservations();
    const [shipment] = sandbox.shipping.shipments();
    // Undone by hand (an operator), before the compensations ran.
    await postAs(sandbox, 'inventory', `/reservations/${reservation!.id}/release`, {});
    await postAs(sandbox, 'shipping', `/shipments/${shipment!.id}/cancel`, {});
    const undoCalls = () => sandbox.journal.entries({}).filter((entry) => entry.method === 'POST' && /\/(release|cancel)$/.test(entry.path)).length;
    expect(undoCalls()).toBe(2);

    const released = await buildTask(ORDER_SAGA_TASKS.releaseInventory, env).runtime.handle(sagaInput(o), ctx());
    const cancelled = await buildTask(ORDER_SAGA_TASKS.cancelShipment, env).runtime.handle(sagaInput(o), ctx());

    expect(released).toEqual({ compensated: false, reason: expect.stringContaining(`reservation ${reservation!.id} is released`) });
    expect(cancelled).toEqual({ compensated: false, reason: expect.stringContaining(`shipment ${shipment!.id} is cancelled`) });
    expect(undoCalls()).toBe(2);
  });

  it("asks the gateway, by the charge step's Idempotency-Key, before answering that no charge needs a refund", async () => {
    const o = order('ord-no-charge');
    const refunded = await buildTask(ORDER_SAGA_TASKS.refundPayment, env).runtime.handle(sagaInput(o), ctx());
    expect(refunded).toMatchObject({ compensated: false, reason: expect.stringContaining('made no charge') });
    expect(sandbox.journal.entries({ provider: 'payments' }).map((entry) => `${entry.method} ${entry.path}`)).toEqual(['GET /charges']);
  });

  it('treats a reservation, charge or shipment the provider does not know (404) as already compensated', async () => {
    const o = order('ord-unknown');
    const steps: SagaSteps = {
      reserveInventory: { reservationId: 'res_404' },
      chargePayment: { chargeId: 'ch_404', status: 'completed' },
      createShipment: { shipmentId: 'shp_404', trackingNumber: 'TRK0' },
    };

    const released = await buildTask(ORDER_SAGA_TASKS.releaseInventory, env).runtime.handle(sagaInput(o, steps), ctx());
    const refunded = await buildTask(ORDER_SAGA_TASKS.refundPayment, env).runtime.handle(sagaInput(o, steps), ctx());
    const cancelled = await buildTask(ORDER_SAGA_TASKS.cancelShipment, env).runtime.handle(sagaInput(o, steps), ctx());

    expect(released).toMatchObject({ compensated: true, reservationId: 'res_404', reason: expect.stringContaining('not found') });
    expect(refunded).toMatchObject({ compensated: true, chargeId: 'ch_404', reason: expect.stringContaining('not found') });
    expect(cancelled).toMatchObject({ compensated: true, shipmentId: 'shp_404', reason: expect.stringContaining('not found') });
  });

  it('fails a compensation with Integration.Transient while the provider is down, then completes it on retry', async () => {
    const o = order('ord-undo-503');
    const steps = await runForward(o);
    sandbox.setFaults('inventory', { status: 503 });
    const local = buildTask(ORDER_SAGA_TASKS.releaseInventory, env, { http: { maxAttempts: 2 } });

    const error = await rejectionOf(local.runtime.handle(sagaInput(o, steps), ctx()));
    expect(error.name).toBe(TASK_ERROR_NAMES.transient);

    sandbox.clearFaults('inventory');
    expect(await local.runtime.handle(sagaInput(o, steps, 1), ctx())).toMatchObject({ compensated: true, status: 'released' });
  });
});
