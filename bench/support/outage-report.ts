/**
 * The outage benchmark's report: the JSON written to bench/results/outage.json and its markdown rendering
 * (bench/results/outage.md, also printed).
 */
import type { ScenarioResult } from './outage-scenario.js';
import type { OutageSettings } from './outage-settings.js';
import { type CallBound, type DownPhase, FAULT_SHAPES, type FaultShape, type FlappingCycle, type ShapeRow } from './outage-shapes.js';
import { round } from './statistics.js';

/** The hub's targets, checked per (a) run. */
export interface HubTargetCheck {
  callsDuringOutageBound: number;
  callsDuringOutageMet: boolean;
  zeroInDlq: boolean;
  zeroLost: boolean;
  zeroDuplicates: boolean;
}

/** The whole report. */
export interface OutageReport {
  benchmark: 'outage';
  command: string;
  generatedAt: string;
  environment: { node: string; cpus: number; platform: string };
  settings: Omit<OutageSettings, 'instances'> & {
    instances?: undefined;
    compressionFactor: number;
    breakIntervalsInOutage: number;
    callsDuringOutageBound: number;
  };
  /** How long the whole benchmark took. */
  runSeconds: number;
  /** Per fault shape run: its down phases (ms from the window start), time down and the hub's bound. */
  shapeSettings: Partial<Record<FaultShape, { downPhases: DownPhase[]; downMs: number; bound: CallBound }>>;
  /** The flapping shape's cycle. */
  flapping: FlappingCycle;
  /** Per fault shape run: one row per (strategy, instances), see outage-shapes.ts `ShapeRow`. */
  shapes: Partial<Record<FaultShape, ShapeRow[]>>;
  runs: (ScenarioResult & { target?: HubTargetCheck })[];
  /** (a) at each instance count under the `outage` shape: how its calls during the outage grow. */
  hubScaling: { instances: number; callsDuringOutage: number; charges: number; probes: number; bound: number; met: boolean }[];
  /** System load average (1 min) before and after the benchmark: other work on the machine slows dynalite. */
  loadAverage: { before: number; after: number };
  notes: string[];
}

/** The (a) scaling summary of a report's runs. */
export function hubScaling(runs: readonly ScenarioResult[], bound: number): OutageReport['hubScaling'] {
  return runs
    .filter((run) => run.strategy === 'a')
    .sort((x, y) => x.instances - y.instances)
    .map((run) => {
      const probes = run.figures.callsDuringOutageByPath['/health'] ?? 0;
      return {
        instances: run.instances,
        callsDuringOutage: run.figures.callsDuringOutage,
        charges: run.figures.callsDuringOutage - probes,
        probes,
        bound,
        met: run.figures.callsDuringOutage <= bound,
      };
    });
}

/** One note per shape: whether the hub kept its bound at every instance count, and how far it went over. */
export function shapeNotes(shapes: OutageReport['shapes']): string[] {
  return FAULT_SHAPES.flatMap((shape) => {
    const hubRows = (shapes[shape] ?? []).filter((row) => row.strategy === 'a');
    if (hubRows.length === 0) return [];
    const over = hubRows.filter((row) => !row.withinBound);
    return [
      over.length === 0
        ? `${shape}: (a) stayed within its bound (${hubRows[0]?.bound}) at ${hubRows.map((row) => row.instances).join(', ')} instances.`
        : `${shape}: (a) went over its bound (${hubRows[0]?.bound}) at ${over
            .map((row) => `${row.instances} instances (${row.callsWhileDown}: ${row.operationCallsWhileDown} operations, ${row.probeCallsWhileDown} probes)`)
            .join(', ')}.`,
    ];
  });
}

const SHAPE_TITLE: Record<FaultShape, string> = {
  outage: 'outage — every request answers 503 for the whole window',
  hang: 'hang — every request hangs past the HTTP timeout for the whole window',
  flapping: 'flapping — down (503) and up in turn over the window',
};

const STRATEGY_LABEL = { a: '(a) hub: shared breaker + parking + mapping pause', b: '(b) per-instance breakers (cockatiel)', c: '(c) retries only' } as const;

