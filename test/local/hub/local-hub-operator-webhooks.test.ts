/**
 * `webhooks` on the local hub: a fixture integration declaring webhooks, deliveries sent by the sandbox's sender
 * (local/sandbox/webhook-sender.ts) to the hub's real endpoint, then listed through the operator port as the CLI
 * reaches it (serveHubOperator + LocalHubClient over loopback): accepted, duplicate and rejected with their reasons,
 * newest first, never a signature; the hub remembers a bounded number of outcomes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OperatorError, UnknownIntegrationError } from '../../../local/cli/hub-operator.js';
import { type HubOperatorServer, LocalHubClient, serveHubOperator } from '../../../local/cli/local-hub-http.js';
import { LocalHubOperator } from '../../../local/hub/local-hub-operator.js';
import { RECENT_WEBHOOK_OUTCOMES } from '../../../local/hub/local-webhooks.js';
import { createWebhookSender } from '../../../local/sandbox/webhook-sender.js';
import { useFixtureHub } from '../../support/fixture-hub.js';

const SCHEME = { scheme: 'standard-webhooks' } as const;
const EVENT_TYPE = 'ticket.closed';

describe('listing webhook deliveries and rejections of the local hub', () => {
  const fixture = useFixtureHub(
    'webhook-list',
    {
      description: 'Fixture: tickets, whose helpdesk sends webhooks.',
      routes: [{ sources: ['test.webhook-list'], detailTypes: ['TicketRequested'] }],
      webhooks: { ...SCHEME, events: [EVENT_TYPE] },
    },
    { seed: 21 },
  );
  let server: HubOperatorServer;
  let client: LocalHubClient;

  beforeAll(async () => {
    server = await serveHubOperator(new LocalHubOperator(fixture.hub, () => server.url));
    client = new LocalHubClient(server.url);
  });
  afterAll(() => server?.close());

  it('lists a valid delivery as accepted, its replay as duplicate and a tampered one as rejected, newest first', async () => {
    const name = fixture.adapter.name;
    const sender = createWebhookSender({ url: fixture.hub.webhooks!.urlOf(name), scheme: SCHEME, signingSecret: fixture.hub.webhookSigningSecret(name), seed: 4, sleep: async () => undefined });
    const before = Date.now();
    const valid = await sender.send({ type: EVENT_TYPE, data: { ticketId: 't-1' } }, { duplicate: true });
    const tampered = await sender.send({ type: EVENT_TYPE, data: { ticketId: 't-2' } }, { tamper: true });
    expect([valid.outcome, tampered.outcome]).toEqual(['duplicate', 'refused']);

    const activity = await client.webhooksList({ integration: name });
    expect(activity.integrations).toEqual([name]);
    expect(activity.since).toBeLessThanOrEqual(before - 3_600_000 + 1_000);
    expect(activity.deliveries.map((d) => [d.webhookId, d.integration, d.type, d.outcome])).toEqual([
      [valid.id, name, EVENT_TYPE, 'duplicate'],
      [valid.id, name, EVENT_TYPE, 'accepted'],
    ]);
    const [replay, accepted] = activity.deliveries;
    expect(replay!.forwardedAt).toBe(accepted!.forwardedAt);
    expect(accepted!.at).toBeGreaterThanOrEqual(before);
    expect(replay!.at).toBeGreaterThanOrEqual(accepted!.at);
    expect(activity.rejections).toEqual([{ at: expect.any(Number), integration: name, reason: 'bad_signature', detail: expect.any(String), webhookId: tampered.id }]);
    expect(JSON.stringify(activity)).not.toMatch(/v1,|whsec_/);

    const rejectedOnly = await client.webhooksList({ rejectedOnly: true });
    expect(rejectedOnly.deliveries).toEqual([]);
    expect(rejectedOnly.rejections).toHaveLength(1);
    expect((await client.webhooksList({ limit: 1 })).deliveries.map((d) => d.outcome)).toEqual(['duplicate']);
    expect((await client.webhooksList({ since: Date.now() + 60_000 })).deliveries).toEqual([]);
  });

  it('remembers the last outcomes only, and lists the newest of them', async () => {
    const url = fixture.hub.webhooks!.urlOf(fixture.adapter.name);
    const extra = 5;
    for (let i = 0; i < RECENT_WEBHOOK_OUTCOMES + extra; i++) {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: `{"n":${i}}` });
      expect(response.status).toBe(400);
    }
    const { rejections, deliveries } = await client.webhooksList({ limit: 1000 });
    expect(rejections).toHaveLength(RECENT_WEBHOOK_OUTCOMES);
    expect(deliveries).toEqual([]);
    expect(rejections.every((rejection) => rejection.reason === 'missing_headers')).toBe(true);
    expect(rejections.map((rejection) => rejection.at)).toEqual([...rejections.map((rejection) => rejection.at)].sort((a, b) => b - a));
  });

  it('names the integrations for an unknown one and those with webhooks for one without', async () => {
    await expect(client.webhooksList({ integration: 'nope' })).rejects.toBeInstanceOf(UnknownIntegrationError);
    await expect(client.webhooksList({ integration: 'nope' })).rejects.toThrow(`Unknown integration 'nope'. The hub has: ${fixture.adapter.name}`);
    await expect(client.webhooksList({ limit: 0 })).rejects.toBeInstanceOf(OperatorError);
  });

  it('saw no background errors in the hub', () => {
    expect(fixture.backgroundErrors).toEqual([]);
  });
});
