/**
 * The webhook endpoint's logic against dynalite (Powertools idempotency, the delivery-id table) and an in-memory
 * forwarder: a verified delivery is forwarded once, a replay is acknowledged and not forwarded, nothing unverified is
 * forwarded, a failed forward is released for the sender's retry, and our own rotation is picked up.
 */
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import { unmarshall } from '@aws-sdk/util-dynamodb';
import { DynamoDBPersistenceLayer } from '@aws-lambda-powertools/idempotency/dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import fc from 'fast-check';
import { Webhook } from 'standardwebhooks';
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { DependencyError } from '../../../functions/runtime/errors.js';
import { StaticSecretSource } from '../../../functions/runtime/static-secret-source.js';
import { RecordingMetricsSink } from '../../../functions/runtime/telemetry.js';
import { standardWebhooksScheme } from '../../../functions/webhooks/standard-webhooks-scheme.js';
import { type ForwardedWebhook, type WebhookForwarder, WebhookIngress, type WebhookOutcome } from '../../../functions/webhooks/webhook-ingress.js';
import { providerOfRecordId, WEBHOOK_LOG } from '../../../functions/webhooks/webhook-records.js';
import type { WebhookRequest } from '../../../functions/webhooks/webhook-scheme.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';

const NOW = new Date(1_796_000_000_000);
const KEY = 'whsec_' + Buffer.from('ingress test key number one 0001').toString('base64');
const NEW_KEY = 'whsec_' + Buffer.from('ingress test key number two 0002').toString('base64');
const SECRET_NAME = 'integration-hub/test/crm-webhooks';

/** A forwarder that records, and can fail or hold its next forwards. */
class RecordingForwarder implements WebhookForwarder {
  readonly forwarded: ForwardedWebhook[] = [];
  failNext = 0;
  hold?: Promise<void>;

  async forward(event: ForwardedWebhook): Promise<void> {
    if (this.hold) await this.hold;
    if (this.failNext > 0) {
      this.failNext -= 1;
      throw new DependencyError('EventBus', 'PutEvents failed: InternalException');
    }
    this.forwarded.push(event);
  }
}

function signed(options: { id?: string; key?: string; body?: string; at?: Date } = {}): WebhookRequest {
  const id = options.id ?? 'msg_1';
  const at = options.at ?? NOW;
  const body = options.body ?? JSON.stringify({ type: 'contact.updated', timestamp: at.toISOString(), data: { id: 'c_1' } });
  return {
    headers: { 'webhook-id': id, 'webhook-timestamp': String(Math.floor(at.getTime() / 1000)), 'webhook-signature': new Webhook(options.key ?? KEY).sign(id, at, body) },
    body,
  };
}

let dynamo: LocalDynamo;
let tableSeq = 0;
beforeAll(async () => {
  dynamo = await startLocalDynamo();
});
afterAll(async () => {
  await dynamo.close();
});
beforeEach(() => {
  vi.useFakeTimers({ toFake: ['Date'] });
  vi.setSystemTime(NOW);
});
afterEach(() => vi.useRealTimers());

async function ingress(options: { maxBodyBytes?: number } = {}) {
  tableSeq += 1;
  const tableName = `webhooks-${tableSeq}`;
  await dynamo.createTable(tableName, { partitionKey: 'id' });
  const forwarder = new RecordingForwarder();
  const secrets = new StaticSecretSource({ [SECRET_NAME]: { signingSecrets: [KEY] } });
  const metrics = new RecordingMetricsSink();
  const outcomes: WebhookOutcome[] = [];
  const logger = new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' });
  const endpoint = new WebhookIngress({
    settings: { provider: 'crm', secretName: SECRET_NAME, eventSource: 'integration-hub.webhooks.crm', maxBodyBytes: options.maxBodyBytes ?? 65_536, dedupeSeconds: 3 * 86_400 },
    scheme: standardWebhooksScheme(),
    secrets,
    forwarder,
    persistence: new DynamoDBPersistenceLayer({ tableName, awsSdkV3Client: dynamo.client }),
    metrics,
    logger,
    clock: { now: () => Date.now() },
    onOutcome: (outcome) => outcomes.push(outcome),
  });
  return { endpoint, forwarder, secrets, metrics, outcomes, logger, tableName };
}

