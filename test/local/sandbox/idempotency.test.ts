import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { chargeBody, crmToken, errorCode, fileBody, postFile, postJson, postPayments } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42, ...options });
  return sandbox;
}

describe('sandbox Idempotency-Key', () => {
  it('replays the stored status and body byte for byte with Idempotent-Replayed: true and no new side effect', async () => {
    const s = await start();
    const first = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'order-1001' });
    const firstText = await first.text();
    const second = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'order-1001' });
    expect(first.status).toBe(201);
    expect(first.headers.get('idempotent-replayed')).toBeNull();
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe(firstText);
    expect(s.payments.charges()).toHaveLength(1);
    expect(s.sideEffects('payments')).toHaveLength(1);
    expect(s.journal.entries({ provider: 'payments', path: '/charges' }).map((e) => [e.sideEffect, e.replayed])).toEqual([
      [true, false],
      [false, true],
    ]);
  });

  it('treats the same JSON with keys in another order as the same request', async () => {
    const s = await start();
    const body = chargeBody();
    const reordered = Object.fromEntries(Object.entries(body).reverse());
    await postPayments(s, '/charges', body, { 'idempotency-key': 'k' });
    const replay = await postPayments(s, '/charges', reordered, { 'idempotency-key': 'k' });
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(s.payments.charges()).toHaveLength(1);
  });

  it('answers 422 idempotency_key_reused for the same key with a different body, and creates nothing', async () => {
    const s = await start();
    await postPayments(s, '/charges', chargeBody({ amount: 100 }), { 'idempotency-key': 'k' });
    const reused = await postPayments(s, '/charges', chargeBody({ amount: 200 }), { 'idempotency-key': 'k' });
    expect(reused.status).toBe(422);
    expect(await errorCode(reused)).toBe('idempotency_key_reused');
    expect(s.payments.charges().map((charge) => charge.amount)).toEqual([100]);
  });

  it('answers 422 for the same key on another endpoint', async () => {
    const s = await start();
    const charge = (await (await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k' })).json()) as { id: string };
    const refund = await postPayments(s, '/refunds', { chargeId: charge.id }, { 'idempotency-key': 'k' });
    expect(refund.status).toBe(422);
    expect(s.payments.refunds()).toHaveLength(0);
  });

  it('answers 409 idempotency_in_progress to a concurrent request with the same key, and creates one resource', async () => {
    const s = await start();
    // The key is held while the first request "processes" (its injected latency).
    s.setFaults('payments', { latencyMs: 300 });
    const [a, b] = await Promise.all([
      postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'concurrent' }),
      postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'concurrent' }),
    ]);
    const statuses = [a.status, b.status].sort();
    expect(statuses).toEqual([201, 409]);
    const conflict = a.status === 409 ? a : b;
    expect(await errorCode(conflict)).toBe('idempotency_in_progress');
    expect(s.payments.charges()).toHaveLength(1);
    // Once the first one finished, a retry replays it.
    s.clearFaults();
    const retry = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'concurrent' });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(s.payments.charges()).toHaveLength(1);
  });

  it('creates a resource for every request without a key', async () => {
    const s = await start();
    await postPayments(s, '/charges', chargeBody());
    await postPayments(s, '/charges', chargeBody());
    expect(s.payments.charges()).toHaveLength(2);
    expect(s.sideEffects('payments').map((effect) => effect.id)).toEqual(['ch_1', 'ch_2']);
  });

  it('does not save a validation failure: the same key with a corrected body then succeeds', async () => {
    const s = await start();
    const invalid = await postPayments(s, '/charges', chargeBody({ currency: 'euro' }), { 'idempotency-key': 'fix-me' });
    expect(invalid.status).toBe(400);
    const fixed = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'fix-me' });
    expect(fixed.status).toBe(201);
    expect(fixed.headers.get('idempotent-replayed')).toBeNull();
  });

  it('replays a business error (refund beyond the charge) like any executed request', async () => {
    const s = await start();
    const charge = (await (await postPayments(s, '/charges', chargeBody({ amount: 100 }))).json()) as { id: string };
    const first = await postPayments(s, '/refunds', { chargeId: charge.id, amount: 500 }, { 'idempotency-key': 'r' });
    const firstText = await first.text();
    const second = await postPayments(s, '/refunds', { chargeId: charge.id, amount: 500 }, { 'idempotency-key': 'r' });
    expect([first.status, second.status]).toEqual([400, 400]);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe(firstText);
  });

  it('scopes keys per provider', async () => {
    const s = await start();
    const token = await crmToken(s);
    const file = await postFile(s, token, fileBody(), { 'idempotency-key': 'shared-key' });
    const charge = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'shared-key' });
    expect([file.status, charge.status]).toEqual([201, 201]);
    expect(charge.headers.get('idempotent-replayed')).toBeNull();
  });

  it('replays a CRM file upload retried after a credential rotation', async () => {
    const s = await start();
    const first = await postFile(s, await crmToken(s), fileBody(), { 'idempotency-key': 'file:dms-file-42:v3' });
    const firstText = await first.text();
    s.rotateCredentials('crm');
    const retry = await postFile(s, await crmToken(s), fileBody(), { 'idempotency-key': 'file:dms-file-42:v3' });
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
    expect(await retry.text()).toBe(firstText);
    expect(s.crm.files()).toHaveLength(1);
  });

  it('checks credentials before replaying: a replay with a bad credential is a 401', async () => {
    const s = await start();
    await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k' });
    const response = await postJson(`${s.providerUrl('payments')}/charges`, chargeBody(), { authorization: 'Bearer sk_test_nope', 'idempotency-key': 'k' });
    expect(response.status).toBe(401);
  });

  it('rejects an Idempotency-Key longer than 255 characters with 400', async () => {
    const s = await start();
    const response = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'x'.repeat(256) });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe('invalid_idempotency_key');
    expect(s.payments.charges()).toHaveLength(0);
  });

  it('forgets keys on reset', async () => {
    const s = await start();
    await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k' });
    s.reset();
    const again = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k' });
    expect(again.headers.get('idempotent-replayed')).toBeNull();
    expect(s.payments.charges().map((charge) => charge.id)).toEqual(['ch_1']);
  });
});
