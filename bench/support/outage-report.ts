/**
 * The outage benchmark's report: the JSON written to bench/results/outage.json and its markdown rendering
 * (bench/results/outage.md, also printed).
 */
import type { ScenarioResult } from './outage-scenario.js';
import type { OutageSettings } from './outage-settings.js';

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
  runs: (ScenarioResult & { target?: HubTargetCheck })[];
  /** (a) at each instance count: how its calls during the outage grow. */
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
  const calls = (run: ScenarioResult) => {
    const byPath = run.figures.callsDuringOutageByPath;
    const probes = byPath['/health'] ?? 0;
    return `${run.figures.callsDuringOutage} (${run.figures.callsDuringOutage - probes} charges, ${probes} probes)`;
  };

  lines.push(`# Outage benchmark (\`${report.command}\`)`, '');
  lines.push(
    `Payments API down (every request 503, health included) for ${s.outageMs / 1000} s = 10 × (maxReceiveCount ${s.maxReceiveCount} × visibility ${s.visibilityTimeoutSeconds} s), ` +
      `${s.eventsPerSecond} valid charges/s with unique business keys for the whole run, time compressed ${round(s.compressionFactor, 1)}× ` +
      `(settings below). ${report.environment.cpus} cores, Node ${report.environment.node}, ${report.generatedAt}.`,
    '',
  );

  const comparison = report.runs.filter((run) => run.instances === 50);
  if (comparison.length > 0) {
    lines.push('## Strategies at 50 instances', '');
    table(
      ['strategy', 'callsDuringOutage', 'validMessagesInDlq', 'lostMessages', 'duplicateSideEffects', 'recoverySeconds', 'drainSeconds', 'produced'],
      comparison.map((run) => [
        STRATEGY_LABEL[run.strategy],
        calls(run),
        run.figures.validMessagesInDlq,
        run.figures.lostMessages,
        run.figures.duplicateSideEffects,
        run.figures.recoverySeconds ?? '-',
        value(run.figures.drainSeconds),
        run.figures.produced,
      ]),
    );
  }

  const hubRuns = report.runs.filter((run) => run.strategy === 'a').sort((x, y) => x.instances - y.instances);
  if (hubRuns.length > 0) {
    lines.push(`## (a) the hub at 5, 50 and 200 instances`, '');
    lines.push(
      `Bound: failureThreshold ${s.circuit.failureThreshold} + ${s.breakIntervalsInOutage} break intervals ending inside the outage ` +
        `(break ${s.circuit.breakMs} ms ×${s.circuit.breakMultiplier}, capped at ${s.circuit.maxBreakMs} ms) = **${s.callsDuringOutageBound}** calls.`,
      '',
    );
    table(
      ['instances', 'callsDuringOutage', '≤ bound', 'validMessagesInDlq', 'lostMessages', 'duplicateSideEffects', 'recoverySeconds', 'drainSeconds', 'produced'],
      hubRuns.map((run) => [
        run.instances,
        calls(run),
        run.target?.callsDuringOutageMet ? 'yes' : '**no**',
        run.figures.validMessagesInDlq,
        run.figures.lostMessages,
        run.figures.duplicateSideEffects,
        run.figures.recoverySeconds ?? '-',
        value(run.figures.drainSeconds),
        run.figures.produced,
      ]),
    );
  }

  if (hubRuns.length > 0) {
    lines.push('What the hub did in each run (seconds from the outage start; the API is back at ' + `${s.outageMs / 1000} s):`, '');
    table(
      ['instances', 'mapping paused', 'resumed (concurrency 2)', 'probes failed / succeeded', 'records synced / parked / retried', 'invocation p50 / p99 ms'],
      hubRuns.map((run) => {
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
          run.instances,
          paused ? `+${paused.atSecondsFromOutageStart}` : 'never',
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
      ['outage', `${s.outageMs / 1000} s`, '10 × 5 × 180 s = 2.5 h', '10 × maxReceiveCount × visibility'],
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

function round(value: number, digits: number): number {
  const factor = 10 ** digits;
  return Math.round(value * factor) / factor;
}
