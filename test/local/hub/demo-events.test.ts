import { describe, expect, it } from 'vitest';
import { PoisonMessageError } from '../../../functions/runtime/errors.js';
import { SchemaEvolution } from '../../../functions/runtime/schema-evolution.js';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';
import { type DemoEvent, INVALID_EVERY, loadDemoIntegrations, ORDER_ROUTE, planDemoEvents } from '../../../local/hub/demo-events.js';
import { fixtureEntry } from '../../lib/fixture-catalog.js';
import { parse } from 'zod/mini';

// Made-up integrations running the shipped adapters (named by `adapter:`), two of them on one adapter: the plan must
// come from whatever the catalog says, not from the shipped integration names.
const SHIPPED_ADAPTERS = [...new Set(resolveCatalog(INTEGRATIONS).map((entry) => entry.adapter))];
const FIXTURE = resolveCatalog([
  ...SHIPPED_ADAPTERS.map((adapter, index) => fixtureEntry(`vendor-${index + 1}`, { adapter })),
  fixtureEntry('vendor-twin', { adapter: SHIPPED_ADAPTERS[0]!, routeCount: 2 }),
]);
const integrations = await loadDemoIntegrations(FIXTURE);
const plan = (seed: number, events = 600) => planDemoEvents({ events, seed, publishForMs: 30_000, integrations });
type IntegrationEvent = Extract<DemoEvent, { kind: 'integration' }>;
const eventsOf = (events: readonly DemoEvent[], name: string) =>
  events.filter((e): e is IntegrationEvent => e.kind === 'integration' && e.integration === name);

describe('the demo plan, derived from a fixture catalog', () => {
  const events = plan(7);

  it('gives every integration of the catalog events, published on the source and detail-type of its first route', () => {
    for (const entry of FIXTURE) {
      const own = eventsOf(events, entry.name);
      expect(own.length, entry.name).toBeGreaterThan(0);
      for (const event of own) {
        expect(event).toMatchObject({ source: entry.routes[0]!.sources[0], detailType: entry.routes[0]!.detailTypes[0] });
      }
    }
    expect(new Set(events.flatMap((e) => (e.kind === 'integration' ? [e.integration] : [])))).toEqual(new Set(FIXTURE.map((e) => e.name)));
  });

  it('shares the integrations part of the mix evenly and keeps orders and contact changes', () => {
    const counts = FIXTURE.map((entry) => eventsOf(events, entry.name).length);
    const mean = counts.reduce((a, b) => a + b, 0) / counts.length;
    for (const count of counts) expect(Math.abs(count - mean)).toBeLessThan(mean * 0.35);
    expect(events.filter((e) => e.kind === 'order').length).toBeGreaterThan(0);
    expect(events.filter((e) => e.kind === 'contact').length).toBeGreaterThan(0);
    expect(ORDER_ROUTE.workflow).toBe('order-saga');
  });

  it("publishes the adapters' examples, each a different operation keyed like the runtime's Idempotency-Key", () => {
    for (const { entry, definition } of integrations) {
      const own = eventsOf(events, entry.name);
      const versions = new SchemaEvolution(definition, entry.name);
      own.forEach((event, n) => {
        if (event.valid) expect(event.detail).toEqual(definition.example!(n));
        const current = versions.toCurrent(definition.example!(n)) as { payload: unknown };
        expect(event.key).toBe(`${entry.name}:${definition.idempotencyKey(parse(definition.input, current.payload))}`);
      });
      expect(new Set(own.map((e) => e.key)).size).toBe(own.length);
    }
  });

  it("makes a few of each integration's events invalid for any adapter: its example with schemaVersion '0'", () => {
    for (const { entry, definition } of integrations) {
      const own = eventsOf(events, entry.name);
      const invalid = own.filter((e) => !e.valid);
      expect(invalid.length, entry.name).toBeGreaterThan(0);
      expect(invalid.length, entry.name).toBeLessThanOrEqual(Math.ceil(own.length / INVALID_EVERY));
      const versions = new SchemaEvolution(definition, entry.name);
      for (const event of invalid) {
        expect((event.detail as { schemaVersion: unknown }).schemaVersion).toBe('0');
        const refused = versions.toCurrent(event.detail);
        expect(refused).toBeInstanceOf(PoisonMessageError);
        expect((refused as PoisonMessageError).message).toMatch(/schemaVersion "0" is not supported/);
      }
      for (const event of own.filter((e) => e.valid)) expect(versions.toCurrent(event.detail)).not.toBeInstanceOf(Error);
    }
  });

  it('is the same plan for the same seed and another for another seed', () => {
    expect(plan(7)).toEqual(events);
    expect(plan(8)).not.toEqual(events);
  });
});

describe('the demo plan of the shipped catalog', () => {
  it('publishes events of every integration the catalog lists', async () => {
    const catalog = resolveCatalog(INTEGRATIONS);
    const shipped = planDemoEvents({ events: 300, seed: 42, publishForMs: 30_000, integrations: await loadDemoIntegrations(catalog) });
    for (const entry of catalog) expect(eventsOf(shipped, entry.name).length, entry.name).toBeGreaterThan(0);
  });
});
