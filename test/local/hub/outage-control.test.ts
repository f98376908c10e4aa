/**
 * The circuit controller / prober loop on the real local hub, through a payments outage: the circuit opens, the
 * controller pauses the payments mapping and turns the prober on, calls to the provider stop while the messages wait
 * in the queue (nothing reaches the DLQ); when the provider is back the prober's probe closes the circuit, the
 * controller resumes the mapping and every payment is charged exactly once.
 *
 * The catalog's payments break (30 s) would make the test wait half a minute for the parked messages, so the hub is
 * synthesized with a 3 s break for payments — a catalog setting, every other setting is the catalog's — and runs its
 * schedules 60× faster, so the prober (`rate(1 minute)`) runs every second. For the same reason a long throttle is
 * 5 s here (openOnThrottleMs) and a Retry-After is capped at 6 s (maxThrottleMs) instead of 60 s and 15 min.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RESUME_MAXIMUM_CONCURRENCY } from '../../../functions/ops/ports.js';
import { INTEGRATIONS } from '../../../lib/catalog.js';
import { PROVIDERS } from '../../../lib/workflow-catalog.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { sandboxContext, startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';
import { type CfnTemplate, synthesizeHubTemplate } from '../../../local/local-step-functions.js';
import { type Sandbox } from '../../../local/sandbox/index.js';
import { orderPlacedDetail } from '../../support/order-placed.js';
import { eventually } from '../../support/eventually.js';

const PAYMENTS_BREAK_MS = 3_000;
const PAYMENTS_THROTTLE = { openOnThrottleMs: 5_000, maxThrottleMs: 6_000 };
/** The inventory provider's break, short for the same reason as the payments one. */
const INVENTORY_BREAK_MS = 2_000;
const PAYMENTS = 20;

let sandbox: Sandbox;
let template: CfnTemplate;
let hub: LocalHub;
const backgroundErrors: { where: string; error: unknown }[] = [];

beforeAll(async () => {
  sandbox = await startSandboxForCatalog({ seed: 1 });
  const catalogs = {
    integrations: INTEGRATIONS.map((entry) => (entry.name === 'payments' ? { ...entry, circuit: { ...entry.circuit, breakMs: PAYMENTS_BREAK_MS, ...PAYMENTS_THROTTLE } } : entry)),
    providers: PROVIDERS.map((entry) => (entry.name === 'inventory' ? { ...entry, circuit: { ...entry.circuit, breakMs: INVENTORY_BREAK_MS } } : entry)),
  };
  template = synthesizeHubTemplate({ context: sandboxContext(sandbox, catalogs), ...catalogs });
  hub = await LocalHub.start({ sandbox, template, timeScale: 1 / 60, onError: (where, error) => backgroundErrors.push({ where, error }) });
}, 30_000);

afterAll(async () => {
  await hub?.stop();
  await sandbox?.close();
});


