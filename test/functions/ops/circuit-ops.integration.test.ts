/**
 * The controller and the prober against dynalite (circuits table) and the sandbox providers, with the real adapters'
 * probes, the real breaker and credentials. Lambda and EventBridge are in-memory fakes. dynalite has no streams, so
 * the controller is fed stream records built from the item read before and after each step, like the circuits
 * table's NEW_AND_OLD_IMAGES stream would deliver them.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { loadAdapters } from '../../../functions/ops/integration-adapters.js';
import { CircuitController } from '../../../functions/ops/circuit-control.js';
import { RecordingCircuitGauge } from '../../../functions/ops/circuit-gauge.js';
import { CircuitProber } from '../../../functions/ops/circuit-probing.js';
import { type ProberConfig, proberConfigFromEnvironment } from '../../../functions/ops/ops-config.js';
import { createProbeTargets } from '../../../functions/ops/probe-targets.js';
import { breakDurationMs, resolveCircuitBreakerSettings } from '../../../functions/runtime/circuit-settings.js';
import type { CircuitRecord } from '../../../functions/runtime/circuit-store.js';
import { DynamoDbCircuitStore } from '../../../functions/runtime/dynamodb-circuit-store.js';
import { SecretsManagerSecretSource } from '../../../functions/runtime/secrets-manager-secret-source.js';
import { RecordingMetricsSink } from '../../../functions/runtime/telemetry.js';
import { createTable } from '../../../local/local-dynamo.js';
import { createLocalSecretsManager, type LocalSecretsManager } from '../../../local/local-secrets-manager.js';
import type { Sandbox } from '../../../local/sandbox/index.js';
import { sandboxSecretValues, startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';
import { servingProviderOf } from '../../../local/hub/serving-provider.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { circuit, CRM_MAPPING, FakeClock, FakeEventSourceMappings, FakeProbeSchedule, PAYMENTS_MAPPING, silentLogger, streamRecord } from './ops-test-support.js';
import { INTEGRATIONS, type ResolvedIntegration, resolveCatalog } from '../../../lib/catalog.js';

// Runs the controller/prober loop with the catalog's first two integrations against the sandbox providers serving
// them (local/hub/serving-provider.ts), with their adapters, auth and the secrets the sandbox wiring gives them.
const [FIRST, SECOND] = resolveCatalog(INTEGRATIONS) as [ResolvedIntegration, ResolvedIntegration];
const FIRST_PROVIDER = servingProviderOf(FIRST).name;
const SECOND_PROVIDER = servingProviderOf(SECOND).name;

let dynamo: LocalDynamo;
let sandbox: Sandbox<string>;
let secretsManager: LocalSecretsManager;
let tableSeq = 0;

let clock: FakeClock;
let store: DynamoDbCircuitStore;
let config: ProberConfig;
let mappings: FakeEventSourceMappings;
let schedule: FakeProbeSchedule;
let gauge: RecordingCircuitGauge;
let prober: CircuitProber;
let controller: CircuitController;

const SECOND_CIRCUIT = { failureThreshold: 5, breakMs: 30_000 };

beforeAll(async () => {
  [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandboxForCatalog({ seed: 11 })]);
});
afterAll(async () => {
  await Promise.all([dynamo.close(), sandbox.close()]);
});

beforeEach(async () => {
  sandbox.reset();
  tableSeq += 1;
  const circuitsTable = `circuits-ops-${tableSeq}`;
  await createTable(dynamo.client, circuitsTable, { partitionKey: 'circuitId' });
  secretsManager = createLocalSecretsManager(sandboxSecretValues(sandbox));
  clock = new FakeClock();
  store = new DynamoDbCircuitStore({ tableName: circuitsTable, client: dynamo.client });
  // The prober's configuration goes through the same parser, and its adapters through the same loader, as in Lambda.
  const adapters = await loadAdapters([FIRST.adapter, SECOND.adapter]);
  const findAdapter = (name: string) => adapters.get(name);
  config = proberConfigFromEnvironment(
    {
      INTEGRATIONS: JSON.stringify([
        { name: FIRST.name, adapter: FIRST.adapter, mappingUuid: CRM_MAPPING, maxConcurrency: 5, baseUrl: sandbox.providerUrl(FIRST_PROVIDER), auth: FIRST.auth, secretName: FIRST.secret.name, httpTimeoutMs: 2000 },
        { name: SECOND.name, adapter: SECOND.adapter, mappingUuid: PAYMENTS_MAPPING, maxConcurrency: 10, baseUrl: sandbox.providerUrl(SECOND_PROVIDER), auth: SECOND.auth, secretName: SECOND.secret.name, circuit: SECOND_CIRCUIT },
      ]),
      CIRCUITS_TABLE_NAME: circuitsTable,
      PROBE_RULE_NAME: 'hub-prober',
      RESTORE_AFTER_SECONDS: '60',
    },
    findAdapter,
  );
  mappings = new FakeEventSourceMappings({
    [CRM_MAPPING]: { state: 'enabled', maximumConcurrency: 5 },
    [PAYMENTS_MAPPING]: { state: 'enabled', maximumConcurrency: 10 },
  });
  schedule = new FakeProbeSchedule(false);
  gauge = new RecordingCircuitGauge();
  prober = new CircuitProber({
    targets: createProbeTargets(config, {
      adapters: findAdapter,
      dynamodb: dynamo.client,
      secrets: new SecretsManagerSecretSource({ client: secretsManager.client }),
      logger: () => silentLogger(),
      metrics: () => new RecordingMetricsSink(),
      clock,
    }),
    mappings,
    schedule,
    gauge,
    logger: silentLogger(),
    restoreAfterMs: config.restoreAfterMs,
    clock,
  });
  controller = new CircuitController({ integrations: config.integrations, mappings, schedule, circuits: store, gauge, logger: silentLogger(), clock });
});

/** Writes a circuit item and hands the controller the stream record of that write. */
async function writeCircuit(record: CircuitRecord): Promise<CircuitRecord> {
  const before = await store.get(record.circuitId);
  const result = await store.put(record, before?.version ?? 0);
  if (!result.applied) throw new Error('test setup: put refused');
  await controller.handleStream({ Records: [streamRecord(before, result.record)] });
  return result.record;
}

