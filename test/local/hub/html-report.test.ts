import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { ACCESS_TOKEN_ROW } from './access-token-row.js';
import type { CircuitState } from '../../../functions/runtime/circuit-store.js';
import { deliveredPerSecond, escapeHtml, renderHtmlReport, writeHtmlReport } from '../../../local/hub/html-report.js';
import {
  ACCESS_TOKEN_SUMMARY_COLUMNS,
  type HubSample,
  type IntegrationSample,
  type RunSummary,
  STATUS_EVENT_SUMMARY_COLUMNS,
  WEBHOOK_SUMMARY_COLUMNS,
  type WebhookSummary,
} from '../../../local/hub/hub-timeline.js';

const CHART_KINDS = ['throughput', 'circuit', 'queue-depth', 'dlq', 'workflows'];

function integration(overrides: Partial<IntegrationSample> = {}): IntegrationSample {
  return { queued: 0, inFlight: 0, delivered: 0, retried: 0, parked: 0, dlq: 0, circuit: 'closed', mappingEnabled: true, ...overrides };
}

/**
 * 0-60 s, one sample per second. alpha has an outage 10-25 s: its circuit opens at 10 s, probes half-open at 20 s
 * and closes at 25 s; it delivers nothing meanwhile. beta delivers 4/s throughout.
 */
function timeline(): HubSample[] {
  const samples: HubSample[] = [];
  let alphaDelivered = 0;
  for (let s = 0; s <= 60; s++) {
    const alphaCircuit: CircuitState = s >= 10 && s < 20 ? 'open' : s >= 20 && s < 25 ? 'half_open' : 'closed';
    if (s > 0 && alphaCircuit === 'closed') alphaDelivered += 10;
    samples.push({
      atMs: s * 1000,
      published: s * 20,
      integrations: {
        alpha: integration({ delivered: alphaDelivered, circuit: alphaCircuit, queued: alphaCircuit === 'closed' ? 2 : 40, inFlight: 1 }),
        beta: integration({ delivered: s * 4, dlq: s >= 30 ? 3 : 0 }),
      },
      workflows: { 'order-saga': { started: s, running: 2, succeeded: Math.max(0, s - 2), failed: 0, compensated: 0 } },
    });
  }
  return samples;
}

function summary(overrides: Partial<RunSummary> = {}): RunSummary {
  return {
    startedAt: '2030-01-02T03:04:05.000Z',
    durationMs: 60_000,
    seed: 7,
    events: 1200,
    outages: [{ integration: 'alpha', fromMs: 10_000, toMs: 25_000 }],
    integrations: [
      { integration: 'alpha', published: 460, delivered: 450, invalidInDlq: 10, validInDlq: 0, lost: 0, duplicates: 0, skippedStale: 0, retried: 33, parked: 150, circuitOpened: 1 },
      { integration: 'beta', published: 240, delivered: 240, invalidInDlq: 0, validInDlq: 0, lost: 0, duplicates: 0, skippedStale: 0, retried: 0, parked: 0, circuitOpened: 0 },
    ],
    workflows: [{ workflow: 'order-saga', started: 60, succeeded: 58, compensated: 0, failed: 0, duplicates: 0 }],
    ok: true,
    problems: [],
    ...overrides,
  };
}

/** The SVG of one chart kind. */
function chart(html: string, kind: string): string {
  const match = html.match(new RegExp(`<svg data-chart="${kind}"[\\s\\S]*?</svg>`));
  if (!match) throw new Error(`no ${kind} chart`);
  return match[0];
}

/** The legend that follows one chart kind's SVG. */
function legend(html: string, kind: string): string {
  const match = html.match(new RegExp(`<svg data-chart="${kind}"[\\s\\S]*?</svg>\\s*<ul class="legend">([\\s\\S]*?)</ul>`));
  if (!match) throw new Error(`no ${kind} legend`);
  return match[1]!;
}

const count = (text: string, pattern: RegExp) => text.match(new RegExp(pattern.source, 'g'))?.length ?? 0;

