/**
 * The HTML report of a local hub run (`.hub/report.html`): one self-contained file (inline CSS, inline SVG, no
 * script, no external URL) so it opens offline and can be attached to an issue as is. It shows the summary
 * tables and charts over time with the outage windows shaded: throughput, circuit state, queue depth and DLQ
 * depth per integration, and the workflows.
 *
 * Every line chart goes through {@link lineChart}; the circuit band chart shares its time axis and outage
 * shading, so all charts line up on the same time scale.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { CircuitState } from '../../functions/runtime/circuit-store.js';
import {
  ACCESS_TOKEN_SUMMARY_COLUMNS,
  accessTokenSentence,
  formatSeconds,
  type HubSample,
  INTEGRATION_SUMMARY_COLUMNS,
  type OutageWindow,
  type RunSummary,
  runVerdict,
  type SummaryColumn,
  STATUS_EVENT_SUMMARY_COLUMNS,
  WEBHOOK_SUMMARY_COLUMNS,
  WORKFLOW_SUMMARY_COLUMNS,
} from './hub-timeline.js';

/** A point of a chart series: ms since start, value. */
export type SeriesPoint = readonly [atMs: number, value: number];

/**
 * Delivered messages per second of one integration, from the deltas of its cumulative `delivered` counter
 * between consecutive samples; each rate is plotted at the later sample. Samples without the integration
 * break the chain (no rate across a gap), as do samples that do not move forward in time.
 */
export function deliveredPerSecond(timeline: readonly HubSample[], integration: string): SeriesPoint[] {
  const points: SeriesPoint[] = [];
  for (let i = 1; i < timeline.length; i++) {
    const before = timeline[i - 1]!;
    const after = timeline[i]!;
    const from = before.integrations[integration];
    const to = after.integrations[integration];
    const seconds = (after.atMs - before.atMs) / 1000;
    if (from === undefined || to === undefined || seconds <= 0) continue;
    points.push([after.atMs, (to.delivered - from.delivered) / seconds]);
  }
  return points;
}

