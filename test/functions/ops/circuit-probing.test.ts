import { beforeEach, describe, expect, it } from 'vitest';
import { RecordingCircuitGauge } from '../../../functions/ops/circuit-gauge.js';
import { CircuitProber, type ProbeTarget, type ReauthorizationOutcome } from '../../../functions/ops/circuit-probing.js';
import { REAUTHORIZATION_NEEDED } from '../../../functions/runtime/errors.js';
import type { ProbedIntegration, ProbedProvider } from '../../../functions/ops/ops-config.js';
import type { CircuitState } from '../../../functions/runtime/circuit-store.js';
import type { ProbeOutcome } from '../../../functions/runtime/integration-runtime.js';
import { CRM_MAPPING, FakeClock, FakeEventSourceMappings, FakeProbeSchedule, PAYMENTS_MAPPING, silentLogger } from './ops-test-support.js';

/** A circuit and a probe the test drives by hand. */
class FakeTarget implements ProbeTarget {
  state: CircuitState = 'closed';
  effectiveState: CircuitState = 'closed';
  version = 1;
  stateSince: number | undefined;
  probeOutcome: ProbeOutcome = 'succeeded';
  probes = 0;
  flushes = 0;
  statusError: Error | undefined;
  stateReason: string | undefined;
  /** What reauthorize() finds; 'reauthorized' closes the circuit as the real target's reset does. */
  reauthorization: ReauthorizationOutcome = 'waiting';
  reauthorizations = 0;

  constructor(readonly integration: ProbedIntegration | ProbedProvider) {}

  async status() {
    if (this.statusError) throw this.statusError;
    return { state: this.state, effectiveState: this.effectiveState, version: this.version, stateSince: this.stateSince, stateReason: this.stateReason };
  }

  async reauthorize(): Promise<ReauthorizationOutcome> {
    this.reauthorizations += 1;
    if (this.reauthorization === 'reauthorized') this.set('closed');
    return this.reauthorization;
  }

  async probe(): Promise<ProbeOutcome> {
    this.probes += 1;
    if (this.probeOutcome === 'succeeded') this.set('closed');
    return this.probeOutcome;
  }

  flushMetrics(): void {
    this.flushes += 1;
  }

  set(state: CircuitState, options: { effective?: CircuitState; since?: number } = {}): void {
    this.state = state;
    this.effectiveState = options.effective ?? state;
    this.stateSince = options.since ?? this.stateSince;
    this.version += 1;
  }
}

const integration = (name: string, mappingUuid: string, maxConcurrency: number): ProbedIntegration => ({
  name,
  adapter: name,
  auth: { scheme: 'bearer' },
  mappingUuid,
  maxConcurrency,
  baseUrl: `https://${name}.example.com`,
  secretName: `${name}/credentials`,
  circuit: {},
});

let clock: FakeClock;
let crm: FakeTarget;
let payments: FakeTarget;
let mappings: FakeEventSourceMappings;
let schedule: FakeProbeSchedule;
let gauge: RecordingCircuitGauge;
let prober: CircuitProber;

const RESTORE_AFTER_MS = 60_000;

beforeEach(() => {
  clock = new FakeClock();
  crm = new FakeTarget(integration('crm', CRM_MAPPING, 5));
  payments = new FakeTarget(integration('payments', PAYMENTS_MAPPING, 10));
  crm.stateSince = payments.stateSince = clock.now() - 3_600_000;
  mappings = new FakeEventSourceMappings({
    [CRM_MAPPING]: { state: 'enabled', maximumConcurrency: 5 },
    [PAYMENTS_MAPPING]: { state: 'enabled', maximumConcurrency: 10 },
  });
  schedule = new FakeProbeSchedule(true);
  gauge = new RecordingCircuitGauge();
  prober = new CircuitProber({ targets: [crm, payments], mappings, schedule, gauge, logger: silentLogger(), restoreAfterMs: RESTORE_AFTER_MS, clock });
});