describe('deliveredPerSecond', () => {
  it('divides the delta of the cumulative delivered counter by the time between samples, at the later sample', () => {
    const at = (atMs: number, delivered: number): HubSample => ({
      atMs,
      published: 0,
      integrations: { alpha: integration({ delivered }) },
      workflows: {},
    });
    expect(deliveredPerSecond([at(0, 0), at(500, 10), at(1500, 40), at(3500, 40)], 'alpha')).toEqual([
      [500, 20],
      [1500, 30],
      [3500, 0],
    ]);
  });

  it('computes no rate across a sample without the integration or one that does not move forward in time', () => {
    const at = (atMs: number, delivered?: number): HubSample => ({
      atMs,
      published: 0,
      integrations: delivered === undefined ? {} : { alpha: integration({ delivered }) },
      workflows: {},
    });
    expect(deliveredPerSecond([at(0, 0), at(1000), at(2000, 50), at(2000, 60), at(3000, 70)], 'alpha')).toEqual([[3000, 10]]);
  });
});

describe('renderHtmlReport', () => {
  const html = renderHtmlReport(timeline(), summary());

  it('is one self-contained document: no script, no stylesheet link, no external URL', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).toContain('<style>');
    expect(html).not.toMatch(/<script|<link|<img|<iframe/i);
    // The SVG namespace is an identifier, not something fetched.
    expect(html.replaceAll('xmlns="http://www.w3.org/2000/svg"', '')).not.toMatch(/https?:|\/\/[a-z]/i);
  });

  it('draws exactly one SVG per chart kind', () => {
    expect(count(html, /<svg\b/)).toBe(CHART_KINDS.length);
    expect([...html.matchAll(/<svg data-chart="([^"]+)"/g)].map((m) => m[1])).toEqual(CHART_KINDS);
  });

  it('draws one polyline per integration in the throughput, queue depth and DLQ charts', () => {
    for (const kind of ['throughput', 'queue-depth', 'dlq']) {
      const svg = chart(html, kind);
      expect([...svg.matchAll(/<polyline[^>]*data-series="([^"]+)"/g)].map((m) => m[1])).toEqual(['alpha', 'beta']);
    }
  });

  it('shows the throughput computed from deltas in the legend (alpha 10 per second, beta 4 per second)', () => {
    const items = legend(html, 'throughput');
    expect(items).toContain('alpha (max 10/s)');
    expect(items).toContain('beta (max 4/s)');
  });

  it('plots alpha throughput at zero during its outage and beta at 4/s, on a y axis scaled to the data', () => {
    const svg = chart(html, 'throughput');
    const points = (name: string) =>
      svg
        .match(new RegExp(`data-series="${name}"[^>]*points="([^"]+)"`))![1]!
        .split(' ')
        .map((p) => p.split(',').map(Number) as [number, number]);
    const alpha = points('alpha');
    const beta = points('beta');
    expect(alpha).toHaveLength(60);
    const ys = new Set(alpha.map(([, y]) => y));
    // Two levels only: 10/s when closed and 0/s while not closed.
    expect(ys.size).toBe(2);
    const [top, zero] = [Math.min(...ys), Math.max(...ys)];
    // beta' 4/s sits 40% of the way from 0 to alpha's 10/s (the axis tops out at 10).
    expect(beta[5]![1]).toBeCloseTo(zero - 0.4 * (zero - top), 0);
    // Point i is the rate at (i + 1) s: alpha delivers through 9 s, nothing from 10 s to 24 s, again from 25 s.
    expect(alpha[8]![1]).toBe(top);
    expect(alpha.slice(9, 24).every(([, y]) => y === zero)).toBe(true);
    expect(alpha[24]![1]).toBe(top);
    expect(svg).toMatch(/>10<\/text>/);
  });

  it('draws the circuit state per integration as coloured bands with runs of one state merged', () => {
    const svg = chart(html, 'circuit');
    const bands = [...svg.matchAll(/<rect class="circuit" data-series="([^"]+)" data-state="([^"]+)"/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(bands).toEqual(['alpha:closed', 'alpha:open', 'alpha:half_open', 'alpha:closed', 'beta:closed']);
    expect(svg).toContain('<title>alpha open 10.0s–20.0s</title>');
    expect(svg).toContain('<title>alpha half_open 20.0s–25.0s</title>');
    expect(svg).toContain('<title>beta closed 0.0s–60.0s</title>');
    const items = legend(html, 'circuit');
    for (const state of ['closed', 'open', 'half_open', 'isolated']) expect(items).toContain(`</span>${state}</li>`);
  });

  it("adds a band per workflow provider circuit after the integrations'", () => {
    const samples = timeline().map((sample, i) => ({ ...sample, providerCircuits: { inventory: i >= 10 && i < 20 ? ('open' as const) : ('closed' as const) } }));
    const svg = chart(renderHtmlReport(samples, summary()), 'circuit');
    const bands = [...svg.matchAll(/<rect class="circuit" data-series="([^"]+)" data-state="([^"]+)"/g)].map((m) => `${m[1]}:${m[2]}`);
    expect(bands.filter((b) => b.startsWith('inventory:'))).toEqual(['inventory:closed', 'inventory:open', 'inventory:closed']);
    expect(bands.indexOf('inventory:closed')).toBeGreaterThan(bands.lastIndexOf('beta:closed'));
    expect(svg).toContain('Circuit state per integration and workflow provider');
  });

  it('colours the four circuit states differently', () => {
    const svg = chart(renderHtmlReport(statesTimeline(), summary()), 'circuit');
    const fills = [...svg.matchAll(/data-state="([^"]+)"[^>]*fill="([^"]+)"/g)].map((m) => [m[1], m[2]] as const);
    expect(new Map(fills).size).toBe(4);
    expect(new Set(fills.map(([, fill]) => fill)).size).toBe(4);
  });

  it('shades the outage window in every chart, at the same place', () => {
    const shades = CHART_KINDS.map((kind) => {
      const svg = chart(html, kind);
      expect(count(svg, /<rect class="outage"/)).toBe(1);
      expect(svg).toContain('<title>outage alpha 10.0s–25.0s</title>');
      const [, x, width] = svg.match(/<rect class="outage"[^>]* x="([\d.]+)"[^>]* width="([\d.]+)"/)!;
      return [Number(x), Number(width)];
    });
    expect(new Set(shades.map((s) => s.join())).size).toBe(1);
    // 15 s of a 60 s axis is a quarter of the plot width.
    const [, width] = shades[0]!;
    const tick = (s: number) => Number(chart(html, 'dlq').match(new RegExp(`<text x="([\\d.]+)"[^>]*>${s}s<`))![1]);
    expect(width).toBeCloseTo((tick(60) - tick(0)) / 4, 0);
  });

  it('labels the time axis in seconds', () => {
    const svg = chart(html, 'queue-depth');
    for (const s of [0, 10, 30, 60]) expect(svg).toMatch(new RegExp(`>${s}s</text>`));
    expect(svg).toContain('time since start (s)');
  });

  it('plots queue depth as queued + in flight and DLQ depth', () => {
    expect(legend(html, 'queue-depth')).toContain('alpha (max 41)');
    expect(legend(html, 'dlq')).toContain('beta (max 3)');
    expect(legend(html, 'dlq')).toContain('alpha (max 0)');
  });

  it('plots running, succeeded and failed per workflow', () => {
    const svg = chart(html, 'workflows');
    expect([...svg.matchAll(/<polyline[^>]*data-series="([^"]+)"/g)].map((m) => m[1])).toEqual([
      'order-saga running',
      'order-saga succeeded',
      'order-saga failed',
    ]);
  });

  it('contains the summary tables and the OK verdict', () => {
    expect(html).toContain('<th class="num">circuit opened</th>');
    expect(html).toMatch(/<tr><td>alpha<\/td><td class="num">460<\/td><td class="num">450<\/td><td class="num">10<\/td>/);
    expect(html).toMatch(/<tr><td>order-saga<\/td><td class="num">60<\/td>/);
    expect(html).toMatch(/<tr><td>alpha<\/td><td class="num">10\.0s<\/td><td class="num">25\.0s<\/td>/);
    expect(html).toContain('<p class="verdict ok">OK: 0 lost, 0 duplicated</p>');
  });

  it('shows the webhooks table, rejections by reason, and highlights an unverified delivery that was forwarded', () => {
    const row: WebhookSummary = {
      integration: 'alpha',
      scheme: 'standard-webhooks',
      sent: 10,
      received: 12,
      accepted: 7,
      duplicates: 2,
      rejected: 3,
      rejectedBy: { bad_signature: 2, timestamp_out_of_tolerance: 1 },
      forwarded: 7,
      unverifiedForwarded: 0,
      acceptedNotForwarded: 0,
      forwardedTwice: 0,
    };
    const withWebhooks = renderHtmlReport(timeline(), summary({ webhooks: [row] }));
    expect(withWebhooks).toContain('<h2>Webhooks</h2>');
    for (const column of WEBHOOK_SUMMARY_COLUMNS) expect(withWebhooks).toContain(`>${escapeHtml(column.label)}</th>`);
    expect(withWebhooks).toMatch(
      /<tr><td>alpha<\/td><td class="num">10<\/td><td class="num">12<\/td><td class="num">7<\/td><td class="num">2<\/td><td class="num">3<\/td><td>bad_signature 2, timestamp_out_of_tolerance 1<\/td><td class="num">7<\/td>/,
    );
    expect(withWebhooks).not.toContain('class="num bad"');
    const leaked = renderHtmlReport(timeline(), summary({ ok: false, problems: ['alpha webhooks: 1 tampered or late delivery reached the bus'], webhooks: [{ ...row, unverifiedForwarded: 1 }] }));
    expect(leaked).toContain('<td class="num bad">1</td>');
    expect(html).not.toContain('<h2>Webhooks</h2>');
  });

  it('shows the status events table and highlights events that differ from the ledger', () => {
    const row = ACCESS_TOKEN_ROW;
    const withTokens = renderHtmlReport(timeline(), summary({ accessTokens: [row] }));
    expect(withTokens).toContain('<h2>Access tokens (oauth2_refresh_token)</h2>');
    for (const column of ACCESS_TOKEN_SUMMARY_COLUMNS) expect(withTokens).toContain(`>${escapeHtml(column.label)}</th>`);
    expect(withTokens).toContain('access token refreshed 1 time on expiry (20s tokens, 28.4s of traffic): 1 refresh call per expiry across 4 instances');
    expect(withTokens).not.toContain('class="num bad"');
    expect(renderHtmlReport(timeline(), summary({ ok: false, accessTokens: [{ ...row, refreshCalls: 3, refused: 1 }] }))).toContain('<td class="num bad">1</td>');
    expect(html).not.toContain('<h2>Access tokens');
  });

  it('states NOT OK with the problems and highlights the non-zero must-be-zero cells', () => {
    const base = summary();
    const bad = renderHtmlReport(
      timeline(),
      summary({
        ok: false,
        problems: ['alpha: 2 messages lost'],
        integrations: [{ ...base.integrations[0]!, lost: 2 }, base.integrations[1]!],
      }),
    );
    expect(bad).toContain('<p class="verdict bad">NOT OK: 2 lost, 0 duplicated</p>');
    expect(bad).toContain('<li>alpha: 2 messages lost</li>');
    expect(bad).toContain('<td class="num bad">2</td>');
    expect(bad).not.toContain('verdict ok');
  });

  it('escapes a hostile integration name everywhere it appears', () => {
    const hostile = '<script>alert("x")</script>&\'';
    const samples = timeline().map((s) => ({ ...s, integrations: { [hostile]: s.integrations.alpha! } }));
    const base = summary();
    const report = renderHtmlReport(
      samples,
      summary({
        outages: [{ integration: hostile, fromMs: 10_000, toMs: 25_000 }],
        integrations: [{ ...base.integrations[0]!, integration: hostile }],
        ok: false,
        problems: [`${hostile}: lost`],
      }),
    );
    expect(report).not.toContain('<script');
    expect(report).not.toContain('alert("x")');
    const escaped = escapeHtml(hostile);
    expect(escaped).toBe('&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;&#39;');
    expect(report).toContain(`data-series="${escaped}"`);
    expect(report).toContain(`<td>${escaped}</td>`);
    expect(report).toContain(`<li>${escaped}: lost</li>`);
  });

  it('still renders every chart for an empty timeline', () => {
    const empty = renderHtmlReport([], summary({ outages: [] }));
    expect(count(empty, /<svg\b/)).toBe(CHART_KINDS.length);
    expect(empty).not.toMatch(/NaN|Infinity/);
  });
});

describe('writeHtmlReport', () => {
  let dir: string | undefined;
  afterEach(async () => {
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  it('creates the parent directory and writes the rendered report', async () => {
    dir = await mkdtemp(join(tmpdir(), 'hub-report-'));
    const path = join(dir, '.hub', 'nested', 'report.html');
    await writeHtmlReport(path, timeline(), summary());
    expect(await readFile(path, 'utf8')).toBe(renderHtmlReport(timeline(), summary()));
  });
});

/** One integration going through all four circuit states. */
function statesTimeline(): HubSample[] {
  const states: CircuitState[] = ['closed', 'open', 'half_open', 'isolated'];
  return states.map((circuit, i) => ({ atMs: i * 1000, published: 0, integrations: { alpha: integration({ circuit }) }, workflows: {} }));
}
