/**
 * `npm run bench:faults` — the fault matrix: each fault of one provider, for a window in the middle of a steady
 * stream of events, through the whole local hub (the demo of `npm start`: every integration's example events, a few
 * deliberately invalid, orders and contact changes), with a no-fault run as the baseline of the same run. One table,
 * and bench/results/faults.json. Per row, for the faulted integration: messages, lost, duplicate side effects, valid
 * messages in the DLQ, poison in the DLQ with its reason, calls to the provider, and the time to drain after the
 * fault ends.
 *
 * Options (environment): FAULT_INTEGRATION (the last catalog integration), FAULT_ROWS (all, comma-separated names),
 * FAULT_EVENTS (150), FAULT_SEED (7), FAULT_PUBLISH_MS (20000), FAULT_FROM_MS (5000), FAULT_TO_MS (15000).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import { INTEGRATIONS, resolveCatalog } from '../lib/catalog.js';
import { runDemo } from '../local/hub/demo-scenario.js';
import { LocalHub } from '../local/hub/local-hub.js';
import { startSandboxForCatalog } from '../local/hub/sandbox-wiring.js';
import { servingProviderOf } from '../local/hub/serving-provider.js';

const number = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const catalog = resolveCatalog(INTEGRATIONS);
const integration = catalog.find((entry) => entry.name === (process.env.FAULT_INTEGRATION ?? catalog.at(-1)!.name));
if (!integration) throw new Error(`FAULT_INTEGRATION: the catalog has no integration '${process.env.FAULT_INTEGRATION}' (it has ${catalog.map((e) => e.name).join(', ')})`);
const provider = servingProviderOf(integration).name;
const fromMs = number('FAULT_FROM_MS', 5_000);
const toMs = number('FAULT_TO_MS', 15_000);
const timeoutMs = integration.httpTimeoutMs ?? 5_000;

/** The faults, as sandbox fault options of the provider (local/sandbox/faults.ts). `null`: none. */
const ROWS: Record<string, { faults: Record<string, unknown> | null; note: string; duplicates?: boolean }> = {
  'none (baseline)': { faults: null, note: '' },
  'duplicate delivery': { faults: null, duplicates: true, note: 'every event of the window published twice' },
  'provider 5xx': { faults: { status: 503 }, note: 'every call answered 503' },
  '30 % errors': { faults: { errorRate: 0.3 }, note: '500/502/503 at random' },
  '429 + Retry-After': { faults: { throttle: { retryAfterSeconds: 3 } }, note: 'Retry-After 3 s' },
  'hang past the timeout': { faults: { hang: true }, note: `no answer; the client gives up after ${timeoutMs} ms` },
  'connection reset': { faults: { reset: true }, note: 'TCP RST, no answer' },
  'malformed 2xx': { faults: { malformedRate: 1 }, note: 'the effect happens, the answer is truncated JSON' },
  'slow (just under the timeout)': { faults: { latencyMs: Math.max(0, timeoutMs - 1_000) }, note: `${Math.max(0, timeoutMs - 1_000)} ms per call` },
  flapping: {
    faults: { outage: Array.from({ length: 5 }, (_, i) => ({ fromMs: i * 2_000, toMs: i * 2_000 + 1_000 })) },
    note: 'down 1 s, up 1 s, five times',
  },
};
const selected = (process.env.FAULT_ROWS ?? Object.keys(ROWS).join(',')).split(',').map((row) => row.trim());
for (const row of selected) if (!ROWS[row]) throw new Error(`FAULT_ROWS: no row '${row}' (rows: ${Object.keys(ROWS).join(', ')})`);

interface FaultRow {
  readonly fault: string;
  readonly note: string;
  readonly messages: number;
  /** Every event put on the bus in the run, all integrations and orders (duplicates included). */
  readonly busEvents: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicateSideEffects: number;
  readonly validInDlq: number;
  readonly poisonInDlqWithReason: number;
  readonly callsToProvider: number;
  readonly circuitOpened: number;
  /** From the end of the fault until its queue was empty and its circuit closed; undefined if it never was. */
  readonly drainAfterRecoveryMs?: number;
  readonly ok: boolean;
}

