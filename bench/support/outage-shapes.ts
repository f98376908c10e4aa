/**
 * The fault shapes of the outage benchmark — how the payments API is down during the outage window — and what follows
 * from a shape without running anything: its down phases, the calls the hub promises to stay within, and the
 * per-shape row of the report.
 *
 *   outage     every request answers 503 for the whole window (health included)
 *   hang       every request hangs for the whole window: no answer until the client's HTTP timeout gives up
 *   flapping   down (503) for `downMs`, up for `upMs`, repeated over the window; the API is back for good at the end
 *              of the last down phase
 *
 * The hub's promise (functions/runtime/circuit-settings.ts gives the break durations): while the API is down, at most
 * `failureThreshold` calls to open the circuit plus one half-open probe per break interval elapsed. For a shape with
 * several down phases the circuit may close in every up phase (a probe succeeds there), so each down phase may cost
 * a new run of `failureThreshold` failures: the bound is the sum over the down phases of
 * `failureThreshold + break intervals (from the initial break) that end inside the phase`. For one window this is
 * exactly `callsDuringOutageBound` (outage-settings.ts).
 */
import { breakDurationMs, resolveCircuitBreakerSettings } from '../../functions/runtime/circuit-settings.js';
import type { OutageFigures } from './outage-accounting.js';
import type { OutageSettings } from './outage-settings.js';
import type { StrategyKey } from './outage-strategy.js';

/** The fault shapes, in report order. */
export const FAULT_SHAPES = ['outage', 'hang', 'flapping'] as const;

/** How the payments API fails during the outage window. */
export type FaultShape = (typeof FAULT_SHAPES)[number];

/** The sandbox's outage window modes (local/sandbox/faults.ts `OutageMode`). */
export type DownMode = 'unavailable' | 'hang';

/** One interval during which the API is down, epoch ms (or ms from the window start in the pure helpers). */
export interface DownPhase {
  /** Inclusive. */
  readonly fromMs: number;
  /** Exclusive. */
  readonly toMs: number;
  readonly mode: DownMode;
}

/** The flapping cycle. */
export interface FlappingCycle {
  readonly downMs: number;
  readonly upMs: number;
}

/** The issue's flapping provider: 3 s down, 3 s up. */
export const DEFAULT_FLAPPING: FlappingCycle = { downMs: 3_000, upMs: 3_000 };

/** Parses a comma-separated list of shapes (`outage,hang,flapping`); every unknown name is reported at once. */
export function parseFaultShapes(text: string): FaultShape[] {
  const names = text
    .split(',')
    .map((name) => name.trim())
    .filter((name) => name.length > 0);
  const unknown = names.filter((name) => !(FAULT_SHAPES as readonly string[]).includes(name));
  if (unknown.length > 0) throw new Error(`unknown fault shape(s) ${unknown.map((n) => `"${n}"`).join(', ')}: use ${FAULT_SHAPES.join(', ')}`);
  if (names.length === 0) throw new Error(`no fault shape given: use ${FAULT_SHAPES.join(', ')}`);
  return FAULT_SHAPES.filter((shape) => names.includes(shape));
}

/**
 * The down phases of `shape` over a window of `windowMs` starting at `startMs`. Flapping starts down and cuts the
 * last down phase at the window end; a window shorter than one down phase is one down phase.
 */
export function downPhases(shape: FaultShape, startMs: number, windowMs: number, flapping: FlappingCycle = DEFAULT_FLAPPING): DownPhase[] {
  if (!(windowMs > 0)) throw new Error(`the outage window must be positive, got ${windowMs} ms`);
  if (shape === 'outage') return [{ fromMs: startMs, toMs: startMs + windowMs, mode: 'unavailable' }];
  if (shape === 'hang') return [{ fromMs: startMs, toMs: startMs + windowMs, mode: 'hang' }];
  if (!(flapping.downMs > 0 && flapping.upMs > 0)) throw new Error(`flapping needs positive down and up phases, got ${flapping.downMs} / ${flapping.upMs} ms`);
  const phases: DownPhase[] = [];
  for (let from = startMs; from < startMs + windowMs; from += flapping.downMs + flapping.upMs) {
    phases.push({ fromMs: from, toMs: Math.min(from + flapping.downMs, startMs + windowMs), mode: 'unavailable' });
  }
  return phases;
}

/** Total time down. */
export function downMs(phases: readonly DownPhase[]): number {
  return phases.reduce((sum, phase) => sum + (phase.toMs - phase.fromMs), 0);
}

/** The index of the down phase `atMs` falls in, or -1 when the API is up then. */
export function downPhaseAt(phases: readonly DownPhase[], atMs: number): number {
  return phases.findIndex((phase) => atMs >= phase.fromMs && atMs < phase.toMs);
}

/** Break intervals (initial break, then grown per reopen, capped) that end inside a down phase of `lengthMs`. */
export function breakIntervalsWithin(circuit: OutageSettings['circuit'], lengthMs: number): number {
  const resolved = resolveCircuitBreakerSettings(circuit);
  let elapsed = 0;
  for (let reopen = 0; ; reopen++) {
    elapsed += breakDurationMs(resolved, reopen);
    if (elapsed >= lengthMs) return reopen;
  }
}