/** The markdown tables of a report. */
export function renderOutageMarkdown(report: OutageReport): string {
  const s = report.settings;
  const lines: string[] = [];
  const table = (header: string[], rows: (string | number)[][]) => {
    lines.push(`| ${header.join(' | ')} |`, `| ${header.map(() => '---').join(' | ')} |`);
    for (const row of rows) lines.push(`| ${row.join(' | ')} |`);
    lines.push('');
  };
  const value = (v: number | null) => (v === null ? 'not drained' : String(v));
  // The outage shape's calls over the whole window (for flapping, up phases included; see callsWhileDown).
  const calls = (run: ScenarioResult) => {
    const byPath = run.figures.callsDuringOutageByPath;
    const probes = byPath['/health'] ?? 0;
    return `${run.figures.callsDuringOutage} (${run.figures.callsDuringOutage - probes} charges, ${probes} probes)`;
  };

  lines.push(`# Outage benchmark (\`${report.command}\`)`, '');
  lines.push(
    `Payments API failing (health included) in each fault shape below over a window of ${s.outageMs / 1000} s` +
      `${s.outageMs === 10 * s.maxReceiveCount * s.visibilityTimeoutSeconds * 1000 ? ' = 10 × (maxReceiveCount × visibility)' : ''} ` +
      `(maxReceiveCount ${s.maxReceiveCount}, visibility ${s.visibilityTimeoutSeconds} s), ` +
      `${s.eventsPerSecond} valid charges/s with unique business keys for the whole run, time compressed ${round(s.compressionFactor, 1)}× ` +
      `(settings below). ${report.environment.cpus} cores, Node ${report.environment.node}, ${report.generatedAt}; the whole benchmark took ${Math.round(report.runSeconds / 60)} min.`,
    '',
  );

  for (const shape of FAULT_SHAPES) {
    const rows = report.shapes?.[shape];
    const shapeSettings = report.shapeSettings?.[shape];
    if (!rows || rows.length === 0 || !shapeSettings) continue;
    const b = shapeSettings.bound;
    lines.push(`## ${SHAPE_TITLE[shape]}`, '');
    lines.push(
      `${b.downPhases} down phase${b.downPhases === 1 ? '' : 's'}, ${shapeSettings.downMs / 1000} s down in all` +
        (shape === 'flapping' ? ` (${report.flapping.downMs / 1000} s down / ${report.flapping.upMs / 1000} s up)` : '') +
        `. The hub's bound: ${b.downPhases} × failureThreshold ${b.failureThreshold} + ${b.probes} break intervals ending inside the down phases = **${b.calls}** calls while down.`,
      '',
    );
    const ordered = [...rows].sort((x, y) => x.strategy.localeCompare(y.strategy) || x.instances - y.instances);
    table(
      ['strategy', 'instances', 'calls while down (operations + probes)', '≤ bound', 'circuit openings', 'validMessagesInDlq', 'lostMessages', 'duplicateSideEffects', 'recoverySeconds', 'drainSeconds', 'produced'],
      ordered.map((row) => [
        STRATEGY_LABEL[row.strategy],
        row.instances,
        `${row.callsWhileDown} (${row.operationCallsWhileDown} + ${row.probeCallsWhileDown})`,
        row.withinBound ? 'yes' : '**no**',
        row.circuitOpenings ?? '-',
        row.validMessagesInDlq,
        row.lostMessages,
        row.duplicateSideEffects,
        row.recoverySeconds ?? '-',
        value(row.drainSeconds),
        row.produced,
      ]),
    );
    const hubRows = ordered.filter((row) => row.strategy === 'a');
    if (b.downPhases > 1 && hubRows.length > 0) {
      lines.push('Calls per down phase, (a) the hub:', '');
      table(
        ['instances', 'calls per down phase'],
        hubRows.map((row) => [row.instances, row.callsWhileDownPerPhase.join(' · ')]),
      );
    }
  }

  const allHubRuns = report.runs
    .filter((run) => run.strategy === 'a')
    .sort((x, y) => FAULT_SHAPES.indexOf(x.shape ?? 'outage') - FAULT_SHAPES.indexOf(y.shape ?? 'outage') || x.instances - y.instances);
  if (allHubRuns.length > 0) {
    lines.push('What the hub did in each run (seconds from the outage start; the API is back for good at the end of the last down phase):', '');
    table(
      ['shape', 'instances', 'mapping paused (first / times)', 'resumed (concurrency 2)', 'probes failed / succeeded', 'records synced / parked / retried', 'invocation p50 / p99 ms'],
      allHubRuns.map((run) => {
        const d = run.details as {
          mappingUpdates?: { atSecondsFromOutageStart: number; enabled?: boolean }[];
          probes?: { outcome: string }[];
          recordOutcomes?: Record<string, number>;
        };
        const updates = d.mappingUpdates ?? [];
        const paused = updates.find((u) => u.enabled === false);
        const resumed = updates.find((u) => u.enabled === true && u.atSecondsFromOutageStart > (paused?.atSecondsFromOutageStart ?? -Infinity));
        const probes = d.probes ?? [];
        const outcomes = d.recordOutcomes ?? {};
        return [
          run.shape ?? 'outage',
          run.instances,
          paused ? `+${paused.atSecondsFromOutageStart} / ${updates.filter((u) => u.enabled === false).length}` : 'never',
          resumed ? `+${resumed.atSecondsFromOutageStart}` : 'never',
          `${probes.filter((p) => p.outcome === 'failed').length} / ${probes.filter((p) => p.outcome === 'succeeded').length}`,
          `${outcomes.synced ?? 0} / ${outcomes.parked ?? 0} / ${outcomes.retry_later ?? 0}`,
          `${run.invocationMs.p50} / ${run.invocationMs.p99}`,
        ];
      }),
    );
  }

  if (report.notes.length > 0) {
    lines.push('## Notes', '');
    for (const note of report.notes) lines.push(`- ${note}`);
    lines.push('');
  }

  lines.push('## Settings (compressed time)', '');
  lines.push(
    `Catalog durations are divided by F = ${round(s.compressionFactor, 1)} (catalog visibility 180 s → ${s.visibilityTimeoutSeconds} s). ` +
      'Budgets that meet this machine\'s fixed latencies (dynalite, loopback HTTP, one shared event loop) are not compressed.',
    '',
  );
  table(
    ['setting', 'here', 'on AWS (catalog / default)', 'how chosen'],
    [
      ['visibility timeout', `${s.visibilityTimeoutSeconds} s`, '180 s (6 × 30 s)', 'compressed'],
      ['maxReceiveCount', s.maxReceiveCount, '5', 'the issue'],
      ['fault window', `${s.outageMs / 1000} s`, '10 × 5 × 180 s = 2.5 h', '10 × maxReceiveCount × visibility (BENCH_OUTAGE_WINDOW_MS)'],
      ['flapping cycle', `${report.flapping.downMs / 1000} s down / ${report.flapping.upMs / 1000} s up`, '-', 'the issue (not compressed)'],
      ['events per second', s.eventsPerSecond, '-', 'steady; dynalite-bound'],
      ['function timeout', `${s.functionTimeoutMs} ms`, '30 s', 'machine-bound (≤ visibility, as Lambda requires)'],
      ['batch size / record concurrency', `${s.batchSize} / 10`, '10 / 10', 'catalog'],
      ['failureThreshold', s.circuit.failureThreshold, '5', 'catalog'],
      ['break / multiplier / max', `${s.circuit.breakMs} ms / ×${s.circuit.breakMultiplier} / ${s.circuit.maxBreakMs} ms`, '30 s / ×2 / 600 s', 'compressed'],
      ['circuit cache TTL', `${s.circuit.cacheTtlMs} ms`, '2 s', 'compressed'],
      ['probe lease', `${s.circuit.probeLeaseMs} ms`, '30 s', 'compressed'],
      ['prober schedule', `${s.proberIntervalMs} ms`, '1 min', 'compressed'],
      ['restore concurrency after', `${s.restoreAfterMs} ms`, '60 s', 'compressed'],
      ['park jitter', `${round(s.parkJitterSeconds, 3)} s (visibility is whole seconds)`, '10 s', 'compressed'],
      ['retry delay base / max', `${round(s.retryBaseDelaySeconds, 3)} s / ${round(s.retryMaxDelaySeconds, 2)} s (at least 1 s)`, '10 s / 300 s', 'compressed'],
      ['mapping concurrency before / after the outage', `instances / ${s.restoredConcurrency}`, 'catalog maxConcurrency', 'machine-bound after (dynalite)'],
      ['circuits stream (table scan)', `${s.streamIntervalMs} ms`, 'DynamoDB Streams, ~0.1–1 s', 'machine-bound'],
      ['HTTP timeout / attempts', `${s.http.timeoutMs} ms / ${s.http.maxAttempts}`, '8 s / 3', 'machine-bound / catalog'],
      ['backoff base / max / safety margin', `${s.http.baseDelayMs} / ${s.http.maxDelayMs} / ${s.http.safetyMarginMs} ms`, '200 ms / 5 s / 1 s', 'machine-bound'],
      ['mapping poll interval', `${s.pollIntervalMs} ms`, 'long polling', 'machine-bound'],
      ['sandbox latency', `${s.sandboxLatencyMs} ms`, '-', 'per request'],
      ['warm-up before the outage', `every instance handles one charge, then ${s.warmupMs / 1000} s of traffic`, '-', 'containers exist and are warm'],
      ['drain cap / settle cap', `${s.drainCapMs / 1000} s / ${s.settleCapMs / 1000} s`, '-', 'bounded waits'],
    ],
  );
  return `${lines.join('\n')}`;
}

