import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { basicAuth, chargeBody, crmToken, eventually, fileBody, get, postFile, postJson, postPayments } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42, ...options });
  return sandbox;
}

describe('sandbox request journal', () => {
  it('records provider, method, path, route, status, Idempotency-Key, correlation id, auth scheme and the created resource', async () => {
    const s = await start();
    const response = await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'key-1', 'x-correlation-id': 'corr-1' });
    expect(response.headers.get('x-correlation-id')).toBe('corr-1');
    expect(s.journal.entries()).toEqual([
      expect.objectContaining({
        seq: 1,
        provider: 'payments',
        method: 'POST',
        path: '/charges',
        route: '/charges',
        status: 201,
        idempotencyKey: 'key-1',
        correlationId: 'corr-1',
        authScheme: 'Bearer',
        sideEffect: true,
        created: { type: 'charge', id: 'ch_1' },
        replayed: false,
        fault: null,
        clientAborted: false,
      }),
    ]);
    const [entry] = s.journal.entries();
    expect(entry?.durationMs).toBeGreaterThanOrEqual(0);
    expect(entry?.at).toBeGreaterThan(0);
  });

  it('records the route pattern of parameterised paths and requests to unknown providers', async () => {
    const s = await start();
    await get(`${s.providerUrl('payments')}/charges/ch_77`, { authorization: `Bearer ${s.credentials('payments').secretKey}` });
    await get(`${s.baseUrl}/warehouse/items`);
    expect(s.journal.entries().map((e) => [e.provider, e.path, e.route, e.status])).toEqual([
      ['payments', '/charges/ch_77', '/charges/:id', 404],
      [null, '/warehouse/items', null, 404],
    ]);
  });

  it('counts calls per provider and path, and side effects per provider', async () => {
    const s = await start();
    const token = await crmToken(s);
    await postFile(s, token, fileBody({ externalRef: 'a' }));
    await postFile(s, token, fileBody({ externalRef: 'b' }));
    await postPayments(s, '/charges', chargeBody());
    await get(`${s.providerUrl('payments')}/health`);
    expect(s.journal.count({ provider: 'crm', path: '/files' })).toBe(2);
    expect(s.journal.count({ provider: 'crm', method: 'POST', status: 201 })).toBe(2);
    expect(s.journal.countsByPath()).toEqual({ crm: { '/oauth/token': 1, '/files': 2 }, payments: { '/charges': 1, '/health': 1 } });
    expect(s.journal.count({ sideEffect: true })).toBe(3);
    expect(s.sideEffects('crm').map((effect) => effect.id)).toEqual(['crm_file_1', 'crm_file_2']);
    expect(s.sideEffects().map((effect) => effect.provider)).toEqual(['crm', 'crm', 'payments']);
  });

  it('keeps processing a request whose client gave up during the latency, and journals its side effect', async () => {
    const s = await start({ faults: { payments: { latencyMs: 200 } } });
    await expect(postJson(
      `${s.providerUrl('payments')}/charges`,
      chargeBody(),
      { authorization: `Bearer ${s.credentials('payments').secretKey}`, 'idempotency-key': 'late' },
      AbortSignal.timeout(50),
    )).rejects.toMatchObject({ name: 'TimeoutError' });
    await eventually(() => s.journal.count({ provider: 'payments' }) === 1);
    expect(s.journal.entries()[0]).toMatchObject({ status: null, clientAborted: true, sideEffect: true, created: { type: 'charge', id: 'ch_1' } });
    expect(s.payments.charges()).toHaveLength(1);
  });

  it('clear() empties the journal but keeps provider state', async () => {
    const s = await start();
    await postPayments(s, '/charges', chargeBody());
    s.journal.clear();
    expect(s.journal.entries()).toEqual([]);
    expect(s.payments.charges()).toHaveLength(1);
    await get(`${s.providerUrl('payments')}/health`);
    expect(s.journal.count()).toBe(1);
  });

  it('never contains credentials, tokens or secrets, even wrong or rotated ones', async () => {
    const s = await start();
    const secrets: string[] = [];
    const crm = s.credentials('crm');
    secrets.push(crm.clientSecret);
    const oldToken = await crmToken(s);
    secrets.push(oldToken);
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: crm.clientId, client_secret: crm.clientSecret });
    await fetch(`${s.providerUrl('crm')}/oauth/token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    await postFile(s, oldToken, fileBody(), { 'idempotency-key': 'f1' });
    const rotatedCrm = s.rotateCredentials('crm');
    secrets.push(rotatedCrm.clientSecret);
    await postFile(s, oldToken);
    const newToken = await crmToken(s);
    secrets.push(newToken);
    await postFile(s, newToken);

    const payments = s.credentials('payments');
    secrets.push(payments.secretKey);
    await postPayments(s, '/charges', chargeBody());
    secrets.push(s.rotateCredentials('payments').secretKey);
    await postJson(`${s.providerUrl('payments')}/charges`, chargeBody(), { authorization: `Bearer ${payments.secretKey}` });
    await postPayments(s, '/charges', chargeBody());
    // Wrong secrets, and a secret pasted as the whole header without a scheme.
    const wrong = 'sk_test_WRONGWRONGWRONGWRONG00';
    secrets.push(wrong);
    await postJson(`${s.providerUrl('payments')}/charges`, chargeBody(), { authorization: `Bearer ${wrong}` });
    await postJson(`${s.providerUrl('payments')}/charges`, chargeBody(), { authorization: wrong });
    await fetch(`${s.providerUrl('crm')}/oauth/token`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(crm.clientId, 'wrong-secret-value') },
      body: 'grant_type=client_credentials',
    });
    secrets.push('wrong-secret-value', Buffer.from(`${crm.clientId}:wrong-secret-value`).toString('base64'));

    const viaApi = JSON.stringify(s.journal.entries());
    const viaHttp = await (await fetch(`${s.baseUrl}/_sandbox/journal`)).text();
    expect(s.journal.count()).toBe(12);
    for (const secret of secrets) {
      expect(viaApi).not.toContain(secret);
      expect(viaHttp).not.toContain(secret);
    }
    expect(s.journal.entries().map((entry) => entry.authScheme)).toContain('other');
    expect(JSON.stringify(s.sideEffects())).not.toContain(payments.secretKey);
  });
});
