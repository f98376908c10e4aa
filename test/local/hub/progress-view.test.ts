import { describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_ROW } from './access-token-row.js';
import {
  ACCESS_TOKEN_SUMMARY_COLUMNS,
  type HubSample,
  type IntegrationSample,
  type RunSummary,
  STATUS_EVENT_SUMMARY_COLUMNS,
  WEBHOOK_SUMMARY_COLUMNS,
  type WebhookSummary,
} from '../../../local/hub/hub-timeline.js';
import { ProgressPrinter, renderProgress, renderProgressLine, renderSummaryTable } from '../../../local/hub/progress-view.js';

const ESC = '\x1b';
const stripAnsi = (s: string) => s.replace(/\x1b\[[0-9;]*[A-Za-z]/g, '');

function integration(overrides: Partial<IntegrationSample> = {}): IntegrationSample {
  return { queued: 0, inFlight: 0, delivered: 0, retried: 0, parked: 0, dlq: 0, circuit: 'closed', mappingEnabled: true, ...overrides };
}

function sample(atMs: number, overrides: Partial<HubSample> = {}): HubSample {
  return {
    atMs,
    published: 1234,
    integrations: {
      crm: integration({ queued: 12, inFlight: 3, delivered: 456, retried: 7, parked: 2, dlq: 1, circuit: 'open', mappingEnabled: false }),
      payments: integration({ delivered: 400, inFlight: 5 }),
    },
    workflows: { 'order-saga': { started: 50, running: 3, succeeded: 45, failed: 1, compensated: 1 } },
    ...overrides,
  };
}

function summary(overrides: Partial<RunSummary> = {}): RunSummary {
  return {
    startedAt: '2030-01-02T03:04:05.000Z',
    durationMs: 60_000,
    seed: 42,
    events: 800,
    outages: [{ integration: 'crm', fromMs: 10_000, toMs: 25_000 }],
    integrations: [
      { integration: 'crm', published: 500, delivered: 495, invalidInDlq: 5, validInDlq: 0, lost: 0, duplicates: 0, skippedStale: 0, retried: 30, parked: 120, circuitOpened: 2 },
      { integration: 'payments', published: 300, delivered: 300, invalidInDlq: 0, validInDlq: 0, lost: 0, duplicates: 0, skippedStale: 0, retried: 0, parked: 0, circuitOpened: 0 },
    ],
    workflows: [{ workflow: 'order-saga', started: 60, succeeded: 52, compensated: 6, failed: 2, duplicates: 0 }],
    ok: true,
    problems: [],
    ...overrides,
  };
}

/** A payments endpoint's row: 10 deliveries, 2 replayed, 2 tampered, 1 late. */
const WEBHOOKS: WebhookSummary = {
  integration: 'payments',
  scheme: 'timestamped-hmac',
  sent: 10,
  received: 13,
  accepted: 7,
  duplicates: 2,
  rejected: 3,
  rejectedBy: { timestamp_out_of_tolerance: 1, bad_signature: 2 },
  forwarded: 7,
  unverifiedForwarded: 0,
  acceptedNotForwarded: 0,
  forwardedTwice: 0,
};

function lineOf(block: string, name: string): string {
  const line = stripAnsi(block)
    .split('\n')
    .find((l) => l.startsWith(`${name} `));
  if (line === undefined) throw new Error(`no line for ${name} in:\n${block}`);
  return line;
}

describe('renderProgress', () => {
  it('renders an open circuit as open with a paused mapping and its counters in column order', () => {
    const block = renderProgress(sample(15_000));
    // name, circuit, mapping, queued, in flight, delivered, retried, parked, DLQ
    expect(lineOf(block, 'crm').split(/\s+/)).toEqual(['crm', 'open', 'paused', '12', '3', '456', '7', '2', '1']);
    expect(lineOf(block, 'payments').split(/\s+/)).toEqual(['payments', 'closed', 'polling', '0', '5', '400', '0', '0', '0']);
  });

  it('shows elapsed time and the published count in the header line', () => {
    const [header] = renderProgress(sample(15_250)).split('\n');
    expect(header).toContain('t=15.3s');
    expect(header).toContain('published 1234');
  });

  it('colours each circuit state only when asked: closed green, open red, half_open yellow, isolated magenta', () => {
    const states = { a: 'closed', b: 'open', c: 'half_open', d: 'isolated' } as const;
    const s = sample(0, { integrations: Object.fromEntries(Object.entries(states).map(([n, circuit]) => [n, integration({ circuit })])) });
    const coloured = renderProgress(s, { color: true });
    expect(coloured).toContain(`${ESC}[32mclosed${ESC}[0m`);
    expect(coloured).toContain(`${ESC}[31mopen${ESC}[0m`);
    expect(coloured).toContain(`${ESC}[33mhalf_open${ESC}[0m`);
    expect(coloured).toContain(`${ESC}[35misolated${ESC}[0m`);
    expect(renderProgress(s)).not.toContain(ESC);
  });

  it('keeps the columns aligned when colouring (escape codes do not count as width)', () => {
    const s = sample(0);
    expect(stripAnsi(renderProgress(s, { color: true }))).toBe(renderProgress(s));
    const rows = renderProgress(s).split('\n').slice(1, 4);
    const dlqEnd = rows.map((r) => r.length);
    expect(new Set(dlqEnd).size).toBe(1);
  });

  it('shows OUTAGE <integration> only while the sample is inside the window [from, to)', () => {
    const outages = [{ integration: 'crm', fromMs: 10_000, toMs: 25_000 }];
    const header = (atMs: number) => renderProgress(sample(atMs), { outages }).split('\n')[0];
    expect(header(9_999)).not.toContain('OUTAGE');
    expect(header(10_000)).toContain('OUTAGE crm');
    expect(header(24_999)).toContain('OUTAGE crm');
    expect(header(25_000)).not.toContain('OUTAGE');
  });

  it('names every integration whose outage is current', () => {
    const outages = [
      { integration: 'crm', fromMs: 0, toMs: 100 },
      { integration: 'payments', fromMs: 50, toMs: 200 },
    ];
    const header = renderProgress(sample(60), { outages }).split('\n')[0];
    expect(header).toContain('OUTAGE crm');
    expect(header).toContain('OUTAGE payments');
  });

  it('renders one line per workflow with started, running, succeeded, failed, compensated', () => {
    expect(lineOf(renderProgress(sample(0)), 'order-saga').split(/\s+/)).toEqual(['order-saga', '50', '3', '45', '1', '1']);
  });
});

describe("renderProgress: the workflow providers' circuits", () => {
  it('shows them on one line after the tables, coloured only when asked, and no line when the sample has none', () => {
    const s = sample(0, { providerCircuits: { inventory: 'open', shipping: 'closed' } });
    const plain = renderProgress(s).split('\n');
    expect(plain.at(-1)).toBe('workflow provider circuits: inventory open  shipping closed');
    expect(renderProgress(s, { color: true }).split('\n').at(-1)).toContain(`inventory ${ESC}[31mopen${ESC}[0m`);
    expect(renderProgress(sample(0))).not.toContain('workflow provider circuits');
  });
});

describe('renderProgressLine', () => {
  it('is one plain line with totals, every circuit state and the current outage', () => {
    const line = renderProgressLine(sample(12_000), { outages: [{ integration: 'crm', fromMs: 10_000, toMs: 20_000 }] });
    expect(line).not.toContain('\n');
    expect(line).not.toContain(ESC);
    expect(line).toContain('delivered=856');
    expect(line).toContain('inFlight=8');
    expect(line).toContain('circuits=crm:open(paused),payments:closed');
    expect(line).toContain('OUTAGE crm');
  });

  it("adds the workflow providers' circuits after the integrations'", () => {
    const line = renderProgressLine(sample(0, { providerCircuits: { inventory: 'open', shipping: 'closed' } }));
    expect(line).toContain('circuits=crm:open(paused),payments:closed,inventory:open,shipping:closed');
  });
});

/** A writable that records what was written. */
function recorder(isTTY: boolean) {
  const chunks: string[] = [];
  return { chunks, out: { isTTY, write: (s: string) => void chunks.push(s) } };
}

describe('ProgressPrinter', () => {
  it('on a non-TTY prints the first sample and then at most one line per `everySamples` samples, without escapes', () => {
    const { chunks, out } = recorder(false);
    const printer = new ProgressPrinter(out, { everySamples: 10 });
    for (let i = 0; i < 45; i++) printer.update(sample(i * 100));
    expect(chunks).toHaveLength(5);
    expect(chunks.map((c) => c.match(/^t=(\S+)/)?.[1])).toEqual(['0.0s', '1.0s', '2.0s', '3.0s', '4.0s']);
    expect(chunks.join('')).not.toContain(ESC);
    expect(chunks.every((c) => c.endsWith('\n') && c.indexOf('\n') === c.length - 1)).toBe(true);
  });

  it('on a non-TTY finish() prints the last sample if it was throttled away, and nothing if it was printed', () => {
    const throttled = recorder(false);
    const printer = new ProgressPrinter(throttled.out, { everySamples: 10 });
    for (let i = 0; i < 12; i++) printer.update(sample(i * 100));
    printer.finish();
    expect(throttled.chunks).toHaveLength(3);
    expect(throttled.chunks[2]).toMatch(/^t=1\.1s /);

    const printed = recorder(false);
    const other = new ProgressPrinter(printed.out, { everySamples: 10 });
    for (let i = 0; i < 11; i++) other.update(sample(i * 100));
    other.finish();
    expect(printed.chunks).toHaveLength(2);
  });

  it('on a TTY redraws the block in place: cursor up over the previous block, clear, draw', () => {
    const { chunks, out } = recorder(true);
    const printer = new ProgressPrinter(out);
    printer.update(sample(0));
    printer.update(sample(100));
    const firstBlockLines = renderProgress(sample(0)).split('\n').length;
    expect(chunks[0]!.startsWith(`${ESC}[`)).toBe(false);
    const rewind = `${ESC}[${firstBlockLines}A\r${ESC}[J`;
    expect(chunks[1]!.startsWith(rewind)).toBe(true);
    expect(stripAnsi(chunks[1]!.slice(rewind.length))).toBe(`${renderProgress(sample(100))}\n`);
  });

  it('on a TTY moves up by the height of the block actually drawn when the block changes size', () => {
    const { chunks, out } = recorder(true);
    const printer = new ProgressPrinter(out);
    const small = sample(0, { workflows: {} });
    printer.update(small);
    printer.update(sample(100));
    printer.update(sample(200));
    expect(chunks[1]).toMatch(new RegExp(`^\\x1b\\[${renderProgress(small).split('\n').length}A`));
    expect(chunks[2]).toMatch(new RegExp(`^\\x1b\\[${renderProgress(sample(100)).split('\n').length}A`));
  });

  it('on a TTY colours circuit states by default and does not when color is false', () => {
    const coloured = recorder(true);
    new ProgressPrinter(coloured.out).update(sample(0));
    expect(coloured.chunks[0]).toContain(`${ESC}[31mopen`);
    const plain = recorder(true);
    new ProgressPrinter(plain.out, { color: false }).update(sample(0));
    expect(plain.chunks[0]).not.toContain(ESC);
  });

  it('rejects an everySamples that is not a positive integer', () => {
    expect(() => new ProgressPrinter(recorder(false).out, { everySamples: 0 })).toThrow(RangeError);
    expect(() => new ProgressPrinter(recorder(false).out, { everySamples: 1.5 })).toThrow(RangeError);
  });
});

describe('renderSummaryTable', () => {
  it('has an integrations table with the columns of IntegrationSummary, values right-aligned under their heading', () => {
    const lines = renderSummaryTable(summary()).split('\n');
    const header = lines.find((l) => l.startsWith('integration  published'))!;
    expect(header.split(/\s{2,}/)).toEqual([
      'integration',
      'published',
      'delivered',
      'invalid in DLQ',
      'valid in DLQ',
      'lost',
      'duplicates',
      'retried',
      'parked',
      'circuit opened',
    ]);
    const crm = lines[lines.indexOf(header) + 1]!;
    expect(crm.split(/\s+/)).toEqual(['crm', '500', '495', '5', '0', '0', '0', '30', '120', '2']);
    // Right-aligned: every row ends where the heading ends.
    expect(crm.length).toBe(header.length);
    expect(crm.indexOf('120') + 3).toBe(header.indexOf('parked') + 'parked'.length);
  });

  it('has a workflows table and the outage windows', () => {
    const text = renderSummaryTable(summary());
    expect(text).toMatch(/^workflow\s+started\s+succeeded\s+compensated\s+failed\s+duplicates$/m);
    expect(text).toMatch(/^order-saga\s+60\s+52\s+6\s+2\s+0$/m);
    expect(text).toMatch(/^crm\s+10\.0s\s+25\.0s\s+15\.0s$/m);
  });

  it('ends with the OK verdict when nothing was lost or duplicated', () => {
    const lines = renderSummaryTable(summary()).split('\n');
    expect(lines.at(-1)).toBe('OK: 0 lost, 0 duplicated');
  });

  it('ends with NOT OK, the totals and every problem when the run is not ok', () => {
    const base = summary();
    const text = renderSummaryTable(
      summary({
        ok: false,
        problems: ['crm: 3 messages lost', 'order-saga: 1 duplicate charge'],
        integrations: [{ ...base.integrations[0]!, lost: 3 }, base.integrations[1]!],
        workflows: [{ ...base.workflows[0]!, duplicates: 1 }],
      }),
    );
    const lines = text.split('\n');
    expect(lines.slice(-3)).toEqual(['NOT OK: 3 lost, 1 duplicated', '  - crm: 3 messages lost', '  - order-saga: 1 duplicate charge']);
    expect(text).not.toContain('OK: 0 lost');
  });

  it('has a webhooks table per integration whose provider sent webhooks, rejections listed by reason', () => {
    const text = renderSummaryTable(summary({ webhooks: [WEBHOOKS] }));
    const lines = text.split('\n');
    const header = lines.find((l) => l.startsWith('integration  sent'))!;
    expect(lines[lines.indexOf(header) - 1]).toBe('Webhooks');
    expect(header.split(/\s{2,}/)).toEqual(WEBHOOK_SUMMARY_COLUMNS.map((column) => column.label));
    expect(lines[lines.indexOf(header) + 1]!.split(/\s{2,}/)).toEqual([
      'payments',
      '10',
      '13',
      '7',
      '2',
      '3',
      'bad_signature 2, timestamp_out_of_tolerance 1',
      '7',
      '0',
      '0',
      '0',
    ]);
  });

  it('has a status events table with a column per status, a mismatch with the ledger flagged', () => {
    const row = { integration: 'crm', events: 9, entities: 3, byStatus: { syncing: 4, synced: 3, skipped_stale: 2 }, mismatched: 0, repeated: 0 };
    const lines = renderSummaryTable(summary({ statusEvents: [row] })).split('\n');
    const header = lines.find((l) => l.startsWith('integration  events'))!;
    expect(lines[lines.indexOf(header) - 1]).toBe('Status events (SyncStatusChanged)');
    expect(header.split(/\s{2,}/)).toEqual(STATUS_EVENT_SUMMARY_COLUMNS.map((column) => column.label));
    expect(lines[lines.indexOf(header) + 1]!.split(/\s{2,}/)).toEqual(['crm', '9', '3', '0', '4', '3', '0', '2', '0', '0']);
    expect(renderSummaryTable(summary())).not.toContain('Status events');
  });

  it('has an access tokens table and a sentence per refresh-token integration, saying one refresh call per expiry only when it was', () => {
    const row = ACCESS_TOKEN_ROW;
    const lines = renderSummaryTable(summary({ accessTokens: [row] })).split('\n');
    const header = lines.find((l) => l.startsWith('integration  token lifetime'))!;
    expect(lines[lines.indexOf(header) - 1]).toBe('Access tokens (oauth2_refresh_token)');
    expect(header.split(/\s{2,}/)).toEqual(ACCESS_TOKEN_SUMMARY_COLUMNS.map((column) => column.label));
    expect(lines[lines.indexOf(header) + 1]!.trim().split(/\s{2,}/)).toEqual(['newsletter', '20s', '28.4s', '4', '2', '2', '1', '0', '0', '0']);
    expect(lines[lines.indexOf(header) + 2]).toBe(
      'newsletter: 73 delivered, access token refreshed 1 time on expiry (20s tokens, 28.4s of traffic): 1 refresh call per expiry across 4 instances, none refused',
    );
    const racing = renderSummaryTable(summary({ ok: false, accessTokens: [{ ...row, refreshCalls: 9, refreshesGranted: 5, onExpiry: 4, refused: 4, beyondOnePerLifetime: 3 }] }));
    expect(racing).toContain('9 refresh calls across 4 instances, 4 refused, 3 beyond one per token lifetime');
    expect(racing).not.toContain('1 refresh call per expiry');
    expect(renderSummaryTable(summary())).not.toContain('Access tokens');
  });

  it('has no webhooks table when no provider sent any', () => {
    expect(renderSummaryTable(summary())).not.toContain('Webhooks');
    expect(renderSummaryTable(summary({ webhooks: [] }))).not.toContain('Webhooks');
  });

  it('says none when there were no outages or workflows', () => {
    const text = renderSummaryTable(summary({ outages: [], workflows: [] }));
    expect(text).toMatch(/Workflows\n\(none\)/);
    expect(text).toMatch(/Outages\n\(none\)/);
  });
});
