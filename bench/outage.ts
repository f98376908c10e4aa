/**
 * `npm run bench:outage` — the payments API fails for a window of 10 × (maxReceiveCount × visibility timeout), in
 * compressed time, under a steady event rate, handled by N simulated Lambda instances (each with its own caches)
 * behind one SQS event source mapping. How it fails is the fault shape (bench/support/outage-shapes.ts):
 *
 *   outage     503 to everything for the whole window
 *   hang       no answer for the whole window (every call runs into the HTTP timeout)
 *   flapping   3 s down (503) / 3 s up, over the window
 *
 * and for each shape it compares, at 5, 50 and 200 instances:
 *
 *   (a) the hub: the real runtime (shared DynamoDB breaker, parking, DLQ with reason) + the real circuit controller
 *       (pauses / resumes the mapping) + the real prober
 *   (b) per-instance breakers: a plain fetch adapter behind one cockatiel breaker per instance, no parking
 *   (c) retries only: the plain adapter with an in-handler retry loop, no breaker
 *
 * dynalite and the sandbox run in two child processes (bench/support/outage-backends.ts). Writes
 * bench/results/outage.json and bench/results/outage.md and prints the tables. See bench/README.md for the design.
 *
 * Options (environment, or the flag in brackets):
 *   BENCH_OUTAGE_SHAPES (--shapes)          outage,hang,flapping
 *   BENCH_OUTAGE_INSTANCES (--instances)    5,50,200
 *   BENCH_OUTAGE_STRATEGIES (--strategies)  a,b,c
 *   BENCH_OUTAGE_WINDOW_MS (--window-ms)    the fault window; OUTAGE_MS is the same (10 × maxReceiveCount × visibility)
 *   BENCH_OUTAGE_WARMUP_MS (--warmup-ms)    healthy traffic before the window (8000)
 *   BENCH_OUTAGE_FLAP_DOWN_MS / BENCH_OUTAGE_FLAP_UP_MS   the flapping cycle (3000 / 3000)
 *   OUTAGE_RUNS                             an explicit list of runs per shape instead (e.g. a50,b50,c50,a5,a200)
 *   OUTAGE_VISIBILITY_SECONDS (2), OUTAGE_MAX_RECEIVE_COUNT (3), OUTAGE_EVENTS_PER_SECOND (5), OUTAGE_LATENCY_MS (20),
 *   OUTAGE_RESTORED_CONCURRENCY (2)
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { startOutageBackends } from './support/outage-backends.js';
import { hub } from './support/outage-hub.js';
import { perInstanceBreakers } from './support/outage-per-instance-breakers.js';
import { hubScaling, type OutageReport, renderOutageMarkdown, shapeNotes } from './support/outage-report.js';
import { retriesOnly } from './support/outage-retries-only.js';
import { runOutageScenario, type ScenarioResult } from './support/outage-scenario.js';
import { breakIntervalsInOutage, callsDuringOutageBound, compressionFactor, outageSettings } from './support/outage-settings.js';
import { callBound, DEFAULT_FLAPPING, downMs, downPhases, type FaultShape, type FlappingCycle, parseFaultShapes, shapeRow } from './support/outage-shapes.js';
import type { OutageStrategy } from './support/outage-strategy.js';
import { writeBenchResult } from './support/results.js';

const STRATEGIES: Record<string, OutageStrategy> = { a: hub, b: perInstanceBreakers, c: retriesOnly };
const { values: flags } = parseArgs({
  options: {
    shapes: { type: 'string' },
    instances: { type: 'string' },
    strategies: { type: 'string' },
    'window-ms': { type: 'string' },
    'warmup-ms': { type: 'string' },
  },
});
const option = (flag: string | undefined, ...names: string[]) => flag ?? names.map((name) => process.env[name]).find((v) => v !== undefined && v !== '');
const list = (text: string, label: string) =>
  text.split(',').map((item) => {
    const trimmed = item.trim();
    if (trimmed === '') throw new Error(`${label}: empty item in "${text}"`);
    return trimmed;
  });
const SHAPES: FaultShape[] = parseFaultShapes(option(flags.shapes, 'BENCH_OUTAGE_SHAPES') ?? 'outage,hang,flapping');
const RUNS = (() => {
  if (process.env.OUTAGE_RUNS) {
    return list(process.env.OUTAGE_RUNS, 'OUTAGE_RUNS').map((run) => {
      const match = /^([abc])(\d+)$/.exec(run);
      if (!match) throw new Error(`OUTAGE_RUNS: "${run}" is not <strategy a|b|c><instances>, e.g. a50`);
      return { strategy: STRATEGIES[match[1] as string] as OutageStrategy, instances: Number(match[2]) };
    });
  }
  const instanceCounts = list(option(flags.instances, 'BENCH_OUTAGE_INSTANCES') ?? '5,50,200', 'instances').map((n) => {
    if (!/^\d+$/.test(n) || Number(n) < 1) throw new Error(`instances: "${n}" is not a positive integer`);
    return Number(n);
  });
  const strategies = list(option(flags.strategies, 'BENCH_OUTAGE_STRATEGIES') ?? 'a,b,c', 'strategies').map((key) => {
    const strategy = STRATEGIES[key];
    if (!strategy) throw new Error(`strategies: "${key}" is not a, b or c`);
    return strategy;
  });
  return instanceCounts.flatMap((instances) => strategies.map((strategy) => ({ strategy, instances })));
})();
const optional = (name: string, flag?: string) => {
  const text = option(flag, name);
  if (text === undefined) return undefined;
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name}: "${text}" is not a positive number`);
  return value;
};
const flapping: FlappingCycle = {
  downMs: optional('BENCH_OUTAGE_FLAP_DOWN_MS') ?? DEFAULT_FLAPPING.downMs,
  upMs: optional('BENCH_OUTAGE_FLAP_UP_MS') ?? DEFAULT_FLAPPING.upMs,
};
const common = {
  visibilityTimeoutSeconds: optional('OUTAGE_VISIBILITY_SECONDS'),
  maxReceiveCount: optional('OUTAGE_MAX_RECEIVE_COUNT'),
  eventsPerSecond: optional('OUTAGE_EVENTS_PER_SECOND'),
  outageMs: optional('BENCH_OUTAGE_WINDOW_MS', flags['window-ms']) ?? optional('OUTAGE_MS'),
  warmupMs: optional('BENCH_OUTAGE_WARMUP_MS', flags['warmup-ms']),
  sandboxLatencyMs: optional('OUTAGE_LATENCY_MS'),
  restoredConcurrency: optional('OUTAGE_RESTORED_CONCURRENCY'),
};
const reference = outageSettings({ ...common, instances: 50 });

const loadBefore = os.loadavg()[0] ?? 0;
const benchStartedAt = Date.now();
const backends = await startOutageBackends(reference.sandboxLatencyMs);
const results: ScenarioResult[] = [];
const log = (line: string) => process.stderr.write(`${line}\n`);
const total = SHAPES.length * RUNS.length;
try {
  for (const shape of SHAPES) {
    for (const { strategy, instances } of RUNS) {
      const settings = outageSettings({ ...common, instances });
      const index = results.length + 1;
      log(`run ${index}/${total}: ${shape}, (${strategy.key}) ${strategy.name}, ${instances} instances`);
      const runId = `${shape.slice(0, 1)}${strategy.key}${instances}r${index}`;
      const result = await runOutageScenario(strategy, settings, backends, { runId, log, shape, flapping });
      const f = result.figures;
      const calls = result.callsWhileDown;
      log(
        `  callsWhileDown ${calls.total} (${calls.operations} operations, ${calls.probes} probes), inDlq ${f.validMessagesInDlq}, lost ${f.lostMessages}, ` +
          `duplicates ${f.duplicateSideEffects}, recovery ${f.recoverySeconds ?? '-'} s, drain ${f.drainSeconds ?? 'not drained'} s (${result.wallSeconds} s)`,
      );
      results.push(result);
    }
  }
} finally {
  await backends.stop();
}

const bound = callsDuringOutageBound(reference);
// The shape's down phases from the window start, and the hub's promise for them (outage-shapes.ts).
const shapeBounds = Object.fromEntries(
  SHAPES.map((shape) => {
    const phases = downPhases(shape, 0, reference.outageMs, flapping);
    return [shape, { downPhases: phases, downMs: downMs(phases), bound: callBound(reference.circuit, phases) }];
  }),
) as OutageReport['shapeSettings'];
const shapes = Object.fromEntries(
  SHAPES.map((shape) => [
    shape,
    results.filter((r) => r.shape === shape).map((r) => shapeRow(r, r.callsWhileDown, (shapeBounds[shape] as { bound: ReturnType<typeof callBound> }).bound)),
  ]),
) as OutageReport['shapes'];
const scaling = hubScaling(
  results.filter((r) => r.shape === 'outage'),
  bound,
);
const overshoot = scaling.filter((row) => row.charges > reference.circuit.failureThreshold);
const notes = [
  'callsWhileDown counts payments requests that ARRIVED at the sandbox while the API was down (inside a down phase of the shape): operations (charges: first attempts and in-handler retries) and probes (health). callsDuringOutage counts every arrival from the first down phase to the API back for good (for flapping it includes the up phases).',
  `The bound is the hub's promise, per down phase: failureThreshold (${reference.circuit.failureThreshold}) + the break intervals (from the initial break) that end inside that phase — the circuit may close in every up phase, so each down phase may need a new run of failures to open it. For one window: ${bound} (${breakIntervalsInOutage(reference)} break intervals). (b) and (c) are held against the same figure for comparison.`,
  ...(scaling.length === 0
    ? []
    : [
        overshoot.length === 0
          ? `outage shape: (a) made exactly failureThreshold charges before its circuit opened in every run.`
          : `outage shape: (a) made more than failureThreshold charges in ${overshoot.map((row) => `the ${row.instances}-instance run (${row.charges})`).join(', ')}: calls other instances had already been allowed to make when the threshold-th failure was recorded.`,
      ]),
  ...shapeNotes(shapes),
  '(b) and (c) never stop receiving: a message that fails maxReceiveCount times within the outage is redriven to the DLQ; only those received fewer times when the API comes back are delivered. Their short recovery and drain say that nothing is left to wait for, not that nothing was lost to the DLQ.',
  '(b) and (c) stop at the invocation deadline (the function timeout), as Lambda would: a call hanging past it is aborted and no retry starts after it.',
  `The hub's drain is bounded by dynalite on this machine (~100–150 operations/s, 2 writes per message), not by the design: after the outage the mapping runs at concurrency ${reference.restoredConcurrency}; more would only queue the writes (see the settings).`,
  'Every figure is computed from what the queues and the sandbox observed (deletes, DLQ contents, the sandbox journal and side effects), never from what a handler reported.',
];
const report: OutageReport = {
  benchmark: 'outage',
  command: 'npm run bench:outage',
  generatedAt: new Date().toISOString(),
  environment: { node: process.version, cpus: os.cpus().length, platform: `${os.platform()} ${os.arch()}` },
  settings: {
    ...reference,
    instances: undefined,
    compressionFactor: compressionFactor(reference),
    breakIntervalsInOutage: breakIntervalsInOutage(reference),
    callsDuringOutageBound: bound,
  },
  runSeconds: Math.round((Date.now() - benchStartedAt) / 1000),
  shapeSettings: shapeBounds,
  flapping,
  shapes,
  runs: results.map((result) => ({
    ...result,
    target:
      result.strategy === 'a'
        ? {
            callsDuringOutageBound: (shapeBounds[result.shape] as { bound: { calls: number } }).bound.calls,
            callsDuringOutageMet: result.callsWhileDown.total <= (shapeBounds[result.shape] as { bound: { calls: number } }).bound.calls,
            zeroInDlq: result.figures.validMessagesInDlq === 0,
            zeroLost: result.figures.lostMessages === 0,
            zeroDuplicates: result.figures.duplicateSideEffects === 0,
          }
        : undefined,
  })),
  hubScaling: scaling,
  loadAverage: { before: Math.round(loadBefore * 100) / 100, after: Math.round((os.loadavg()[0] ?? 0) * 100) / 100 },
  notes,
};

writeBenchResult('outage.json', report);
const markdown = renderOutageMarkdown(report);
writeBenchResult('outage.md', markdown);
console.log(markdown);
