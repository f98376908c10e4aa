/**
 * The outage benchmark's scenario for strategy (a), the hub, at small scale: 5 instances, a 12 s outage in the
 * benchmark's compressed time, dynalite and the sandbox in this process. Asserts what must hold whatever the
 * machine's speed — counts, never wall-clock: nothing lost, no charge twice, no valid message in the DLQ, and the
 * payments API hardly called while it is down.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hub } from '../../bench/support/outage-hub.js';
import { runOutageScenario, type ScenarioResult } from '../../bench/support/outage-scenario.js';
import { callsDuringOutageBound, outageSettings } from '../../bench/support/outage-settings.js';
import { type Sandbox, startSandbox } from '../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from '../support/dynalite.js';

let dynamo: LocalDynamo;
let sandbox: Sandbox;

beforeAll(async () => {
  [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 7, latencyMs: 20 })]);
});
afterAll(async () => {
  await Promise.all([dynamo.close(), sandbox.close()]);
});

describe('outage benchmark scenario, strategy (a) the hub', () => {
  const settings = outageSettings({ instances: 5, eventsPerSecond: 2, outageMs: 12_000, warmupMs: 3_000, drainCapMs: 20_000, settleCapMs: 5_000 });
  let result: ScenarioResult;

  beforeAll(async () => {
    result = await runOutageScenario(hub, settings, { sandboxUrl: sandbox.baseUrl, dynamoEndpoint: dynamo.endpoint }, { runId: 'test-a5' });
  }, 60_000);

  it('loses nothing, charges nothing twice and dead-letters no valid message', () => {
    const { figures } = result;
    expect(figures.produced).toBeGreaterThan(0);
    expect(figures.lostMessages).toBe(0);
    expect(figures.duplicateSideEffects).toBe(0);
    expect(figures.validMessagesInDlq).toBe(0);
    expect(figures.unattributedCharges).toBe(0);
    // Every message is accounted for by the sandbox's charges or is still queued.
    expect(figures.succeededUnique + figures.stillInQueue).toBe(figures.produced);
    expect(figures.stillInQueue).toBe(figures.queueCountersRemaining);
  });

  it('calls the payments API at most failureThreshold + one probe per break interval while it is down', () => {
    const { figures } = result;
    // The outage did happen: the circuit needed its failures to open.
    expect(figures.callsDuringOutageByPath['/charges'] ?? 0).toBeGreaterThanOrEqual(settings.circuit.failureThreshold);
    expect(figures.callsDuringOutage).toBeLessThanOrEqual(callsDuringOutageBound(settings));
  });

  it('paused the event source mapping during the outage and resumed it afterwards', () => {
    const updates = result.details.mappingUpdates as { enabled?: boolean }[];
    expect(updates.find((update) => update.enabled === false)).toBeDefined();
    expect(updates.at(-1)).not.toMatchObject({ enabled: false });
    expect(result.figures.recoverySeconds).not.toBeNull();
  });
});
