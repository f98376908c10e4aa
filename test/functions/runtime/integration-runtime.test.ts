import { Logger } from '@aws-lambda-powertools/logger';
import type { SQSBatchResponse } from 'aws-lambda';
import { describe, expect, it, vi } from 'vitest';
import { crm } from '../../../functions/integrations/crm.js';
import { payments } from '../../../functions/integrations/payments.js';
import type { Integration } from '../../../functions/runtime/define-integration.js';
import { RecordingMetricsSink } from '../../../functions/runtime/telemetry.js';
import { eventBridgeBody, type LocalMessage, lambdaContext, sqsEvent } from '../../../local/lambda-events.js';
import type { LocalIntegrationOptions } from '../../../local/local-integration.js';
import { type RecordingDeadLetterQueue, type RecordingMessageParker, RecordingMessageParker as RecordingMessageParkerImpl } from '../../../local/recording-queues.js';
import { LocalMessageParker, LocalQueue } from '../../../local/local-queue.js';
import { catalogIntegration } from '../../../lib/catalog.js';
import { HubFaultInjector } from '../../../local/hub/hub-faults.js';
import { localDynamoClient } from '../../../local/local-dynamo.js';
import { useRuntimeTestBed } from '../../support/runtime-test-bed.js';

const bed = useRuntimeTestBed({ seed: 7, tablePrefix: '' });

function build<T>(name: 'crm' | 'payments', integration: Integration<T>, overrides: Partial<LocalIntegrationOptions> = {}) {
  return bed.build(integration, { name, provider: name, auth: catalogIntegration(name).auth, ...overrides });
}

function fileEvent(fileId: string, version = 1, extra: Record<string, unknown> = {}) {
  return {
    fileId,
    version,
    name: `${fileId}.pdf`,
    mimeType: 'Application/PDF',
    sizeBytes: 1234,
    uploadedBy: { email: 'Ana@Example.com' },
    uploadedAt: '2026-11-20T10:00:00Z',
    tags: ['Invoice', 'invoice', 'Q4'],
    ...extra,
  };
}

function deliver<T>(local: ReturnType<typeof build<T>>, messages: LocalMessage[]): Promise<SQSBatchResponse> {
  return local.runtime.handleBatch(sqsEvent(messages), lambdaContext('test', 60_000));
}

function charge(paymentId: string) {
  return { action: 'charge', paymentId, orderId: `o-${paymentId}`, customerId: 'c1', amount: '10.00', currency: 'eur' };
}

const raw = (payload: unknown, extra: Partial<LocalMessage> = {}): LocalMessage => ({ body: JSON.stringify(payload), ...extra });