describe('webhook ingress', () => {
  it('forwards a verified delivery once, as an event of the provider with its type; a replay is acknowledged, not forwarded', async () => {
    const { endpoint, forwarder, metrics } = await ingress();
    await expect(endpoint.handle(signed())).resolves.toEqual({ status: 200, body: { status: 'accepted', id: 'msg_1' } });
    await expect(endpoint.handle(signed())).resolves.toEqual({ status: 200, body: { status: 'duplicate', id: 'msg_1' } });
    expect(forwarder.forwarded).toEqual([
      {
        source: 'integration-hub.webhooks.crm',
        detailType: 'contact.updated',
        detail: expect.objectContaining({ webhookId: 'msg_1', provider: 'crm', type: 'contact.updated', payload: expect.objectContaining({ data: { id: 'c_1' } }) }),
      },
    ]);
    expect([metrics.total('WebhookReceived'), metrics.total('WebhookForwarded'), metrics.total('WebhookDuplicate')]).toEqual([2, 1, 1]);
  });

  it('forwards nothing unverified: wrong key, tampered, late, oversized, unsigned junk each get their 4xx', async () => {
    const { endpoint, forwarder, metrics } = await ingress({ maxBodyBytes: 2_000 });
    const tampered = signed({ id: 'msg_t' });
    const cases: [WebhookRequest, number, string][] = [
      [signed({ id: 'msg_k', key: NEW_KEY }), 401, 'bad_signature'],
      [{ ...tampered, body: tampered.body.replace('c_1', 'c_9') }, 401, 'bad_signature'],
      [signed({ id: 'msg_o', at: new Date(NOW.getTime() - 600_000) }), 401, 'timestamp_out_of_tolerance'],
      [signed({ id: 'msg_big', body: JSON.stringify({ type: 'contact.updated', data: 'x'.repeat(3_000) }) }), 413, 'body_too_large'],
      [signed({ id: 'msg_j', body: 'not json' }), 400, 'not_json'],
      [{ headers: {}, body: '{}' }, 400, 'missing_headers'],
    ];
    for (const [request, status, reason] of cases) await expect(endpoint.handle(request)).resolves.toMatchObject({ status, body: { error: reason } });
    expect(forwarder.forwarded).toEqual([]);
    expect(metrics.total('WebhookRejected')).toBe(cases.length);

    // Generated requests: any header values and bodies, none signed with our key, none forwarded.
    await fc.assert(
      fc.asyncProperty(fc.record({ id: fc.string(), timestamp: fc.string(), signature: fc.string(), body: fc.string() }), async ({ id, timestamp, signature, body }) => {
        const answer = await endpoint.handle({ headers: { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature }, body });
        expect(answer.status).toBeGreaterThanOrEqual(400);
        expect(answer.status).toBeLessThan(500);
      }),
      { seed: 11, numRuns: 200 },
    );
    expect(forwarder.forwarded).toEqual([]);
  });

  it('releases the delivery when the forward fails (503), so the sender\'s retry is forwarded once', async () => {
    const { endpoint, forwarder, metrics } = await ingress();
    forwarder.failNext = 1;
    await expect(endpoint.handle(signed({ id: 'msg_f' }))).resolves.toMatchObject({ status: 503, body: { error: 'unavailable' } });
    expect(metrics.total('WebhookForwardFailed')).toBe(1);
    await expect(endpoint.handle(signed({ id: 'msg_f' }))).resolves.toMatchObject({ status: 200, body: { status: 'accepted' } });
    await expect(endpoint.handle(signed({ id: 'msg_f' }))).resolves.toMatchObject({ status: 200, body: { status: 'duplicate' } });
    expect(forwarder.forwarded.map((event) => event.detail.webhookId)).toEqual(['msg_f']);
  });

  it('answers 409 to the same delivery while another request forwards it, and to its id with another body', async () => {
    const { endpoint, forwarder } = await ingress();
    let release!: () => void;
    forwarder.hold = new Promise((resolve) => {
      release = resolve;
    });
    const first = endpoint.handle(signed({ id: 'msg_c' }));
    await vi.waitFor(async () => expect(await endpoint.handle(signed({ id: 'msg_c' }))).toMatchObject({ status: 409, body: { error: 'in_progress' } }));
    release();
    forwarder.hold = undefined;
    await expect(first).resolves.toMatchObject({ status: 200, body: { status: 'accepted' } });
    const other = signed({ id: 'msg_c', body: JSON.stringify({ type: 'contact.updated', data: { id: 'c_2' } }) });
    await expect(endpoint.handle(other)).resolves.toMatchObject({ status: 409, body: { error: 'id_reused' } });
    expect(forwarder.forwarded).toHaveLength(1);
  });

  it('stores who forwarded what and when in the delivery record, and tells every outcome with its reason or type', async () => {
    const { endpoint, outcomes, logger, tableName } = await ingress();
    const warnings = vi.spyOn(logger, 'warn');
    await endpoint.handle(signed({ id: 'msg_r' }));
    await endpoint.handle(signed({ id: 'msg_r' }));
    const tampered = signed({ id: 'msg_t' });
    await endpoint.handle({ ...tampered, body: tampered.body.replace('c_1', 'c_9') });

    const { Items } = await dynamo.client.send(new ScanCommand({ TableName: tableName }));
    expect(Items).toHaveLength(1);
    const record = unmarshall(Items![0]!);
    expect(providerOfRecordId(record.id)).toBe('crm');
    expect(record).toMatchObject({ status: 'COMPLETED', data: { webhookId: 'msg_r', provider: 'crm', type: 'contact.updated', forwardedAt: NOW.toISOString() } });
    expect(record.expiration).toBeGreaterThan(NOW.getTime() / 1000);

    expect(outcomes).toEqual([
      { kind: 'accepted', provider: 'crm', webhookId: 'msg_r', type: 'contact.updated', receivedAt: NOW, forwardedAt: NOW.toISOString() },
      { kind: 'duplicate', provider: 'crm', webhookId: 'msg_r', type: 'contact.updated', receivedAt: NOW, forwardedAt: NOW.toISOString() },
      { kind: 'rejected', provider: 'crm', reason: 'bad_signature', detail: expect.any(String), webhookId: 'msg_t', receivedAt: NOW },
    ]);
    // The log line an operator filters on: the reason and the claimed id, never the signature.
    expect(warnings).toHaveBeenCalledWith(WEBHOOK_LOG.rejected, { provider: 'crm', reason: 'bad_signature', detail: expect.any(String), webhookId: 'msg_t' });
    expect(JSON.stringify(warnings.mock.calls)).not.toContain(tampered.headers['webhook-signature']!);
  });

  it('picks up our own key rotation: a signature by the new key re-reads the secret once and is accepted', async () => {
    const { endpoint, forwarder, secrets } = await ingress();
    await endpoint.handle(signed({ id: 'msg_warm' })); // the old secret is now cached
    secrets.set(SECRET_NAME, { signingSecrets: [NEW_KEY, KEY] });
    await expect(endpoint.handle(signed({ id: 'msg_new', key: NEW_KEY }))).resolves.toMatchObject({ status: 200 });
    await expect(endpoint.handle(signed({ id: 'msg_old', key: KEY }))).resolves.toMatchObject({ status: 200 });
    expect(forwarder.forwarded.map((event) => event.detail.webhookId)).toEqual(['msg_warm', 'msg_new', 'msg_old']);
  });

  it('answers 503 when the signing secret cannot be read or is unusable, forwarding nothing', async () => {
    const { endpoint, forwarder, secrets } = await ingress();
    secrets.set(SECRET_NAME, { token: 'not a signing secret' });
    await expect(endpoint.handle(signed())).resolves.toMatchObject({ status: 503 });
    expect(forwarder.forwarded).toEqual([]);
  });
});