describe('circuit prober: workflow providers (no mapping)', () => {
  let shipping: FakeTarget;

  beforeEach(() => {
    shipping = new FakeTarget({ name: 'shipping', baseUrl: 'https://shipping.example.com', auth: { scheme: 'basic' }, secretName: 'shipping/credentials', circuit: {} });
    prober = new CircuitProber({ targets: [crm, shipping], mappings, schedule, gauge, logger: silentLogger(), restoreAfterMs: RESTORE_AFTER_MS, clock });
  });

  it('probes an open provider circuit whose break is over, publishes its CircuitOpen and keeps the schedule until it closes', async () => {
    shipping.set('open', { effective: 'half_open' });
    shipping.probeOutcome = 'failed';
    const first = await prober.run();
    expect(shipping.probes).toBe(1);
    expect(first.integrations.find((i) => i.integration === 'shipping')).toEqual({ integration: 'shipping', circuit: 'open', probe: 'failed', settled: false });
    expect(first.schedule).toBe('kept');
    expect(gauge.points).toContainEqual({ integration: 'shipping', CircuitOpen: 1 });

    shipping.probeOutcome = 'succeeded';
    await prober.run();
    expect(shipping.state).toBe('closed');
    const last = await prober.run();
    expect(last.integrations.find((i) => i.integration === 'shipping')).toEqual({ integration: 'shipping', circuit: 'closed', settled: true });
    expect(last.schedule).toBe('disabled');
    // The provider's circuit never touched a mapping.
    expect(mappings.updates).toEqual([]);
  });

  it('does not probe a provider circuit while its break lasts, nor an isolated one', async () => {
    shipping.set('open', { effective: 'open' });
    await prober.run();
    shipping.set('isolated');
    await prober.run();
    expect(shipping.probes).toBe(0);
  });
});

