/**
 * `npm run bench:faults` — the fault matrix: each fault, for a window in the middle of a steady stream of events,
 * through the whole local hub (the demo of `npm start`: every integration's example events, a few deliberately
 * invalid, orders and contact changes), with a no-fault run as the baseline of the same run. Faults of the third
 * party (the sandbox's), of the hub's own parts (local/hub/hub-faults.ts: DynamoDB, Secrets Manager, the controller, a
 * crash mid-call), a credential rotation, and extra events (local/hub/fault-events.ts: poison, versions out of order).
 * One table, and bench/results/faults.json. Per row, for the faulted integration: messages, lost, duplicate side
 * effects, valid messages in the DLQ, poison in the DLQ with its reason, older versions skipped as stale, calls to the
 * provider, and the time to drain after the fault ends.
 *
 * Options (environment): FAULT_INTEGRATION (the last catalog integration), FAULT_ROWS (all, comma-separated names),
 * FAULT_EVENTS (150), FAULT_SEED (7), FAULT_PUBLISH_MS (20000), FAULT_FROM_MS (5000), FAULT_TO_MS (15000).
 */
import os from 'node:os';
import { INTEGRATIONS, resolveCatalog } from '../lib/catalog.js';
import { type DemoEvent, type DemoIntegration, loadDemoIntegrations } from '../local/hub/demo-events.js';
import { type DemoAction, runDemo } from '../local/hub/demo-scenario.js';
import { hasVersions, outOfOrderEvents, poisonEvents } from '../local/hub/fault-events.js';
import type { HubFaults } from '../local/hub/hub-faults.js';
import { LocalHub } from '../local/hub/local-hub.js';
import { sandboxSecretValues, startSandboxForCatalog } from '../local/hub/sandbox-wiring.js';
import { servingProviderOf } from '../local/hub/serving-provider.js';
import type { SandboxControl } from '../local/sandbox/index.js';
import { writeBenchResult } from './support/results.js';

const number = (name: string, fallback: number) => (process.env[name] ? Number(process.env[name]) : fallback);
const catalog = resolveCatalog(INTEGRATIONS);
const integrations = await loadDemoIntegrations(catalog);
const defaultIntegration = integrations.find(({ entry }) => entry.name === (process.env.FAULT_INTEGRATION ?? catalog.at(-1)!.name));
if (!defaultIntegration) throw new Error(`FAULT_INTEGRATION: the catalog has no integration '${process.env.FAULT_INTEGRATION}' (it has ${catalog.map((e) => e.name).join(', ')})`);
const fromMs = number('FAULT_FROM_MS', 5_000);
const toMs = number('FAULT_TO_MS', 15_000);
const publishForMs = number('FAULT_PUBLISH_MS', 20_000);
const seed = number('FAULT_SEED', 7);
const timeoutOf = (integration: DemoIntegration) => catalog.find((entry) => entry.name === integration.entry.name)!.httpTimeoutMs ?? 5_000;
/** How long the secret lags behind the provider's key in the rotation row. */
const SECRET_LAG_MS = 3_000;

/** One row: what goes wrong during the window (from FAULT_FROM_MS to FAULT_TO_MS of the publishing window). */
interface Row {
  readonly note: (integration: DemoIntegration) => string;
  /** Sandbox faults of the integration's provider during the window (local/sandbox/faults.ts). */
  readonly faults?: (integration: DemoIntegration) => Record<string, unknown>;
  /** Faults of the hub's own parts during the window (local/hub/hub-faults.ts). */
  readonly hubFaults?: (integration: DemoIntegration) => HubFaults;
  /** Every event of the window published twice. */
  readonly duplicates?: boolean;
  /** Other things done during the run, and when the fault ends (default: the window's end). */
  readonly actions?: (integration: DemoIntegration) => { readonly actions: DemoAction[]; readonly endsAtMs: number };
  /** Events besides the seeded plan (local/hub/fault-events.ts). */
  readonly events?: (integration: DemoIntegration) => DemoEvent[];
  /** The integration the row needs, when not every one can show the fault. @default FAULT_INTEGRATION */
  readonly integration?: () => DemoIntegration | undefined;
  /** Waiting for the hub to settle after publishing. @default 120 s */
  readonly settleTimeoutMs?: number;
}

