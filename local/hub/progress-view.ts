/**
 * Terminal views of the local hub's demo run: the live progress block, the printer that keeps it on screen
 * (redrawn in place on a terminal, throttled plain lines in CI logs), and the end-of-run summary table.
 * Everything but the printer is a pure function of the recorded data.
 */
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

/** Options of {@link renderProgress}. */
export interface ProgressViewOptions {
  /** Colour the circuit states with ANSI escapes. @default false */
  readonly color?: boolean;
  /** The scenario's outage windows; the header names those the sample falls inside. @default none */
  readonly outages?: readonly OutageWindow[];
}

const RESET = '\x1b[0m';
const BOLD = '\x1b[1m';
const RED = '\x1b[31m';
const GREEN = '\x1b[32m';

/** The ANSI colour of each circuit state: the traffic-light reading an operator expects, magenta for manual. */
const CIRCUIT_ANSI: Readonly<Record<CircuitState, string>> = {
  closed: GREEN,
  open: RED,
  half_open: '\x1b[33m',
  isolated: '\x1b[35m',
};

/**
 * The live progress block for one sample: a header line (elapsed time, published count, `OUTAGE <integration>`
 * while inside an outage window), one line per integration, one line per workflow and a line with the workflow
 * providers' circuits. No trailing newline.
 */
export function renderProgress(sample: HubSample, options: ProgressViewOptions = {}): string {
  const color = options.color ?? false;
  const header = [`t=${formatSeconds(sample.atMs)}`, `published ${sample.published}`, ...outageLabels(sample, options.outages)];
  const lines = [header.join('  ')];

  const integrations = Object.entries(sample.integrations);
  if (integrations.length > 0) {
    lines.push(
      ...textTable(
        [
          { label: 'integration', text: true },
          { label: 'circuit', text: true },
          { label: 'mapping', text: true },
          { label: 'queued' },
          { label: 'in flight' },
          { label: 'delivered' },
          { label: 'retried' },
          { label: 'parked' },
          { label: 'DLQ' },
        ],
        integrations.map(([name, s]) => [
          { text: name },
          { text: s.circuit, ansi: color ? CIRCUIT_ANSI[s.circuit] : undefined },
          { text: s.mappingEnabled ? 'polling' : 'paused' },
          ...[s.queued, s.inFlight, s.delivered, s.retried, s.parked, s.dlq].map((n) => ({ text: String(n) })),
        ]),
      ),
    );
  }

  const workflows = Object.entries(sample.workflows);
  if (workflows.length > 0) {
    lines.push(
      ...textTable(
        [
          { label: 'workflow', text: true },
          { label: 'started' },
          { label: 'running' },
          { label: 'succeeded' },
          { label: 'failed' },
          { label: 'compensated' },
        ],
        workflows.map(([name, w]) => [
          { text: name },
          ...[w.started, w.running, w.succeeded, w.failed, w.compensated].map((n) => ({ text: String(n) })),
        ]),
      ),
    );
  }

  const providers = Object.entries(sample.providerCircuits ?? {});
  if (providers.length > 0) {
    const states = providers.map(([name, state]) => `${name} ${color ? `${CIRCUIT_ANSI[state]}${state}${RESET}` : state}`);
    lines.push(`workflow provider circuits: ${states.join('  ')}`);
  }
  return lines.join('\n');
}

/**
 * The same sample as one plain line (totals over integrations and workflows, each circuit's state), for logs
 * that are read afterwards rather than watched.
 */
