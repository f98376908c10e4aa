/**
 * Executions of the SYNTHESIZED order saga (aws-local-stepfunctions) with its real task handlers against dynalite,
 * the sandbox providers and an in-memory Secrets Manager.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DynamoDbCircuitStore } from '../../functions/runtime/dynamodb-circuit-store.js';
import { createBreaker } from '../../functions/runtime/runtime-environment.js';
import { RecordingMetricsSink } from '../../functions/runtime/telemetry.js';
import { TASK_ERROR_NAMES } from '../../functions/workflows/workflow-contract.js';
import { WORKFLOWS } from '../../lib/workflow-catalog.js';
import { eventBridgeBody, lambdaContext, sqsEvent } from '../../local/lambda-events.js';
import type { CfnTemplate, ExecutionRecord } from '../../local/local-step-functions.js';
import { createLocalOrderSagaStarter } from '../../local/local-workflows.js';
import { type FaultOptions, type Sandbox, startSandbox } from '../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from '../support/dynalite.js';
import { buildWorld, order, synthesizeAgainstSandbox, type WorkflowWorld } from './workflow-harness.js';

let dynamo: LocalDynamo;
let sandbox: Sandbox;
let template: CfnTemplate;
let world: WorkflowWorld;

beforeAll(async () => {
  [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 23 })]);
  template = synthesizeAgainstSandbox(sandbox);
});
afterAll(async () => {
  await Promise.all([dynamo.close(), sandbox.close()]);
});
beforeEach(async () => {
  sandbox.reset();
  world = await buildWorld(template, dynamo, sandbox);
});

const FORWARD = ['ReserveInventory', 'ChargePayment', 'CreateShipment', 'SendConfirmation'];
const runSaga = (orderId: string, overrides: Parameters<typeof order>[1] = {}) =>
  world.saga.run({ order: order(orderId, overrides), steps: {} }, { name: orderId });
const invocationsOf = (record: ExecutionRecord, state: string) => record.invocations.filter((i) => i.state === state);
/** What a state's last invocation returned (a compensation's result). */
const outputOf = (record: ExecutionRecord, state: string) => {
  const outcome = invocationsOf(record, state).at(-1)?.outcome;
  return outcome?.ok ? outcome.output : outcome;
};
/** Lookups by Idempotency-Key: GETs of a provider's list route. */
const lookups = (provider: 'inventory' | 'payments' | 'shipping', path: string) =>
  sandbox.journal.entries({ provider }).filter((entry) => entry.method === 'GET' && entry.path === path).length;
/** POSTs to `path` (exact), or under it when it ends with '/'. */
const post = (provider: 'inventory' | 'payments' | 'shipping' | 'email', path: string) =>
  sandbox.journal
    .entries({ provider })
    .filter((entry) => entry.method === 'POST' && (path.endsWith('/') ? entry.path.startsWith(path) : entry.path === path)).length;
const ledgerRows = async (orderId: string) =>
  Object.fromEntries((await world.ledger.entries('order', orderId)).map((entry) => [entry.integration, entry.status]));

