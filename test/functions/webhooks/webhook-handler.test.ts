/**
 * The webhook endpoint as deployed: composed from its environment, fed payload-2.0 events, forwarding through the
 * EventBridge adapter (a mocked client: EventBridge has no local emulator) with its delivery ids in dynalite.
 */
import { EventBridgeClient, PutEventsCommand } from '@aws-sdk/client-eventbridge';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { RecordingMetricsSink } from '../../../functions/runtime/telemetry.js';
import { timestampedHmacSignature } from '../../../functions/webhooks/timestamped-hmac-scheme.js';
import { webhookSchemeProblems } from '../../../functions/webhooks/webhook-declaration.js';
import { webhookIngressFromEnvironment, webhookRequestOf } from '../../../functions/webhooks/webhook-handler.js';
import { createLocalSecretsManager } from '../../../local/local-secrets-manager.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';

let dynamo: LocalDynamo;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await dynamo.createTable('deliveries', { partitionKey: 'id' });
});
afterAll(async () => {
  await dynamo.close();
});

const ENVIRONMENT = {
  WEBHOOK_PROVIDER: 'payments',
  WEBHOOK_SCHEME: JSON.stringify({ scheme: 'timestamped-hmac', header: 'Payments-Signature' }),
  WEBHOOK_SECRET_NAME: 'integration-hub/test/payments-webhooks',
  WEBHOOK_TABLE_NAME: 'deliveries',
  EVENT_BUS_NAME: 'hub-bus',
  WEBHOOK_EVENT_SOURCE: 'integration-hub.webhooks.payments',
  WEBHOOK_MAX_BODY_BYTES: '65536',
  WEBHOOK_DEDUPE_SECONDS: '259200',
};

describe('webhook scheme declarations', () => {
  it('accepts the shipped schemes and lists every problem of a bad one', () => {
    expect(webhookSchemeProblems({ scheme: 'standard-webhooks' })).toEqual([]);
    expect(webhookSchemeProblems({ scheme: 'timestamped-hmac', header: 'Payments-Signature', toleranceSeconds: 600 })).toEqual([]);
    expect(webhookSchemeProblems({ scheme: 'svix' })).toEqual(['scheme must be one of standard-webhooks, timestamped-hmac (got "svix")']);
    expect(webhookSchemeProblems({ scheme: 'standard-webhooks', toleranceSeconds: 900, header: 'x' })).toEqual([
      "standard-webhooks takes no 'header'",
      'toleranceSeconds must be an integer in 1-300',
    ]);
    expect(webhookSchemeProblems({ scheme: 'timestamped-hmac' })).toEqual(['timestamped-hmac needs header: the signature header name']);
  });
});

describe('the webhook endpoint from its environment', () => {
  it('fails its init listing every missing or invalid variable', () => {
    let error: unknown;
    try {
      webhookIngressFromEnvironment({ ...ENVIRONMENT, WEBHOOK_TABLE_NAME: '', WEBHOOK_MAX_BODY_BYTES: 'lots', WEBHOOK_SCHEME: JSON.stringify({ scheme: 'timestamped-hmac' }) });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigurationError);
    expect((error as ConfigurationError).problems).toEqual([
      'WEBHOOK_MAX_BODY_BYTES must be an integer in 1-240000 (got "lots")',
      'WEBHOOK_TABLE_NAME is required (the delivery-id table (Powertools idempotency, key `id`))',
      'WEBHOOK_SCHEME: timestamped-hmac needs header: the signature header name',
    ]);
  });

  it('verifies a base64-encoded delivery, puts one event on the bus, and answers 503 then 200 when PutEvents refused it once', async () => {
    const secretsManager = createLocalSecretsManager({ [ENVIRONMENT.WEBHOOK_SECRET_NAME]: { signingSecret: 'sec-1' } });
    const eventBridge = new EventBridgeClient({ region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
    const bus = mockClient(eventBridge);
    bus
      .on(PutEventsCommand)
      .resolvesOnce({ FailedEntryCount: 1, Entries: [{ ErrorCode: 'InternalFailure', ErrorMessage: 'try again' }] })
      .resolves({ FailedEntryCount: 0, Entries: [{ EventId: 'e-1' }] });
    const metrics = new RecordingMetricsSink();
    const ingress = webhookIngressFromEnvironment(ENVIRONMENT, { dynamodb: dynamo.client, eventBridge, secretsManager: secretsManager.client, metrics });
    const body = JSON.stringify({ id: 'evt_1', type: 'charge.refunded', data: { chargeId: 'ch_1' } });
    const event = {
      body: Buffer.from(body).toString('base64'),
      isBase64Encoded: true,
      headers: { 'Payments-Signature': timestampedHmacSignature(body, 'sec-1', new Date()), 'content-type': 'application/json' },
    };

    await expect(ingress.handle(webhookRequestOf(event))).resolves.toMatchObject({ status: 503 });
    await expect(ingress.handle(webhookRequestOf(event))).resolves.toMatchObject({ status: 200, body: { status: 'accepted', id: 'evt_1' } });
    await expect(ingress.handle(webhookRequestOf(event))).resolves.toMatchObject({ status: 200, body: { status: 'duplicate' } });

    const puts = bus.commandCalls(PutEventsCommand).map((call) => call.args[0].input.Entries![0]!);
    expect(puts).toHaveLength(2);
    expect(puts[1]).toMatchObject({ EventBusName: 'hub-bus', Source: 'integration-hub.webhooks.payments', DetailType: 'charge.refunded' });
    expect(JSON.parse(puts[1]!.Detail!)).toMatchObject({ webhookId: 'evt_1', provider: 'payments', payload: { data: { chargeId: 'ch_1' } } });
    expect(metrics.total('WebhookForwardFailed')).toBe(1);
    // Never the secret nor the signature in what is forwarded.
    expect(JSON.stringify(puts)).not.toContain('sec-1');
    expect(JSON.stringify(puts)).not.toContain(event.headers['Payments-Signature'].split('v1=')[1]);
  });
});