async function runRow(name: string): Promise<FaultRow> {
  const row = ROWS[name]!;
  const sandbox = await startSandboxForCatalog({ seed: number('FAULT_SEED', 7) });
  const hub = await LocalHub.start({ sandbox, timeScale: 1 / 30 });
  try {
    const { summary, timeline } = await runDemo(hub, sandbox, {
      events: number('FAULT_EVENTS', 150),
      seed: number('FAULT_SEED', 7),
      publishForMs: number('FAULT_PUBLISH_MS', 20_000),
      ...(row.faults ? { fault: { provider, faults: row.faults, fromMs, toMs } } : {}),
      ...(row.duplicates ? { duplicates: { fromMs, toMs } } : {}),
      settleTimeoutMs: 120_000,
    });
    const figures = summary.integrations.find((entry) => entry.integration === integration!.name)!;
    const end = row.faults ? toMs : 0;
    const drained = timeline.find((sample) => {
      const own = sample.integrations[integration!.name];
      return sample.atMs >= end && sample.atMs >= number('FAULT_PUBLISH_MS', 20_000) && own !== undefined && own.queued + own.inFlight === 0 && own.circuit === 'closed';
    });
    return {
      fault: name,
      note: row.note,
      messages: figures.published,
      busEvents: timeline.at(-1)?.published ?? 0,
      delivered: figures.delivered,
      lost: figures.lost,
      duplicateSideEffects: figures.duplicates,
      validInDlq: figures.validInDlq,
      poisonInDlqWithReason: figures.invalidInDlq,
      callsToProvider: sandbox.journal.count({ provider }),
      circuitOpened: figures.circuitOpened,
      ...(drained ? { drainAfterRecoveryMs: Math.max(0, drained.atMs - Math.max(end, number('FAULT_PUBLISH_MS', 20_000))) } : {}),
      ok: figures.lost === 0 && figures.duplicates === 0 && figures.validInDlq === 0,
    };
  } finally {
    await hub.stop();
    await sandbox.close();
  }
}

const rows: FaultRow[] = [];
for (const name of selected) {
  process.stdout.write(`${name}… `);
  const row = await runRow(name);
  rows.push(row);
  console.log(row.ok ? 'ok' : 'NOT OK');
}

const columns: [string, (row: FaultRow) => string | number][] = [
  ['fault', (r) => r.fault],
  ['messages', (r) => r.messages],
  ['bus events', (r) => r.busEvents],
  ['delivered', (r) => r.delivered],
  ['lost', (r) => r.lost],
  ['dup. effects', (r) => r.duplicateSideEffects],
  ['valid in DLQ', (r) => r.validInDlq],
  ['poison in DLQ', (r) => r.poisonInDlqWithReason],
  ['calls', (r) => r.callsToProvider],
  ['circuit opened', (r) => r.circuitOpened],
  ['drain after (s)', (r) => (r.drainAfterRecoveryMs === undefined ? 'never' : (r.drainAfterRecoveryMs / 1000).toFixed(1))],
];
const widths = columns.map(([label, value]) => Math.max(label.length, ...rows.map((row) => String(value(row)).length)));
const line = (cells: (string | number)[]) => cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]!) : String(cell).padStart(widths[i]!))).join('  ');
console.log(`\nFault matrix: ${integration.name} (sandbox provider ${provider}), fault from ${fromMs / 1000} s to ${toMs / 1000} s of ${number('FAULT_PUBLISH_MS', 20_000) / 1000} s of events\n`);
console.log(line(columns.map(([label]) => label)));
for (const row of rows) console.log(line(columns.map(([, value]) => value(row))));

mkdirSync(new URL('./results/', import.meta.url), { recursive: true });
const report = {
  benchmark: 'faults',
  at: new Date().toISOString(),
  machine: { cpus: os.cpus().length, node: process.version },
  integration: integration.name,
  provider,
  window: { fromMs, toMs, publishForMs: number('FAULT_PUBLISH_MS', 20_000) },
  baseline: rows.find((row) => row.fault === 'none (baseline)'),
  rows,
};
writeFileSync(new URL('./results/faults.json', import.meta.url), `${JSON.stringify(report, null, 2)}\n`);
console.log('\nbench/results/faults.json written');
process.exitCode = rows.every((row) => row.ok) ? 0 : 1;