export function renderProgressLine(sample: HubSample, options: Pick<ProgressViewOptions, 'outages'> = {}): string {
  const integrations = Object.values(sample.integrations);
  const workflows = Object.values(sample.workflows);
  const total = (values: readonly number[]) => values.reduce((a, b) => a + b, 0);
  const parts = [
    `t=${formatSeconds(sample.atMs)}`,
    `published=${sample.published}`,
    `queued=${total(integrations.map((i) => i.queued))}`,
    `inFlight=${total(integrations.map((i) => i.inFlight))}`,
    `delivered=${total(integrations.map((i) => i.delivered))}`,
    `retried=${total(integrations.map((i) => i.retried))}`,
    `parked=${total(integrations.map((i) => i.parked))}`,
    `dlq=${total(integrations.map((i) => i.dlq))}`,
  ];
  const circuits = [
    ...Object.entries(sample.integrations).map(([name, s]) => `${name}:${s.circuit}${s.mappingEnabled ? '' : '(paused)'}`),
    ...Object.entries(sample.providerCircuits ?? {}).map(([name, state]) => `${name}:${state}`),
  ];
  if (circuits.length > 0) parts.push(`circuits=${circuits.join(',')}`);
  if (workflows.length > 0) {
    parts.push(
      `workflows running=${total(workflows.map((w) => w.running))}`,
      `succeeded=${total(workflows.map((w) => w.succeeded))}`,
      `failed=${total(workflows.map((w) => w.failed))}`,
    );
  }
  parts.push(...outageLabels(sample, options.outages));
  return parts.join(' ');
}

/** Where a {@link ProgressPrinter} writes: `process.stdout` or anything shaped like it. */
export interface ProgressOutput {
  write(chunk: string): unknown;
  readonly isTTY?: boolean;
}

/** Options of a {@link ProgressPrinter}. */
export interface ProgressPrinterOptions {
  /** Colour the circuit states (terminal only; log lines are always plain). @default true on a TTY */
  readonly color?: boolean;
  /** Passed to the renderers so the header shows the current outage. @default none */
  readonly outages?: readonly OutageWindow[];
  /** On a non-TTY, print one line for the first sample and then one per this many samples. @default 20 */
  readonly everySamples?: number;
}

/**
 * Shows progress as samples arrive. On a TTY it redraws the {@link renderProgress} block in place (cursor up
 * over the previous block, clear to the end of the screen, draw), so the terminal shows one live block. On
 * anything else escape codes would litter the log, so it prints a {@link renderProgressLine} for the first
 * sample and then at most one per `everySamples` samples.
 */
export class ProgressPrinter {
  private readonly tty: boolean;
  private readonly color: boolean;
  private readonly everySamples: number;
  private readonly outages: readonly OutageWindow[];
  /** Lines of the block currently on screen, to move the cursor back over them. */
  private drawnLines = 0;
  private samplesSeen = 0;
  /** The latest sample a non-TTY throttled away, so {@link finish} can still print the final state. */
  private unprinted: HubSample | undefined;

  constructor(
    private readonly out: ProgressOutput,
    options: ProgressPrinterOptions = {},
  ) {
    const everySamples = options.everySamples ?? 20;
    if (!Number.isInteger(everySamples) || everySamples < 1) {
      throw new RangeError(`everySamples must be a positive integer, got ${everySamples}`);
    }
    this.tty = out.isTTY === true;
    this.color = options.color ?? this.tty;
    this.everySamples = everySamples;
    this.outages = options.outages ?? [];
  }

  /** Shows (or, on a non-TTY, maybe skips) one sample. */
  update(sample: HubSample): void {
    this.samplesSeen += 1;
    if (this.tty) {
      const block = renderProgress(sample, { color: this.color, outages: this.outages });
      // Cursor up to the first line of the previous block, then erase it and everything below, so a block
      // that shrank (fewer lines) leaves nothing stale behind.
      const rewind = this.drawnLines > 0 ? `\x1b[${this.drawnLines}A\r\x1b[J` : '';
      this.out.write(`${rewind}${block}\n`);
      this.drawnLines = block.split('\n').length;
      return;
    }
    if ((this.samplesSeen - 1) % this.everySamples === 0) {
      this.printLine(sample);
    } else {
      this.unprinted = sample;
    }
  }

  /** Ends the display. On a non-TTY prints the last sample if it was throttled away, so the log ends on the final state. */
  finish(): void {
    if (!this.tty && this.unprinted !== undefined) this.printLine(this.unprinted);
    // The block stays on screen as the last picture; later output starts below it.
    this.drawnLines = 0;
  }

  private printLine(sample: HubSample): void {
    this.out.write(`${renderProgressLine(sample, { outages: this.outages })}\n`);
    this.unprinted = undefined;
  }
}

/** Options of {@link renderSummaryTable}. */
export interface SummaryTableOptions {
  /** Colour the verdict line (green OK, red NOT OK). @default false */
  readonly color?: boolean;
}

