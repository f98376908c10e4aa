/**
 * The outage benchmark's traffic: valid payment charges, each with its own business key (`paymentId`), sent as a
 * raw JSON body with the business key as the `correlationId` attribute. Every strategy forwards the correlation id
 * as `X-Correlation-Id`, so the sandbox's side effects say which business key each charge belongs to.
 */

/** Run id prefix of the charges that warm the instances before the measured traffic (left out of the figures). */
export const PREWARM_PREFIX = 'warm-';

/** A `PaymentRequested` (charge) event as the payments adapter accepts it. */
export interface ChargeEvent {
  readonly action: 'charge';
  readonly paymentId: string;
  readonly orderId: string;
  readonly customerId: string;
  readonly amount: string;
  readonly currency: string;
}

/** The i-th charge of a run: unique business key, valid payload. */
export function chargeEvent(runId: string, index: number): ChargeEvent {
  return {
    action: 'charge',
    paymentId: `pay-${runId}-${index}`,
    orderId: `order-${runId}-${index}`,
    customerId: `cus-${index % 97}`,
    amount: `${10 + (index % 90)}.${String(index % 100).padStart(2, '0')}`,
    currency: 'EUR',
  };
}

/** The business key of a message body (its `paymentId`); undefined for anything else. */
export function businessKeyOf(body: string): string | undefined {
  try {
    const parsed = JSON.parse(body) as { paymentId?: unknown };
    return typeof parsed.paymentId === 'string' ? parsed.paymentId : undefined;
  } catch {
    return undefined;
  }
}

/** The Idempotency-Key the hub sends for a charge (`<integration>:<adapter key>`); the plain adapters send the same. */
export function chargeIdempotencyKey(event: Pick<ChargeEvent, 'paymentId'>): string {
  return `payments:charge:${event.paymentId}`;
}
