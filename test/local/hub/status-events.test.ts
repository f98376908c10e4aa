/**
 * The status outbox in the local hub: the ledger table's stream, through the template's pipe and its real enrichment,
 * puts a `SyncStatusChanged` event on the bus for every transition, once, in order per entity — checked against each
 * entity's full audit log, with a provider that fails its first calls (retries) and versions arriving out of order
 * (stale skips). Outcomes are awaited, never timed.
 */
import { describe, expect, it } from 'vitest';
import { loadAdapter } from '../../../functions/ops/integration-adapters.js';
import { SYNC_STATUS_CHANGED, SYNC_STATUS_EVENT_SOURCE, type SyncStatusChanged } from '../../../functions/outbox/sync-status-events.js';
import { eventually } from '../../support/eventually.js';
import { useFixtureHub } from '../../support/fixture-hub.js';
import { summarizeStatusEvents, transitionsOf, transitionsPublished } from '../../../local/hub/status-event-summary.js';

describe('SyncStatusChanged events in the local hub', () => {
  const SOURCE = 'test.status-events';
  const DETAIL_TYPE = 'TicketRequested';
  const fixture = useFixtureHub(
    'status',
    // One HTTP attempt per delivery: a failed call is a retry of the message (a `retry_scheduled` in the ledger).
    { description: 'Fixture: tickets for the status events test.', routes: [{ sources: [SOURCE], detailTypes: [DETAIL_TYPE] }], maxAttempts: 1 },
    { seed: 21 },
  );

  it('publishes each ledger transition once, in order per entity, from the ledger stream through the pipe', async () => {
    const { hub, sandbox, adapter } = fixture;
    const name = adapter.name;
    const integration = hub.integration(name)!;
    expect(hub.pipes.size).toBe(1);
    const definition = (await loadAdapter(name)).bind(name);
    const tickets = Array.from({ length: 6 }, (_, n) => definition.example!(300 + n) as { ticketId: string; version: number });
    // Newest first for half of them: the older versions arrive after and are skipped as stale.
    const versions = (n: number) => (n % 2 === 0 ? [1, 2, 3] : [3, 1]);
    // A few calls fail (fewer than the circuit's threshold and than any message's receives): retried, then synced.
    sandbox.setFaults(name, { failNext: { count: 4 } });
    for (const [n, ticket] of tickets.entries()) {
      for (const version of versions(n)) hub.putEvents([{ source: SOURCE, detailType: DETAIL_TYPE, detail: { ...ticket, version } }]);
    }

    await eventually(() => expect(integration.queue.stats()).toMatchObject({ visible: 0, inFlight: 0, delayed: 0 }), 60_000);
    await hub.settle();

    const events = hub.pipeEvents.filter((event) => event.detailType === SYNC_STATUS_CHANGED).map((event) => event.detail as SyncStatusChanged);
    expect(hub.pipeEvents.every((event) => event.source === SYNC_STATUS_EVENT_SOURCE)).toBe(true);
    let retried = 0;
    for (const ticket of tickets) {
      const history = await hub.ledger.auditLog('ticket', ticket.ticketId, name);
      retried += history.filter((entry) => entry.event === 'retry_scheduled').length;
      const published = events.filter((event) => event.integration === name && event.entity.id === ticket.ticketId);
      expect(transitionsPublished(published), ticket.ticketId).toEqual(transitionsOf(history));
      expect(published.at(-1)?.status === 'synced' || published.at(-1)?.status === 'skipped_stale', ticket.ticketId).toBe(true);
    }
    // The run exercised what it claims to: some calls failed and were retried, some versions were stale.
    expect(retried).toBeGreaterThan(0);
    expect(events.filter((event) => event.status === 'skipped_stale').length).toBeGreaterThan(0);
    expect(new Set(events.map((event) => event.transitionId)).size).toBe(events.length);
    expect([...hub.pipes.values()][0]?.stats.failedBatches).toBe(0);

    // The run's summary says the same, and would say otherwise: an event dropped is a mismatched entity.
    const auditLog = (type: string, id: string, of: string) => hub.ledger.auditLog(type, id, of);
    const [summary] = await summarizeStatusEvents(events, [name], auditLog);
    expect(summary).toMatchObject({ integration: name, events: events.length, entities: tickets.length, mismatched: 0, repeated: 0 });
    expect(summary?.byStatus.synced).toBe(events.filter((event) => event.status === 'synced').length);
    const [dropped] = await summarizeStatusEvents(events.slice(1), [name], auditLog);
    expect(dropped?.mismatched).toBe(1);
    const [twice] = await summarizeStatusEvents([...events, events[0]!], [name], auditLog);
    expect(twice).toMatchObject({ repeated: 1, mismatched: 1 });
  }, 120_000);
});
