import { randomUUID } from 'node:crypto';
import { isDeepStrictEqual } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { breakDurationMs, resolveCircuitBreakerSettings } from '../../../functions/runtime/circuit-settings.js';
import { WORKFLOWS } from '../../../lib/workflow-catalog.js';
import { CircuitNotClosedError, NotFoundError, OperatorError, UnknownCircuitError, UnknownIntegrationError } from '../../../local/cli/hub-operator.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { LocalHubOperator } from '../../../local/hub/local-hub-operator.js';
import { startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';
import type { Sandbox } from '../../../local/sandbox/index.js';
import { CATALOG, type CatalogSubject, catalogSubjects, CIRCUITS, STANDALONE_PROVIDERS } from '../../support/catalog-subjects.js';
import { orderPlacedDetail } from '../../support/order-placed.js';
import { eventually } from '../../support/eventually.js';

/**
 * The operator port on a local hub of the shipped catalogs. Its subjects come from the catalog (test/support/
 * catalog-subjects.ts): events are its adapters' examples on each integration's first route, poison is an example at
 * schemaVersion '0', and the expected integrations and circuits are the catalog's, so no test names a shipped
 * integration or provider. The workflow tests are about the order saga's own behaviour (its inventory step).
 */
const SAGA = WORKFLOWS.orderSaga.name;
const SYNC = WORKFLOWS.contactSync.name;
const INTEGRATION_NAMES = CATALOG.map((integration) => integration.name);
const CIRCUIT_IDS = [...CIRCUITS.keys()];

let sandbox: Sandbox<string>;
let hub: LocalHub;
let operator: LocalHubOperator;
let subjects: CatalogSubject[];
/** The catalog's first integration: the subject of the DLQ, redrive and circuit tests. */
let subject: CatalogSubject;
const backgroundErrors: { where: string; error: unknown }[] = [];

beforeAll(async () => {
  subjects = await catalogSubjects();
  subject = subjects[0]!;
  sandbox = await startSandboxForCatalog({ seed: 1 });
  hub = await LocalHub.start({ sandbox, timeScale: 1 / 30, onError: (where, error) => backgroundErrors.push({ where, error }) });
  operator = new LocalHubOperator(hub, 'http://127.0.0.1:4000');
});

afterAll(async () => {
  await hub?.stop();
  await sandbox?.close();
});


/** A fresh example number: every send is a different operation, so no test sees another's replay. */
let examplesUsed = 0;
const nextExample = (): number => examplesUsed++;

const orderPlaced = orderPlacedDetail;

/** The queues the catalog routes an event to: every integration with a route naming its source and detail type. */
function routedQueues(source: string, detailType: string): string[] {
  return CATALOG.filter((integration) => integration.routes.some((route) => route.sources.includes(source) && route.detailTypes.includes(detailType))).map(
    (integration) => hub.integration(integration.name)!.queue.name,
  );
}

/** The subject's DLQ messages whose event detail is `detail`. */
async function dlqMessagesOf(detail: Record<string, unknown>) {
  const listed = await operator.dlqList(subject.integration.name, { limit: 100 });
  return listed.filter((m) => isDeepStrictEqual((JSON.parse(m.body) as { detail?: unknown }).detail, detail));
}

/** Puts a poison event of the subject on the bus and waits until the runtime dead-letters it; returns its DLQ message. */
async function poisonEvent(): Promise<{ detail: Record<string, unknown>; messageId: string }> {
  const detail = subject.poison(nextExample());
  await operator.send({ source: subject.source, detailType: subject.detailType, detail });
  return eventually(async () => {
    const [found] = await dlqMessagesOf(detail);
    expect(found).toBeDefined();
    return { detail, messageId: found!.messageId };
  });
}

/** The break the catalog gives circuit `name` after `reopenCount` re-opens. */
function catalogBreakMs(name: string, reopenCount = 0): number {
  return breakDurationMs(resolveCircuitBreakerSettings(CIRCUITS.get(name)), reopenCount);
}

describe('LocalHubOperator', () => {
  it('describes the local hub: its location, integrations and workflows', async () => {
    const description = await operator.describe();
    expect(description).toMatchObject({ target: 'local', location: 'http://127.0.0.1:4000' });
    expect(description.integrations).toEqual(INTEGRATION_NAMES);
    expect(description.workflows).toEqual(expect.arrayContaining([SAGA, SYNC]));
    expect((await new LocalHubOperator(hub).describe()).location).toBe('in-process');
  });

  it("sends events on the bus and says where its rules routed them, each integration's to its queue; an unmatched event still succeeds", async () => {
    for (const each of subjects) {
      const n = nextExample();
      const sent = await operator.send({ source: each.source, detailType: each.detailType, detail: each.example(n) });
      expect(sent.eventId).toMatch(/^[0-9a-f-]{36}$/);
      expect(sent.routedTo).toContain(hub.integration(each.integration.name)!.queue.name);
      expect(sent.routedTo).toEqual(routedQueues(each.source, each.detailType));
      // The provider got the operation once, under the runtime's Idempotency-Key.
      await eventually(() => expect(sandbox.journal.count({ idempotencyKey: each.idempotencyKey(n), sideEffect: true })).toBe(1));
    }

    const published = hub.published;
    const unmatched = await operator.send({ detailType: 'NobodyListens', detail: { x: 1 } });
    expect(unmatched.routedTo).toEqual([]);
    expect(hub.published).toBe(published + 1);
  });

  it('shows the ledger of a delivered event as synced', async () => {
    const n = nextExample();
    const entity = subject.entity(n);
    await operator.send({ source: subject.source, detailType: subject.detailType, detail: subject.example(n) });
    const [entry] = await eventually(async () => {
      const entries = (await operator.ledgerShow(entity.type, entity.id)).filter((e) => e.integration === subject.integration.name);
      expect(entries.map((e) => e.status)).toEqual(['synced']);
      return entries;
    });
    expect(entry).toMatchObject({ entityType: entity.type, entityId: entity.id, integration: subject.integration.name, status: 'synced' });
    expect(entry!.externalId).toBeTruthy();
    expect(await operator.ledgerShow(entity.type, `never-seen-${randomUUID()}`)).toEqual([]);
  });

  it('lists a poison message in the DLQ with its reason, and listing twice loses nothing', async () => {
    const name = subject.integration.name;
    const { detail, messageId } = await poisonEvent();
    const first = await operator.dlqList(name, { limit: 100 });
    const second = await operator.dlqList(name, { limit: 100 });
    expect(second.map((m) => m.messageId)).toEqual(expect.arrayContaining(first.map((m) => m.messageId)));
    expect(second).toHaveLength(first.length);
    const listed = second.find((m) => m.messageId === messageId)!;
    expect(JSON.parse(listed.body)).toMatchObject({ source: subject.source, 'detail-type': subject.detailType, detail });
    expect(listed.attributes).toMatchObject({
      errorClass: 'UnsupportedEventVersion',
      errorMessage: expect.stringContaining('schemaVersion "0"'),
      correlationId: expect.any(String),
      integration: name,
    });
    expect(listed.attributes.sourceMessageId).toBeTruthy();
    expect(Date.parse(listed.attributes.failedAt!)).not.toBeNaN();
    // Listing is a receive, as on SQS: the DLQ's receive count grows by one per listing.
    expect(listed.receiveCount).toBe(first.find((m) => m.messageId === messageId)!.receiveCount + 1);
    expect(hub.integration(name)!.deadLetterQueue.stats()).toMatchObject({ visible: second.length, inFlight: 0 });
  });

  it('limits a DLQ listing', async () => {
    const name = subject.integration.name;
    await poisonEvent();
    const listed = await operator.dlqList(name, { limit: 1 });
    expect(listed).toHaveLength(1);
    expect(hub.integration(name)!.deadLetterQueue.stats().inFlight).toBe(0);
    await expect(operator.dlqList(name, { limit: 0 })).rejects.toBeInstanceOf(OperatorError);
  });

  it('shows one DLQ message by id, or says it is not there and how many the DLQ has', async () => {
    const name = subject.integration.name;
    const { detail, messageId } = await poisonEvent();
    const shown = await operator.dlqShow(name, messageId);
    expect(shown.messageId).toBe(messageId);
    expect((JSON.parse(shown.body) as { detail: unknown }).detail).toEqual(detail);
    const count = hub.integration(name)!.deadLetterQueue.stats().visible;
    const missing = operator.dlqShow(name, 'no-such-message');
    await expect(missing).rejects.toBeInstanceOf(NotFoundError);
    await expect(missing).rejects.toThrow(`it has ${count} message`);
  });

  it('isolating a circuit pauses the mapping, refuses a redrive unless forced; a forced redrive moves the DLQ back and the poison returns after reset', async () => {
    const name = subject.integration.name;
    const integration = hub.integration(name)!;
    await poisonEvent();
    const before = await operator.dlqList(name, { limit: 100 });
    expect(before.length).toBeGreaterThan(0);

    const isolated = await operator.circuitIsolate(name, 'provider maintenance');
    expect(isolated).toMatchObject({ circuit: name, circuitId: name, state: 'isolated' });
    await eventually(() => expect(integration.mapping.enabled).toBe(false));

    const refused = operator.dlqRedrive(name);
    await expect(refused).rejects.toBeInstanceOf(CircuitNotClosedError);
    await expect(refused).rejects.toThrow(/isolated/);
    expect(integration.deadLetterQueue.stats().visible).toBe(before.length);

    const sentBefore = integration.queue.stats().sent;
    const forced = await operator.dlqRedrive(name, { force: true });
    expect(forced).toEqual({ integration: name, messages: before.length });
    expect(integration.deadLetterQueue.stats()).toMatchObject({ visible: 0, inFlight: 0 });
    // The mapping is paused: the moved messages wait in the source queue, with their body and attributes.
    expect(integration.queue.stats()).toMatchObject({ visible: before.length, sent: sentBefore + before.length });
    const waiting = integration.queue.receive(10, { visibilityTimeoutSeconds: 0 });
    expect(waiting[0]!.attributes.errorClass).toBe(before[0]!.attributes.errorClass);

    const reset = await operator.circuitReset(name);
    expect(reset).toMatchObject({ circuit: name, state: 'closed' });
    await eventually(() => expect(integration.mapping.enabled).toBe(true));

    // Still poison: each comes back to the DLQ, under a new message id, with the same body and reason.
    const after = await eventually(async () => {
      const listed = await operator.dlqList(name, { limit: 100 });
      expect(listed).toHaveLength(before.length);
      return listed;
    }, 10_000);
    expect(after.map((m) => m.body).sort()).toEqual(before.map((m) => m.body).sort());
    expect(after.map((m) => m.messageId)).not.toEqual(expect.arrayContaining([before[0]!.messageId]));
    expect(after.every((m) => m.attributes.errorClass === before[0]!.attributes.errorClass)).toBe(true);
    expect(integration.queue.stats()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it('redrives without force while the circuit is closed: nothing is lost', async () => {
    const name = subject.integration.name;
    const integration = hub.integration(name)!;
    const before = await operator.dlqList(name, { limit: 100 });
    expect(before.length).toBeGreaterThan(0);
    expect((await operator.circuitStatus(name))[0]!.state).toBe('closed');
    const result = await operator.dlqRedrive(name);
    expect(result.messages).toBe(before.length);
    const after = await eventually(async () => {
      const listed = await operator.dlqList(name, { limit: 100 });
      expect(listed).toHaveLength(before.length);
      return listed;
    }, 10_000);
    expect(after.map((m) => m.body).sort()).toEqual(before.map((m) => m.body).sort());
    expect(integration.queue.stats()).toMatchObject({ visible: 0, inFlight: 0 });
  });

  it("shows the status of every circuit (the integrations' and the workflow providers'), each with its catalog settings, or of one", async () => {
    const all = await operator.circuitStatus();
    expect(all.map((c) => c.circuit)).toEqual(CIRCUIT_IDS);
    expect(all.every((c) => c.circuitId === c.circuit)).toBe(true);
    // The view takes each circuit's own settings from the template, as the catalog gives them.
    expect(all.map((c) => [c.circuit, c.nextBreakMs])).toEqual(all.map((c) => [c.circuit, catalogBreakMs(c.circuit, c.reopenCount)]));
    expect((await operator.describe()).circuits).toEqual(CIRCUIT_IDS);
    const [one] = await operator.circuitStatus(subject.integration.name);
    expect(one).toMatchObject({ circuit: subject.integration.name, state: 'closed' });
    await expect(operator.circuitStatus('no-such-circuit')).rejects.toThrow(`Unknown circuit 'no-such-circuit'. The hub has: ${CIRCUIT_IDS.join(', ')}`);
  });

  it.runIf(STANDALONE_PROVIDERS.length > 0)(
    "isolates and resets a workflow provider's circuit in the shared circuits table, with its settings from the template",
    async () => {
      const provider = STANDALONE_PROVIDERS[0]!.name;
      const isolated = await operator.circuitIsolate(provider, 'provider maintenance');
      expect(isolated).toMatchObject({ circuit: provider, state: 'isolated', stateReason: 'provider maintenance' });
      // The item the workflow tasks calling this provider read.
      expect(await hub.circuits.get(provider)).toMatchObject({ state: 'isolated', stateReason: 'provider maintenance' });
      const [status] = await operator.circuitStatus(provider);
      expect(status).toMatchObject({ state: 'isolated', nextBreakMs: catalogBreakMs(provider, status!.reopenCount) });
      expect(await operator.circuitReset(provider)).toMatchObject({ circuit: provider, state: 'closed' });
      expect(await hub.circuits.get(provider)).toMatchObject({ state: 'closed' });
    },
  );

  it('lists the saga of a placed order as SUCCEEDED, newest first, filtered by workflow and status', async () => {
    const orderId = `order-${randomUUID()}`;
    const sent = await operator.send({ source: 'orders.service', detailType: 'OrderPlaced', detail: orderPlaced(orderId) });
    expect(sent.routedTo).toHaveLength(1);
    const execution = await eventually(async () => {
      const found = (await operator.workflowsList({ workflow: SAGA })).find((e) => e.name === orderId);
      expect(found?.status).toBe('SUCCEEDED');
      return found!;
    }, 15_000);
    expect(execution.executionArn).toMatch(new RegExp(`^arn:aws:states:[^:]+:\\d+:execution:WorkflowsOrderSaga[^:]*:${orderId}$`));
    expect(execution.stoppedAt).toBeGreaterThanOrEqual(execution.startedAt);
    expect(execution.error).toBeUndefined();

    const listed = await operator.workflowsList();
    expect(listed.map((e) => e.startedAt)).toEqual([...listed.map((e) => e.startedAt)].sort((a, b) => b - a));
    expect((await operator.workflowsList({ status: 'SUCCEEDED' })).some((e) => e.name === orderId)).toBe(true);
    expect((await operator.workflowsList({ status: 'FAILED' })).some((e) => e.name === orderId)).toBe(false);
    expect(await operator.workflowsList({ limit: 1 })).toHaveLength(1);
    expect(await operator.workflowsList({ workflow: SYNC, status: 'TIMED_OUT' })).toEqual([]);

    await expect(operator.workflowsList({ workflow: 'nope' })).rejects.toThrow(new RegExp(`Unknown workflow 'nope'.*${SAGA}`));
    await expect(operator.workflowsList({ status: 'DONE' as never })).rejects.toThrow(/Unknown execution status 'DONE'.*PENDING_REDRIVE/);
  });

  it('redrives a failed saga by name or ARN: a compensated saga (ended in its Fail state) fails again at once, calling nobody', async () => {
    const orderId = `order-${randomUUID()}`;
    sandbox.inventory.setStock('SKU-1', 0);
    try {
      await operator.send({ source: 'orders.service', detailType: 'OrderPlaced', detail: orderPlaced(orderId) });
      const failed = await eventually(async () => {
        const found = (await operator.workflowsList({ workflow: SAGA, status: 'FAILED' })).find((e) => e.name === orderId);
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
    expect(redriven.executionArn).toMatch(new RegExp(`:execution:WorkflowsOrderSaga[^:]*:${orderId}$`));
    expect(redriven.detail).toMatch(/from the state that failed/);
    const execution = hub.executions.find((e) => e.workflow === SAGA && e.name === orderId)!;
    expect(execution.redrives).toBe(1);
    const outcome = await eventually(async () => {
      const found = (await operator.workflowsList({ workflow: SAGA })).find((e) => e.name === orderId)!;
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
    const [succeeded] = await operator.workflowsList({ workflow: SAGA, status: 'SUCCEEDED', limit: 1 });
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
      ...STANDALONE_PROVIDERS.map((provider) => () => operator.dlqList(provider.name)),
    ];
    for (const call of calls) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error).toBeInstanceOf(UnknownIntegrationError);
      expect((error as UnknownIntegrationError).known).toEqual(INTEGRATION_NAMES);
      expect((error as Error).message).toMatch(new RegExp(`^Unknown integration '[^']+'\\. The hub has: ${INTEGRATION_NAMES.join(', ')}$`));
    }
    for (const call of [() => operator.circuitStatus('nope'), () => operator.circuitIsolate('nope', 'why'), () => operator.circuitReset('nope')]) {
      const error = await call().catch((e: unknown) => e);
      expect(error).toBeInstanceOf(UnknownCircuitError);
      expect((error as UnknownCircuitError).known).toEqual(CIRCUIT_IDS);
    }
  });

  it('refuses a redrive rate (the local hub moves a DLQ at once) and moves nothing', async () => {
    const name = subject.integration.name;
    const before = hub.integration(name)!.deadLetterQueue.stats();
    await expect(operator.dlqRedrive(name, { maxMessagesPerSecond: 10 })).rejects.toThrow('a redrive rate applies on AWS only');
    expect(hub.integration(name)!.deadLetterQueue.stats()).toEqual(before);
  });

  it('saw no background errors in the hub', () => {
    expect(backgroundErrors).toEqual([]);
  });
});
