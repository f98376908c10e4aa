/**
 * The outage benchmark's fault shapes (bench/support/outage-shapes.ts): the flapping schedule, the hub's call bound
 * per shape, and the accounting of calls while the API is down — pure, then against tiny scenario runs (two or
 * three instances, a window of a few seconds, dynalite and the sandbox in this process). Asserts counts and
 * outcomes, never wall-clock.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hub } from '../../bench/support/outage-hub.js';
import { retriesOnly } from '../../bench/support/outage-retries-only.js';
import { runOutageScenario, type ScenarioResult } from '../../bench/support/outage-scenario.js';
import { callsDuringOutageBound, outageSettings } from '../../bench/support/outage-settings.js';
import {
  breakIntervalsWithin,
  callBound,
  circuitOpenings,
  countCallsWhileDown,
  DEFAULT_FLAPPING,
  downMs,
  downPhaseAt,
  downPhases,
  parseFaultShapes,
  shapeRow,
} from '../../bench/support/outage-shapes.js';
import { type Sandbox, startSandbox } from '../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from '../support/dynalite.js';

const catalog = outageSettings({ instances: 5 });

describe('fault shapes', () => {
  it('parses a list of shapes in report order and reports every unknown name', () => {
    expect(parseFaultShapes('flapping, outage')).toEqual(['outage', 'flapping']);
    expect(parseFaultShapes('outage,hang,flapping')).toEqual(['outage', 'hang', 'flapping']);
    expect(() => parseFaultShapes('outage,storm,drizzle')).toThrow(/"storm", "drizzle"/);
    expect(() => parseFaultShapes(' , ')).toThrow(/no fault shape/);
  });

  it('outage and hang are one down phase over the whole window, 503 and hang', () => {
    expect(downPhases('outage', 1_000, 60_000)).toEqual([{ fromMs: 1_000, toMs: 61_000, mode: 'unavailable' }]);
    expect(downPhases('hang', 1_000, 60_000)).toEqual([{ fromMs: 1_000, toMs: 61_000, mode: 'hang' }]);
  });

  it('flapping is 3 s down / 3 s up from the window start: ten down phases in 60 s', () => {
    const phases = downPhases('flapping', 0, 60_000);
    expect(DEFAULT_FLAPPING).toEqual({ downMs: 3_000, upMs: 3_000 });
    expect(phases).toHaveLength(10);
    expect(phases[0]).toEqual({ fromMs: 0, toMs: 3_000, mode: 'unavailable' });
    expect(phases[1]).toEqual({ fromMs: 6_000, toMs: 9_000, mode: 'unavailable' });
    expect(phases.at(-1)).toEqual({ fromMs: 54_000, toMs: 57_000, mode: 'unavailable' });
    expect(downMs(phases)).toBe(30_000);
  });

  it('flapping cuts the last down phase at the window end', () => {
    expect(downPhases('flapping', 100, 7_000, { downMs: 3_000, upMs: 3_000 })).toEqual([
      { fromMs: 100, toMs: 3_100, mode: 'unavailable' },
      { fromMs: 6_100, toMs: 7_100, mode: 'unavailable' },
    ]);
    expect(downPhases('flapping', 0, 2_000)).toEqual([{ fromMs: 0, toMs: 2_000, mode: 'unavailable' }]);
  });

  it('rejects an empty window and an empty flapping phase', () => {
    expect(() => downPhases('outage', 0, 0)).toThrow(/positive/);
    expect(() => downPhases('flapping', 0, 10_000, { downMs: 3_000, upMs: 0 })).toThrow(/positive/);
  });

  it('finds the down phase of an instant, ends exclusive', () => {
    const phases = downPhases('flapping', 0, 12_000);
    expect(downPhaseAt(phases, 0)).toBe(0);
    expect(downPhaseAt(phases, 2_999)).toBe(0);
    expect(downPhaseAt(phases, 3_000)).toBe(-1);
    expect(downPhaseAt(phases, 6_000)).toBe(1);
    expect(downPhaseAt(phases, 12_000)).toBe(-1);
  });
});

describe('the hub call bound per shape', () => {
  it('counts the break intervals (333 ms, doubling, capped) that end strictly inside a down phase', () => {
    // 333 + 666 + 1332 = 2331 < 3000 <= 2331 + 2664
    expect(breakIntervalsWithin(catalog.circuit, 3_000)).toBe(3);
    expect(breakIntervalsWithin(catalog.circuit, 333)).toBe(0);
    expect(breakIntervalsWithin(catalog.circuit, 334)).toBe(1);
  });

  it('for one window equals failureThreshold + the break intervals of the outage (callsDuringOutageBound)', () => {
    const bound = callBound(catalog.circuit, downPhases('outage', 0, catalog.outageMs));
    expect(bound).toEqual({ failureThreshold: 5, downPhases: 1, probes: 12, calls: 17 });
    expect(bound.calls).toBe(callsDuringOutageBound(catalog));
    expect(callBound(catalog.circuit, downPhases('hang', 0, catalog.outageMs))).toEqual(bound);
  });

  it('for flapping allows a new run of failures per down phase plus its probes', () => {
    const bound = callBound(catalog.circuit, downPhases('flapping', 0, 60_000));
    expect(bound).toEqual({ failureThreshold: 5, downPhases: 10, probes: 30, calls: 80 });
  });

  it('follows the circuit settings used', () => {
    const circuit = { ...catalog.circuit, failureThreshold: 3, breakMs: 1_000, breakMultiplier: 1, maxBreakMs: 1_000 };
    // ends at 1, 2, 3 ... 9 s inside a 10 s window
    expect(callBound(circuit, downPhases('hang', 0, 10_000))).toEqual({ failureThreshold: 3, downPhases: 1, probes: 9, calls: 12 });
  });
});

describe('accounting of calls while down', () => {
  const phases = downPhases('flapping', 10_000, 12_000); // down [10 s, 13 s) and [16 s, 19 s)
  const journal = [
    { path: '/charges', at: 9_999, status: 201 }, // before
    { path: '/charges', at: 10_000, status: 503 },
    { path: '/charges', at: 12_000, status: 503 },
    { path: '/health', at: 12_500, status: 503 },
    { path: '/charges', at: 13_000, status: 201 }, // up phase
    { path: '/health', at: 15_000, status: 200 }, // up phase
    { path: '/charges', at: 16_000, status: null }, // down, no answer
    { path: '/health', at: 18_999, status: 503 },
    { path: '/charges', at: 19_000, status: 201 }, // back for good
  ];

  it('counts only arrivals inside a down phase, operations and probes apart, per phase', () => {
    expect(countCallsWhileDown(phases, journal)).toEqual({ total: 5, operations: 3, probes: 2, perPhase: [3, 2], unanswered: 1 });
  });

  it('makes a row per run with its bound and circuit openings as each strategy reports them', () => {
    const figures = { validMessagesInDlq: 0, lostMessages: 0, duplicateSideEffects: 0, recoverySeconds: 0.4, drainSeconds: 1.2, produced: 40 };
    const bound = callBound(catalog.circuit, phases);
    const calls = countCallsWhileDown(phases, journal);
    const hubRow = shapeRow({ strategy: 'a', name: 'hub', instances: 5, figures, details: { circuitOpenedEvents: 2 } }, calls, bound);
    expect(hubRow).toMatchObject({ callsWhileDown: 5, operationCallsWhileDown: 3, probeCallsWhileDown: 2, bound: 16, withinBound: true, circuitOpenings: 2 });
    expect(circuitOpenings({ strategy: 'b', details: { breakerOpenings: 7 } })).toBe(7);
    expect(circuitOpenings({ strategy: 'c', details: { inHandlerRetries: 9 } })).toBeNull();
    const tight = { ...bound, calls: 4 };
    expect(shapeRow({ strategy: 'c', name: 'retries', instances: 5, figures, details: {} }, calls, tight).withinBound).toBe(false);
  });
});

describe('tiny scenario runs per shape', () => {
  let dynamo: LocalDynamo;
  let sandbox: Sandbox;
  const backends = () => ({ sandboxUrl: sandbox.baseUrl, dynamoEndpoint: dynamo.endpoint });
  const flapping = { downMs: 1_500, upMs: 1_500 };
  const tiny = (instances: number) =>
    outageSettings({ instances, eventsPerSecond: 2, outageMs: 6_000, warmupMs: 2_000, drainCapMs: 20_000, settleCapMs: 5_000 });
  let flappingHub: ScenarioResult;
  let flappingRetries: ScenarioResult;
  let hangRetries: ScenarioResult;

  beforeAll(async () => {
    [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 11, latencyMs: 20 })]);
    flappingHub = await runOutageScenario(hub, tiny(3), backends(), { runId: 'shape-fa3', shape: 'flapping', flapping });
    flappingRetries = await runOutageScenario(retriesOnly, tiny(2), backends(), { runId: 'shape-fc2', shape: 'flapping', flapping });
    hangRetries = await runOutageScenario(retriesOnly, tiny(2), backends(), { runId: 'shape-hc2', shape: 'hang' });
  }, 150_000);
  afterAll(async () => {
    await Promise.all([dynamo?.close(), sandbox?.close()]);
  });

  it('flapping: two down phases (down, up, down), recovery measured from the end of the last one', () => {
    const run = flappingHub;
    expect(run.shape).toBe('flapping');
    expect(run.downPhases).toEqual([
      { fromMs: 0, toMs: 1_500, mode: 'unavailable' },
      { fromMs: 3_000, toMs: 4_500, mode: 'unavailable' },
    ]);
    expect(run.figures.recoverySeconds).not.toBeNull();
  });

  it('flapping, the hub: its calls while down add up per phase and per kind, and it loses nothing and charges nothing twice', () => {
    const run = flappingHub;
    const calls = run.callsWhileDown;
    expect(calls.perPhase).toHaveLength(2);
    expect(calls.perPhase.reduce((a, b) => a + b, 0)).toBe(calls.total);
    expect(calls.operations + calls.probes).toBe(calls.total);
    // The API failed while the hub was calling it; 503s are answers.
    expect(calls.operations).toBeGreaterThan(0);
    expect(calls.unanswered).toBe(0);
    // Calls while down are a subset of the calls from the first down phase to the last one's end.
    expect(calls.total).toBeLessThanOrEqual(run.figures.callsDuringOutage);
    expect(run.figures.lostMessages).toBe(0);
    expect(run.figures.duplicateSideEffects).toBe(0);
    expect(run.figures.unattributedCharges).toBe(0);
    const row = shapeRow(run, calls, callBound(tiny(3).circuit, downPhases('flapping', 0, 6_000, flapping)));
    expect(row.circuitOpenings).toBe(run.details.circuitOpenedEvents);
    expect(row.bound).toBe(2 * 5 + 2 * breakIntervalsWithin(tiny(3).circuit, 1_500));
  });

  it('flapping, retries only: every call is an operation, there is no breaker to open', () => {
    const run = flappingRetries;
    expect(run.callsWhileDown.probes).toBe(0);
    expect(run.callsWhileDown.operations).toBe(run.callsWhileDown.total);
    expect(run.callsWhileDown.perPhase.every((n) => n > 0)).toBe(true);
    expect(circuitOpenings(run)).toBeNull();
    expect(run.figures.lostMessages).toBe(0);
  });

  it('hang, retries only: no call made while the API hangs gets an answer, and no charge happens then', () => {
    const run = hangRetries;
    expect(run.downPhases).toEqual([{ fromMs: 0, toMs: 6_000, mode: 'hang' }]);
    expect(run.callsWhileDown.total).toBeGreaterThan(0);
    expect(run.callsWhileDown.unanswered).toBe(run.callsWhileDown.total);
    expect(run.figures.lostMessages).toBe(0);
    expect(run.figures.duplicateSideEffects).toBe(0);
    expect(run.figures.recoverySeconds).not.toBeNull();
  });
});
