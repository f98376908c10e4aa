/**
 * The local hub serves the template's webhook endpoints (local/hub/local-webhooks.ts) with the real endpoint logic:
 * a fixture integration declaring webhooks, a sandbox sender (local/sandbox/webhook-sender.ts) signing with the
 * secret the hub generated. What is verified reaches the bus once; replays, tampered and late deliveries do not.
 */
import { describe, expect, it } from 'vitest';
import { createWebhookSender } from '../../../local/sandbox/webhook-sender.js';
import { useFixtureHub } from '../../support/fixture-hub.js';

const SOURCE = 'test.webhooks';
const DETAIL_TYPE = 'TicketRequested';
const SCHEME = { scheme: 'standard-webhooks' } as const;

describe('the local hub serving webhook endpoints', () => {
  const fixture = useFixtureHub(
    'webhooks',
    {
      description: 'Fixture: tickets, whose helpdesk sends webhooks.',
      routes: [{ sources: [SOURCE], detailTypes: [DETAIL_TYPE] }],
      webhooks: { ...SCHEME, events: ['ticket.closed'] },
    },
    { seed: 12 },
  );

  it('forwards each verified delivery once and refuses replays, tampered and late ones', async () => {
    const name = fixture.adapter.name;
    const server = fixture.hub.webhooks!;
    expect(server.integrations).toEqual([name]);
    const sender = createWebhookSender({ url: server.urlOf(name), scheme: SCHEME, signingSecret: fixture.hub.webhookSigningSecret(name), seed: 3, sleep: async () => undefined });
    const publishedBefore = fixture.hub.published;

    await sender.send({ type: 'ticket.closed', data: { ticketId: 't-1' } });
    await sender.send({ type: 'ticket.closed', data: { ticketId: 't-2' } }, { duplicate: true });
    await sender.send({ type: 'ticket.closed', data: { ticketId: 't-3' } }, { tamper: true });
    await sender.send({ type: 'ticket.closed', data: { ticketId: 't-4' } }, { lateBySeconds: 600 });
    await sender.drain();

    expect(sender.deliveries().map((delivery) => delivery.outcome)).toEqual(['accepted', 'duplicate', 'refused', 'refused']);
    expect(fixture.hub.published - publishedBefore).toBe(2);
    expect(server.stats()).toEqual([
      { integration: name, received: 5, forwarded: 2, duplicates: 1, rejected: 2, rejectedBy: { bad_signature: 1, timestamp_out_of_tolerance: 1 }, notAccepted: 0 },
    ]);
    // A path the API has no route for gets API Gateway's 404.
    expect((await fetch(`${server.url}/webhooks/nobody`, { method: 'POST', body: '{}' })).status).toBe(404);
  });
});
