import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { planDemoEvents } from '../../../local/hub/demo-events.js';
import { DemoOptionError, type DemoResult, parseOutage, runDemo } from '../../../local/hub/demo-scenario.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { PROVIDER_NAMES, type Sandbox, startSandbox } from '../../../local/sandbox/index.js';

describe('demo options', () => {
  it('parses --outage with seconds, minutes and milliseconds', () => {
    expect(parseOutage('payments:20s', PROVIDER_NAMES)).toEqual({ provider: 'payments', durationMs: 20_000 });
    expect(parseOutage('crm:1m', PROVIDER_NAMES)).toEqual({ provider: 'crm', durationMs: 60_000 });
    expect(parseOutage('inventory:1500ms', PROVIDER_NAMES)).toEqual({ provider: 'inventory', durationMs: 1500 });
  });

  it('refuses an unknown third party and a malformed value with the accepted forms', () => {
    expect(() => parseOutage('stripe:20s', PROVIDER_NAMES)).toThrow(/unknown third party 'stripe'. Known: .*payments/);
    expect(() => parseOutage('payments', PROVIDER_NAMES)).toThrow(DemoOptionError);
    expect(() => parseOutage('payments:soon', PROVIDER_NAMES)).toThrow(/<integration>:<duration>/);
  });

  it('plans the same mix for the same seed and a different one for another seed', () => {
    const plan = (seed: number) => planDemoEvents({ events: 200, seed, publishForMs: 10_000 });
    expect(plan(7)).toEqual(plan(7));
    expect(plan(8)).not.toEqual(plan(7));
    const kinds = new Set(plan(7).map((e) => e.kind));
    expect(kinds).toEqual(new Set(['file', 'payment', 'order', 'contact']));
    expect(plan(7).some((e) => !e.valid)).toBe(true);
  });
});

describe('the default demo scenario on the local hub', () => {
  let sandbox: Sandbox;
  let hub: LocalHub;
  let result: DemoResult;

  beforeAll(async () => {
    sandbox = await startSandbox({ seed: 42 });
    hub = await LocalHub.start({ sandbox, timeScale: 1 / 30 });
    // The defaults of `npm start`: 300 events, payments down for 20 s a third into the publishing window.
    result = await runDemo(hub, sandbox, { events: 300, seed: 42, outage: parseOutage('payments:20s', PROVIDER_NAMES) });
  }, 150_000);

  afterAll(async () => {
    await hub?.stop();
    await sandbox?.close();
  });

  it('ends with nothing lost, nothing duplicated and nothing valid in a DLQ', () => {
    const { summary } = result;
    expect(summary.problems).toEqual([]);
    expect(summary.ok).toBe(true);
    for (const row of summary.integrations) {
      expect(row).toMatchObject({ lost: 0, duplicates: 0, validInDlq: 0 });
      expect(row.delivered + row.invalidInDlq).toBe(row.published);
    }
    for (const row of summary.workflows) expect(row).toMatchObject({ duplicates: 0, failed: 0 });
  });

  it('opened the payments circuit during the outage, paused its mapping and parked instead of burning receives', () => {
    const payments = result.summary.integrations.find((row) => row.integration === 'payments')!;
    expect(payments.circuitOpened).toBeGreaterThanOrEqual(1);
    const during = result.timeline.filter((s) => s.atMs > 15_000 && s.atMs < 30_000);
    expect(during.some((s) => s.integrations.payments!.circuit !== 'closed' && !s.integrations.payments!.mappingEnabled)).toBe(true);
    // Calls that reached the gateway during the outage: bounded by the breaker, not by the traffic.
    const duringOutage = sandbox.journal.count({ provider: 'payments', fault: 'outage' });
    expect(duringOutage).toBeGreaterThan(0);
    // Without the breaker every charge arriving during the outage would be tried (3 attempts, several receives);
    // with it the gateway sees fewer calls than charges arrived: the first failures, the calls already in flight
    // when the circuit opened, and the probes.
    const [outage] = result.summary.outages;
    const chargesArriving = planDemoEvents({ events: 300, seed: 42, publishForMs: 30_000 }).filter(
      (e) => (e.kind === 'payment' || e.kind === 'order') && e.atMs >= outage!.fromMs && e.atMs < outage!.toMs,
    ).length;
    expect(chargesArriving).toBeGreaterThan(40);
    expect(duringOutage).toBeLessThan(chargesArriving / 2);
    expect(result.timeline.at(-1)!.integrations.payments).toMatchObject({ circuit: 'closed', mappingEnabled: true, queued: 0, inFlight: 0 });
  });

  it('delivered the crm traffic throughout the payments outage', () => {
    const crmDuring = result.timeline.filter((s) => s.atMs > 12_000 && s.atMs < 28_000).map((s) => s.integrations.crm!.delivered);
    expect(crmDuring.at(-1)! - crmDuring[0]!).toBeGreaterThan(20);
  });

  it('completed every order (none compensated because of the outage) and copied the contact changes', () => {
    const saga = result.summary.workflows.find((row) => row.workflow === 'order-saga')!;
    expect(saga.started).toBe(saga.succeeded + saga.compensated);
    expect(saga.started).toBeGreaterThan(0);
    expect(result.summary.workflows.find((row) => row.workflow === 'contact-sync')!.succeeded).toBeGreaterThanOrEqual(1);
  });
});