/** The complete HTML report for a run: summary tables, then the charts over time. */
export function renderHtmlReport(timeline: readonly HubSample[], summary: RunSummary): string {
  const integrations = orderedNames(
    summary.integrations.map((i) => i.integration),
    timeline.flatMap((s) => Object.keys(s.integrations)),
  );
  const workflows = orderedNames(
    summary.workflows.map((w) => w.workflow),
    timeline.flatMap((s) => Object.keys(s.workflows)),
  );
  const frame: TimeFrame = {
    endMs: Math.max(1, summary.durationMs, timeline.at(-1)?.atMs ?? 0),
    outages: summary.outages,
  };
  const colorOf = (name: string) => PALETTE[integrations.indexOf(name) % PALETTE.length]!;
  const perIntegration = (value: (s: HubSample, name: string) => number | undefined) =>
    integrations.map((name) => ({ name, color: colorOf(name), points: pointsOf(timeline, (s) => value(s, name)) }));

  const charts = [
    lineChart(frame, {
      kind: 'throughput',
      title: 'Throughput per integration (delivered per second)',
      yLabel: 'delivered / s',
      unit: '/s',
      series: integrations.map((name) => ({ name, color: colorOf(name), points: deliveredPerSecond(timeline, name) })),
    }),
    circuitChart(frame, timeline, [...integrations, ...providerCircuitNames(timeline)]),
    lineChart(frame, {
      kind: 'queue-depth',
      title: 'Queue depth per integration (queued + in flight)',
      yLabel: 'messages',
      unit: '',
      series: perIntegration((s, name) => {
        const i = s.integrations[name];
        return i && i.queued + i.inFlight;
      }),
    }),
    lineChart(frame, {
      kind: 'dlq',
      title: 'DLQ depth per integration',
      yLabel: 'messages',
      unit: '',
      series: perIntegration((s, name) => s.integrations[name]?.dlq),
    }),
    lineChart(frame, {
      kind: 'workflows',
      title: 'Workflows (running now; succeeded and failed so far)',
      yLabel: 'executions',
      unit: '',
      // Colour says the metric (the same green/red as everywhere), the dash says the workflow.
      series: workflows.flatMap((name, index) =>
        WORKFLOW_METRICS.map((metric) => ({
          name: `${name} ${metric.key}`,
          color: metric.color,
          dash: DASHES[index % DASHES.length],
          points: pointsOf(timeline, (s) => s.workflows[name]?.[metric.key]),
        })),
      ),
    }),
  ];

  const verdict = runVerdict(summary);
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>integration-hub run ${escapeHtml(summary.startedAt)}</title>
<style>${CSS}</style>
</head>
<body>
<h1>integration-hub demo run</h1>
<p class="run">Started ${escapeHtml(summary.startedAt)} · seed ${summary.seed} · duration ${formatSeconds(summary.durationMs)} · ${summary.events} events · ${timeline.length} samples</p>
<p class="verdict ${verdict.ok ? 'ok' : 'bad'}">${escapeHtml(verdict.headline)}</p>
${verdict.problems.length > 0 ? `<ul class="problems">${verdict.problems.map((p) => `<li>${escapeHtml(p)}</li>`).join('')}</ul>` : ''}
<h2>Integrations</h2>
${htmlTable(INTEGRATION_SUMMARY_COLUMNS, summary.integrations)}
<h2>Workflows</h2>
${summary.workflows.length > 0 ? htmlTable(WORKFLOW_SUMMARY_COLUMNS, summary.workflows) : '<p>none</p>'}
${summary.webhooks && summary.webhooks.length > 0 ? `<h2>Webhooks</h2>\n${htmlTable(WEBHOOK_SUMMARY_COLUMNS, summary.webhooks)}` : ''}
${summary.statusEvents && summary.statusEvents.length > 0 ? `<h2>Status events (SyncStatusChanged)</h2>\n${htmlTable(STATUS_EVENT_SUMMARY_COLUMNS, summary.statusEvents)}` : ''}
${summary.accessTokens && summary.accessTokens.length > 0 ? `<h2>Access tokens (oauth2_refresh_token)</h2>\n${htmlTable(ACCESS_TOKEN_SUMMARY_COLUMNS, summary.accessTokens)}\n${summary.accessTokens.map((row) => `<p class="run">${escapeHtml(accessTokenSentence(row))}</p>`).join('\n')}` : ''}
<h2>Outages</h2>
${summary.outages.length > 0 ? htmlTable(OUTAGE_COLUMNS, summary.outages) : '<p>none</p>'}
<h2>Over time</h2>
${charts.join('\n')}
</body>
</html>
`;
}

/** Writes {@link renderHtmlReport} to `path`, creating its parent directory first. */
export async function writeHtmlReport(path: string, timeline: readonly HubSample[], summary: RunSummary): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, renderHtmlReport(timeline, summary), 'utf8');
}

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => HTML_ENTITIES[c]!);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Tableau 10: distinguishable, and readable on white. */
const PALETTE = ['#1f77b4', '#ff7f0e', '#2ca02c', '#d62728', '#9467bd', '#8c564b', '#e377c2', '#7f7f7f', '#bcbd22', '#17becf'];

/** The same traffic-light reading as the terminal view. */
const CIRCUIT_COLORS: Readonly<Record<CircuitState, string>> = {
  closed: '#2ca02c',
  open: '#d62728',
  half_open: '#e6b800',
  isolated: '#b03fb0',
};

const WORKFLOW_METRICS = [
  { key: 'running', color: '#1f77b4' },
  { key: 'succeeded', color: '#2ca02c' },
  { key: 'failed', color: '#d62728' },
] as const;

type Dash = 'solid' | 'dashed' | 'dotted';
const DASHES: readonly Dash[] = ['solid', 'dashed', 'dotted'];
/** SVG stroke-dasharray per dash style; the legend draws the same style with a CSS border. */
const DASH_ARRAYS: Readonly<Record<Dash, string | undefined>> = { solid: undefined, dashed: '7 4', dotted: '2 3' };

const OUTAGE_COLUMNS: readonly SummaryColumn<OutageWindow>[] = [
  { label: 'integration', value: (o) => o.integration, text: true },
  { label: 'from', value: (o) => formatSeconds(o.fromMs) },
  { label: 'to', value: (o) => formatSeconds(o.toMs) },
  { label: 'duration', value: (o) => formatSeconds(o.toMs - o.fromMs) },
];

const CSS = `
body{font:14px/1.4 system-ui,sans-serif;margin:24px auto;max-width:1000px;padding:0 16px;color:#222}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:28px 0 8px}
.run{color:#555;margin:0 0 12px}
.verdict{font-weight:700;font-size:16px;padding:8px 12px;border-radius:4px;display:inline-block}
.verdict.ok{background:#e3f4e3;color:#1b6b1b}.verdict.bad{background:#fbe3e3;color:#9b1c1c}
.problems{color:#9b1c1c}
table{border-collapse:collapse;margin:4px 0}
th,td{padding:3px 10px;border-bottom:1px solid #ddd;text-align:left}
th{background:#f4f4f4;font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
td.bad{color:#fff;background:#c62828;font-weight:700}
figure.chart{margin:16px 0 24px}
figcaption{font-weight:600;margin-bottom:4px}
svg{display:block;width:100%;height:auto;font:11px system-ui,sans-serif}
.legend{list-style:none;padding:0;margin:4px 0 0;display:flex;flex-wrap:wrap;gap:4px 16px;font-size:12px}
.legend li{display:flex;align-items:center;gap:6px}
.swatch{display:inline-block;width:22px}
.swatch.box{height:10px}
`;

/** The time span every chart shares, so they line up, and the outage windows they all shade. */
interface TimeFrame {
  readonly endMs: number;
  readonly outages: readonly OutageWindow[];
}

/** One line of a line chart. */
interface Series {
  readonly name: string;
  readonly color: string;
  readonly dash?: Dash | undefined;
  readonly points: readonly SeriesPoint[];
}

/** What a line chart shows; `kind` names it in the SVG (`data-chart`). */
interface LineChartSpec {
  readonly kind: string;
  readonly title: string;
  readonly yLabel: string;
  /** Appended to the numbers in the legend, e.g. '/s'. */
  readonly unit: string;
  readonly series: readonly Series[];
}

interface LegendItem {
  readonly label: string;
  readonly color: string;
  /** A line in a dash style, or a filled box for the band chart's states. */
  readonly style: Dash | 'box';
}

const WIDTH = 960;
const LEFT = 130;
const RIGHT = 16;
const TOP = 18;
const BOTTOM = 40;
const PLOT_HEIGHT = 200;

/** The single line-chart implementation: time on x, values on y from 0, one polyline per series. */
function lineChart(frame: TimeFrame, spec: LineChartSpec): string {
  // y starts at 0 so magnitudes compare honestly; it only goes below 0 if the data does.
  // reduce rather than Math.max(...values): a long run has more points than a call can take arguments.
  const values = spec.series.flatMap((s) => s.points.map(([, v]) => v));
  const low = values.reduce((m, v) => Math.min(m, v), 0);
  const high = values.reduce((m, v) => Math.max(m, v), 0);
  const yStep = niceStep(high - low, 5);
  const yMin = Math.floor(low / yStep) * yStep;
  const yMax = Math.max(Math.ceil(high / yStep) * yStep, yMin + yStep);
  const bottom = TOP + PLOT_HEIGHT;
  const y = (v: number) => bottom - ((v - yMin) / (yMax - yMin)) * PLOT_HEIGHT;

  const yAxis: string[] = [];
  for (let i = 0; yMin + i * yStep <= yMax + yStep / 2; i++) {
    const v = yMin + i * yStep;
    const py = round(y(v));
    yAxis.push(
      `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${py}" y2="${py}" stroke="#e5e5e5"/>`,
      `<text x="${LEFT - 6}" y="${py + 4}" text-anchor="end" fill="#555">${formatNumber(v)}</text>`,
    );
  }
  const lines = spec.series.map((s) => {
    const dash = DASH_ARRAYS[s.dash ?? 'solid'];
    const points = s.points.map(([t, v]) => `${round(timeX(frame, t))},${round(y(v))}`).join(' ');
    return `<polyline class="series" data-series="${escapeHtml(s.name)}" fill="none" stroke="${s.color}" stroke-width="1.8"${dash ? ` stroke-dasharray="${dash}"` : ''} points="${points}"><title>${escapeHtml(s.name)}</title></polyline>`;
  });
  const yTitle = `<text transform="translate(14 ${TOP + PLOT_HEIGHT / 2}) rotate(-90)" text-anchor="middle" fill="#333">${escapeHtml(spec.yLabel)}</text>`;
  const legend = spec.series.map((s) => {
    const max = s.points.length > 0 ? `max ${formatNumber(s.points.reduce((m, [, v]) => Math.max(m, v), -Infinity))}${spec.unit}` : 'no data';
    return { label: `${s.name} (${max})`, color: s.color, style: s.dash ?? 'solid' } satisfies LegendItem;
  });
  return chartFigure(
    spec.kind,
    spec.title,
    bottom,
    [...yAxis, yTitle, ...timeAxis(frame, TOP, bottom), ...outageShading(frame, TOP, bottom), ...lines],
    legend,
  );
}

const BAND_HEIGHT = 18;
const BAND_GAP = 8;

/**
 * Circuit state as a band per circuit (each integration's, then each workflow provider's), coloured by state. A sample's state holds until the
 * next sample (that is all we know); runs of one state are merged into one rect.
 */
function circuitChart(frame: TimeFrame, timeline: readonly HubSample[], circuits: readonly string[]): string {
  const bottom = TOP + Math.max(1, circuits.length) * (BAND_HEIGHT + BAND_GAP);
  const body = circuits.flatMap((name, row) => {
    const top = TOP + row * (BAND_HEIGHT + BAND_GAP) + BAND_GAP / 2;
    const rects = stateRuns(timeline, name, frame.endMs).map((run) => {
      const x = round(timeX(frame, run.fromMs));
      const width = round(Math.max(0, timeX(frame, run.toMs) - timeX(frame, run.fromMs)));
      return `<rect class="circuit" data-series="${escapeHtml(name)}" data-state="${run.state}" x="${x}" y="${top}" width="${width}" height="${BAND_HEIGHT}" fill="${CIRCUIT_COLORS[run.state]}"><title>${escapeHtml(name)} ${run.state} ${formatSeconds(run.fromMs)}–${formatSeconds(run.toMs)}</title></rect>`;
    });
    const label = name.length > 18 ? `${name.slice(0, 17)}…` : name;
    return [
      `<text x="${LEFT - 6}" y="${top + BAND_HEIGHT / 2 + 4}" text-anchor="end" fill="#333">${escapeHtml(label)}<title>${escapeHtml(name)}</title></text>`,
      ...rects,
    ];
  });
  const legend = (Object.keys(CIRCUIT_COLORS) as CircuitState[]).map(
    (state) => ({ label: state, color: CIRCUIT_COLORS[state], style: 'box' }) satisfies LegendItem,
  );
  // Shading goes over the bands here (it is translucent), or the solid bands would hide it.
  return chartFigure(
    'circuit',
    'Circuit state per integration and workflow provider',
    bottom,
    [...timeAxis(frame, TOP, bottom), ...body, ...outageShading(frame, TOP, bottom)],
    legend,
  );
}

/** The workflow providers whose circuit any sample recorded, in the order first seen. */
function providerCircuitNames(timeline: readonly HubSample[]): string[] {
  return [...new Set(timeline.flatMap((sample) => Object.keys(sample.providerCircuits ?? {})))];
}

/** Consecutive samples with the same circuit state, each lasting until the next state (or the end of the run). */
function stateRuns(timeline: readonly HubSample[], circuit: string, endMs: number) {
  const runs: { state: CircuitState; fromMs: number; toMs: number }[] = [];
  let open: { state: CircuitState; fromMs: number } | undefined;
  for (const sample of timeline) {
    const state = sample.integrations[circuit]?.circuit ?? sample.providerCircuits?.[circuit];
    if (open && open.state === state) continue;
    if (open) runs.push({ ...open, toMs: sample.atMs });
    open = state === undefined ? undefined : { state, fromMs: sample.atMs };
  }
  if (open) runs.push({ ...open, toMs: Math.max(endMs, open.fromMs) });
  return runs;
}

/** The x axis in seconds (grid, tick labels, title) of a plot area between `top` and `bottom`. */
function timeAxis(frame: TimeFrame, top: number, bottom: number): string[] {
  const out: string[] = [];
  const stepSeconds = niceStep(frame.endMs / 1000, 10);
  // Ticks by index, not by accumulating the step: 0.1 + 0.2 drifts and would drop or misplace the last tick.
  for (let i = 0; i * stepSeconds * 1000 <= frame.endMs + 1e-6; i++) {
    const s = i * stepSeconds;
    const x = round(timeX(frame, s * 1000));
    out.push(
      `<line x1="${x}" x2="${x}" y1="${top}" y2="${bottom}" stroke="#eee"/>`,
      `<text x="${x}" y="${bottom + 14}" text-anchor="middle" fill="#555">${formatNumber(s)}s</text>`,
    );
  }
  out.push(
    `<line x1="${LEFT}" x2="${WIDTH - RIGHT}" y1="${bottom}" y2="${bottom}" stroke="#888"/>`,
    `<text x="${LEFT + (WIDTH - RIGHT - LEFT) / 2}" y="${bottom + 32}" text-anchor="middle" fill="#333">time since start (s)</text>`,
  );
  return out;
}

/** The outage windows as translucent rects over a plot area between `top` and `bottom`, labelled above it. */
function outageShading(frame: TimeFrame, top: number, bottom: number): string[] {
  return frame.outages.flatMap((o) => {
    // Clamp to the chart so a window reaching past the run does not draw outside it.
    const from = Math.max(0, Math.min(o.fromMs, frame.endMs));
    const to = Math.max(from, Math.min(o.toMs, frame.endMs));
    const x = round(timeX(frame, from));
    return [
      `<rect class="outage" data-integration="${escapeHtml(o.integration)}" x="${x}" y="${top}" width="${round(timeX(frame, to) - timeX(frame, from))}" height="${bottom - top}" fill="#888" fill-opacity="0.18"><title>outage ${escapeHtml(o.integration)} ${formatSeconds(o.fromMs)}–${formatSeconds(o.toMs)}</title></rect>`,
      `<text x="${x + 3}" y="${top - 4}" fill="#666">outage ${escapeHtml(o.integration)}</text>`,
    ];
  });
}

/** An SVG chart in a figure with its caption and an HTML legend (HTML so long legends wrap). */
function chartFigure(kind: string, title: string, plotBottom: number, body: readonly string[], legend: readonly LegendItem[]): string {
  const height = plotBottom + BOTTOM;
  const items = legend.map((item) => {
    const swatch =
      item.style === 'box'
        ? `<span class="swatch box" style="background:${item.color}"></span>`
        : `<span class="swatch" style="border-top:3px ${item.style} ${item.color}"></span>`;
    return `<li>${swatch}${escapeHtml(item.label)}</li>`;
  });
  return `<figure class="chart" id="chart-${escapeHtml(kind)}">
<figcaption>${escapeHtml(title)}</figcaption>
<svg data-chart="${escapeHtml(kind)}" xmlns="http://www.w3.org/2000/svg" viewBox="0 0 ${WIDTH} ${height}" role="img" aria-label="${escapeHtml(title)}">
${body.join('\n')}
</svg>
<ul class="legend">${items.join('')}</ul>
</figure>`;
}

function htmlTable<Row>(columns: readonly SummaryColumn<Row>[], rows: readonly Row[]): string {
  const head = columns.map((c) => `<th${c.text ? '' : ' class="num"'}>${escapeHtml(c.label)}</th>`).join('');
  const body = rows.map((row) => {
    const cells = columns.map((c) => {
      const value = c.value(row);
      const classes = [c.text ? '' : 'num', c.mustBeZero && typeof value === 'number' && value !== 0 ? 'bad' : ''].filter(Boolean);
      return `<td${classes.length > 0 ? ` class="${classes.join(' ')}"` : ''}>${escapeHtml(String(value))}</td>`;
    });
    return `<tr>${cells.join('')}</tr>`;
  });
  return `<table>\n<thead><tr>${head}</tr></thead>\n<tbody>\n${body.join('\n')}\n</tbody>\n</table>`;
}

function timeX(frame: TimeFrame, atMs: number): number {
  return LEFT + (atMs / frame.endMs) * (WIDTH - RIGHT - LEFT);
}

/** (atMs, value) for every sample where `value` is defined; a missing integration leaves a gap, not a zero. */
function pointsOf(timeline: readonly HubSample[], value: (s: HubSample) => number | undefined): SeriesPoint[] {
  return timeline.flatMap((s) => {
    const v = value(s);
    return v === undefined ? [] : [[s.atMs, v] as const];
  });
}

/** `preferred` in its order, then any name only seen in `seen`, each once. */
function orderedNames(preferred: readonly string[], seen: readonly string[]): string[] {
  return [...new Set([...preferred, ...seen])];
}

/** A round tick step (1, 2 or 5 × 10^k) giving at most about `maxTicks` ticks over `range`. */
function niceStep(range: number, maxTicks: number): number {
  if (!(range > 0)) return 1;
  const raw = range / maxTicks;
  const magnitude = 10 ** Math.floor(Math.log10(raw));
  return ([1, 2, 5, 10].find((m) => m * magnitude >= raw) ?? 10) * magnitude;
}

function formatNumber(n: number): string {
  return String(Math.round(n * 100) / 100);
}

function round(n: number): number {
  return Math.round(n * 10) / 10;
}