/**
 * The end-of-run summary as aligned text: the run line, the integrations table (the columns of
 * IntegrationSummary), the workflows table, the webhooks table (when providers sent any), the status events, the
 * access tokens of refresh-token integrations (a table and a sentence each), the outage windows and a final verdict line
 * ("OK: 0 lost, 0 duplicated", or NOT OK followed by the problems).
 */
export function renderSummaryTable(summary: RunSummary, options: SummaryTableOptions = {}): string {
  const lines = [
    `Run ${summary.startedAt}  seed ${summary.seed}  duration ${formatSeconds(summary.durationMs)}  events ${summary.events}`,
    '',
    'Integrations',
    ...columnTable(INTEGRATION_SUMMARY_COLUMNS, summary.integrations),
    '',
    'Workflows',
    ...(summary.workflows.length > 0 ? columnTable(WORKFLOW_SUMMARY_COLUMNS, summary.workflows) : ['(none)']),
    '',
    ...(summary.webhooks && summary.webhooks.length > 0 ? ['Webhooks', ...columnTable(WEBHOOK_SUMMARY_COLUMNS, summary.webhooks), ''] : []),
    ...(summary.statusEvents && summary.statusEvents.length > 0 ? ['Status events (SyncStatusChanged)', ...columnTable(STATUS_EVENT_SUMMARY_COLUMNS, summary.statusEvents), ''] : []),
    ...(summary.accessTokens && summary.accessTokens.length > 0
      ? ['Access tokens (oauth2_refresh_token)', ...columnTable(ACCESS_TOKEN_SUMMARY_COLUMNS, summary.accessTokens), ...summary.accessTokens.map(accessTokenSentence), '']
      : []),
    'Outages',
    ...(summary.outages.length > 0
      ? textTable(
          [{ label: 'integration', text: true }, { label: 'from' }, { label: 'to' }, { label: 'duration' }],
          summary.outages.map((o) => [o.integration, formatSeconds(o.fromMs), formatSeconds(o.toMs), formatSeconds(o.toMs - o.fromMs)].map((text) => ({ text }))),
        )
      : ['(none)']),
    '',
  ];
  const verdict = runVerdict(summary);
  const headline = options.color ? `${BOLD}${verdict.ok ? GREEN : RED}${verdict.headline}${RESET}` : verdict.headline;
  lines.push(headline, ...verdict.problems.map((p) => `  - ${p}`));
  return lines.join('\n');
}

/** `OUTAGE <integration>` for every window the sample falls inside ([fromMs, toMs)). */
function outageLabels(sample: HubSample, outages: readonly OutageWindow[] = []): string[] {
  return outages.filter((o) => sample.atMs >= o.fromMs && sample.atMs < o.toMs).map((o) => `OUTAGE ${o.integration}`);
}

interface TextColumn {
  readonly label: string;
  /** Left-aligned when true; numbers read better right-aligned. */
  readonly text?: boolean;
}

interface TextCell {
  readonly text: string;
  /** ANSI colour applied to the text only, so escape codes never count towards the column width. */
  readonly ansi?: string | undefined;
}

function columnTable<Row>(columns: readonly SummaryColumn<Row>[], rows: readonly Row[]): string[] {
  return textTable(
    columns,
    rows.map((row) => columns.map((c) => ({ text: String(c.value(row)) }))),
  );
}

/** A heading line plus one line per row, columns padded to their widest cell and separated by two spaces. */
function textTable(columns: readonly TextColumn[], rows: readonly (readonly TextCell[])[]): string[] {
  const widths = columns.map((c, i) => Math.max(c.label.length, ...rows.map((r) => r[i]?.text.length ?? 0)));
  const line = (cells: readonly TextCell[]) =>
    columns
      .map((c, i) => {
        const cell = cells[i] ?? { text: '' };
        const pad = ' '.repeat((widths[i] ?? 0) - cell.text.length);
        const shown = cell.ansi ? `${cell.ansi}${cell.text}${RESET}` : cell.text;
        return c.text ? shown + pad : pad + shown;
      })
      .join('  ')
      .trimEnd();
  return [line(columns.map((c) => ({ text: c.label }))), ...rows.map(line)];
}
