import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { type Sandbox } from '../../../local/sandbox/index.js';
import { startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';
import { until } from '../../support/eventually.js';

const eventually = (condition: () => boolean, timeoutMs = 20_000) => until(condition, timeoutMs);


/** Requests a saga makes: inventory, payments, shipping, e-mail, health checks excluded. */
function sagaRequests(sandbox: Sandbox): number {
  return sandbox.journal.entries({}).filter((e) => ['inventory', 'payments', 'shipping', 'email'].includes(e.provider ?? '') && !e.path.endsWith('/health')).length;
}

function order(orderId: string, postalCode = '1100-053') {
  return {
    orderId,
    customerId: 'c1',
    email: 'ana@example.com',
    items: [{ sku: 'SKU-2', quantity: 1 }],
    amount: '9.90',
    currency: 'eur',
    shippingAddress: { name: 'Ana Lima', line1: 'Rua Augusta 1', city: 'Lisboa', postalCode, country: 'PT' },
  };
}

describe('redriving a failed workflow execution on the local hub (RedriveExecution semantics)', () => {
  let sandbox: Sandbox;
  let hub: LocalHub;

  beforeAll(async () => {
    sandbox = await startSandboxForCatalog({ seed: 3 });
    hub = await LocalHub.start({ sandbox, timeScale: 1 / 1000 });
  }, 60_000);

  afterAll(async () => {
    await hub?.stop();
    await sandbox?.close();
  });

  it('fails a failed sync again at once (it ended in SyncFailed after giving up its lease); a new run resumes from the checkpoint', async () => {
    sandbox.contacts.seed(5);
    sandbox.setFaults('crm', { status: 503, pathFilter: '/contacts/bulk' });
    const execution = hub.startExecution('contact-sync', 'sync-redrive-1', {});
    await eventually(() => execution.status !== 'RUNNING');
    // Transient failures, then the crm circuit opened: the step gave up after its retries, released the run lease
    // (ReleaseRun) and failed with the page's own error.
    expect(execution.status).toBe('FAILED');
    expect(['Integration.Transient', 'Integration.CircuitOpen']).toContain(execution.error);
    expect(execution.record!.path.slice(-2)).toEqual(['ReleaseRun', 'SyncFailed']);
    expect(sandbox.crm.contacts()).toHaveLength(0);

    sandbox.clearFaults('crm');
    await hub.integration('crm')!.breaker.reset();
    // Each container caches the circuit state for up to 2 s (no read per call): the reset reaches them after that.
    await new Promise((resolve) => setTimeout(resolve, 2_100));
    hub.redriveExecution('contact-sync', 'sync-redrive-1');
    await eventually(() => execution.status !== 'RUNNING');
    expect(execution).toMatchObject({ status: 'FAILED', redrives: 1 });
    expect(execution.record!.path).toEqual(['SyncFailed']);

    // The recovery (docs/runbooks/sync-executions-failed.md): a new run, which resumes from the checkpoint (or is
    // skipped while a scheduled run — every 0.9 s at this time scale — holds the lease, which then does the pass).
    const next = hub.startExecution('contact-sync', 'sync-after-redrive-1', {});
    await eventually(() => next.status !== 'RUNNING');
    expect(next.status).toBe('SUCCEEDED');
    await eventually(() => sandbox.crm.contacts().length === 5);
  });

  it('fails a compensated saga again at once: no step runs and no side effect happens', async () => {
    // The carrier refuses the address (422, permanent); CancelShipment then asks it and finds no shipment.
    hub.putEvents([{ source: 'orders.service', detailType: 'OrderPlaced', detail: order('ord-redrive-1', '00000') }]);
    await eventually(() => hub.executions.some((e) => e.name === 'ord-redrive-1' && e.status !== 'RUNNING'));
    const execution = hub.executions.find((e) => e.name === 'ord-redrive-1')!;
    expect(execution).toMatchObject({ status: 'FAILED', error: 'OrderFailed' });
    // The saga's own calls (the schedule's contact syncs and the prober's health checks run on meanwhile).
    const sagaCalls = () => sagaRequests(sandbox);
    const requestsBefore = sagaCalls();

    hub.redriveExecution('order-saga', 'ord-redrive-1');
    await eventually(() => execution.status !== 'RUNNING');

    expect(execution).toMatchObject({ status: 'FAILED', error: 'OrderFailed', redrives: 1 });
    expect(execution.record!.path).toEqual(['OrderFailed']);
    expect(sagaCalls()).toBe(requestsBefore);
    expect(sandbox.shipping.shipments().filter((s) => s.orderId === 'ord-redrive-1')).toHaveLength(0);
  });

  it('refuses to redrive an execution that did not fail', async () => {
    const execution = hub.startExecution('contact-sync', 'sync-redrive-2', {});
    await eventually(() => execution.status !== 'RUNNING');
    expect(execution.status).toBe('SUCCEEDED');
    expect(() => hub.redriveExecution('contact-sync', 'sync-redrive-2')).toThrow(/is SUCCEEDED: only a FAILED execution can be redriven/);
  });
});
