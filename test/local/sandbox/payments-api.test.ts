import { afterEach, describe, expect, it } from 'vitest';
import { CHARGE_STATUSES, type Sandbox, SandboxConfigError, startSandbox } from '../../../local/sandbox/index.js';
import { chargeBody, errorCode, get, postJson, postPayments } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42 });
  return sandbox;
}

async function createCharge(s: Sandbox, overrides: Record<string, unknown> = {}): Promise<{ id: string; status: string; amount: number }> {
  const response = await postPayments(s, '/charges', chargeBody(overrides));
  expect(response.status).toBe(201);
  return (await response.json()) as { id: string; status: string; amount: number };
}

describe('payments sandbox: charges', () => {
  it('creates a succeeded charge with 201 and stores it', async () => {
    const s = await start();
    const response = await postPayments(s, '/charges', chargeBody());
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ id: 'ch_1', status: 'succeeded', amount: 1999, currency: 'EUR', reference: 'order-1001' });
    expect(s.payments.charges()).toHaveLength(1);
    expect(s.payments.charge('ch_1')).toMatchObject({ customerId: 'cus_123', amountRefunded: 0 });
  });

  it('requires the secret key: none gives 401 missing_credentials, a wrong one 401 invalid_credentials', async () => {
    const s = await start();
    const none = await postJson(`${s.providerUrl('payments')}/charges`, chargeBody());
    expect(none.status).toBe(401);
    expect(await errorCode(none)).toBe('missing_credentials');
    const wrong = await postJson(`${s.providerUrl('payments')}/charges`, chargeBody(), { authorization: 'Bearer sk_test_wrong' });
    expect(wrong.status).toBe(401);
    expect(await errorCode(wrong)).toBe('invalid_credentials');
    expect(s.payments.charges()).toHaveLength(0);
  });

  it.each([
    ['a zero amount', { amount: 0 }, 'amount'],
    ['a fractional amount', { amount: 12.5 }, 'amount'],
    ['a lower-case currency', { currency: 'eur' }, 'currency'],
    ['a missing customerId', { customerId: undefined }, 'customerId'],
    ['an unknown field', { card: '4242' }, 'card'],
  ])('rejects a charge with %s with 400 invalid_request', async (_label, overrides, field) => {
    const s = await start();
    const response = await postPayments(s, '/charges', chargeBody(overrides));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; message: string } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.message).toContain(field);
    expect(s.payments.charges()).toHaveLength(0);
  });

  it.each(CHARGE_STATUSES)('takes the status %s from a status= marker in the reference', async (status) => {
    const s = await start();
    const charge = await createCharge(s, { reference: `order-7;status=${status}` });
    expect(charge.status).toBe(status);
  });

  it('lets the chargeStatus fault option override the reference marker until faults are cleared', async () => {
    const s = await start();
    s.setFaults('payments', { chargeStatus: 'requires_action' });
    expect((await createCharge(s, { reference: 'order-8;status=failed' })).status).toBe('requires_action');
    expect(s.faults('payments')).toEqual({ chargeStatus: 'requires_action' });
    s.clearFaults('payments');
    expect((await createCharge(s)).status).toBe('succeeded');
  });

  it('rejects an invalid chargeStatus, and chargeStatus on the CRM, listing every problem', async () => {
    const s = await start();
    let thrown: unknown;
    try {
      s.setFaults('payments', { chargeStatus: 'paid' as 'succeeded', errorRate: 3 });
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SandboxConfigError);
    expect((thrown as SandboxConfigError).problems).toEqual([expect.stringContaining('errorRate'), expect.stringContaining('chargeStatus')]);
    // @ts-expect-error chargeStatus is a payments-only fault option
    expect(() => s.setFaults('crm', { chargeStatus: 'failed' })).toThrow(/unknown fault option "chargeStatus"/);
    expect(s.faults('payments')).toEqual({});
  });

  it('reads a charge back by id and answers 404 for an unknown one', async () => {
    const s = await start();
    await createCharge(s);
    const auth = { authorization: `Bearer ${s.credentials('payments').secretKey}` };
    const found = await get(`${s.providerUrl('payments')}/charges/ch_1`, auth);
    expect(found.status).toBe(200);
    expect(await found.json()).toMatchObject({ id: 'ch_1', status: 'succeeded' });
    expect((await get(`${s.providerUrl('payments')}/charges/ch_404`, auth)).status).toBe(404);
  });

  it('answers the health probe with 200 without authentication', async () => {
    const s = await start();
    const response = await get(`${s.providerUrl('payments')}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('payments sandbox: refunds', () => {
  it('refunds the whole remaining amount when no amount is given', async () => {
    const s = await start();
    const charge = await createCharge(s, { amount: 5000 });
    const response = await postPayments(s, '/refunds', { chargeId: charge.id, reason: 'requested_by_customer' });
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ id: 're_1', status: 'succeeded', chargeId: charge.id, amount: 5000 });
    expect(s.payments.charge(charge.id)?.amountRefunded).toBe(5000);
  });

  it('refunds partially and rejects a refund beyond the remaining amount with 400 refund_exceeds_charge', async () => {
    const s = await start();
    const charge = await createCharge(s, { amount: 5000 });
    expect((await postPayments(s, '/refunds', { chargeId: charge.id, amount: 3000 })).status).toBe(201);
    const tooMuch = await postPayments(s, '/refunds', { chargeId: charge.id, amount: 2001 });
    expect(tooMuch.status).toBe(400);
    expect(await errorCode(tooMuch)).toBe('refund_exceeds_charge');
    expect((await postPayments(s, '/refunds', { chargeId: charge.id, amount: 2000 })).status).toBe(201);
    expect(s.payments.refunds().map((refund) => refund.amount)).toEqual([3000, 2000]);
  });

  it('answers 404 for a refund of an unknown charge', async () => {
    const s = await start();
    const response = await postPayments(s, '/refunds', { chargeId: 'ch_999' });
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('not_found');
    expect(s.payments.refunds()).toHaveLength(0);
  });

  it('refuses to refund a charge that did not succeed', async () => {
    const s = await start();
    const charge = await createCharge(s, { reference: 'order-9;status=failed' });
    const response = await postPayments(s, '/refunds', { chargeId: charge.id });
    expect(response.status).toBe(400);
    expect(await errorCode(response)).toBe('charge_not_refundable');
  });

  it('does not count a failed refund against the refundable amount', async () => {
    const s = await start();
    const charge = await createCharge(s, { amount: 1000 });
    const failed = await postPayments(s, '/refunds', { chargeId: charge.id, reason: 'status=failed' });
    expect(await failed.json()).toMatchObject({ status: 'failed', amount: 1000 });
    s.setFaults('payments', { refundStatus: 'pending' });
    const pending = await postPayments(s, '/refunds', { chargeId: charge.id });
    expect(await pending.json()).toMatchObject({ status: 'pending', amount: 1000 });
  });
});

describe('payments sandbox: credential rotation', () => {
  it('after rotation the old secret key gets 401 invalid_credentials and the new one works', async () => {
    const s = await start();
    const old = s.credentials('payments');
    const rotated = s.rotateCredentials('payments');
    expect(rotated.secretKey).toMatch(/^sk_test_\w{24}$/);
    expect(rotated.secretKey).not.toBe(old.secretKey);
    const withOld = await postJson(`${s.providerUrl('payments')}/charges`, chargeBody(), { authorization: `Bearer ${old.secretKey}` });
    expect(withOld.status).toBe(401);
    expect(await errorCode(withOld)).toBe('invalid_credentials');
    const withNew = await postJson(`${s.providerUrl('payments')}/charges`, chargeBody(), { authorization: `Bearer ${rotated.secretKey}` });
    expect(withNew.status).toBe(201);
  });
});