/** Runs the prober, then hands the controller the stream record of each circuit's before → after (dynalite has no stream). */
async function proberTick() {
  const before = await Promise.all([FIRST.name, SECOND.name].map((id) => store.get(id)));
  const report = await prober.run();
  const after = await Promise.all([FIRST.name, SECOND.name].map((id) => store.get(id)));
  const records = after.flatMap((item, i) => (item && item.version !== before[i]?.version ? [streamRecord(before[i], item)] : []));
  const response = await controller.handleStream({ Records: records });
  expect(response.batchItemFailures).toEqual([]);
  return report;
}

describe('circuit controller and prober against dynalite and the sandbox', () => {
  it('probes a healthy provider after the break, closes the circuit, resumes at 2, restores later and stops the schedule', async () => {
    await writeCircuit(circuit(FIRST.name, { state: 'open', stateSince: clock.now(), stateReason: 'consecutive_failures', openUntil: clock.now() + 30_000 }));
    expect(mappings.status(CRM_MAPPING)?.state).toBe('disabled');
    expect(schedule.enabled).toBe(true);

    // Still in its break: nothing is called.
    clock.advance(10_000);
    await proberTick();
    expect(sandbox.journal.count({ provider: FIRST_PROVIDER, path: '/health' })).toBe(0);

    clock.advance(20_000);
    const probed = await proberTick();

    expect(probed.integrations.find((i) => i.integration === FIRST.name)).toMatchObject({ probe: 'succeeded' });
    expect(sandbox.journal.count({ provider: FIRST_PROVIDER, path: '/health' })).toBe(1);
    expect((await store.get(FIRST.name))?.state).toBe('closed');
    expect(mappings.status(CRM_MAPPING)).toMatchObject({ state: 'enabled', maximumConcurrency: 2 });
    expect(schedule.enabled).toBe(true);
    expect(gauge.last(FIRST.name)).toBe(0);

    clock.advance(30_000);
    await proberTick();
    expect(mappings.status(CRM_MAPPING)?.maximumConcurrency).toBe(2);

    clock.advance(30_000);
    const restored = await proberTick();
    expect(restored.integrations.find((i) => i.integration === FIRST.name)).toMatchObject({ action: 'restored', settled: true });
    expect(mappings.status(CRM_MAPPING)).toMatchObject({ state: 'enabled', maximumConcurrency: 5 });
    expect(restored.schedule).toBe('disabled');
    expect(schedule.enabled).toBe(false);
  });

  it('keeps a still-failing provider open with a grown break and the mapping paused', async () => {
    sandbox.setFaults(SECOND_PROVIDER, { status: 503 });
    const openedAt = clock.now();
    await writeCircuit(circuit(SECOND.name, { state: 'open', stateSince: openedAt, stateReason: 'consecutive_failures', openUntil: openedAt + 30_000 }));
    expect(mappings.status(PAYMENTS_MAPPING)?.state).toBe('disabled');

    clock.advance(30_000);
    const report = await proberTick();

    expect(report.integrations.find((i) => i.integration === SECOND.name)).toMatchObject({ probe: 'failed', settled: false });
    expect(sandbox.journal.count({ provider: SECOND_PROVIDER, path: '/health' })).toBe(1);
    const stored = await store.get(SECOND.name);
    const settings = resolveCircuitBreakerSettings(SECOND_CIRCUIT);
    expect(stored).toMatchObject({ state: 'open', reopenCount: 1, stateReason: 'probe_failed' });
    expect((stored?.openUntil ?? 0) - clock.now()).toBe(breakDurationMs(settings, 1));
    expect(breakDurationMs(settings, 1)).toBeGreaterThan(30_000);
    expect(mappings.status(PAYMENTS_MAPPING)?.state).toBe('disabled');
    expect(report.schedule).toBe('kept');
    expect(schedule.enabled).toBe(true);
    expect(gauge.last(SECOND.name)).toBe(1);

    // The provider recovers: the next due probe closes the circuit.
    sandbox.clearFaults(SECOND_PROVIDER);
    clock.advance(breakDurationMs(settings, 1));
    await proberTick();
    expect((await store.get(SECOND.name))?.state).toBe('closed');
    expect(mappings.status(PAYMENTS_MAPPING)).toMatchObject({ state: 'enabled', maximumConcurrency: 2 });
  });

  it('never probes an isolated circuit and resumes only after the operator resets it', async () => {
    const isolated = await writeCircuit(circuit(FIRST.name, { state: 'isolated', stateReason: 'provider maintenance', stateSince: clock.now() }));
    clock.advance(120_000);
    await proberTick();
    expect(sandbox.journal.count({ provider: FIRST_PROVIDER })).toBe(0);
    expect(mappings.status(CRM_MAPPING)?.state).toBe('disabled');

    await writeCircuit({ ...circuit(FIRST.name, { state: 'closed', stateSince: clock.now() }), version: isolated.version });
    expect(mappings.status(CRM_MAPPING)).toMatchObject({ state: 'enabled', maximumConcurrency: 2 });
  });
});