const ROWS: Record<string, Row> = {
  'none (baseline)': { note: () => '' },
  'duplicate delivery': { duplicates: true, note: () => 'every event of the window published twice' },
  'provider 5xx': { faults: () => ({ status: 503 }), note: () => 'every call answered 503' },
  '30 % errors': { faults: () => ({ errorRate: 0.3 }), note: () => '500/502/503 at random' },
  '429 + Retry-After': { faults: () => ({ throttle: { retryAfterSeconds: 3 } }), note: () => 'Retry-After 3 s' },
  'hang past the timeout': { faults: () => ({ hang: true }), note: (i) => `no answer; the client gives up after ${timeoutOf(i)} ms` },
  'connection reset': { faults: () => ({ reset: true }), note: () => 'TCP RST, no answer' },
  'malformed 2xx': { faults: () => ({ malformedRate: 1 }), note: () => 'the effect happens, the answer is truncated JSON' },
  'slow (just under the timeout)': {
    faults: (i) => ({ latencyMs: Math.max(0, timeoutOf(i) - 1_000) }),
    note: (i) => `${Math.max(0, timeoutOf(i) - 1_000)} ms per call`,
  },
  flapping: {
    faults: () => ({ outage: Array.from({ length: 5 }, (_, i) => ({ fromMs: i * 2_000, toMs: i * 2_000 + 1_000 })) }),
    note: () => 'down 1 s, up 1 s, five times',
  },
  '401 after rotation': {
    actions: (integration) => {
      const provider = servingProviderOf(integration.entry).name;
      return {
        actions: [
          { atMs: fromMs, run: (_hub, sandbox) => void (sandbox as unknown as SandboxControl<string>).rotateCredentials(provider) },
          {
            atMs: fromMs + SECRET_LAG_MS,
            run: (hub, sandbox) => {
              for (const [name, value] of Object.entries(sandboxSecretValues(sandbox))) hub.secretsManager.put(name, value);
            },
          },
        ],
        endsAtMs: fromMs + SECRET_LAG_MS,
      };
    },
    note: () => `the provider rotates its key; the secret gets the new one ${SECRET_LAG_MS / 1000} s later`,
  },
  'ledger table throttled': {
    hubFaults: () => ({ dynamo: { tables: ['ledger'], error: 'throttling', rate: 0.5 } }),
    note: () => 'half the ledger calls: ProvisionedThroughputExceeded (SDK retries included)',
  },
  'ledger table failing': { hubFaults: () => ({ dynamo: { tables: ['ledger'], error: 'internal' } }), note: () => 'every ledger call: InternalServerError' },
  'circuits table throttled': {
    hubFaults: () => ({ dynamo: { tables: ['circuits'], error: 'throttling', rate: 0.5 } }),
    note: () => 'half the circuits-table calls: ProvisionedThroughputExceeded',
  },
  'circuits table failing': { hubFaults: () => ({ dynamo: { tables: ['circuits'], error: 'internal' } }), note: () => 'every circuits-table call: InternalServerError' },
  'Secrets Manager outage': { hubFaults: () => ({ secretsManager: 'unavailable' }), note: () => 'every GetSecretValue fails; cached secrets still served' },
  'crash mid-call': {
    hubFaults: (i) => ({ crashAfterCall: { integration: i.entry.name, rate: 0.3 } }),
    // The crashed batches come back after the queue's visibility timeout (6 × the function timeout).
    settleTimeoutMs: 420_000,
    note: () => '30 % of calls: the invocation dies after the provider answered',
  },
  'controller down in an outage': {
    faults: () => ({ status: 503 }),
    hubFaults: () => ({ controller: 'down' }),
    note: () => 'every call answered 503 and every controller invocation fails',
  },
  'versions out of order': {
    integration: () => integrations.find(hasVersions),
    events: (i) => outOfOrderEvents(i, { fromMs, toMs, seed, entities: 12, versions: 3 }),
    note: () => '12 entities in 3 versions each, the newest first',
  },
  'poison payloads': {
    events: (i) => poisonEvents(i, { fromMs, toMs, seed, count: 40 }),
    note: () => `40 details generated by fast-check (seed ${seed})`,
  },
};
const selected = (process.env.FAULT_ROWS ?? Object.keys(ROWS).join(',')).split(',').map((row) => row.trim());
for (const row of selected) if (!ROWS[row]) throw new Error(`FAULT_ROWS: no row '${row}' (rows: ${Object.keys(ROWS).join(', ')})`);

interface FaultRow {
  readonly fault: string;
  readonly integration: string;
  readonly note: string;
  readonly messages: number;
  /** Every event put on the bus in the run, all integrations and orders (duplicates included). */
  readonly busEvents: number;
  readonly delivered: number;
  readonly lost: number;
  readonly duplicateSideEffects: number;
  readonly validInDlq: number;
  readonly poisonInDlqWithReason: number;
  /** Older versions not sent because a newer one was. */
  readonly skippedStale: number;
  readonly callsToProvider: number;
  readonly circuitOpened: number;
  /** From the end of the fault until its queue was empty and its circuit closed; undefined if it never was. */
  readonly drainAfterRecoveryMs?: number;
  /** The run's problems about this integration (lost, duplicated, stale overwrites, still queued). */
  readonly problems: readonly string[];
  readonly ok: boolean;
}

