import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CircuitNotClosedError, NotFoundError, OperatorError, UnknownCircuitError, UnknownIntegrationError } from '../../../local/cli/hub-operator.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { LocalHubOperator } from '../../../local/hub/local-hub-operator.js';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { orderPlacedDetail } from '../../support/order-placed.js';

let sandbox: Sandbox;
let hub: LocalHub;
let operator: LocalHubOperator;
const backgroundErrors: { where: string; error: unknown }[] = [];

beforeAll(async () => {
  sandbox = await startSandbox({ seed: 1 });
  hub = await LocalHub.start({ sandbox, timeScale: 1 / 30, onError: (where, error) => backgroundErrors.push({ where, error }) });
  operator = new LocalHubOperator(hub, 'http://127.0.0.1:4000');
});

afterAll(async () => {
  await hub?.stop();
  await sandbox?.close();
});

/** Polls `check` until it passes (returns without throwing) or `timeoutMs` is over; then throws its last error. */
async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (error) {
      if (Date.now() > deadline) throw error;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
  }
}

const fileUploaded = (fileId = `file-${randomUUID()}`) => ({
  fileId,
  version: 1,
  name: 'a.pdf',
  mimeType: 'application/pdf',
  sizeBytes: 10,
  uploadedBy: { email: 'a@example.com' },
  uploadedAt: '2026-11-20T10:00:00Z',
});
const paymentRequested = (paymentId = `pay-${randomUUID()}`) => ({
  action: 'charge',
  paymentId,
  orderId: `order-${randomUUID()}`,
  customerId: 'cust-1',
  amount: '10.00',
  currency: 'eur',
});
const orderPlaced = orderPlacedDetail;

/** Puts an invalid payment on the bus and waits until the runtime dead-letters it; returns its DLQ message. */
async function poisonPayment(): Promise<{ paymentId: string; messageId: string }> {
  const paymentId = `poison-${randomUUID()}`;
  await operator.send({ source: 'orders.service', detailType: 'PaymentRequested', detail: { action: 'charge', paymentId } });
  return eventually(async () => {
    const found = (await operator.dlqList('payments', { limit: 100 })).find((m) => m.body.includes(paymentId));
    expect(found).toBeDefined();
    return { paymentId, messageId: found!.messageId };
  });
}

