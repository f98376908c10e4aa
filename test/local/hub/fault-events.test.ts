/**
 * The fault matrix's extra events (local/hub/fault-events.ts), for every catalog integration: poison details are
 * seeded, unique, judged as the runtime judges them; versions out of order come newest first, keep their entity, and
 * an adapter without versions is told the row does not apply.
 */
import { describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { SchemaEvolution } from '../../../functions/runtime/schema-evolution.js';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';
import { canonicalJson, loadDemoIntegrations, operationOf } from '../../../local/hub/demo-events.js';
import { hasVersions, outOfOrderEvents, poisonEvents } from '../../../local/hub/fault-events.js';

const integrations = await loadDemoIntegrations(resolveCatalog(INTEGRATIONS));
const window = { fromMs: 1_000, toMs: 5_000, seed: 3 };

describe.each(integrations.map((integration) => [integration.entry.name, integration] as const))('extra events of %s', (_name, integration) => {
  it('poison: as many as asked, the same for the same seed, unique by detail and key, valid exactly when the runtime accepts them', () => {
    const events = poisonEvents(integration, { ...window, count: 30 });
    expect(events).toHaveLength(30);
    expect(poisonEvents(integration, { ...window, count: 30 })).toEqual(events);
    expect(new Set(events.map((e) => canonicalJson(e.detail))).size).toBe(30);
    expect(new Set(events.map((e) => e.key)).size).toBe(30);
    const versions = new SchemaEvolution(integration.definition, integration.entry.name);
    for (const event of events) expect(event.valid, JSON.stringify(event.detail)).toBe(!(operationOf(integration.definition, versions, event.detail) instanceof Error));
    expect(events.some((e) => !e.valid)).toBe(true);
    expect(events.every((e) => e.atMs >= window.fromMs && e.atMs < window.toMs)).toBe(true);
  });

  it('versions out of order: newest first per entity, every version once, or a ConfigurationError without versions', () => {
    if (!hasVersions(integration)) {
      expect(() => outOfOrderEvents(integration, { ...window, entities: 2, versions: 3 })).toThrow(ConfigurationError);
      return;
    }
    const events = outOfOrderEvents(integration, { ...window, entities: 4, versions: 3 });
    expect(events).toHaveLength(12);
    const byEntity = new Map<string, typeof events>();
    for (const event of events) byEntity.set(event.entity!.id, [...(byEntity.get(event.entity!.id) ?? []), event]);
    expect(byEntity.size).toBe(4);
    for (const versions of byEntity.values()) {
      expect(versions[0]!.entity!.version).toBe(3);
      expect(versions.map((e) => e.entity!.version).sort()).toEqual([1, 2, 3]);
      expect(new Set(versions.map((e) => e.key)).size).toBe(3);
    }
    expect(events.map((e) => e.atMs)).toEqual([...events.map((e) => e.atMs)].sort((a, b) => a - b));
  });
});
