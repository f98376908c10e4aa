import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { payments, toMinorUnits, toPaymentStatus } from '../../../functions/integrations/payments.js';
import { MalformedResponseError } from '../../../functions/runtime/errors.js';

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
    const ok = payments.definition.input.safeParse({ action: 'charge', paymentId: 'p', orderId: 'o', customerId: 'c', amount: '1.00', currency: 'eur' });
    expect(ok.success && ok.data.action === 'charge' && ok.data.currency).toBe('EUR');
    const bad = payments.definition.input.safeParse({ action: 'charge', paymentId: 'p', orderId: 'o', customerId: 'c', amount: '1.001', currency: 'eur' });
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