/** Checks `check` every 50 ms for `forMs`: it must pass every time (an invariant over a window, not a sleep). */
async function holds(check: () => void | Promise<void>, forMs: number): Promise<void> {
  const until = Date.now() + forMs;
  while (Date.now() < until) {
    await check();
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  await check();
}

/** The settings the template gives the payments function, its mapping and its queue. */
function paymentsSettings(functionLogicalId: string, mappingLogicalId: string) {
  const variables = template.Resources[functionLogicalId]!.Properties!.Environment as { Variables: Record<string, unknown> };
  const circuit = JSON.parse(String(variables.Variables.CIRCUIT_SETTINGS)) as { failureThreshold: number; breakMs: number };
  const mapping = template.Resources[mappingLogicalId]!.Properties! as { BatchSize: number; ScalingConfig: { MaximumConcurrency: number } };
  return {
    failureThreshold: circuit.failureThreshold,
    breakMs: circuit.breakMs,
    maxAttempts: Number(variables.Variables.HTTP_MAX_ATTEMPTS),
    recordConcurrency: Number(variables.Variables.RECORD_CONCURRENCY),
    batchSize: mapping.BatchSize,
    maximumConcurrency: mapping.ScalingConfig.MaximumConcurrency,
  };
}

const charges = () => sandbox.journal.count({ provider: 'payments', path: '/charges' });
const probes = () => sandbox.journal.count({ provider: 'payments', path: '/health' });

describe('a payments outage on the local hub', () => {
  it('pauses payments while the provider is down and delivers every payment exactly once after it recovers', { timeout: 60_000 }, async () => {
    const payments = hub.integration('payments')!;
    const mappingLogicalId = [...hub.mappings].find(([, mapping]) => mapping === payments.mapping)![0];
    const settings = paymentsSettings(payments.functionLogicalId, mappingLogicalId);
    expect(settings.breakMs).toBe(PAYMENTS_BREAK_MS);

    sandbox.setFaults('payments', { status: 503 });
    const orderIds = Array.from({ length: PAYMENTS }, (_, i) => `order-${String(i + 1).padStart(2, '0')}`);
    const routed = hub.putEvents(
      orderIds.map((orderId, i) => ({
        source: 'orders.service',
        detailType: 'PaymentRequested',
        detail: { action: 'charge', paymentId: `pay-${i + 1}`, orderId, customerId: 'c1', amount: '10.00', currency: 'eur' },
      })),
    );
    expect(routed.every((r) => r.routedTo.length === 1)).toBe(true);

    // The circuit opens; the controller, handed the transition by the circuits table's stream, pauses the mapping
    // and turns the prober's schedule on (the prober cannot have paused it: its schedule was off until then).
    await eventually(async () => {
      expect(await hub.circuitState('payments')).not.toBe('closed');
      expect(hub.circuitTransitions).toContainEqual(expect.objectContaining({ circuitId: 'payments', to: 'open' }));
      expect(payments.mapping.enabled).toBe(false);
      expect(hub.probeSchedule.enabled).toBe(true);
    }, 20_000);

    // Every record was received once and came back unfinished (parked while the circuit is open, or set to retry).
    await eventually(() => {
      expect(payments.mapping.stats().inFlightInvocations).toBe(0);
      expect(payments.counters.parked + payments.counters.retried).toBe(PAYMENTS);
    }, 10_000);
    expect(payments.counters).toMatchObject({ delivered: 0, deadLettered: 0 });

    // The breaker cut the calls short. Every record in flight may send its first attempt before any failure is
    // recorded (batch × record concurrency × mapping concurrency covers all 20 here); beyond those, the breaker allows
    // about failureThreshold × maxAttempts. Without it, every record would make all its attempts.
    const inFlightRecords = Math.min(PAYMENTS, Math.min(settings.batchSize, settings.recordConcurrency) * settings.maximumConcurrency);
    const callsWhenPaused = charges();
    expect(callsWhenPaused).toBeGreaterThanOrEqual(settings.failureThreshold);
    expect(callsWhenPaused).toBeLessThanOrEqual(inFlightRecords + settings.failureThreshold * settings.maxAttempts);
    expect(callsWhenPaused).toBeLessThan(PAYMENTS * settings.maxAttempts);

    // Calls stop while the provider is down: past the break the parked messages are visible again, but the paused
    // mapping does not receive them; only the prober's health probes reach the provider (and fail).
    const probesBefore = probes();
    await holds(() => {
      expect(charges()).toBe(callsWhenPaused);
      expect(payments.mapping.enabled).toBe(false);
    }, settings.breakMs + 1_500);
    await eventually(() => expect(probes()).toBeGreaterThan(probesBefore), 10_000);
    expect(charges()).toBe(callsWhenPaused);
    expect(payments.deadLetterQueue.stats().sent).toBe(0);
    expect(payments.queue.stats().movedToDlq).toBe(0);

    // The provider recovers: the prober's next probe closes the circuit; the controller resumes the mapping, at
    // Lambda's minimum concurrency first (the prober restores the catalog's later).
    sandbox.clearFaults('payments');
    await eventually(async () => {
      expect(await hub.circuitState('payments')).toBe('closed');
      expect(hub.circuitTransitions.at(-1)).toMatchObject({ circuitId: 'payments', to: 'closed' });
      expect(payments.mapping.enabled).toBe(true);
    }, 30_000);
    expect(payments.mapping.maximumConcurrency).toBe(RESUME_MAXIMUM_CONCURRENCY);

    // Every payment is charged exactly once, nothing is left in the queue and nothing reached the DLQ.
    await eventually(() => {
      expect(payments.counters.delivered).toBe(PAYMENTS);
      const stats = payments.queue.stats();
      expect(stats.visible + stats.inFlight + stats.delayed).toBe(0);
    }, 30_000);
    const references = sandbox.payments.charges().map((charge) => charge.reference);
    expect(references.sort()).toEqual(orderIds);
    expect(payments.deadLetterQueue.stats().sent).toBe(0);
    expect(payments.queue.stats().movedToDlq).toBe(0);
    expect(payments.counters.deadLettered).toBe(0);
    expect(backgroundErrors).toEqual([]);
  });
});

describe('a long throttle on the local hub', () => {
  it('opens the circuit until the Retry-After ends and pauses payments, instead of parking every message once per window', { timeout: 60_000 }, async () => {
    const payments = hub.integration('payments')!;
    const before = { delivered: payments.counters.delivered, sent: payments.deadLetterQueue.stats().sent, reopenCount: (await hub.circuits.get('payments'))?.reopenCount ?? 0 };
    // Charges answer 429 with a Retry-After of an hour (capped at maxThrottleMs); health answers 200.
    sandbox.setFaults('payments', { throttle: { retryAfterSeconds: 3600 }, pathFilter: '/charges' });
    const orderIds = Array.from({ length: PAYMENTS }, (_, i) => `throttled-${String(i + 1).padStart(2, '0')}`);
    hub.putEvents(
      orderIds.map((orderId, i) => ({
        source: 'orders.service',
        detailType: 'PaymentRequested',
        detail: { action: 'charge', paymentId: `thr-${i + 1}`, orderId, customerId: 'c1', amount: '10.00', currency: 'eur' },
      })),
    );

    await eventually(async () => {
      expect(await hub.circuits.get('payments')).toMatchObject({ state: 'open', stateReason: 'throttled' });
      expect(payments.mapping.enabled).toBe(false);
    }, 20_000);
    // A 429 is not a failure: the break did not grow (what the count holds is the earlier outage's, kept while its
    // recovery is recent: circuit-breaker.ts `breakCountOnTrip`).
    expect((await hub.circuits.get('payments'))?.reopenCount).toBe(before.reopenCount);

    // While open, nothing calls the gateway's charges (only the records already in flight when the first 429 came).
    await eventually(() => expect(payments.mapping.stats().inFlightInvocations).toBe(0), 10_000);
    const whilePaused = charges();
    await holds(() => expect(charges()).toBe(whilePaused), PAYMENTS_THROTTLE.openOnThrottleMs - 1_000);

    // The provider stops throttling: every payment is charged exactly once and none reached the DLQ.
    sandbox.clearFaults('payments');
    await eventually(() => expect(payments.counters.delivered - before.delivered).toBe(PAYMENTS), 45_000);
    const references = sandbox.payments.charges().map((charge) => charge.reference).filter((reference) => reference.startsWith('throttled-'));
    expect(references.sort()).toEqual(orderIds);
    expect(payments.deadLetterQueue.stats().sent).toBe(before.sent);
    expect(payments.queue.stats().movedToDlq).toBe(0);
    expect(backgroundErrors).toEqual([]);
  });
});

describe('a workflow provider outage on the local hub', () => {
  it('turns the prober on for the provider circuit, which probes it and closes it once the provider is back', { timeout: 60_000 }, async () => {
    const inventoryHealth = () => sandbox.journal.count({ provider: 'inventory', path: '/health' });
    sandbox.setFaults('inventory', { status: 503 });
    const orderIds = Array.from({ length: 6 }, (_, i) => `inv-order-${i + 1}`);
    hub.putEvents(
      orderIds.map((orderId) => ({
        source: 'orders.service',
        detailType: 'OrderPlaced',
        detail: orderPlacedDetail(orderId),
      })),
    );

    // The reservations fail and open the provider's circuit; the controller turns the prober on and records it.
    await eventually(async () => {
      expect(await hub.circuitState('inventory')).not.toBe('closed');
      expect(hub.circuitTransitions).toContainEqual(expect.objectContaining({ circuitId: 'inventory', to: 'open' }));
      expect(hub.gauge.latest.get('inventory')).toBe('open');
      expect(hub.probeSchedule.enabled).toBe(true);
    }, 20_000);

    // While it is down the prober's probes fail; once it is back a probe closes the circuit and the sagas finish.
    await eventually(() => expect(inventoryHealth()).toBeGreaterThan(0), 15_000);
    sandbox.clearFaults('inventory');
    await eventually(async () => expect(await hub.circuitState('inventory')).toBe('closed'), 20_000);
    await eventually(() => {
      const sagas = hub.executions.filter((e) => orderIds.includes(e.name));
      expect(sagas).toHaveLength(orderIds.length);
      expect(sagas.every((e) => e.status === 'SUCCEEDED')).toBe(true);
    }, 30_000);
    expect(sandbox.inventory.reservations().filter((r) => orderIds.includes(r.orderId))).toHaveLength(orderIds.length);
    expect(backgroundErrors).toEqual([]);
  });
});