describe('integration runtime against dynalite and the sandbox', () => {
  it('syncs a file sent straight to SQS and one routed through EventBridge, with headers and ledger', async () => {
    const local = build('crm', crm);
    const response = await deliver(local, [
      raw(fileEvent('a'), { attributes: { correlationId: 'corr-a' } }),
      { body: eventBridgeBody('FileUploaded', fileEvent('b')) },
    ]);

    expect(response.batchItemFailures).toEqual([]);
    const files = bed.sandbox.crm.files();
    expect(files.map((f) => f.externalRef).sort()).toEqual(['a', 'b']);
    const fileA = files.find((f) => f.externalRef === 'a');
    expect(fileA).toMatchObject({ mimeType: 'application/pdf', ownerEmail: 'ana@example.com', tags: ['invoice', 'q4'], folder: '/' });
    const call = bed.sandbox.journal.entries({ provider: 'crm', path: '/files', correlationId: 'corr-a' });
    expect(call).toHaveLength(1);
    expect(call[0]?.idempotencyKey).toBe('crm:file:a:v1');
    const [entry] = await local.ledger.entries('file', 'a');
    expect(entry).toMatchObject({ status: 'synced', externalId: fileA?.id, entityVersion: 1 });
    expect(local.metrics.total('CallSucceeded')).toBe(2);
  });

  it('runs one adapter as two integrations: each its own idempotency namespace, ledger row and circuit', async () => {
    const auth = catalogIntegration('crm').auth;
    const home = build('crm', crm);
    const second = bed.build(crm, { name: 'crm-eu', provider: 'crm', auth });

    await deliver(home, [raw(fileEvent('shared'))]);
    await deliver(second, [raw(fileEvent('shared'))]);

    const calls = bed.sandbox.journal.entries({ provider: 'crm', path: '/files' }).map((call) => call.idempotencyKey);
    expect(calls.sort()).toEqual(['crm-eu:file:shared:v1', 'crm:file:shared:v1']);
    const entries = await home.ledger.entries('file', 'shared');
    expect(entries.map((entry) => [entry.integration, entry.status]).sort()).toEqual([['crm', 'synced'], ['crm-eu', 'synced']]);

    // An operator isolates the second account's circuit: the first keeps delivering, the second parks.
    await second.breaker.isolate('maintenance');
    await deliver(home, [raw(fileEvent('after'))]);
    const parked = await deliver(second, [raw(fileEvent('after'))]);
    expect(parked.batchItemFailures).toHaveLength(1);
    expect(bed.sandbox.journal.entries({ provider: 'crm', path: '/files' }).filter((call) => call.idempotencyKey?.endsWith(':file:after:v1')).map((call) => call.idempotencyKey)).toEqual([
      'crm:file:after:v1',
    ]);
  });

  it('makes one side effect for a duplicate delivery and answers the duplicate without an HTTP call', async () => {
    const local = build('crm', crm);
    await deliver(local, [raw(fileEvent('dup'))]);
    const callsBefore = bed.sandbox.journal.count({ provider: 'crm', path: '/files' });

    const response = await deliver(local, [raw(fileEvent('dup'), { receiveCount: 2 })]);

    expect(response.batchItemFailures).toEqual([]);
    expect(bed.sandbox.journal.count({ provider: 'crm', path: '/files' })).toBe(callsBefore);
    expect(bed.sandbox.sideEffects('crm').filter((s) => s.type === 'file')).toHaveLength(1);
    expect(local.metrics.total('IdempotentReplay')).toBe(1);
  });

  it('reports a duplicate that arrives while the first is in flight as a batch item failure, never to the DLQ', async () => {
    bed.sandbox.setFaults('crm', { latencyMs: 150 });
    const local = build('crm', crm);
    const response = await deliver(local, [raw(fileEvent('twin'), { messageId: 'first' }), raw(fileEvent('twin'), { messageId: 'second' })]);

    expect(response.batchItemFailures).toHaveLength(1);
    expect((local.deadLetters as RecordingDeadLetterQueue).messages).toHaveLength(0);
    expect(bed.sandbox.sideEffects('crm').filter((s) => s.type === 'file')).toHaveLength(1);
  });

  it('processes the records of a batch concurrently, never more than the bound at once', async () => {
    bed.sandbox.setFaults('payments', { latencyMs: 40 });
    let inFlight = 0;
    let peak = 0;
    const trackingFetch: typeof fetch = async (input, init) => {
      inFlight += 1;
      peak = Math.max(peak, inFlight);
      try {
        return await fetch(input, init);
      } finally {
        inFlight -= 1;
      }
    };
    const local = build('payments', payments, { fetch: trackingFetch, settings: { recordConcurrency: 3 } });
    const response = await deliver(local, Array.from({ length: 9 }, (_, i) => raw(charge(`conc-${i}`))));

    expect(response.batchItemFailures).toEqual([]);
    expect(peak).toBeLessThanOrEqual(3);
    expect(peak).toBeGreaterThan(1);
    expect(bed.sandbox.payments.charges()).toHaveLength(9);
  });

  it('sends poison messages straight to the DLQ with the reason and reports them processed', async () => {
    const local = build('crm', crm);
    const response = await deliver(local, [
      { body: '{not json', messageId: 'm-json', attributes: { correlationId: 'c-json' } },
      raw({ ...fileEvent('bad'), sizeBytes: -1 }, { messageId: 'm-schema' }),
      raw({ ...fileEvent('v9'), schemaVersion: '9' }, { messageId: 'm-version' }),
    ]);

    expect(response.batchItemFailures).toEqual([]);
    const dlq = (local.deadLetters as RecordingDeadLetterQueue).messages;
    expect(dlq.map((d) => [d.message.messageId, d.reason.errorClass])).toEqual(
      expect.arrayContaining([
        ['m-json', 'InvalidJson'],
        ['m-schema', 'ValidationFailed'],
        ['m-version', 'UnsupportedEventVersion'],
      ]),
    );
    expect(dlq.find((d) => d.message.messageId === 'm-json')?.reason.correlationId).toBe('c-json');
    expect(dlq.find((d) => d.message.messageId === 'm-schema')?.reason.errorMessage).toContain('sizeBytes');
    expect(bed.sandbox.journal.count({ provider: 'crm' })).toBe(0);
    expect(local.metrics.total('PoisonMessage')).toBe(3);
  });

  it('sends a permanent provider refusal to the DLQ and marks the ledger sync_failed', async () => {
    bed.sandbox.setFaults('payments', { status: 422 });
    const local = build('payments', payments);
    const response = await deliver(local, [raw(charge('rejected'), { messageId: 'm-422' })]);

    expect(response.batchItemFailures).toEqual([]);
    const [letter] = (local.deadLetters as RecordingDeadLetterQueue).messages;
    expect(letter?.reason.errorClass).toBe('Http422');
    expect(letter?.message.messageId).toBe('m-422');
    const [entry] = await local.ledger.entries('payment', 'rejected');
    expect(entry).toMatchObject({ status: 'sync_failed', lastErrorClass: 'Http422' });
    expect(bed.sandbox.journal.count({ provider: 'payments', path: '/charges' })).toBe(1);
  });

  it('stops calling the provider after the failure threshold during an outage and parks the rest', async () => {
    bed.sandbox.setFaults('payments', { status: 503 });
    const local = build('payments', payments, {
      circuit: { failureThreshold: 5, breakMs: 60_000 },
      settings: { recordConcurrency: 1, http: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } },
    });
    const messages = Array.from({ length: 20 }, (_, i) => raw(charge(`out-${i}`), { messageId: `m-${i}` }));

    const response = await deliver(local, messages);

    expect(bed.sandbox.journal.count({ provider: 'payments', path: '/charges' })).toBe(5);
    expect(response.batchItemFailures).toHaveLength(20);
    // The messages whose calls failed come back after a short retry delay; the rest wait out the break.
    const delays = (local.parker as RecordingMessageParker).parked.map((p) => p.delaySeconds);
    const parked = delays.filter((d) => d >= 55);
    const retries = delays.filter((d) => d < 55);
    expect(parked.length).toBeGreaterThanOrEqual(18);
    expect(parked.length + retries.length).toBe(20);
    for (const d of retries) expect(d).toBeGreaterThanOrEqual(5), expect(d).toBeLessThanOrEqual(10);
    expect((local.deadLetters as RecordingDeadLetterQueue).messages).toHaveLength(0);
    expect((await local.breaker.status()).state).toBe('open');
    const [pending] = await local.ledger.entries('payment', 'out-19');
    expect(pending?.status).toBe('pending_sync');
  });

  it('brings a message that was answered 429 back after its Retry-After, not after the shorter retry delay', async () => {
    // Longer than the invocation can wait: the client gives up and hands the message back to SQS.
    bed.sandbox.setFaults('payments', { throttle: { retryAfterSeconds: 120 } });
    const local = build('payments', payments, { settings: { recordConcurrency: 1, http: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } } });

    const response = await deliver(local, [raw(charge('slow-1'), { messageId: 'm-slow' })]);

    expect(response.batchItemFailures).toHaveLength(1);
    expect(bed.sandbox.journal.count({ provider: 'payments', path: '/charges' })).toBe(1);
    const [delay] = (local.parker as RecordingMessageParker).parked.map((p) => p.delaySeconds);
    expect(delay).toBeGreaterThanOrEqual(120);
    expect(delay).toBeLessThanOrEqual(120 + 61);
    expect((local.deadLetters as RecordingDeadLetterQueue).messages).toHaveLength(0);

    // No longer than the circuit's cap on throttles (maxThrottleMs), as the shared throttle is.
    bed.sandbox.setFaults('payments', { throttle: { retryAfterSeconds: 3600 } });
    const capped = build('payments', payments, { circuit: { maxThrottleMs: 90_000 }, settings: { recordConcurrency: 1, http: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } } });
    await capped.breaker.reset(); // the shared throttle of the first delivery would park it before any call
    await deliver(capped, [raw(charge('slow-2'), { messageId: 'm-slow-2' })]);
    const [cappedDelay] = (capped.parker as RecordingMessageParker).parked.map((p) => p.delaySeconds);
    expect(cappedDelay).toBeGreaterThanOrEqual(90);
    expect(cappedDelay).toBeLessThanOrEqual(90 + 11);
  });

  describe('a circuit open for longer than the queue allows receives, with no controller pausing the event source', () => {
    const MAX_RECEIVE_COUNT = 5;

    /**
     * The queue on a controlled clock, received and answered like an event source mapping would, without a circuit
     * controller: every receive of a parked message counts toward the redrive policy. Time jumps 13 hours per
     * cycle, past any park (12 h at most) and any hand-back delay (15 min at most).
     */
    async function waitOut(handBack: boolean) {
      let now = Date.now();
      const clock = { now: () => now };
      const deadLetterQueue = new LocalQueue({ name: 'waiting-dlq', clock, messageRetentionSeconds: 1_209_600 });
      const queue = new LocalQueue({ name: 'waiting', clock, messageRetentionSeconds: 1_209_600, maxReceiveCount: MAX_RECEIVE_COUNT, deadLetterQueue });
      const local = build('payments', payments, {
        parker: new LocalMessageParker(queue),
        settings: { recordConcurrency: 1, maxReceiveCount: handBack ? MAX_RECEIVE_COUNT : 0 },
      });
      const cycle = async () => {
        for (let received = queue.receive(10); received.length > 0; received = queue.receive(10)) {
          const response = await deliver(local, received.map((m) => ({ body: m.body, messageId: m.messageId, receiptHandle: m.receiptHandle, receiveCount: m.receiveCount, attributes: m.attributes, queueArn: queue.arn, sentTimestamp: m.sentTimestamp })));
          const failed = new Set(response.batchItemFailures.map((failure) => failure.itemIdentifier));
          for (const m of received) if (!failed.has(m.messageId)) queue.delete(m.receiptHandle);
        }
        now += 13 * 3_600_000;
      };
      // An operator isolated the circuit: nothing is attempted, however long it lasts.
      await local.breaker.isolate('provider maintenance');
      const ids = Array.from({ length: 12 }, (_, i) => `wait-${i}`);
      for (const id of ids) queue.send({ body: JSON.stringify(charge(id)) });
      for (let i = 0; i < 3 * MAX_RECEIVE_COUNT; i++) await cycle();
      const waited = { deadLettered: deadLetterQueue.stats().visible, handedBack: local.metrics.total('HandedBack') };
      await local.breaker.reset();
      for (let i = 0; i < 3 && queue.stats().visible + queue.stats().inFlight + queue.stats().delayed > 0; i++) await cycle();
      return { ids, waited, queue, local };
    }

    it('hands a message that only waited back on its last receive: none reaches the DLQ, each is charged once after', async () => {
      const { ids, waited, queue } = await waitOut(true);
      expect(waited.deadLettered).toBe(0);
      expect(waited.handedBack).toBeGreaterThanOrEqual(ids.length * 2);
      expect(queue.stats().visible + queue.stats().inFlight + queue.stats().delayed).toBe(0);
      // One charge per message, no more: the copies kept the body, so the idempotency key.
      const charged = bed.sandbox.sideEffects('payments').filter((effect) => effect.type === 'charge').map((effect) => effect.idempotencyKey);
      expect(charged.sort()).toEqual(ids.map((id) => `payments:charge:${id}`).sort());
    });

    it('carries the first-sent time and counts the hand-backs; parks instead when the copy fails or the message is 13 days old', async () => {
      const parker = new RecordingMessageParkerWithFailures();
      const local = build('payments', payments, { parker, settings: { recordConcurrency: 1, maxReceiveCount: MAX_RECEIVE_COUNT } });
      await local.breaker.isolate('provider maintenance');
      const firstSentAt = Date.now() - 86_400_000;
      const last = { receiveCount: MAX_RECEIVE_COUNT, attributes: { hubFirstSentAt: String(firstSentAt), hubHandBacks: '2', correlationId: 'corr-1' } };
      await deliver(local, [raw(charge('copy-1'), { messageId: 'm-copy', ...last })]);
      expect(parker.requeued.map((r) => r.attributes)).toEqual([{ hubFirstSentAt: String(firstSentAt), hubHandBacks: '3', correlationId: 'corr-1' }]);
      expect(parker.parked).toHaveLength(0);

      await deliver(local, [raw(charge('old-1'), { messageId: 'm-old', receiveCount: MAX_RECEIVE_COUNT, sentTimestamp: Date.now() - 13 * 86_400_000 - 1 })]);
      parker.failRequeue = true;
      const response = await deliver(local, [raw(charge('fail-1'), { messageId: 'm-fail', receiveCount: MAX_RECEIVE_COUNT })]);
      expect(parker.requeued).toHaveLength(1);
      expect(parker.parked.map((p) => p.message.messageId)).toEqual(['m-old', 'm-fail']);
      expect(response.batchItemFailures).toEqual([{ itemIdentifier: 'm-fail' }]);
    });

    it('without the hand-back the same wait dead-letters every message (what the test guards against)', async () => {
      const { ids, waited } = await waitOut(false);
      expect(waited.deadLettered).toBe(ids.length);
    });

    it('hands back a message whose last receive failed on the hub\'s own ledger table, and not one the provider refused', async () => {
      const injector = new HubFaultInjector(bed.tables, { setAvailable: () => undefined });
      const client = injector.faultDynamo(localDynamoClient(bed.dynamo.endpoint));
      try {
        const parker = new RecordingMessageParkerImpl();
        const local = build('payments', payments, { dynamo: { client }, parker, settings: { recordConcurrency: 1, maxReceiveCount: MAX_RECEIVE_COUNT } });
        injector.set({ dynamo: { tables: ['ledger'], error: 'internal' } });
        const last = { receiveCount: MAX_RECEIVE_COUNT };
        const response = await deliver(local, [raw(charge('ledger-down'), { messageId: 'm-ledger', ...last })]);
        expect(response.batchItemFailures).toEqual([]);
        expect(parker.requeued.map((r) => r.message.messageId)).toEqual(['m-ledger']);
        expect(bed.sandbox.journal.count({ provider: 'payments' })).toBe(0);

        // The same last receive with the ledger working and the provider refusing the charge: no hand-back.
        injector.clear();
        bed.sandbox.setFaults('payments', { status: 503 });
        const refused = await deliver(local, [raw(charge('provider-down'), { messageId: 'm-provider', ...last })]);
        expect(refused.batchItemFailures).toEqual([{ itemIdentifier: 'm-provider' }]);
        expect(parker.requeued).toHaveLength(1);
      } finally {
        client.destroy();
      }
    });
  });

  it('counts rejected credentials against the circuit: the messages wait parked, none is dead-lettered, and a fixed secret resumes delivery', async () => {
    const local = build('payments', payments, { circuit: { failureThreshold: 3, breakMs: 60_000 }, settings: { recordConcurrency: 1 } });
    bed.sandbox.rotateCredentials('payments'); // the provider no longer takes the stored key
    const ids = Array.from({ length: 6 }, (_, i) => `rej-${i}`);
    const response = await deliver(local, ids.map((id) => raw(charge(id), { messageId: id })));

    expect(response.batchItemFailures.map((failure) => failure.itemIdentifier)).toEqual(ids);
    expect((local.deadLetters as RecordingDeadLetterQueue).messages).toEqual([]);
    // Three messages tried (each: the call, the fresh secret, the call again), then the circuit opened: three parked.
    expect(bed.sandbox.journal.count({ provider: 'payments' })).toBe(6);
    expect(local.metrics.total('CircuitRejected')).toBe(3);
    expect(await local.breaker.status()).toMatchObject({ state: 'open' });

    bed.secretsManager.put('payments/credentials', { token: bed.sandbox.credentials('payments').secretKey });
    await local.breaker.reset();
    const resumed = await deliver(local, ids.map((id) => raw(charge(id), { messageId: id })));
    expect(resumed.batchItemFailures).toEqual([]);
    expect(bed.sandbox.sideEffects('payments').filter((effect) => effect.type === 'charge')).toHaveLength(ids.length);
  });

  it('counts an unreachable OAuth token endpoint as a provider failure and opens the circuit', async () => {
    bed.sandbox.setFaults('crm', { status: 503 });
    const local = build('crm', crm, {
      circuit: { failureThreshold: 5, breakMs: 60_000 },
      settings: { recordConcurrency: 1, http: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 2 } },
    });

    const response = await deliver(local, Array.from({ length: 10 }, (_, i) => raw(fileEvent(`tok-${i}`))));

    expect(response.batchItemFailures).toHaveLength(10);
    expect(bed.sandbox.journal.count({ provider: 'crm' })).toBe(5);
    expect((await local.breaker.status()).state).toBe('open');
  });

  it('probes the provider once per due half-open window: a failed probe re-opens, a successful one closes', async () => {
    bed.sandbox.setFaults('payments', { status: 503 });
    const local = build('payments', payments, {
      circuit: { failureThreshold: 2, breakMs: 300, maxBreakMs: 600 },
      settings: { recordConcurrency: 1, http: { maxAttempts: 1 } },
    });
    await deliver(local, [raw(charge('pr-1')), raw(charge('pr-2')), raw(charge('pr-3'))]);
    expect((await local.breaker.status()).state).toBe('open');

    expect(await local.runtime.runProbe()).toBe('not_due');
    await new Promise((resolve) => setTimeout(resolve, 350));
    expect(await local.runtime.runProbe()).toBe('failed');
    expect((await local.breaker.status()).state).toBe('open');

    bed.sandbox.clearFaults('payments');
    await new Promise((resolve) => setTimeout(resolve, 650));
    expect(await local.runtime.runProbe()).toBe('succeeded');
    expect((await local.breaker.status()).state).toBe('closed');
    expect(bed.sandbox.journal.count({ provider: 'payments', path: '/health' })).toBe(2);
  });

  it('refetches a rotated secret once after a 401 and succeeds', async () => {
    const local = build('payments', payments);
    await deliver(local, [raw({ action: 'charge', paymentId: 'p1', orderId: 'o1', customerId: 'c1', amount: '12.34', currency: 'eur' })]);
    const newKey = bed.sandbox.rotateCredentials('payments').secretKey;
    bed.secretsManager.put('payments/credentials', { token: newKey });
    const readsBefore = bed.secretsManager.getSecretValueCalls('payments/credentials');

    const response = await deliver(local, [
      raw({ action: 'charge', paymentId: 'p2', orderId: 'o2', customerId: 'c1', amount: 5, currency: 'JPY' }),
    ]);

    expect(response.batchItemFailures).toEqual([]);
    expect(bed.secretsManager.getSecretValueCalls('payments/credentials') - readsBefore).toBe(1);
    expect(bed.sandbox.journal.count({ provider: 'payments', path: '/charges', status: 401 })).toBe(1);
    const charges = bed.sandbox.payments.charges();
    expect(charges.map((c) => [c.amount, c.currency])).toEqual([
      [1234, 'EUR'],
      [5, 'JPY'],
    ]);
  });

  it('never overwrites a newer version with an older one delivered later', async () => {
    const local = build('crm', crm);
    await deliver(local, [raw(fileEvent('ooo', 2, { name: 'new.pdf' }))]);
    const response = await deliver(local, [raw(fileEvent('ooo', 1, { name: 'old.pdf' }))]);

    expect(response.batchItemFailures).toEqual([]);
    expect(bed.sandbox.crm.files().map((f) => [f.version, f.name])).toEqual([[2, 'new.pdf']]);
    const [entry] = await local.ledger.entries('file', 'ooo');
    expect(entry).toMatchObject({ status: 'synced', entityVersion: 2 });
    expect(entry?.log.at(-1)).toMatchObject({ event: 'skipped_stale', version: 1 });
    expect(local.metrics.total('StaleSkipped')).toBe(1);
  });

  it('keeps credentials out of every log line and metric of a run whose credentials are rejected', async () => {
    const lines: string[] = [];
    const capture = (chunk: unknown) => {
      lines.push(String(chunk));
      return true;
    };
    const stdout = vi.spyOn(process.stdout, 'write').mockImplementation(capture);
    const stderr = vi.spyOn(process.stderr, 'write').mockImplementation(capture);
    const oldKey = bed.sandbox.credentials('payments').secretKey;
    try {
      const logger = new Logger({ serviceName: 'integration-hub', logLevel: 'DEBUG' });
      const metrics = new RecordingMetricsSink();
      const local = build('payments', payments, { logger, metrics });
      bed.sandbox.rotateCredentials('payments'); // the stored secret is now wrong, even when fetched fresh
      const response = await deliver(local, [raw({ action: 'charge', paymentId: 'p-x', orderId: 'o', customerId: 'c', amount: '1.00', currency: 'USD' })]);

      expect(response.batchItemFailures).toHaveLength(1);
      expect(lines.some((line) => line.includes('AuthenticationFailed'))).toBe(true);
      const everything = [...lines, JSON.stringify([...metrics.counts])].join('\n');
      expect(everything).not.toContain(oldKey);
      expect(everything).not.toContain(bed.sandbox.credentials('payments').secretKey);
    } finally {
      stdout.mockRestore();
      stderr.mockRestore();
    }
  });
});

/** Records parks and copies; the copies fail once `failRequeue` is set (the SQS send refused). */
class RecordingMessageParkerWithFailures extends RecordingMessageParkerImpl {
  failRequeue = false;

  override async requeue(message: Parameters<RecordingMessageParkerImpl['requeue']>[0], delaySeconds: number, attributes: Record<string, string>): Promise<void> {
    if (this.failRequeue) throw new Error('SQS refused the copy');
    return super.requeue(message, delaySeconds, attributes);
  }
}
