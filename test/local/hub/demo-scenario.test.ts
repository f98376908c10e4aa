import { toChargeStatus } from '../../../functions/integrations/payments.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { resolveCircuitBreakerSettings } from '../../../functions/runtime/circuit-settings.js';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';
import type { LocalQueue } from '../../../local/local-queue.js';
import { type DemoEvent, loadDemoIntegrations, planDemoEvents } from '../../../local/hub/demo-events.js';
import {
  checkOutageProvider,
  DEMO_ACCESS_TOKEN_LIFETIME_SECONDS,
  DemoOptionError,
  type DemoResult,
  parseOutage,
  runDemo,
  sandboxProviderNames,
} from '../../../local/hub/demo-scenario.js';
import { accessTokenSentence } from '../../../local/hub/hub-timeline.js';
import { DEFAULT_WEBHOOK_DELIVERIES } from '../../../local/hub/demo-webhooks.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { servingProviderOf } from '../../../local/hub/serving-provider.js';
import { PROVIDER_NAMES, type Sandbox, type SandboxControl, startSandbox } from '../../../local/sandbox/index.js';
import { startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';

const catalog = resolveCatalog(INTEGRATIONS);

describe('demo options', () => {
  it('parses --outage with seconds, minutes and milliseconds', () => {
    expect(parseOutage('payments:20s', PROVIDER_NAMES)).toEqual({ provider: 'payments', durationMs: 20_000 });
    expect(parseOutage('crm:1m', PROVIDER_NAMES)).toEqual({ provider: 'crm', durationMs: 60_000 });
    expect(parseOutage('inventory:1500ms', PROVIDER_NAMES)).toEqual({ provider: 'inventory', durationMs: 1500 });
  });

  it('refuses an unknown third party and a malformed value with the accepted forms', () => {
    expect(() => parseOutage('stripe:20s', PROVIDER_NAMES)).toThrow(/unknown third party 'stripe'. Known: .*payments/);
    expect(() => parseOutage('payments', PROVIDER_NAMES)).toThrow(DemoOptionError);
    expect(() => parseOutage('payments:soon', PROVIDER_NAMES)).toThrow(/<provider>:<duration>/);
  });

  it('checks only the form without providers; the started sandbox names them, generic providers included', async () => {
    expect(parseOutage('helpdesk:5s')).toEqual({ provider: 'helpdesk', durationMs: 5000 });
    const withGeneric = await startSandbox({ seed: 1, generic: [{ name: 'helpdesk', auth: 'bearer' }] });
    try {
      const names = await sandboxProviderNames(withGeneric);
      expect(names).toEqual([...PROVIDER_NAMES, 'helpdesk']);
      expect(() => checkOutageProvider(parseOutage('helpdesk:5s'), names)).not.toThrow();
      expect(() => checkOutageProvider(parseOutage('stripe:5s'), names)).toThrow(/unknown third party 'stripe'. Known: .*helpdesk/);
    } finally {
      await withGeneric.close();
    }
  });
});

/** Every message of a queue, left in it (received with visibility 0). */
function peek(queue: LocalQueue): { body: string; attributes: Record<string, string> }[] {
  const seen = new Map<string, { body: string; attributes: Record<string, string> }>();
  for (let fresh = queue.receive(10, { visibilityTimeoutSeconds: 0 }); fresh.some((m) => !seen.has(m.messageId)); fresh = queue.receive(10, { visibilityTimeoutSeconds: 0 })) {
    for (const m of fresh) seen.set(m.messageId, m);
  }
  return [...seen.values()];
}

describe('the default demo scenario on the local hub', () => {
  let sandbox: Sandbox;
  let hub: LocalHub;
  let result: DemoResult;
  let plan: DemoEvent[];
  // The defaults of `npm start`: 300 events, payments down for 20 s a third into the publishing window, 20 s access tokens.
  const outage = parseOutage('payments:20s', PROVIDER_NAMES);
  // The integrations the down provider plays the third party of (serving-provider.ts), and the others.
  const down = catalog.filter((entry) => servingProviderOf(entry).name === outage.provider).map((entry) => entry.name);
  const up = catalog.map((entry) => entry.name).filter((name) => !down.includes(name));

  beforeAll(async () => {
    sandbox = await startSandboxForCatalog({ seed: 42, accessTokenLifetimeSeconds: DEMO_ACCESS_TOKEN_LIFETIME_SECONDS });
    hub = await LocalHub.start({ sandbox, timeScale: 1 / 30 });
    result = await runDemo(hub, sandbox, { events: 300, seed: 42, outage });
    plan = planDemoEvents({ events: 300, seed: 42, publishForMs: 30_000, integrations: await loadDemoIntegrations(catalog) });
  }, 150_000);

  afterAll(async () => {
    await hub?.stop();
    await sandbox?.close();
  });

  const planned = (integration: string) => plan.filter((e) => e.kind === 'integration' && e.integration === integration);

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

  it('refreshes the access token of every refresh-token integration on expiry during the traffic, once per expiry across its instances', () => {
    const refreshing = catalog.filter((entry) => entry.auth.scheme === 'oauth2_refresh_token' && servingProviderOf(entry).generic).map((entry) => entry.name);
    expect(refreshing.length).toBeGreaterThan(0);
    expect(result.summary.accessTokens?.map((row) => row.integration)).toEqual(refreshing);
    for (const row of result.summary.accessTokens ?? []) {
      const grant = (sandbox as unknown as SandboxControl<string>).generic(row.integration).refreshTokenGrant!;
      expect(row).toMatchObject({ lifetimeSeconds: DEMO_ACCESS_TOKEN_LIFETIME_SECONDS, refused: 0, beyondOnePerLifetime: 0 });
      // The provider's own counters: every refresh call granted, the first for the initial token, then one per expiry.
      expect([row.refreshCalls, row.refreshesGranted]).toEqual([grant.refreshRequests(), grant.refreshesGranted()]);
      expect(row.refreshesGranted).toBe(row.refreshCalls);
      expect(row.onExpiry).toBeGreaterThanOrEqual(1);
      expect(row.trafficMs).toBeGreaterThan(DEMO_ACCESS_TOKEN_LIFETIME_SECONDS * 1000);
      expect(row.instances).toBeGreaterThanOrEqual(1);
      expect(row.delivered).toBe(result.summary.integrations.find((i) => i.integration === row.integration)?.delivered);
      expect(accessTokenSentence(row)).toContain('1 refresh call per expiry across');
    }
  });

  it("accounts for every catalog integration: each valid example delivered once, each invalid one in its DLQ", () => {
    expect(result.summary.integrations.map((row) => row.integration)).toEqual(catalog.map((entry) => entry.name));
    for (const entry of catalog) {
      const events = planned(entry.name);
      const row = result.summary.integrations.find((r) => r.integration === entry.name)!;
      expect(row.published, entry.name).toBe(events.length);
      expect(row.published, entry.name).toBeGreaterThan(0);
      expect(row.delivered, entry.name).toBe(events.filter((e) => e.valid).length);
      expect(row.invalidInDlq, entry.name).toBe(events.filter((e) => !e.valid).length);
      expect(row.invalidInDlq, entry.name).toBeGreaterThan(0);
      // Each side effect of the integration's provider under its keys is one planned event.
      const keys = new Set(events.filter((e) => e.valid).map((e) => e.key));
      const effects = sandbox.sideEffects(servingProviderOf(entry).name as never).filter((e) => e.idempotencyKey?.startsWith(`${entry.name}:`));
      expect(effects.map((e) => e.idempotencyKey).sort(), entry.name).toEqual([...keys].sort());
    }
  });

  it("dead-lettered the invalid events with the reason: their schemaVersion '0' is not supported", () => {
    for (const entry of catalog) {
      const dead = peek(hub.integration(entry.name)!.deadLetterQueue);
      expect(dead.length, entry.name).toBe(planned(entry.name).filter((e) => !e.valid).length);
      for (const message of dead) {
        expect((JSON.parse(message.body) as { detail: { schemaVersion: string } }).detail.schemaVersion).toBe('0');
        expect(message.attributes.errorMessage).toMatch(/schemaVersion "0" is not supported/);
      }
    }
  });

  it('opened the circuit of what the down provider serves, paused its mapping and parked instead of burning receives', () => {
    expect(down.length).toBeGreaterThan(0);
    const during = result.timeline.filter((s) => s.atMs > 15_000 && s.atMs < 30_000);
    const failedWhileDown = sandbox.journal.entries({ provider: outage.provider }).filter((entry) => entry.fault === 'outage' && entry.path !== '/health');
    const transitions = JSON.stringify(hub.circuitTransitions.filter((t) => t.circuitId === outage.provider));
    for (const name of down) {
      const threshold = resolveCircuitBreakerSettings(catalog.find((entry) => entry.name === name)?.circuit).failureThreshold;
      // The provider failed every call while down: `threshold` of them open the circuit.
      expect(failedWhileDown.length, `calls failed by the outage; transitions ${transitions}`).toBeGreaterThanOrEqual(threshold);
      expect(result.summary.integrations.find((row) => row.integration === name)!.circuitOpened, `${name}: ${failedWhileDown.length} calls failed by the outage; transitions ${transitions}`).toBeGreaterThanOrEqual(1);
      expect(during.some((s) => s.integrations[name]!.circuit !== 'closed' && !s.integrations[name]!.mappingEnabled), name).toBe(true);
      expect(result.timeline.at(-1)!.integrations[name], name).toMatchObject({ circuit: 'closed', mappingEnabled: true, queued: 0, inFlight: 0 });
    }
    // Calls that reached the provider during the outage: the first failures, the calls already started when the
    // circuit opened, and probes. Once every instance knows the circuit is open (its cached state is at most
    // cacheTtlMs old), only probes (GET /health) reach the provider: that holds however slow the machine is, where a
    // count compared with the traffic does not (a loaded machine has more calls in flight when the circuit opens).
    const outageCalls = sandbox.journal.entries({ provider: outage.provider }).filter((entry) => entry.fault === 'outage');
    expect(outageCalls.length).toBeGreaterThan(0);
    const circuit = outage.provider;
    // When the controller saw it leave closed (as half-open, if it missed the open state on a loaded machine: later
    // than the real opening, so the bound below only gets looser).
    const openedAt = hub.circuitTransitions.find((t) => t.circuitId === circuit && (t.to === 'open' || t.to === 'half_open'))?.at;
    expect(openedAt, 'the controller saw the circuit open').toBeDefined();
    const knownOpenAt = openedAt! + resolveCircuitBreakerSettings(catalog.find((entry) => entry.name === circuit)?.circuit).cacheTtlMs;
    const afterOpen = outageCalls.filter((entry) => entry.at > knownOpenAt);
    expect(afterOpen.filter((entry) => entry.path !== '/health').map((entry) => `${entry.method} ${entry.path}`)).toEqual([]);
  });

  it('kept every other integration delivering through the outage: its circuit closed, its mapping polling', () => {
    const [window] = result.summary.outages;
    const during = result.timeline.filter((s) => s.atMs >= window!.fromMs && s.atMs < window!.toMs);
    for (const name of up) {
      expect(during.every((s) => s.integrations[name]!.circuit === 'closed' && s.integrations[name]!.mappingEnabled), name).toBe(true);
      expect(during.at(-1)!.integrations[name]!.delivered - during[0]!.integrations[name]!.delivered, name).toBeGreaterThan(0);
    }
  });

  it('had every webhook-declaring provider send signed deliveries: none unverified forwarded, each accepted one forwarded once', () => {
    const declaring = catalog.filter((entry) => entry.webhooks !== undefined).map((entry) => entry.name);
    expect(declaring.length).toBeGreaterThan(0);
    expect(result.summary.webhooks?.map((row) => row.integration)).toEqual(declaring);
    for (const row of result.summary.webhooks ?? []) {
      expect(row, row.integration).toMatchObject({ unverifiedForwarded: 0, acceptedNotForwarded: 0, forwardedTwice: 0 });
      expect(row.sent, row.integration).toBe(DEFAULT_WEBHOOK_DELIVERIES);
      expect(row.forwarded, row.integration).toBe(row.accepted);
      expect(row.accepted + row.rejected, row.integration).toBe(row.sent);
      // Replays, tampered and late deliveries were all among them, and each was answered as it should be.
      expect(row.duplicates, row.integration).toBeGreaterThan(0);
      expect(row.rejectedBy.bad_signature, row.integration).toBeGreaterThan(0);
      expect(row.rejectedBy.timestamp_out_of_tolerance, row.integration).toBeGreaterThan(0);
    }
  });

  it('published a SyncStatusChanged event for every ledger transition of every integration, as the audit logs say', () => {
    const rows = result.summary.statusEvents ?? [];
    expect(rows.map((row) => row.integration)).toEqual(catalog.map((entry) => entry.name));
    for (const row of rows) {
      expect(row, row.integration).toMatchObject({ mismatched: 0, repeated: 0 });
      expect(row.events, row.integration).toBeGreaterThan(0);
      // Whatever the outage did, the events end where the integration's deliveries ended: synced.
      expect(row.byStatus.synced, row.integration).toBeGreaterThan(0);
    }
  });

  it("recorded in the ledger the state of the charges the gateway's webhooks told about, refunds included", async () => {
    // The integrations whose own webhooks the catalog routes back to them (payments: charge.succeeded / refunded).
    const routedBack = catalog.filter((entry) => entry.webhooks && entry.routes.some((route) => route.sources.includes(entry.webhooks!.eventSource)));
    expect(routedBack.map((entry) => entry.name)).toContain('payments');
    expect(sandbox.payments.refunds().length).toBeGreaterThan(0);
    const statuses = await Promise.all(sandbox.payments.charges().map(async (charge) => ({ charge, entries: await hub.ledger.entries('charge', charge.id, 'payments') })));
    const recorded = statuses.filter(({ entries }) => entries.length > 0);
    const payments = result.summary.webhooks!.find((row) => row.integration === 'payments')!;
    expect(recorded).toHaveLength(payments.accepted);
    for (const { charge, entries } of recorded) {
      // The gateway's state of the charge as the adapter read it: a charge refunded at the gateway is refunded here.
      expect(entries[0], charge.id).toMatchObject({ status: 'synced', externalId: charge.id, externalStatus: toChargeStatus(charge) });
    }
    expect(recorded.some(({ entries }) => entries[0]?.externalStatus === 'refunded' || entries[0]?.externalStatus === 'partially_refunded')).toBe(true);
    expect(peek(hub.integration('payments')!.queue)).toEqual([]);
  });

  it('completed every order (none compensated because of the outage) and copied the contact changes', () => {
    const saga = result.summary.workflows.find((row) => row.workflow === 'order-saga')!;
    expect(saga.started).toBe(saga.succeeded + saga.compensated);
    expect(saga.started).toBeGreaterThan(0);
    expect(result.summary.workflows.find((row) => row.workflow === 'contact-sync')!.succeeded).toBeGreaterThanOrEqual(1);
  });
});