async function runRow(name: string): Promise<FaultRow | undefined> {
  const row = ROWS[name]!;
  const integration = row.integration ? row.integration() : defaultIntegration!;
  if (!integration) {
    console.log(`skipped: no catalog integration can show '${name}'`);
    return undefined;
  }
  const provider = servingProviderOf(integration.entry).name;
  const sandbox = await startSandboxForCatalog({ seed });
  const hub = await LocalHub.start({ sandbox, timeScale: 1 / 30 });
  try {
    const hubFaults = row.hubFaults?.(integration);
    const scripted = row.actions?.(integration);
    const actions: DemoAction[] = [
      ...(scripted?.actions ?? []),
      ...(hubFaults ? [{ atMs: fromMs, run: (h: LocalHub) => h.faults.set(hubFaults) }, { atMs: toMs, run: (h: LocalHub) => h.faults.clear() }] : []),
    ];
    const faults = row.faults?.(integration);
    const { summary, timeline } = await runDemo(hub, sandbox, {
      events: number('FAULT_EVENTS', 150),
      seed,
      publishForMs,
      ...(faults ? { fault: { provider, faults, fromMs, toMs } } : {}),
      ...(row.duplicates ? { duplicates: { fromMs, toMs } } : {}),
      actions,
      extraEvents: row.events?.(integration) ?? [],
      settleTimeoutMs: row.settleTimeoutMs ?? 120_000,
    });
    const own = integration.entry.name;
    const figures = summary.integrations.find((entry) => entry.integration === own)!;
    const end = scripted?.endsAtMs ?? (faults || hubFaults ? toMs : 0);
    const drained = timeline.find((sample) => {
      const state = sample.integrations[own];
      return sample.atMs >= end && sample.atMs >= publishForMs && state !== undefined && state.queued + state.inFlight === 0 && state.circuit === 'closed';
    });
    const problems = summary.problems.filter((problem) => problem.startsWith(`${own}:`));
    return {
      fault: name,
      integration: own,
      note: row.note(integration),
      messages: figures.published,
      busEvents: timeline.at(-1)?.published ?? 0,
      delivered: figures.delivered,
      lost: figures.lost,
      duplicateSideEffects: figures.duplicates,
      validInDlq: figures.validInDlq,
      poisonInDlqWithReason: figures.invalidInDlq,
      skippedStale: figures.skippedStale,
      callsToProvider: sandbox.journal.count({ provider }),
      circuitOpened: figures.circuitOpened,
      ...(drained ? { drainAfterRecoveryMs: Math.max(0, drained.atMs - Math.max(end, publishForMs)) } : {}),
      problems,
      ok: figures.lost === 0 && figures.duplicates === 0 && figures.validInDlq === 0 && problems.length === 0,
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
  if (!row) continue;
  rows.push(row);
  console.log(row.ok ? 'ok' : `NOT OK: ${row.problems.join('; ')}`);
}

const columns: [string, (row: FaultRow) => string | number][] = [
  ['fault', (r) => r.fault],
  ['integration', (r) => r.integration],
  ['messages', (r) => r.messages],
  ['bus events', (r) => r.busEvents],
  ['delivered', (r) => r.delivered],
  ['lost', (r) => r.lost],
  ['dup. effects', (r) => r.duplicateSideEffects],
  ['valid in DLQ', (r) => r.validInDlq],
  ['poison in DLQ', (r) => r.poisonInDlqWithReason],
  ['stale skipped', (r) => r.skippedStale],
  ['calls', (r) => r.callsToProvider],
  ['circuit opened', (r) => r.circuitOpened],
  ['drain after (s)', (r) => (r.drainAfterRecoveryMs === undefined ? 'never' : (r.drainAfterRecoveryMs / 1000).toFixed(1))],
];
const widths = columns.map(([label, value]) => Math.max(label.length, ...rows.map((row) => String(value(row)).length)));
const line = (cells: (string | number)[]) => cells.map((cell, i) => (i === 0 ? String(cell).padEnd(widths[i]!) : String(cell).padStart(widths[i]!))).join('  ');
console.log(`\nFault matrix: fault from ${fromMs / 1000} s to ${toMs / 1000} s of ${publishForMs / 1000} s of events\n`);
console.log(line(columns.map(([label]) => label)));
for (const row of rows) console.log(line(columns.map(([, value]) => value(row))));


const report = {
  benchmark: 'faults',
  at: new Date().toISOString(),
  machine: { cpus: os.cpus().length, node: process.version },
  window: { fromMs, toMs, publishForMs },
  seed,
  baseline: rows.find((row) => row.fault === 'none (baseline)'),
  rows,
};
writeBenchResult('faults.json', report);
console.log('\nbench/results/faults.json written');
process.exitCode = rows.every((row) => row.ok) ? 0 : 1;
