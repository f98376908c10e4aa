import { afterEach, describe, expect, it } from 'vitest';
import { PROVIDER_NAMES, type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { basicAuth, chargeBody, crmToken, errorCode, genericAuthHeaders, get, postJson, postPayments, requestCrmToken } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42 });
  return sandbox;
}

function control(s: Sandbox, path: string): string {
  return `${s.baseUrl}/_sandbox${path}`;
}

describe('sandbox control endpoints', () => {
  it('POST /_sandbox/faults sets the faults of a provider, GET shows them, faults: null clears them', async () => {
    const s = await start();
    const set = await postJson(control(s, '/faults'), { provider: 'payments', faults: { status: 503, latencyMs: 5 } });
    expect(set.status).toBe(200);
    expect(await set.json()).toEqual({ provider: 'payments', faults: { status: 503, latencyMs: 5 } });
    expect((await get(`${s.providerUrl('payments')}/health`)).status).toBe(503);
    expect((await get(`${s.providerUrl('crm')}/health`)).status).toBe(200);
    expect(await (await get(control(s, '/faults'))).json()).toEqual({
      faults: Object.fromEntries(PROVIDER_NAMES.map((name) => [name, name === 'payments' ? { status: 503, latencyMs: 5 } : {}])),
    });

    await postJson(control(s, '/faults'), { provider: 'payments', faults: null });
    expect((await get(`${s.providerUrl('payments')}/health`)).status).toBe(200);
  });

  it('POST /_sandbox/faults with faults: null and no provider clears every provider', async () => {
    const s = await start();
    s.setFaults('crm', { status: 500 });
    s.setFaults('payments', { status: 500 });
    expect((await postJson(control(s, '/faults'), { faults: null })).status).toBe(200);
    expect(s.faults('crm')).toEqual({});
    expect(s.faults('payments')).toEqual({});
  });

  it('accepts provider-specific options like chargeStatus over HTTP', async () => {
    const s = await start();
    await postJson(control(s, '/faults'), { provider: 'payments', faults: { chargeStatus: 'pending' } });
    const charge = await postPayments(s, '/charges', chargeBody());
    expect(await charge.json()).toMatchObject({ status: 'pending' });
  });

  it('answers 400 invalid_faults listing every problem, and 404 for an unknown provider', async () => {
    const s = await start();
    const invalid = await postJson(control(s, '/faults'), { provider: 'crm', faults: { errorRate: 'often', hang: 1, unknown: true } });
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { error: { code: string; problems: string[] } };
    expect(body.error.code).toBe('invalid_faults');
    expect(body.error.problems).toHaveLength(3);
    const unknown = await postJson(control(s, '/faults'), { provider: 'warehouse', faults: {} });
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe('unknown_provider');
  });

  it('GET /_sandbox/journal returns filtered entries and does not journal control requests', async () => {
    const s = await start();
    await postPayments(s, '/charges', chargeBody(), { 'x-correlation-id': 'c-1' });
    await get(`${s.providerUrl('payments')}/health`);
    await get(`${s.providerUrl('crm')}/health`);
    const all = (await (await get(control(s, '/journal'))).json()) as { count: number };
    expect(all.count).toBe(3);
    const filtered = (await (await get(control(s, '/journal?provider=payments&sideEffect=true'))).json()) as {
      count: number;
      entries: { path: string; correlationId: string }[];
    };
    expect(filtered.count).toBe(1);
    expect(filtered.entries[0]).toMatchObject({ path: '/charges', correlationId: 'c-1' });
    expect((await get(control(s, '/journal?colour=red'))).status).toBe(400);
    expect(s.journal.count()).toBe(3);
  });

  it('DELETE /_sandbox/journal clears the journal', async () => {
    const s = await start();
    await get(`${s.providerUrl('crm')}/health`);
    expect((await fetch(control(s, '/journal'), { method: 'DELETE' })).status).toBe(200);
    expect(s.journal.count()).toBe(0);
  });

  it('POST /_sandbox/rotate/:provider returns new credentials and the old ones stop working', async () => {
    const s = await start();
    const old = s.credentials('crm');
    const response = await fetch(control(s, '/rotate/crm'), { method: 'POST' });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { provider: string; credentials: { clientId: string; clientSecret: string } };
    expect(body.provider).toBe('crm');
    expect(body.credentials).toEqual(s.credentials('crm'));
    expect(body.credentials.clientSecret).not.toBe(old.clientSecret);
    expect((await requestCrmToken(s, old)).status).toBe(401);
    expect(await crmToken(s, body.credentials)).toMatch(/^crm_at_/);
  });

  it('GET /_sandbox/credentials/:provider returns the current credentials', async () => {
    const s = await start();
    const response = await get(control(s, '/credentials/payments'));
    expect(await response.json()).toEqual({ provider: 'payments', credentials: s.credentials('payments') });
    expect((await get(control(s, '/credentials/nope'))).status).toBe(404);
  });

  it('GET /_sandbox/side-effects lists created resources', async () => {
    const s = await start();
    await postPayments(s, '/charges', chargeBody(), { 'idempotency-key': 'k-1' });
    const body = (await (await get(control(s, '/side-effects?provider=payments'))).json()) as { count: number; sideEffects: unknown[] };
    expect(body.count).toBe(1);
    expect(body.sideEffects[0]).toMatchObject({ provider: 'payments', type: 'charge', id: 'ch_1', idempotencyKey: 'k-1' });
  });

  it('POST /_sandbox/reset clears resources, journal and faults but keeps credentials', async () => {
    const s = await start();
    const key = s.credentials('payments');
    await postPayments(s, '/charges', chargeBody());
    s.setFaults('crm', { status: 500 });
    expect((await fetch(control(s, '/reset'), { method: 'POST' })).status).toBe(200);
    expect(s.payments.charges()).toEqual([]);
    expect(s.journal.count()).toBe(0);
    expect(s.sideEffects()).toEqual([]);
    expect(s.faults('crm')).toEqual({});
    expect(s.credentials('payments')).toEqual(key);
    expect(await (await postPayments(s, '/charges', chargeBody())).json()).toMatchObject({ id: 'ch_1' });
  });

  it('GET /_sandbox/providers lists the providers and their URLs, unknown control paths get 404', async () => {
    const s = await start();
    const body = await (await get(control(s, '/providers'))).json();
    expect(body).toEqual({ providers: PROVIDER_NAMES.map((name) => ({ name, url: `${s.baseUrl}/${name}` })) });
    expect(PROVIDER_NAMES).toContain('payments');
    expect((await get(control(s, '/nothing'))).status).toBe(404);
  });

  it('drives a generic provider by name: providers, faults, journal, side effects, credentials and rotation', async () => {
    const s = await startSandbox({ seed: 42, generic: [{ name: 'helpdesk', auth: 'basic' }] });
    sandbox = s;
    const providers = (await (await get(control(s, '/providers'))).json()) as { providers: { name: string; url: string }[] };
    expect(providers.providers.map((provider) => provider.name)).toEqual([...PROVIDER_NAMES, 'helpdesk']);
    expect(providers.providers.at(-1)).toEqual({ name: 'helpdesk', url: s.providerUrl('helpdesk') });

    expect((await postJson(control(s, '/faults'), { provider: 'helpdesk', faults: { status: 503 } })).status).toBe(200);
    const faults = (await (await get(control(s, '/faults'))).json()) as { faults: Record<string, unknown> };
    expect(faults.faults.helpdesk).toEqual({ status: 503 });
    expect((await get(`${s.providerUrl('helpdesk')}/health`)).status).toBe(503);
    const invalid = await postJson(control(s, '/faults'), { provider: 'helpdesk', faults: { chargeStatus: 'failed' } });
    expect([invalid.status, await errorCode(invalid)]).toEqual([400, 'invalid_faults']);
    await postJson(control(s, '/faults'), { provider: 'helpdesk', faults: null });

    const credentials = (await (await get(control(s, '/credentials/helpdesk'))).json()) as { credentials: { username: string; password: string } };
    expect(credentials).toEqual({ provider: 'helpdesk', credentials: s.credentials('helpdesk') });
    const created = await postJson(`${s.providerUrl('helpdesk')}/tickets`, {}, { ...(await genericAuthHeaders(s, 'helpdesk')), 'idempotency-key': 'k-1' });
    expect(created.status).toBe(201);
    const journal = (await (await get(control(s, '/journal?provider=helpdesk&sideEffect=true'))).json()) as { count: number; entries: unknown[] };
    expect(journal.count).toBe(1);
    expect(journal.entries[0]).toMatchObject({ provider: 'helpdesk', path: '/tickets', status: 201, idempotencyKey: 'k-1' });
    const effects = (await (await get(control(s, '/side-effects?provider=helpdesk'))).json()) as { count: number; sideEffects: unknown[] };
    expect(effects.sideEffects).toMatchObject([{ provider: 'helpdesk', type: 'resource', id: 'helpdesk_1', idempotencyKey: 'k-1' }]);

    const rotated = (await (await fetch(control(s, '/rotate/helpdesk'), { method: 'POST' })).json()) as { credentials: { username: string; password: string } };
    expect(rotated.credentials).toEqual(s.credentials('helpdesk'));
    const old = credentials.credentials;
    expect((await postJson(`${s.providerUrl('helpdesk')}/tickets`, {}, { authorization: basicAuth(old.username, old.password) })).status).toBe(401);
  });
});