describe('circuit prober', () => {
  it('probes an open circuit whose break is over, and keeps its schedule', async () => {
    crm.set('open', { effective: 'half_open' });
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });
    crm.probeOutcome = 'failed';

    const report = await prober.run();

    expect(crm.probes).toBe(1);
    expect(report.integrations.find((i) => i.integration === 'crm')).toMatchObject({ circuit: 'open', probe: 'failed', settled: false });
    expect(schedule.calls).toEqual([]);
    expect(mappings.updates).toEqual([]);
  });

  it('does not probe while the break lasts, nor an isolated circuit', async () => {
    crm.set('open', { effective: 'open' });
    payments.set('isolated');
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });
    mappings.mappings.set(PAYMENTS_MAPPING, { uuid: PAYMENTS_MAPPING, state: 'disabled', maximumConcurrency: 10 });

    await prober.run();

    expect(crm.probes).toBe(0);
    expect(payments.probes).toBe(0);
    expect(schedule.enabled).toBe(true);
  });

  it('re-authorizes a circuit isolated for "re-authorization needed" once the secret holds a new refresh token, never one isolated by an operator', async () => {
    crm.set('isolated');
    crm.stateReason = `${REAUTHORIZATION_NEEDED}: Token endpoint crm.example.com/oauth/token rejected the grant: 400 invalid_grant`;
    payments.set('isolated');
    payments.stateReason = 'maintenance window';
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });
    mappings.mappings.set(PAYMENTS_MAPPING, { uuid: PAYMENTS_MAPPING, state: 'disabled', maximumConcurrency: 10 });

    const waiting = await prober.run();
    expect(waiting.integrations.find((i) => i.integration === 'crm')).toMatchObject({ circuit: 'isolated', reauthorization: 'waiting', settled: false });
    expect([crm.probes, payments.reauthorizations, crm.state]).toEqual([0, 0, 'isolated']);

    crm.reauthorization = 'reauthorized';
    const done = await prober.run();
    expect(done.integrations.find((i) => i.integration === 'crm')).toMatchObject({ reauthorization: 'reauthorized', settled: false });
    expect(crm.state).toBe('closed');
    expect(payments.reauthorizations).toBe(0);
    // The next run resumes the mapping (the controller does it on the transition in AWS).
    const next = await prober.run();
    expect(next.integrations.find((i) => i.integration === 'crm')).toMatchObject({ circuit: 'closed', action: 'resumed' });
  });

  it('publishes ReauthorizationNeeded of a refresh-token circuit on every run: 1 while it waits for a new refresh token, 0 after re-authorization; none for other schemes', async () => {
    crm = new FakeTarget({ ...integration('crm', CRM_MAPPING, 5), auth: { scheme: 'oauth2_refresh_token', tokenUrl: 'https://crm.example.com/oauth/token' } });
    prober = new CircuitProber({ targets: [crm, payments], mappings, schedule, gauge, logger: silentLogger(), restoreAfterMs: RESTORE_AFTER_MS, clock });
    crm.set('isolated');
    crm.stateReason = `${REAUTHORIZATION_NEEDED}: Token endpoint crm.example.com/oauth/token rejected the grant: 400 invalid_grant`;
    payments.set('isolated');
    payments.stateReason = 'maintenance window';
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });
    mappings.mappings.set(PAYMENTS_MAPPING, { uuid: PAYMENTS_MAPPING, state: 'disabled', maximumConcurrency: 10 });

    await prober.run();
    await prober.run();
    expect(gauge.points).toEqual([
      { integration: 'crm', CircuitOpen: 1, ReauthorizationNeeded: 1 },
      { integration: 'payments', CircuitOpen: 1 },
      { integration: 'crm', CircuitOpen: 1, ReauthorizationNeeded: 1 },
      { integration: 'payments', CircuitOpen: 1 },
    ]);

    crm.reauthorization = 'reauthorized';
    await prober.run();
    await prober.run();
    expect(gauge.last('crm', 'ReauthorizationNeeded')).toBe(0);
    expect(gauge.last('crm', 'CircuitOpen')).toBe(0);
  });

  it('disables the mapping of an open circuit that the controller missed', async () => {
    crm.set('open', { effective: 'open' });

    const report = await prober.run();

    expect(mappings.updates).toEqual([{ uuid: CRM_MAPPING, change: { enabled: false } }]);
    expect(report.integrations[0]).toMatchObject({ action: 'paused', settled: false });
  });

  it('enables a disabled mapping of a closed circuit at concurrency 2 (the controller missed the close)', async () => {
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });

    const report = await prober.run();

    expect(mappings.updates).toEqual([{ uuid: CRM_MAPPING, change: { enabled: true, maximumConcurrency: 2 } }]);
    expect(report.integrations[0]).toMatchObject({ action: 'resumed', settled: false });
    expect(schedule.enabled).toBe(true);
  });

  it("restores the catalog's concurrency once the circuit has stayed closed, sending only the concurrency", async () => {
    crm.stateSince = clock.now() - RESTORE_AFTER_MS;
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'enabled', maximumConcurrency: 2 });

    const report = await prober.run();

    expect(mappings.updates).toEqual([{ uuid: CRM_MAPPING, change: { maximumConcurrency: 5 } }]);
    expect(report.integrations[0]).toMatchObject({ action: 'restored', settled: true });
  });

  it('keeps the low concurrency while the circuit has been closed for less than the restore delay', async () => {
    crm.stateSince = clock.now() - RESTORE_AFTER_MS + 1;
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'enabled', maximumConcurrency: 2 });

    await prober.run();
    expect(mappings.updates).toEqual([]);
    expect(schedule.enabled).toBe(true);

    clock.advance(1);
    await prober.run();
    expect(mappings.updates).toEqual([{ uuid: CRM_MAPPING, change: { maximumConcurrency: 5 } }]);
  });

  it('publishes CircuitOpen for every integration on every run', async () => {
    crm.set('half_open');
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });
    crm.probeOutcome = 'not_due';

    await prober.run();
    await prober.run();

    expect(gauge.points).toEqual([
      { integration: 'crm', CircuitOpen: 1 },
      { integration: 'payments', CircuitOpen: 0 },
      { integration: 'crm', CircuitOpen: 1 },
      { integration: 'payments', CircuitOpen: 0 },
    ]);
  });

  it('disables its schedule when every circuit is closed and every mapping restored', async () => {
    const report = await prober.run();

    expect(report.schedule).toBe('disabled');
    expect(schedule.enabled).toBe(false);
    expect(report.integrations.every((i) => i.settled)).toBe(true);
  });

  it('disables its schedule in the run that restores the last mapping', async () => {
    mappings.mappings.set(PAYMENTS_MAPPING, { uuid: PAYMENTS_MAPPING, state: 'enabled', maximumConcurrency: 2 });

    const report = await prober.run();

    expect(mappings.status(PAYMENTS_MAPPING)?.maximumConcurrency).toBe(10);
    expect(report.schedule).toBe('disabled');
  });

  it('walks an outage to the end: probe closes the circuit, controller resumes at 2, prober restores, schedule off', async () => {
    crm.set('open', { effective: 'half_open' });
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'disabled', maximumConcurrency: 5 });

    const first = await prober.run();
    expect(first.integrations[0]).toMatchObject({ probe: 'succeeded', settled: false });
    crm.stateSince = clock.now();
    // What the controller does on the close it reads from the stream.
    await mappings.update(CRM_MAPPING, { enabled: true, maximumConcurrency: 2 });

    clock.advance(RESTORE_AFTER_MS);
    const second = await prober.run();

    expect(second.integrations[0]).toMatchObject({ action: 'restored', settled: true });
    expect(mappings.status(CRM_MAPPING)).toMatchObject({ state: 'enabled', maximumConcurrency: 5 });
    expect(second.schedule).toBe('disabled');
  });

  it('enables its schedule again when a circuit changes right after it was disabled', async () => {
    schedule.afterCall = (call) => {
      // The controller's EnableRule for this opening may have landed before our DisableRule.
      if (call === 'disable') crm.set('open', { effective: 'open' });
    };

    const report = await prober.run();

    expect(report.schedule).toBe('reenabled');
    expect(schedule.calls).toEqual(['disable', 'enable']);
    expect(schedule.enabled).toBe(true);
  });

  it('waits while Lambda is still moving a mapping', async () => {
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'updating', maximumConcurrency: 5 });

    const report = await prober.run();

    expect(report.integrations[0]).toMatchObject({ mapping: 'updating', settled: false });
    expect(mappings.updates).toEqual([]);
    expect(schedule.enabled).toBe(true);
  });

  it('goes on with the other integrations when one cannot be checked, and keeps the schedule', async () => {
    crm.statusError = new Error('circuits table unavailable');
    mappings.mappings.set(PAYMENTS_MAPPING, { uuid: PAYMENTS_MAPPING, state: 'disabled', maximumConcurrency: 10 });

    const report = await prober.run();

    expect(report.integrations.find((i) => i.integration === 'crm')).toMatchObject({ settled: false, error: 'circuits table unavailable' });
    expect(mappings.status(PAYMENTS_MAPPING)?.state).toBe('enabled');
    expect(schedule.enabled).toBe(true);
    expect(crm.flushes).toBe(1);
  });

  it('flushes the runtime metrics of every integration after each run', async () => {
    await prober.run();
    expect([crm.flushes, payments.flushes]).toEqual([1, 1]);
  });

  it('leaves a mapping that Lambda is still changing to the next run, without failing', async () => {
    crm.stateSince = clock.now() - RESTORE_AFTER_MS;
    mappings.mappings.set(CRM_MAPPING, { uuid: CRM_MAPPING, state: 'enabled', maximumConcurrency: 2 });
    mappings.busyFor(CRM_MAPPING, 1);

    const first = await prober.run();
    expect(first.integrations[0]).toMatchObject({ settled: false });
    expect(first.integrations[0]?.error).toBeUndefined();
    expect(schedule.enabled).toBe(true);

    const second = await prober.run();
    expect(second.integrations[0]).toMatchObject({ action: 'restored', settled: true });
  });
});