describe('LocalHubOperator', () => {
  it('describes the local hub: its location, integrations and workflows', async () => {
    const description = await operator.describe();
    expect(description).toMatchObject({ target: 'local', location: 'http://127.0.0.1:4000' });
    expect(description.integrations).toEqual(expect.arrayContaining(['crm', 'payments']));
    expect(description.workflows).toEqual(expect.arrayContaining(['order-saga', 'contact-sync']));
    expect((await new LocalHubOperator(hub).describe()).location).toBe('in-process');
  });

  it('sends events on the bus and says where its rules routed them; an unmatched event still succeeds', async () => {
    const fileId = `file-${randomUUID()}`;
    const sent = await operator.send({ source: 'files.service', detailType: 'FileUploaded', detail: fileUploaded(fileId) });
    expect(sent.eventId).toMatch(/^[0-9a-f-]{36}$/);
    expect(sent.routedTo).toEqual([hub.integration('crm')!.queue.name]);
    await eventually(() => expect(sandbox.crm.files().some((file) => JSON.stringify(file).includes(fileId))).toBe(true));

    const payment = await operator.send({ source: 'orders.service', detailType: 'PaymentRequested', detail: paymentRequested() });
    expect(payment.routedTo).toEqual([hub.integration('payments')!.queue.name]);

    const published = hub.published;
    const unmatched = await operator.send({ detailType: 'NobodyListens', detail: { x: 1 } });
    expect(unmatched.routedTo).toEqual([]);
    expect(hub.published).toBe(published + 1);
  });

  it('shows the ledger of a delivered payment as synced', async () => {
    const paymentId = `pay-${randomUUID()}`;
    await operator.send({ source: 'orders.service', detailType: 'PaymentRequested', detail: paymentRequested(paymentId) });
    const [entry] = await eventually(async () => {
      const entries = await operator.ledgerShow('payment', paymentId);
      expect(entries.map((e) => e.status)).toEqual(['synced']);
      return entries;
    });
    expect(entry).toMatchObject({ entityType: 'payment', entityId: paymentId, integration: 'payments', status: 'synced' });
    expect(entry!.externalId).toBeTruthy();
    expect(await operator.ledgerShow('payment', 'never-seen')).toEqual([]);
  });

  it('lists a poison message in the DLQ with its reason, and listing twice loses nothing', async () => {
    const { paymentId, messageId } = await poisonPayment();
    const first = await operator.dlqList('payments', { limit: 100 });
    const second = await operator.dlqList('payments', { limit: 100 });
    expect(second.map((m) => m.messageId)).toEqual(expect.arrayContaining(first.map((m) => m.messageId)));
    expect(second).toHaveLength(first.length);
    const listed = second.find((m) => m.messageId === messageId)!;
    expect(JSON.parse(listed.body)).toMatchObject({ source: 'orders.service', 'detail-type': 'PaymentRequested', detail: { paymentId } });
    expect(listed.attributes).toMatchObject({ errorClass: expect.any(String), errorMessage: expect.any(String), correlationId: expect.any(String), integration: 'payments' });
    expect(listed.attributes.sourceMessageId).toBeTruthy();
    expect(Date.parse(listed.attributes.failedAt!)).not.toBeNaN();
    // Listing is a receive, as on SQS: the DLQ's receive count grows by one per listing.
    expect(listed.receiveCount).toBe(first.find((m) => m.messageId === messageId)!.receiveCount + 1);
    expect(hub.integration('payments')!.deadLetterQueue.stats()).toMatchObject({ visible: second.length, inFlight: 0 });
  });

  it('limits a DLQ listing', async () => {
    await poisonPayment();
    const listed = await operator.dlqList('payments', { limit: 1 });
    expect(listed).toHaveLength(1);
    expect(hub.integration('payments')!.deadLetterQueue.stats().inFlight).toBe(0);
    await expect(operator.dlqList('payments', { limit: 0 })).rejects.toBeInstanceOf(OperatorError);
  });

  it('shows one DLQ message by id, or says it is not there and how many the DLQ has', async () => {
    const { paymentId, messageId } = await poisonPayment();
    const shown = await operator.dlqShow('payments', messageId);
    expect(shown.messageId).toBe(messageId);
    expect(shown.body).toContain(paymentId);
    const count = hub.integration('payments')!.deadLetterQueue.stats().visible;
    const missing = operator.dlqShow('payments', 'no-such-message');
    await expect(missing).rejects.toBeInstanceOf(NotFoundError);
    await expect(missing).rejects.toThrow(`it has ${count} message`);
  });

  it('isolating a circuit pauses the mapping, refuses a redrive unless forced; a forced redrive moves the DLQ back and the poison returns after reset', async () => {
    const payments = hub.integration('payments')!;
    await poisonPayment();
    const before = await operator.dlqList('payments', { limit: 100 });
    expect(before.length).toBeGreaterThan(0);

    const isolated = await operator.circuitIsolate('payments', 'gateway maintenance');
    expect(isolated).toMatchObject({ circuit: 'payments', circuitId: 'payments', state: 'isolated' });
    await eventually(() => expect(payments.mapping.enabled).toBe(false));

    const refused = operator.dlqRedrive('payments');
    await expect(refused).rejects.toBeInstanceOf(CircuitNotClosedError);
    await expect(refused).rejects.toThrow(/isolated/);
    expect(payments.deadLetterQueue.stats().visible).toBe(before.length);

    const sentBefore = payments.queue.stats().sent;
    const forced = await operator.dlqRedrive('payments', { force: true });
    expect(forced).toEqual({ integration: 'payments', messages: before.length });
    expect(payments.deadLetterQueue.stats()).toMatchObject({ visible: 0, inFlight: 0 });
    // The mapping is paused: the moved messages wait in the source queue, with their body and attributes.
    expect(payments.queue.stats()).toMatchObject({ visible: before.length, sent: sentBefore + before.length });
    const waiting = payments.queue.receive(10, { visibilityTimeoutSeconds: 0 });
    expect(waiting[0]!.attributes.errorClass).toBe(before[0]!.attributes.errorClass);

    const reset = await operator.circuitReset('payments');
    expect(reset).toMatchObject({ circuit: 'payments', state: 'closed' });
    await eventually(() => expect(payments.mapping.enabled).toBe(true));

    // Still poison: each comes back to the DLQ, under a new message id, with the same body and reason.
    const after = await eventually(async () => {
      const listed = await operator.dlqList('payments', { limit: 100 });
      expect(listed).toHaveLength(before.length);
      return listed;
    }, 10_000);
    expect(after.map((m) => m.body).sort()).toEqual(before.map((m) => m.body).sort());
    expect(after.map((m) => m.messageId)).not.toEqual(expect.arrayContaining([before[0]!.messageId]));
    expect(after.every((m) => m.attributes.errorClass === before[0]!.attributes.errorClass)).toBe(true);
    expect(payments.queue.stats()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it('redrives without force while the circuit is closed: nothing is lost', async () => {
    const payments = hub.integration('payments')!;
    const before = await operator.dlqList('payments', { limit: 100 });
    expect((await operator.circuitStatus('payments'))[0]!.state).toBe('closed');
    const result = await operator.dlqRedrive('payments');
    expect(result.messages).toBe(before.length);
    const after = await eventually(async () => {
      const listed = await operator.dlqList('payments', { limit: 100 });
      expect(listed).toHaveLength(before.length);
      return listed;
    }, 10_000);
    expect(after.map((m) => m.body).sort()).toEqual(before.map((m) => m.body).sort());
    expect(payments.queue.stats()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it("shows the status of every circuit (the integrations' and the workflow providers'), or of one", async () => {
    const all = await operator.circuitStatus();
    expect(all.map((c) => c.circuit)).toEqual(['crm', 'payments', 'inventory', 'shipping', 'email', 'contacts']);
    expect(all.every((c) => c.circuitId === c.circuit)).toBe(true);
    expect((await operator.describe()).circuits).toEqual(all.map((c) => c.circuit));
    const [crm] = await operator.circuitStatus('crm');
    expect(crm).toMatchObject({ circuit: 'crm', state: 'closed' });
    await expect(operator.circuitStatus('crn')).rejects.toThrow("Unknown circuit 'crn'. The hub has: crm, payments, inventory, shipping, email, contacts");
  });

  it("isolates and resets a workflow provider's circuit in the shared circuits table, with its settings from the template", async () => {
    const isolated = await operator.circuitIsolate('shipping', 'carrier maintenance');
    expect(isolated).toMatchObject({ circuit: 'shipping', state: 'isolated', stateReason: 'carrier maintenance' });
    // The item the saga's shipping task reads.
    expect(await hub.circuits.get('shipping')).toMatchObject({ state: 'isolated', stateReason: 'carrier maintenance' });
    const [status] = await operator.circuitStatus('shipping');
    expect(status).toMatchObject({ state: 'isolated', nextBreakMs: 30_000 });
    // contacts breaks for 60 s in the catalog: the view takes each circuit's own settings.
    expect((await operator.circuitStatus('contacts'))[0]).toMatchObject({ circuit: 'contacts', nextBreakMs: 60_000 });
    expect(await operator.circuitReset('shipping')).toMatchObject({ circuit: 'shipping', state: 'closed' });
    expect(await hub.circuits.get('shipping')).toMatchObject({ state: 'closed' });
  });

  it('lists the saga of a placed order as SUCCEEDED, newest first, filtered by workflow and status', async () => {
    const orderId = `order-${randomUUID()}`;
    const sent = await operator.send({ source: 'orders.service', detailType: 'OrderPlaced', detail: orderPlaced(orderId) });
    expect(sent.routedTo).toHaveLength(1);
    const execution = await eventually(async () => {
      const found = (await operator.workflowsList({ workflow: 'order-saga' })).find((e) => e.name === orderId);
      expect(found?.status).toBe('SUCCEEDED');
      return found!;
    }, 15_000);
    expect(execution.executionArn).toMatch(new RegExp(`^arn:aws:states:[^:]+:\\d+:execution:OrderSaga[^:]*:${orderId}$`));
    expect(execution.stoppedAt).toBeGreaterThanOrEqual(execution.startedAt);
    expect(execution.error).toBeUndefined();

    const listed = await operator.workflowsList();
    expect(listed.map((e) => e.startedAt)).toEqual([...listed.map((e) => e.startedAt)].sort((a, b) => b - a));
    expect((await operator.workflowsList({ status: 'SUCCEEDED' })).some((e) => e.name === orderId)).toBe(true);
    expect((await operator.workflowsList({ status: 'FAILED' })).some((e) => e.name === orderId)).toBe(false);
    expect(await operator.workflowsList({ limit: 1 })).toHaveLength(1);
    expect(await operator.workflowsList({ workflow: 'contact-sync', status: 'TIMED_OUT' })).toEqual([]);

    await expect(operator.workflowsList({ workflow: 'nope' })).rejects.toThrow(/Unknown workflow 'nope'.*order-saga/);
    await expect(operator.workflowsList({ status: 'DONE' as never })).rejects.toThrow(/Unknown execution status 'DONE'.*PENDING_REDRIVE/);
  });

  it('redrives a failed saga by name or ARN: a compensated saga (ended in its Fail state) fails again at once, calling nobody', async () => {
    const orderId = `order-${randomUUID()}`;
    sandbox.inventory.setStock('SKU-1', 0);
    try {
      await operator.send({ source: 'orders.service', detailType: 'OrderPlaced', detail: orderPlaced(orderId) });
      const failed = await eventually(async () => {
        const found = (await operator.workflowsList({ workflow: 'order-saga', status: 'FAILED' })).find((e) => e.name === orderId);
        expect(found).toBeDefined();
        return found!;
      }, 15_000);
      expect(failed.error).toBe('OrderFailed');
    } finally {
      sandbox.inventory.setStock('SKU-1', 100);
    }
    const requestsBefore = sandbox.journal.entries({}).length;

    const redriven = await operator.workflowsRedrive(orderId);
    expect(redriven.redriven).toBe(true);
    expect(redriven.executionArn).toMatch(new RegExp(`:execution:OrderSaga[^:]*:${orderId}$`));
    expect(redriven.detail).toMatch(/from the state that failed/);
    const execution = hub.executions.find((e) => e.workflow === 'order-saga' && e.name === orderId)!;
    expect(execution.redrives).toBe(1);
    const outcome = await eventually(async () => {
      const found = (await operator.workflowsList({ workflow: 'order-saga' })).find((e) => e.name === orderId)!;
      expect(found.status).not.toBe('RUNNING');
      return found;
    }, 15_000);
    // As RedriveExecution: it continues from the unsuccessful state, here the Fail state reached after compensating.
    expect(outcome).toMatchObject({ status: 'FAILED', error: 'OrderFailed' });
    expect(execution.record!.path).toEqual(['OrderFailed']);
    expect(sandbox.journal.entries({}).length).toBe(requestsBefore);

    // Still FAILED, so it can be redriven again, by ARN this time.
    await expect(operator.workflowsRedrive(redriven.executionArn)).resolves.toMatchObject({ executionArn: redriven.executionArn, redriven: true });
    await eventually(() => expect(execution.status).toBe('FAILED'), 15_000);
    expect(execution.redrives).toBe(2);
  });

  it('refuses to redrive an execution that is not FAILED, or that does not exist', async () => {
    const [succeeded] = await operator.workflowsList({ workflow: 'order-saga', status: 'SUCCEEDED', limit: 1 });
    const refused = operator.workflowsRedrive(succeeded!.executionArn);
    await expect(refused).rejects.toBeInstanceOf(OperatorError);
    await expect(refused).rejects.toThrow(/is SUCCEEDED: only a FAILED execution can be redriven/);
    await expect(operator.workflowsRedrive(succeeded!.name)).rejects.toThrow(/only a FAILED execution/);
    await expect(operator.workflowsRedrive('no-such-execution')).rejects.toBeInstanceOf(NotFoundError);
    await expect(operator.workflowsRedrive(succeeded!.executionArn.replace(succeeded!.name, 'other'))).rejects.toBeInstanceOf(NotFoundError);
  });

  it('rejects an unknown integration everywhere, listing the known ones', async () => {
    const calls = [
      () => operator.dlqList('nope'),
      () => operator.dlqShow('nope', 'id'),
      () => operator.dlqRedrive('nope', { force: true }),
      // A workflow provider has a circuit, but no queue of its own.
      () => operator.dlqList('shipping'),
    ];
    for (const call of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UnknownIntegrationError);
      expect((error as UnknownIntegrationError).known).toEqual([...hub.integrations.keys()]);
      expect((error as Error).message).toMatch(/Unknown integration '(nope|shipping)'\. The hub has: .*payments/);
    }
    for (const call of [() => operator.circuitStatus('nope'), () => operator.circuitIsolate('nope', 'why'), () => operator.circuitReset('nope')]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnknownCircuitError);
      expect((error as UnknownCircuitError).known).toEqual(hub.circuitIds);
    }
  });

  it('refuses a redrive rate (the local hub moves a DLQ at once) and moves nothing', async () => {
    const before = hub.integration('payments')!.deadLetterQueue.stats();
    await expect(operator.dlqRedrive('payments', { maxMessagesPerSecond: 10 })).rejects.toThrow('a redrive rate applies on AWS only');
    expect(hub.integration('payments')!.deadLetterQueue.stats()).toEqual(before);
  });

  it('saw no background errors in the hub', () => {
    expect(backgroundErrors).toEqual([]);
  });
});
