/**
 * The local hub serves any catalog: an integration added the way a user adds one — an adapter file in
 * functions/integrations/ and a catalog entry, nothing else — runs end to end through the local hub. Its third party
 * has no dedicated sandbox API, so the sandbox mounts a generic provider for it (local/hub/sandbox-wiring.ts); the
 * examples its adapter declares, published on the hub's bus, each reach that provider exactly once, the ledger shows
 * them synced and nothing is dead-lettered.
 */
import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../../functions/ops/integration-adapters.js';
import { useFixtureHub } from '../../support/fixture-hub.js';
import { eventually } from '../../support/eventually.js';

const EXAMPLES = 3;
const SOURCE = 'test.fixture';
const DETAIL_TYPE = 'TicketRequested';

const fixture = useFixtureHub(
  'tickets',
  {
    description: 'Fixture: tickets requested upstream become tickets at a helpdesk (API key).',
    routes: [{ sources: [SOURCE], detailTypes: [DETAIL_TYPE] }],
  },
  { seed: 5 },
);

describe('an integration added with an adapter file and a catalog entry only', () => {
  it('delivers each published example exactly once to its generic sandbox provider, synced in the ledger, nothing in the DLQ', async () => {
    const name = fixture.adapter.name;
    const integration = fixture.hub.integration(name)!;
    expect(integration).toBeDefined();
    const definition = (await loadAdapter(name)).bind(name);
    const examples = Array.from({ length: EXAMPLES }, (_, n) => definition.example!(n) as { ticketId: string; version: number });

    const sent = fixture.hub.putEvents(examples.map((detail) => ({ source: SOURCE, detailType: DETAIL_TYPE, detail })));
    expect(sent.map((entry) => entry.routedTo)).toEqual(examples.map(() => [integration.queue.name]));

    const entries = await eventually(async () => {
      const found = await Promise.all(examples.map(async (example) => (await fixture.hub.ledger.entries('ticket', example.ticketId, name))[0]));
      expect(found.map((entry) => entry?.status)).toEqual(examples.map(() => 'synced'));
      expect(integration.queue.stats()).toMatchObject({ visible: 0, inFlight: 0, delayed: 0 });
      return found;
    });
    await fixture.hub.settle();

    // From the third party's side: one resource per example, keyed by the runtime's Idempotency-Key.
    const provider = fixture.sandbox.generic(name);
    const resources = provider.resources();
    const effects = fixture.sandbox.sideEffects(name);
    expect(effects.map((effect) => effect.idempotencyKey).sort()).toEqual(examples.map((e) => `${name}:ticket:${e.ticketId}:v${e.version}`).sort());
    expect(resources.map((resource) => resource.id).sort()).toEqual(effects.map((effect) => effect.id).sort());
    expect(resources.map((resource) => resource.path)).toEqual(examples.map(() => fixture.adapter.path));
    expect(resources.map((resource) => (resource.request as { externalRef: string }).externalRef).sort()).toEqual(examples.map((e) => e.ticketId).sort());
    for (const entry of entries) expect(resources.map((resource) => resource.id)).toContain(entry!.externalId);
    // The calls carried the API key the hub's secret holds: the catalog's auth reached the function.
    expect(fixture.sandbox.journal.entries({ provider: name, path: fixture.adapter.path }).every((request) => request.authScheme === 'ApiKey')).toBe(true);

    expect(integration.counters).toMatchObject({ delivered: EXAMPLES, deadLettered: 0 });
    expect(integration.deadLetterQueue.stats()).toMatchObject({ visible: 0, inFlight: 0, delayed: 0, sent: 0 });
    expect(fixture.backgroundErrors).toEqual([]);
  });
});
