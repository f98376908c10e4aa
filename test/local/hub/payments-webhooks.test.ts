/**
 * The payments gateway's webhooks end to end through the local hub: signed by the sandbox, verified by the hub's
 * endpoint, forwarded to the bus, routed by the catalog's rule to the payments queue, and recorded by the payments
 * adapter in the ledger with the charge's state as the gateway reports it (refunded included). Then the demo's
 * webhook round (demo-webhooks.ts) against the same hub: nothing unverified forwarded, every accepted delivery
 * forwarded once and recorded. Outcomes are awaited, never timed.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { toChargeStatus } from '../../../functions/integrations/payments.js';
import { INTEGRATIONS, resolveCatalog } from '../../../lib/catalog.js';
import { accountWebhooks, sendDemoWebhooks } from '../../../local/hub/demo-webhooks.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';
import type { Sandbox } from '../../../local/sandbox/index.js';
import { createWebhookSender } from '../../../local/sandbox/webhook-sender.js';
import { eventually } from '../../support/eventually.js';

// The shipped payments entry alone (its webhooks and both routes), without the workflows that need the others.
const catalog = INTEGRATIONS.filter((entry) => entry.name === 'payments');
const [payments] = resolveCatalog(catalog);

describe('payments webhooks through the local hub', () => {
  let sandbox: Sandbox<string>;
  let hub: LocalHub;

  beforeAll(async () => {
    sandbox = await startSandboxForCatalog({ seed: 14, integrations: catalog, workflows: null });
    hub = await LocalHub.start({ sandbox, integrations: catalog, workflows: null });
  });
  afterAll(async () => {
    await hub?.stop();
    await sandbox?.close();
  });

  /** A call to the gateway as the merchant makes it. */
  async function merchant<T>(path: string, body: unknown): Promise<T> {
    const response = await fetch(`${sandbox.providerUrl('payments')}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${sandbox.credentials('payments').secretKey}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    expect(response.ok, `${path}: ${response.status}`).toBe(true);
    return (await response.json()) as T;
  }

  /** The result the ledger keeps for a charge (undefined until a webhook about it was recorded). */
  async function recorded(chargeId: string): Promise<{ externalId?: string; status?: string } | undefined> {
    const documents = DynamoDBDocumentClient.from(hub.dynamo.client);
    // The template's ledger table (its logical id starts with CoreTablesLedger).
    const table = Object.entries(hub.tables).find(([logicalId]) => logicalId.startsWith('CoreTablesLedger'))![1];
    const item = await documents.send(new GetCommand({ TableName: table, Key: { pk: `charge#${chargeId}`, sk: 'payments' }, ConsistentRead: true }));
    return item.Item?.status === 'synced' ? (item.Item.idemData as { externalId?: string; status?: string }) : undefined;
  }

  it('routes a verified charge.refunded to the payments queue and the ledger records the charge as refunded', async () => {
    const refunded = await merchant<{ id: string }>('/charges', { amount: 2_500, currency: 'EUR', reference: 'ord-wh-1', customerId: 'cus_ana' });
    const untouched = await merchant<{ id: string }>('/charges', { amount: 900, currency: 'EUR', reference: 'ord-wh-2', customerId: 'cus_bruno' });
    await merchant('/refunds', { chargeId: refunded.id });
    const sender = createWebhookSender({ url: hub.webhooks!.urlOf('payments'), scheme: payments!.webhooks!.scheme, signingSecret: hub.webhookSigningSecret('payments'), seed: 5, sleep: async () => undefined });
    const delivered = hub.integration('payments')!.counters.delivered;

    await sender.send({ type: 'charge.refunded', data: { object: { id: refunded.id } } });
    // Tampered: claims the untouched charge was refunded; refused at the endpoint, never recorded.
    await sender.send({ type: 'charge.refunded', data: { object: { id: untouched.id } } }, { tamper: true });
    await sender.drain();

    expect(sender.deliveries().map((delivery) => delivery.outcome)).toEqual(['accepted', 'refused']);
    await eventually(async () => expect(await recorded(refunded.id)).toEqual({ externalId: refunded.id, status: 'refunded' }), 30_000);
    // One message reached the payments queue and was delivered by its function: the tampered one never did.
    await eventually(() => expect(hub.integration('payments')!.counters.delivered - delivered).toBe(1), 30_000);
    await hub.settle();
    expect(await hub.ledger.entries('charge', untouched.id)).toEqual([]);
  });

  it("plays the demo's webhook round: unverified deliveries never forwarded, each accepted one forwarded once and recorded", async () => {
    for (let n = 0; n < 8; n++) await merchant('/charges', { amount: 1_000 + n, currency: 'EUR', reference: `ord-demo-${n}`, customerId: 'cus_carla' });
    const runs = await sendDemoWebhooks(hub, sandbox, [payments!], { seed: 42, deliveries: 8 });
    const problems: string[] = [];
    const [row] = accountWebhooks(hub, runs, problems);

    expect(problems).toEqual([]);
    const deliveries = runs[0]!.sender.deliveries();
    const tampered = deliveries.filter((delivery) => delivery.options.tamper).length;
    const late = deliveries.filter((delivery) => delivery.options.lateBySeconds > 0).length;
    const replayed = deliveries.filter((delivery) => delivery.options.duplicate).length;
    expect(Math.min(tampered, late, replayed)).toBeGreaterThan(0);
    expect(row).toMatchObject({
      integration: 'payments',
      sent: 8,
      accepted: 8 - tampered - late,
      forwarded: 8 - tampered - late,
      duplicates: replayed,
      rejected: tampered + late,
      rejectedBy: { bad_signature: tampered, timestamp_out_of_tolerance: late },
      unverifiedForwarded: 0,
      acceptedNotForwarded: 0,
      forwardedTwice: 0,
    });
    // Some charges were refunded by the merchant first; every accepted delivery is recorded with the gateway's state.
    expect(sandbox.payments.refunds().length).toBeGreaterThan(0);
    await eventually(async () => {
      const statuses = await Promise.all(sandbox.payments.charges().map(async (charge) => [charge, await recorded(charge.id)] as const));
      const recordedOnes = statuses.filter(([, result]) => result !== undefined);
      // The first test's refunded charge, plus one per accepted delivery (each is about a different charge).
      expect(recordedOnes).toHaveLength(1 + row!.accepted);
      for (const [charge, result] of recordedOnes) expect(result, charge.id).toEqual({ externalId: charge.id, status: toChargeStatus(charge) });
    }, 30_000);
  });
});
