/**
 * The payments adapter handling the gateway's webhooks (`charge.succeeded`, `charge.refunded`, as the webhook
 * endpoint forwards them) through the real runtime against the sandbox gateway and dynalite: the ledger records the
 * charge's state as the gateway reports it when the webhook is processed, whatever the payload claims.
 */
import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { describe, expect, it } from 'vitest';
import { payments } from '../../../functions/integrations/payments.js';
import { webhookEventSource } from '../../../functions/webhooks/webhook-declaration.js';
import { catalogIntegration } from '../../../lib/catalog.js';
import { eventBridgeBody, lambdaContext, type LocalMessage, sqsEvent } from '../../../local/lambda-events.js';
import type { RecordingDeadLetterQueue } from '../../../local/recording-queues.js';
import { useRuntimeTestBed } from '../../support/runtime-test-bed.js';

const bed = useRuntimeTestBed({ seed: 41, tablePrefix: 'payments-webhooks-' });

const build = () => bed.build(payments, { name: 'payments', provider: 'payments', auth: catalogIntegration('payments').auth });

/** A call to the sandbox gateway as the merchant makes it (its dashboard or its own backend). */
async function gateway<T>(method: 'GET' | 'POST', path: string, body?: unknown): Promise<T> {
  const response = await fetch(`${bed.sandbox.providerUrl('payments')}${path}`, {
    method,
    headers: { authorization: `Bearer ${bed.sandbox.credentials('payments').secretKey}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  if (!response.ok) throw new Error(`${method} ${path}: HTTP ${response.status}`);
  return (await response.json()) as T;
}

let received = Date.parse('2026-11-20T10:00:00.000Z');

/** The bus event the webhook endpoint forwards for a gateway event about `chargeId` (its payload may say anything). */
function webhookMessage(id: string, type: string, object: Record<string, unknown>): LocalMessage {
  received += 1000;
  const receivedAt = new Date(received).toISOString();
  const detail = { webhookId: id, provider: 'payments', type, signedAt: receivedAt, receivedAt, payload: { id, type, created: Math.floor(received / 1000), data: { object } } };
  return { body: eventBridgeBody(type, detail, webhookEventSource('payments')), messageId: `m-${id}` };
}

async function deliver(local: ReturnType<typeof build>, messages: LocalMessage[]) {
  return local.runtime.handleBatch(sqsEvent(messages), lambdaContext('payments', 30_000));
}

/** The result the ledger item keeps for the charge (the runtime's stored result, replayed to duplicates). */
async function storedResult(chargeId: string): Promise<unknown> {
  const documents = DynamoDBDocumentClient.from(bed.dynamo.client);
  const item = await documents.send(new GetCommand({ TableName: bed.tables.ledger, Key: { pk: `charge#${chargeId}`, sk: 'payments' }, ConsistentRead: true }));
  return item.Item?.idemData;
}

describe('payments adapter: gateway webhooks against the sandbox gateway', () => {
  it('records a charge as completed, then as refunded once the merchant refunded it in the gateway', async () => {
    const local = build();
    const charge = await gateway<{ id: string; amount: number }>('POST', '/charges', { amount: 4_990, currency: 'EUR', reference: 'ord-w1', customerId: 'cus_ana' });

    await deliver(local, [webhookMessage('evt_a', 'charge.succeeded', { id: charge.id })]);
    expect(await local.ledger.entries('charge', charge.id)).toMatchObject([{ status: 'synced', externalId: charge.id }]);
    expect(await storedResult(charge.id)).toEqual({ externalId: charge.id, status: 'completed' });

    await gateway('POST', '/refunds', { chargeId: charge.id, amount: 1_000 });
    await deliver(local, [webhookMessage('evt_b', 'charge.refunded', { id: charge.id })]);
    expect(await storedResult(charge.id)).toEqual({ externalId: charge.id, status: 'partially_refunded' });

    await gateway('POST', '/refunds', { chargeId: charge.id });
    await deliver(local, [webhookMessage('evt_c', 'charge.refunded', { id: charge.id })]);
    const [entry] = await local.ledger.entries('charge', charge.id);
    expect(entry).toMatchObject({ status: 'synced', externalId: charge.id });
    expect(entry!.log.filter((log) => log.event === 'synced')).toHaveLength(3);
    expect(await storedResult(charge.id)).toEqual({ externalId: charge.id, status: 'refunded' });
  });

  it("uses the gateway's state, not a payload that claims otherwise", async () => {
    const local = build();
    const charge = await gateway<{ id: string }>('POST', '/charges', { amount: 1_200, currency: 'EUR', reference: 'ord-w2', customerId: 'cus_bruno' });

    // The payload claims a full refund; the gateway has refunded nothing.
    await deliver(local, [webhookMessage('evt_d', 'charge.refunded', { id: charge.id, status: 'succeeded', amount: 1_200, amountRefunded: 1_200 })]);
    expect(await storedResult(charge.id)).toEqual({ externalId: charge.id, status: 'completed' });
    expect(bed.sandbox.payments.refunds()).toEqual([]);
  });

  it('dead-letters a webhook about a charge the gateway does not know (404: permanent, never retried)', async () => {
    const local = build();
    const response = await deliver(local, [webhookMessage('evt_e', 'charge.succeeded', { id: 'ch_nobody' })]);

    expect(response.batchItemFailures).toEqual([]);
    const [letter] = (local.deadLetters as RecordingDeadLetterQueue).messages;
    expect(letter?.reason.errorClass).toBe('Http404');
    expect(await local.ledger.entries('charge', 'ch_nobody')).toMatchObject([{ status: 'sync_failed', lastErrorClass: 'Http404' }]);
    expect(bed.sandbox.journal.count({ provider: 'payments', path: '/charges/ch_nobody' })).toBe(1);
  });

  it('skips an older webhook processed after a newer one for the same charge (the newer read the gateway later)', async () => {
    const local = build();
    const charge = await gateway<{ id: string }>('POST', '/charges', { amount: 800, currency: 'EUR', reference: 'ord-w3', customerId: 'cus_carla' });
    await gateway('POST', '/refunds', { chargeId: charge.id });
    const older = webhookMessage('evt_f', 'charge.succeeded', { id: charge.id });
    const newer = webhookMessage('evt_g', 'charge.refunded', { id: charge.id });

    await deliver(local, [newer]);
    await deliver(local, [older]);
    expect(await storedResult(charge.id)).toEqual({ externalId: charge.id, status: 'refunded' });
    const [entry] = await local.ledger.entries('charge', charge.id);
    expect(entry!.log.map((log) => log.event)).toEqual(['syncing', 'synced', 'skipped_stale']);
  });
});