describe('order saga (synthesized definition, real task handlers)', () => {
  it('fulfils an order: the four side effects at the sandbox, a ledger row per step, the steps in the output', async () => {
    const record = await runSaga('ord-happy');

    expect(record.status).toBe('SUCCEEDED');
    expect(record.path).toEqual([...FORWARD, 'OrderFulfilled']);
    const [reservation] = sandbox.inventory.reservations();
    const [charge] = sandbox.payments.charges();
    const [shipment] = sandbox.shipping.shipments();
    const [message] = sandbox.email.messages();
    expect(reservation).toMatchObject({ orderId: 'ord-happy', status: 'reserved' });
    expect(charge).toMatchObject({ reference: 'ord-happy', amount: 4990, currency: 'EUR' });
    expect(shipment).toMatchObject({ orderId: 'ord-happy', status: 'created' });
    expect(message).toMatchObject({ to: 'ana@example.com', template: 'order-confirmation' });
    expect(sandbox.inventory.reservations()).toHaveLength(1);
    expect(sandbox.payments.charges()).toHaveLength(1);
    expect(sandbox.shipping.shipments()).toHaveLength(1);
    expect(sandbox.email.messages()).toHaveLength(1);

    expect(record.output).toMatchObject({
      steps: {
        reserveInventory: { reservationId: reservation!.id },
        chargePayment: { chargeId: charge!.id, status: 'completed' },
        createShipment: { shipmentId: shipment!.id, trackingNumber: shipment!.trackingNumber },
        sendConfirmation: { messageId: message!.id },
      },
    });
    expect(await ledgerRows('ord-happy')).toEqual({
      'reserve-inventory': 'synced',
      'charge-payment': 'synced',
      'create-shipment': 'synced',
      'send-confirmation': 'synced',
    });
    // Every task got the execution name and its retry count from the context object.
    for (const invocation of record.invocations) expect(invocation.input).toMatchObject({ executionName: 'ord-happy', retryCount: 0 });
  });

  describe('a permanent failure at a step undoes exactly the completed steps, in reverse, each once', () => {
    const cases = [
      {
        step: 'ReserveInventory',
        inject: () => sandbox.inventory.setStock('SKU-1', 0),
        // ReleaseInventory asks the warehouse whether it reserved: it refused, so there is nothing to release.
        compensations: ['ReleaseInventory'],
        ownReason: /^the warehouse made no reservation for this order \(asked by its Idempotency-Key\)$/,
        errorClass: 'InsufficientStock',
        provider: 'inventory' as const,
        path: '/reservations',
      },
      {
        step: 'ChargePayment',
        inject: () => sandbox.setFaults('payments', { chargeStatus: 'failed' }),
        // RefundPayment asks the gateway whether it charged: it declined, so there is nothing to refund.
        compensations: ['RefundPayment', 'ReleaseInventory'],
        ownReason: /^nothing to undo: the gateway's charge ch_\d+ is failed \(asked by its Idempotency-Key\)$/,
        errorClass: 'PaymentDeclined',
        provider: 'payments' as const,
        path: '/charges',
      },
      {
        step: 'CreateShipment',
        overrides: { shippingAddress: { name: 'Ana Lima', line1: 'Nowhere 0', city: 'Lisboa', postalCode: '00000', country: 'PT' } },
        // CancelShipment asks the carrier whether it created a shipment: it refused, so there is nothing to cancel.
        compensations: ['CancelShipment', 'RefundPayment', 'ReleaseInventory'],
        ownReason: /^the carrier made no shipment for this order \(asked by its Idempotency-Key\)$/,
        errorClass: 'AddressUndeliverable',
        provider: 'shipping' as const,
        path: '/shipments',
      },
      {
        step: 'SendConfirmation',
        overrides: { email: 'ana@invalid.example' },
        compensations: ['CancelShipment', 'RefundPayment', 'ReleaseInventory'],
        ownReason: undefined,
        errorClass: 'InvalidRecipient',
        provider: 'email' as const,
        path: '/messages',
      },
    ];

    for (const scenario of cases) {
      it(`fails at ${scenario.step} → ${[...scenario.compensations, 'OrderFailed'].join(' → ')}`, async () => {
        scenario.inject?.();
        const orderId = `ord-fail-${scenario.step}`;
        const record = await runSaga(orderId, scenario.overrides);

        const failedAt = FORWARD.indexOf(scenario.step);
        expect(record.status).toBe('FAILED');
        expect(record.path).toEqual([...FORWARD.slice(0, failedAt + 1), ...scenario.compensations, 'OrderFailed']);
        // The clear cause: the failed step's error, as the Lambda reported it.
        expect(record.error).toBe('OrderFailed');
        const cause = JSON.parse(record.cause!) as { errorType: string; errorMessage: string };
        expect(cause.errorType).toBe(TASK_ERROR_NAMES.permanent);
        expect(cause.errorMessage).toMatch(new RegExp(`^${scenario.errorClass}`));

        // Permanent: one invocation, one call, no retry.
        expect(invocationsOf(record, scenario.step)).toHaveLength(1);
        expect(record.events.filter((e) => e.type === 'StateRetried')).toEqual([]);
        expect(post(scenario.provider, scenario.path)).toBe(1);
        // Each compensation exactly once.
        for (const compensation of scenario.compensations) expect(invocationsOf(record, compensation)).toHaveLength(1);
        expect(record.invocations.map((i) => i.state)).toEqual([...FORWARD.slice(0, failedAt + 1), ...scenario.compensations]);

        // What the compensations did at the providers: undo each completed step; the failed step's own compensation
        // asked its provider by the step's Idempotency-Key (SendConfirmation has none) and found nothing to undo.
        const releases = post('inventory', '/reservations/');
        const refunds = post('payments', '/refunds');
        const cancels = post('shipping', '/shipments/');
        expect({ releases, refunds, cancels }).toEqual({
          releases: failedAt >= 1 ? 1 : 0,
          refunds: failedAt >= 2 ? 1 : 0,
          cancels: failedAt >= 3 ? 1 : 0,
        });
        expect({
          reservations: lookups('inventory', '/reservations'),
          charges: lookups('payments', '/charges'),
          shipments: lookups('shipping', '/shipments'),
        }).toEqual({ reservations: failedAt === 0 ? 1 : 0, charges: failedAt === 1 ? 1 : 0, shipments: failedAt === 2 ? 1 : 0 });
        if (scenario.ownReason) expect(outputOf(record, scenario.compensations[0]!)).toEqual({ compensated: false, reason: expect.stringMatching(scenario.ownReason) });
        if (failedAt >= 1) expect(sandbox.inventory.reservations()[0]?.status).toBe('released');
        if (failedAt >= 2) expect(sandbox.payments.refunds()).toHaveLength(1);
        if (failedAt >= 3) expect(sandbox.shipping.shipments()[0]?.status).toBe('cancelled');
        expect(sandbox.email.messages()).toHaveLength(0);
        // The failed step's ledger row says so.
        const rows = await ledgerRows(orderId);
        expect(rows[scenario.step.replace(/([a-z])([A-Z])/g, '$1-$2').toLowerCase()]).toBe('sync_failed');
      });
    }
  });

  it('retries a transient failure (503 twice: both in-process attempts) in the state machine, then succeeds once', async () => {
    // Shipping allows 2 HTTP attempts per invocation (catalog): both fail, the task fails Integration.Transient.
    sandbox.setFaults('shipping', { failNext: { count: 2, status: 503 }, pathFilter: '/shipments' });
    const record = await runSaga('ord-transient');

    expect(record.status).toBe('SUCCEEDED');
    const attempts = invocationsOf(record, 'CreateShipment');
    expect(attempts.map((a) => [a.retryCount, a.outcome.ok ? 'ok' : (a.outcome as { error: string }).error])).toEqual([
      [0, TASK_ERROR_NAMES.transient],
      [1, 'ok'],
    ]);
    const retried = record.events.filter((e) => e.type === 'StateRetried');
    expect(retried.map((e) => [e.state!.name, e.retry!.retrier.ErrorEquals[0]])).toEqual([['CreateShipment', TASK_ERROR_NAMES.transient]]);
    expect(post('shipping', '/shipments')).toBe(3);
    expect(sandbox.shipping.shipments()).toHaveLength(1);
    expect(record.path).not.toContain('RefundPayment');
  });

  it('never retries a permanent failure (a 400 from the e-mail provider: one invocation, one call)', async () => {
    sandbox.setFaults('email', { failNext: { count: 10, status: 400 } });
    const record = await runSaga('ord-400');

    expect(record.status).toBe('FAILED');
    expect(invocationsOf(record, 'SendConfirmation')).toHaveLength(1);
    expect(post('email', '/messages')).toBe(1);
    expect(JSON.parse(record.cause!)).toMatchObject({ errorType: TASK_ERROR_NAMES.permanent, errorMessage: expect.stringMatching(/^Http400/) });
  });

  it('waits out an open circuit (shared with the payments integration) and retries later instead of compensating', async () => {
    // The payments integration's breaker: same circuits table, circuit id `payments`.
    const integrationBreaker = createBreaker({
      circuitId: 'payments',
      settings: {},
      store: new DynamoDbCircuitStore({ tableName: world.table('CoreTablesCircuits'), client: dynamo.client }),
      metrics: new RecordingMetricsSink(),
      logger: new Logger({ logLevel: 'SILENT' }),
    });
    await integrationBreaker.isolate('provider maintenance');
    const chargeBreaker = world.fn('chargePayment').breaker!;
    const record = await world.saga.run(
      { order: order('ord-circuit'), steps: {} },
      {
        name: 'ord-circuit',
        hooks: {
          async afterInvoke(invocation, outcome) {
            // The operator resets the circuit after the second refused attempt.
            if (invocation.state === 'ChargePayment' && !outcome.ok && invocation.invocation === 2) await chargeBreaker.reset();
          },
        },
      },
    );

    expect(record.status).toBe('SUCCEEDED');
    const charge = invocationsOf(record, 'ChargePayment');
    expect(charge.map((a) => (a.outcome.ok ? 'ok' : (a.outcome as { error: string }).error))).toEqual([
      TASK_ERROR_NAMES.circuitOpen,
      TASK_ERROR_NAMES.circuitOpen,
      'ok',
    ]);
    expect(charge.map((a) => a.retryCount)).toEqual([0, 1, 2]);
    // Retried by the circuit-open retrier (long intervals in the definition), never caught.
    const retried = record.events.filter((e) => e.type === 'StateRetried');
    expect(retried.map((e) => e.retry!.retrier.ErrorEquals)).toEqual([[TASK_ERROR_NAMES.circuitOpen], [TASK_ERROR_NAMES.circuitOpen]]);
    expect(retried[0]!.retry!.retrier).toMatchObject({ IntervalSeconds: 60, BackoffRate: 2, JitterStrategy: 'FULL', MaxDelaySeconds: 900 });
    expect(record.events.filter((e) => e.type === 'StateCaught')).toEqual([]);
    expect(record.path).not.toContain('ReleaseInventory');
    // No call was made while the circuit was open: one charge, one POST.
    expect(post('payments', '/charges')).toBe(1);
    expect(sandbox.payments.charges()).toHaveLength(1);
  });

  /** Per provider: the forward step's create route and the step's own compensation (state, task export). */
  const SIDE_EFFECTING = {
    inventory: { step: 'ReserveInventory', path: '/reservations', compensation: 'ReleaseInventory', task: 'releaseInventory' },
    payments: { step: 'ChargePayment', path: '/charges', compensation: 'RefundPayment', task: 'refundPayment' },
    shipping: { step: 'CreateShipment', path: '/shipments', compensation: 'CancelShipment', task: 'cancelShipment' },
  } as const;

  /**
   * Runs a saga whose step calling `provider` fails under `faults` on its create route (everything under the path);
   * before the step's own compensation the provider answers again and the circuit those failures opened has closed
   * (in the definition the compensation waits minutes for it; the harness does not wait).
   */
  const runWithFailedStep = (orderId: string, provider: keyof typeof SIDE_EFFECTING, faults: FaultOptions) => {
    const { path, compensation, task } = SIDE_EFFECTING[provider];
    sandbox.setFaults(provider, { ...faults, pathFilter: path });
    return world.saga.run(
      { order: order(orderId), steps: {} },
      {
        name: orderId,
        hooks: {
          async beforeInvoke(invocation) {
            if (invocation.state !== compensation) return;
            sandbox.clearFaults(provider);
            await world.fn(task).breaker!.reset();
          },
        },
      },
    );
  };
  const runWithFailedCharge = (orderId: string, faults: FaultOptions) => runWithFailedStep(orderId, 'payments', faults);

  it('refunds a charge whose answer was lost: ChargePayment failed ambiguously, the gateway is asked by its Idempotency-Key', async () => {
    // The gateway charges, then every answer to POST /charges is unusable (as if lost): the step fails after its
    // retries without knowing. The operator's view: one charge at the gateway, none in the saga's state.
    const record = await runWithFailedCharge('ord-ambiguous', { malformedRate: 1 });

    expect(record.status).toBe('FAILED');
    expect(record.path, record.cause).toEqual(['ReserveInventory', 'ChargePayment', 'RefundPayment', 'ReleaseInventory', 'OrderFailed']);
    // Retried with one Idempotency-Key: one charge, replayed; then found and refunded once.
    expect(sandbox.payments.charges()).toHaveLength(1);
    const [charge] = sandbox.payments.charges();
    expect(sandbox.payments.refunds().map((refund) => refund.chargeId)).toEqual([charge!.id]);
    expect(sandbox.inventory.reservations()[0]?.status).toBe('released');
  });

  it('refunds nothing when the gateway never charged (asked, not guessed)', async () => {
    // Every charge request is refused before it reaches the gateway's logic: a 503 each time.
    const record = await runWithFailedCharge('ord-never-charged', { status: 503 });
    expect(record.path).toEqual(['ReserveInventory', 'ChargePayment', 'RefundPayment', 'ReleaseInventory', 'OrderFailed']);
    expect(sandbox.payments.charges()).toHaveLength(0);
    expect(post('payments', '/refunds')).toBe(0);
  });

  it('releases a reservation whose answer was lost: ReserveInventory failed ambiguously, the warehouse is asked by its Idempotency-Key', async () => {
    // The warehouse reserves, then every answer to /reservations is unusable (as if lost).
    const record = await runWithFailedStep('ord-lost-reservation', 'inventory', { malformedRate: 1 });

    expect(record.status).toBe('FAILED');
    expect(record.path, record.cause).toEqual(['ReserveInventory', 'ReleaseInventory', 'OrderFailed']);
    // Retried with one Idempotency-Key: one reservation, replayed; then found and released once.
    expect(sandbox.inventory.reservations()).toHaveLength(1);
    const [reservation] = sandbox.inventory.reservations();
    expect(reservation).toMatchObject({ orderId: 'ord-lost-reservation', status: 'released', idempotencyKey: 'reserve-inventory:ord-lost-reservation' });
    expect(sandbox.inventory.stock('SKU-1')).toMatchObject({ available: 100, reserved: 0 });
    expect(outputOf(record, 'ReleaseInventory')).toEqual({ compensated: true, reservationId: reservation!.id, status: 'released' });
    expect(post('inventory', '/reservations/')).toBe(1);
    // Nothing after it ran.
    expect(sandbox.payments.charges()).toHaveLength(0);
    expect(JSON.parse(record.cause!)).toMatchObject({ errorType: expect.stringMatching(/^Integration\.(Transient|CircuitOpen)$/) });
  });

  it('cancels a shipment whose answer was lost, then refunds and releases: CreateShipment failed ambiguously, the carrier is asked', async () => {
    // The carrier creates the shipment, then every answer to /shipments is unusable (as if lost).
    const record = await runWithFailedStep('ord-lost-shipment', 'shipping', { malformedRate: 1 });

    expect(record.status).toBe('FAILED');
    expect(record.path, record.cause).toEqual([
      'ReserveInventory',
      'ChargePayment',
      'CreateShipment',
      'CancelShipment',
      'RefundPayment',
      'ReleaseInventory',
      'OrderFailed',
    ]);
    expect(sandbox.shipping.shipments()).toHaveLength(1);
    const [shipment] = sandbox.shipping.shipments();
    expect(shipment).toMatchObject({ orderId: 'ord-lost-shipment', status: 'cancelled', idempotencyKey: 'create-shipment:ord-lost-shipment' });
    expect(outputOf(record, 'CancelShipment')).toEqual({ compensated: true, shipmentId: shipment!.id, status: 'cancelled' });
    expect(post('shipping', '/shipments/')).toBe(1);
    // The completed steps before it are undone, each once.
    const [charge] = sandbox.payments.charges();
    expect(sandbox.payments.refunds().map((refund) => refund.chargeId)).toEqual([charge!.id]);
    expect(sandbox.inventory.reservations().map((reservation) => reservation.status)).toEqual(['released']);
    expect(sandbox.email.messages()).toHaveLength(0);
  });

  for (const provider of ['inventory', 'shipping'] as const) {
    const { step, path, compensation } = SIDE_EFFECTING[provider];
    it(`${compensation} undoes nothing when ${step} failed before the provider acted (asked, not guessed)`, async () => {
      // Every request under the create route is refused before the provider's logic: a 503 each time.
      const orderId = `ord-never-${provider}`;
      const record = await runWithFailedStep(orderId, provider, { status: 503 });

      const failedAt = FORWARD.indexOf(step);
      const undo = ['CancelShipment', 'RefundPayment', 'ReleaseInventory'];
      expect(record.path, record.cause).toEqual([...FORWARD.slice(0, failedAt + 1), ...undo.slice(undo.indexOf(compensation)), 'OrderFailed']);
      expect(lookups(provider, path)).toBe(1);
      expect(post(provider, `${path}/`)).toBe(0);
      expect(provider === 'inventory' ? sandbox.inventory.reservations() : sandbox.shipping.shipments()).toHaveLength(0);
      const noun = provider === 'inventory' ? 'the warehouse made no reservation' : 'the carrier made no shipment';
      expect(outputOf(record, compensation)).toEqual({ compensated: false, reason: `${noun} for this order (asked by its Idempotency-Key)` });
      // The completed steps before it are still undone.
      if (provider === 'shipping') {
        expect(sandbox.payments.refunds()).toHaveLength(1);
        expect(sandbox.inventory.reservations()[0]?.status).toBe('released');
      } else {
        expect(sandbox.payments.charges()).toHaveLength(0);
      }
    });
  }

  it('compensates once the circuit-open retry budget is spent, asking the carrier once it answers again', async () => {
    await world.fn('createShipment').breaker!.isolate('carrier down for the day');
    const record = await world.saga.run(
      { order: order('ord-circuit-spent'), steps: {} },
      {
        name: 'ord-circuit-spent',
        hooks: {
          async beforeInvoke(invocation) {
            // The carrier is back before CancelShipment (in the definition it waits minutes for it, with long intervals).
            if (invocation.state === 'CancelShipment' && invocation.retryCount === 0) await world.fn('cancelShipment').breaker!.reset();
          },
        },
      },
    );

    const budget = WORKFLOWS.orderSaga.retry.circuitOpen.maxAttempts;
    expect(invocationsOf(record, 'CreateShipment')).toHaveLength(1 + budget);
    expect(post('shipping', '/shipments')).toBe(0);
    expect(record.path.slice(-4)).toEqual(['CancelShipment', 'RefundPayment', 'ReleaseInventory', 'OrderFailed']);
    expect(outputOf(record, 'CancelShipment')).toMatchObject({ compensated: false, reason: expect.stringContaining('the carrier made no shipment') });
    expect(JSON.parse(record.cause!)).toMatchObject({ errorType: TASK_ERROR_NAMES.circuitOpen });
  });

  it('ends in CompensationFailed when the carrier stays unreachable: whether it shipped cannot be asked', async () => {
    await world.fn('createShipment').breaker!.isolate('carrier down for the day');
    const record = await runSaga('ord-carrier-gone');

    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('CompensationFailed');
    expect(record.path.slice(-3)).toEqual(['CreateShipment', 'CancelShipment', 'CompensationFailed']);
    const budget = WORKFLOWS.orderSaga.compensationRetry.circuitOpen.maxAttempts;
    expect(invocationsOf(record, 'CancelShipment')).toHaveLength(1 + budget);
    expect(JSON.parse(record.cause!)).toMatchObject({ errorType: TASK_ERROR_NAMES.circuitOpen });
    // The charge and the reservation are left for the operator (runbook saga-compensation-failed).
    expect(sandbox.payments.refunds()).toHaveLength(0);
    expect(sandbox.inventory.reservations()[0]?.status).toBe('reserved');
  });

  it('ends in CompensationFailed, never silently, when a compensation keeps failing', async () => {
    sandbox.setFaults('payments', { refundStatus: 'failed' });
    const record = await runSaga('ord-refund-fails', {
      shippingAddress: { name: 'Ana Lima', line1: 'Nowhere 0', city: 'Lisboa', postalCode: '00000', country: 'PT' },
    });

    expect(record.status).toBe('FAILED');
    expect(record.error).toBe('CompensationFailed');
    expect(record.path).toEqual(['ReserveInventory', 'ChargePayment', 'CreateShipment', 'CancelShipment', 'RefundPayment', 'CompensationFailed']);
    expect(JSON.parse(record.cause!)).toMatchObject({ errorType: TASK_ERROR_NAMES.permanent, errorMessage: expect.stringMatching(/^RefundFailed/) });
    // The reservation is still held: the operator's runbook lists what is left to undo.
    expect(sandbox.inventory.reservations()[0]?.status).toBe('reserved');
  });

  it('starts one saga and makes one charge for a duplicate OrderPlaced (execution name = order id)', async () => {
    const { starter, executions, deadLetters } = createLocalOrderSagaStarter(world.saga);
    const event = { body: eventBridgeBody('OrderPlaced', order('ord-dup'), 'orders.service') };
    const first = await starter.handleBatch(sqsEvent([event]), lambdaContext('starter', 30_000));
    const second = await starter.handleBatch(sqsEvent([{ ...event, messageId: 'redelivered' }]), lambdaContext('starter', 30_000));

    expect(first.batchItemFailures).toEqual([]);
    expect(second.batchItemFailures).toEqual([]);
    expect(executions.requests).toEqual(['ord-dup', 'ord-dup']);
    expect([...executions.executions.keys()]).toEqual(['ord-dup']);
    const record = await executions.executions.get('ord-dup')!;
    expect(record.status).toBe('SUCCEEDED');
    expect(sandbox.payments.charges()).toHaveLength(1);
    expect(post('payments', '/charges')).toBe(1);
    expect(deadLetters.messages).toEqual([]);
  });

  it('dead-letters an invalid OrderPlaced without starting anything', async () => {
    const { starter, executions, deadLetters } = createLocalOrderSagaStarter(world.saga);
    await starter.handleBatch(sqsEvent([{ body: eventBridgeBody('OrderPlaced', { ...order('ord-bad'), items: [] }) }]), lambdaContext('starter', 30_000));

    expect(executions.requests).toEqual([]);
    expect(deadLetters.messages).toHaveLength(1);
  });
});

