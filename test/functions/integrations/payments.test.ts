import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isChargeWebhook, payments, toChargeStatus, toMinorUnits, toPaymentStatus } from '../../../functions/integrations/payments.js';
import { MalformedResponseError } from '../../../functions/runtime/errors.js';
import { sendWith } from '../../support/adapter-test-kit.js';
import { parse } from 'zod/mini';
import { checkSchema } from '../../../functions/runtime/schema.js';

describe('payments adapter', () => {
  it('converts major units to minor units per currency without float drift', () => {
    expect(toMinorUnits('12.34', 'EUR')).toBe(1234);
    expect(toMinorUnits(19.99, 'USD')).toBe(1999);
    expect(toMinorUnits('5', 'JPY')).toBe(5);
    expect(toMinorUnits('1.5', 'KWD')).toBe(1500);
    expect(toMinorUnits('0.10', 'EUR')).toBe(10);
    expect(() => toMinorUnits('1.234', 'EUR')).toThrow(RangeError);
  });

  it('round-trips any cent amount written as a decimal string', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: 10_000_000_000 }), (cents) => {
        const text = `${Math.floor(cents / 100)}.${String(cents % 100).padStart(2, '0')}`;
        expect(toMinorUnits(text, 'EUR')).toBe(cents);
      }),
    );
  });

  it('maps gateway statuses to ours and refuses unknown ones', () => {
    expect(toPaymentStatus('succeeded')).toBe('completed');
    expect(toPaymentStatus('pending')).toBe('processing');
    expect(toPaymentStatus('requires_action')).toBe('processing');
    expect(toPaymentStatus('failed')).toBe('failed');
    expect(toPaymentStatus('canceled')).toBe('cancelled');
    expect(() => toPaymentStatus('exploded')).toThrow(MalformedResponseError);
  });

  it('upper-cases the currency and rejects an amount with too many decimals', () => {
    const ok = checkSchema(payments.definition.input, { action: 'charge', paymentId: 'p', orderId: 'o', customerId: 'c', amount: '1.00', currency: 'eur' });
    expect(ok.success && !isChargeWebhook(ok.data) && ok.data.action === 'charge' && ok.data.currency).toBe('EUR');
    const bad = checkSchema(payments.definition.input, { action: 'charge', paymentId: 'p', orderId: 'o', customerId: 'c', amount: '1.001', currency: 'eur' });
    expect(bad.success).toBe(false);
  });

  it('keys charges and refunds by their own ids', () => {
    const charge = { action: 'charge' as const, paymentId: 'p1', orderId: 'o', customerId: 'c', amount: 1, currency: 'EUR' };
    const refund = { action: 'refund' as const, refundId: 'r1', chargeId: 'ch_1' };
    expect(payments.definition.idempotencyKey(charge)).toBe('charge:p1');
    expect(payments.definition.idempotencyKey(refund)).toBe('refund:r1');
    expect(payments.definition.entity(refund)).toEqual({ type: 'refund', id: 'r1' });
  });
});

describe('payments adapter: gateway webhooks', () => {
  const webhook = (overrides: Record<string, unknown> = {}) => ({
    webhookId: 'evt_1',
    provider: 'payments',
    type: 'charge.refunded',
    signedAt: '2026-11-20T10:00:00.000Z',
    receivedAt: '2026-11-20T10:00:01.250Z',
    payload: { id: 'evt_1', type: 'charge.refunded', created: 1795168800, data: { object: { id: 'ch_7', status: 'succeeded', amountRefunded: 0 } } },
    ...overrides,
  });
  const parseInput = (value: unknown) => parse(payments.definition.input, value);

  it('accepts the forwarded webhook detail beside the two requests', () => {
    const parsed = parseInput(webhook());
    expect(isChargeWebhook(parsed)).toBe(true);
    expect(isChargeWebhook(parseInput({ action: 'refund', refundId: 'r1', chargeId: 'ch_1' }))).toBe(false);
  });

  it('keys a webhook by its delivery id and records it on the charge, ordered by arrival at the hub', () => {
    const parsed = parseInput(webhook());
    expect(payments.definition.idempotencyKey(parsed)).toBe('webhook:evt_1');
    expect(payments.definition.entity(parsed)).toEqual({ type: 'charge', id: 'ch_7', version: Date.parse('2026-11-20T10:00:01.250Z') });
  });

  it('reports a malformed webhook with the webhook schema\'s fields, and a malformed request with the request\'s', () => {
    const badWebhook = checkSchema(payments.definition.input, webhook({ type: 'charge.disputed', payload: { data: {} } }));
    expect(badWebhook.success).toBe(false);
    expect(badWebhook.error?.issues.map((issue) => issue.path.join('.')).sort()).toEqual(['payload.data.object', 'type']);
    const badRequest = checkSchema(payments.definition.input, { action: 'charge', paymentId: 'p', orderId: 'o', customerId: 'c', amount: '1.001', currency: 'eur' });
    expect(badRequest.error?.issues.map((issue) => issue.path.join('.'))).toEqual(['amount']);
  });

  it('reads the charge from the gateway and records the gateway\'s state, not the payload\'s', async () => {
    // The payload says "succeeded, nothing refunded"; the gateway says it was refunded in full.
    const { result, requests } = await sendWith(payments.definition, parseInput(webhook()), {
      body: { id: 'ch_7', status: 'succeeded', amount: 1290, amountRefunded: 1290, currency: 'EUR' },
    });
    expect(requests).toMatchObject([{ method: 'GET', path: '/charges/ch_7' }]);
    expect(result).toEqual({ externalId: 'ch_7', status: 'refunded' });
  });

  it('maps a charge with its refunds to our status', () => {
    expect(toChargeStatus({ status: 'succeeded', amount: 1000, amountRefunded: 0 })).toBe('completed');
    expect(toChargeStatus({ status: 'succeeded', amount: 1000, amountRefunded: 400 })).toBe('partially_refunded');
    expect(toChargeStatus({ status: 'succeeded', amount: 1000, amountRefunded: 1000 })).toBe('refunded');
    expect(toChargeStatus({ status: 'pending', amount: 1000, amountRefunded: 0 })).toBe('processing');
    expect(() => toChargeStatus({ status: 'exploded', amount: 1000, amountRefunded: 0 })).toThrow(MalformedResponseError);
  });
});
