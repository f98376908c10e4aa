import { afterEach, describe, expect, it } from 'vitest';
import { mulberry32, SeededRandom } from '../../../local/sandbox/random.js';
import { PROVIDER_NAMES, type Sandbox, SandboxConfigError, startSandbox } from '../../../local/sandbox/index.js';
import { PROVIDER_FACTORIES } from '../../../local/sandbox/providers.js';
import { chargeBody, errorCode, genericAuthHeaders, get, postJson, postPayments } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

/** Resolves with the promise's outcome, or rejects if it takes longer than `ms` (a hang, not a speed check). */
function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return Promise.race([promise, new Promise<T>((_, reject) => setTimeout(() => reject(new Error(`still pending after ${ms} ms`)), ms).unref())]);
}

describe('sandbox server', () => {
  it('listens on loopback and mounts each provider of PROVIDER_FACTORIES under its prefix', async () => {
    const s = await startSandbox();
    sandbox = s;
    expect(s.baseUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(PROVIDER_NAMES).toEqual(Object.keys(PROVIDER_FACTORIES));
    expect(PROVIDER_NAMES.length).toBeGreaterThan(0);
    for (const name of PROVIDER_NAMES) {
      expect(s.providerUrl(name)).toBe(`${s.baseUrl}/${name}`);
      expect(s[name].name).toBe(name);
      const health = await get(`${s.providerUrl(name)}/health`);
      expect([name, health.status]).toEqual([name, 200]);
      await health.arrayBuffer();
    }
    expect(s.journal.entries().map((entry) => entry.provider)).toEqual(PROVIDER_NAMES);
  });

  it('mounts generic providers next to the dedicated ones, each under its own prefix', async () => {
    const s = await startSandbox({
      generic: [
        { name: 'helpdesk', auth: 'bearer' },
        { name: 'billing', auth: { scheme: 'api_key', headerName: 'X-Billing-Key' }, routes: [{ method: 'POST', path: '/invoices' }] },
      ],
    });
    sandbox = s;
    const mounted = [...PROVIDER_NAMES, 'helpdesk', 'billing'] as const;
    for (const name of mounted) {
      expect(s.providerUrl(name)).toBe(`${s.baseUrl}/${name}`);
      const health = await get(`${s.providerUrl(name)}/health`);
      expect([name, health.status]).toEqual([name, 200]);
      await health.arrayBuffer();
    }
    const invoice = await postJson(`${s.providerUrl('billing')}/invoices`, { amount: 10 }, await genericAuthHeaders(s, 'billing'));
    expect([invoice.status, await invoice.json()]).toEqual([201, { id: 'billing_1' }]);
    expect(s.sideEffects().map((effect) => effect.provider)).toEqual(['billing']);
    expect(s.generic('billing').resources()).toHaveLength(1);
    expect(s.generic('helpdesk').resources()).toHaveLength(0);
    const outside = await get(`${s.baseUrl}/warehouse/labels`);
    expect(((await outside.json()) as { error: { message: string } }).error.message).toMatch(/known: .*helpdesk, billing$/);
    expect(() => s.generic('warehouse' as never)).toThrow(SandboxConfigError);
  });

  it('answers 200 concurrent requests over keep-alive connections, each journaled once', async () => {
    sandbox = await startSandbox({ faults: { payments: { latencyMs: 20 } } });
    const s = sandbox;
    const responses = await Promise.all(Array.from({ length: 200 }, (_, i) => postPayments(s, '/charges', chargeBody({ reference: `order-${i}` }))));
    expect(responses.map((response) => response.status)).toEqual(Array.from({ length: 200 }, () => 201));
    await Promise.all(responses.map((response) => response.arrayBuffer()));
    expect(s.payments.charges()).toHaveLength(200);
    expect(new Set(s.payments.charges().map((charge) => charge.id)).size).toBe(200);
    expect(s.journal.entries().map((entry) => entry.seq)).toEqual(Array.from({ length: 200 }, (_, i) => i + 1));
  });

  it('closes with idle keep-alive connections and a request still in its latency, which fails on the client', async () => {
    sandbox = await startSandbox({ faults: { crm: { latencyMs: 60_000 } } });
    const s = sandbox;
    await (await get(`${s.providerUrl('payments')}/health`)).text();
    const pending = get(`${s.providerUrl('crm')}/health`).then(
      () => 'answered',
      () => 'failed',
    );
    await new Promise((resolve) => setTimeout(resolve, 20));
    await within(s.close(), 5_000);
    expect(await pending).toBe('failed');
    expect(s.journal.entries({ provider: 'crm' })).toMatchObject([{ status: null, clientAborted: false }]);
  });

  it('close() is idempotent', async () => {
    const s = await startSandbox();
    await s.close();
    await within(s.close(), 5_000);
  });

  it('rejects bodies over the configured size with 413 and nothing created', async () => {
    sandbox = await startSandbox({ maxBodyBytes: 256 });
    const response = await postPayments(sandbox, '/charges', chargeBody({ description: 'x'.repeat(500) }));
    expect(response.status).toBe(413);
    expect(await errorCode(response)).toBe('payload_too_large');
    expect(sandbox.payments.charges()).toHaveLength(0);
  });

  it('answers 404 to a path outside every provider', async () => {
    sandbox = await startSandbox();
    const response = await get(`${sandbox.baseUrl}/warehouse/labels`);
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('not_found');
  });
});

describe('sandbox randomness', () => {
  it('mulberry32 repeats its sequence for a seed, differs across seeds, and stays in [0, 1)', () => {
    const a = mulberry32(42);
    const b = mulberry32(42);
    const c = mulberry32(43);
    const first = Array.from({ length: 100 }, () => a());
    expect(Array.from({ length: 100 }, () => b())).toEqual(first);
    expect(Array.from({ length: 100 }, () => c())).not.toEqual(first);
    for (const value of first) {
      expect(value).toBeGreaterThanOrEqual(0);
      expect(value).toBeLessThan(1);
    }
  });

  it('gives independent streams per label and rewinds on restart', () => {
    const faults = new SeededRandom(42, 'payments:faults');
    const credentials = new SeededRandom(42, 'payments:credentials');
    const firstFaults = [faults.float(), faults.float()];
    expect([credentials.float(), credentials.float()]).not.toEqual(firstFaults);
    faults.restart();
    expect([faults.float(), faults.float()]).toEqual(firstFaults);
    expect(faults.token(16)).toMatch(/^[0-9a-zA-Z]{16}$/);
  });
});