/** The hub's bound for `phases`, with its parts (see the file comment). */
export interface CallBound {
  readonly failureThreshold: number;
  readonly downPhases: number;
  /** Σ break intervals ending inside each down phase: the most half-open probes. */
  readonly probes: number;
  /** downPhases × failureThreshold + probes. */
  readonly calls: number;
}

/** The calls the hub promises to stay within while the API is down in `phases`. */
export function callBound(circuit: OutageSettings['circuit'], phases: readonly DownPhase[]): CallBound {
  const probes = phases.reduce((sum, phase) => sum + breakIntervalsWithin(circuit, phase.toMs - phase.fromMs), 0);
  return {
    failureThreshold: circuit.failureThreshold,
    downPhases: phases.length,
    probes,
    calls: phases.length * circuit.failureThreshold + probes,
  };
}

/** The health endpoint the prober calls: a probe, not an operation. */
export const PROBE_PATH = '/health';

/** What the journal says about the calls that arrived while the API was down. */
export interface CallsWhileDown {
  readonly total: number;
  /** Charges: first attempts and in-handler retries. */
  readonly operations: number;
  /** Health probes. */
  readonly probes: number;
  /** Calls per down phase, in phase order. */
  readonly perPhase: number[];
  /** Calls while down that got no answer (hung until the client gave up, or reset). */
  readonly unanswered: number;
}

/** Counts the journaled requests (`at` = arrival, epoch ms) that arrived inside a down phase. */
export function countCallsWhileDown(
  phases: readonly DownPhase[],
  journal: readonly { readonly path: string; readonly at: number; readonly status: number | null }[],
): CallsWhileDown {
  const perPhase = phases.map(() => 0);
  let operations = 0;
  let probes = 0;
  let unanswered = 0;
  for (const entry of journal) {
    const index = downPhaseAt(phases, entry.at);
    if (index < 0) continue;
    perPhase[index] = (perPhase[index] ?? 0) + 1;
    if (entry.path === PROBE_PATH) probes += 1;
    else operations += 1;
    if (entry.status === null) unanswered += 1;
  }
  return { total: operations + probes, operations, probes, perPhase, unanswered };
}

/** One (strategy, instances) row of a shape's table. */
export interface ShapeRow {
  readonly strategy: StrategyKey;
  readonly name: string;
  readonly instances: number;
  /** Calls that arrived while the API was down, split into operations (charges) and probes (health). */
  readonly callsWhileDown: number;
  readonly operationCallsWhileDown: number;
  readonly probeCallsWhileDown: number;
  readonly callsWhileDownPerPhase: number[];
  readonly unansweredCallsWhileDown: number;
  /** The hub's promise for this shape (the same figure on every row, for comparison). */
  readonly bound: number;
  readonly withinBound: boolean;
  /** Circuit openings: the hub's CircuitOpened metric, the per-instance breakers' breaks; null without a breaker. */
  readonly circuitOpenings: number | null;
  readonly validMessagesInDlq: number;
  readonly lostMessages: number;
  readonly duplicateSideEffects: number;
  /** API back for good → first successful charge answered. */
  readonly recoverySeconds: number | null;
  readonly drainSeconds: number | null;
  readonly produced: number;
}

/** What a run left for its row: its figures and strategy details. */
export interface ShapeRunInput {
  readonly strategy: StrategyKey;
  readonly name: string;
  readonly instances: number;
  readonly figures: Pick<OutageFigures, 'validMessagesInDlq' | 'lostMessages' | 'duplicateSideEffects' | 'recoverySeconds' | 'drainSeconds' | 'produced'>;
  readonly details: Readonly<Record<string, unknown>>;
}

/** Circuit openings as each strategy reports them (outage-hub.ts, outage-per-instance-breakers.ts). */
export function circuitOpenings(run: Pick<ShapeRunInput, 'strategy' | 'details'>): number | null {
  const value = run.strategy === 'a' ? run.details.circuitOpenedEvents : run.strategy === 'b' ? run.details.breakerOpenings : undefined;
  return typeof value === 'number' ? value : null;
}

/** The row of one run of a shape. */
export function shapeRow(run: ShapeRunInput, calls: CallsWhileDown, bound: CallBound): ShapeRow {
  return {
    strategy: run.strategy,
    name: run.name,
    instances: run.instances,
    callsWhileDown: calls.total,
    operationCallsWhileDown: calls.operations,
    probeCallsWhileDown: calls.probes,
    callsWhileDownPerPhase: calls.perPhase,
    unansweredCallsWhileDown: calls.unanswered,
    bound: bound.calls,
    withinBound: calls.total <= bound.calls,
    circuitOpenings: circuitOpenings(run),
    validMessagesInDlq: run.figures.validMessagesInDlq,
    lostMessages: run.figures.lostMessages,
    duplicateSideEffects: run.figures.duplicateSideEffects,
    recoverySeconds: run.figures.recoverySeconds,
    drainSeconds: run.figures.drainSeconds,
    produced: run.figures.produced,
  };
}
