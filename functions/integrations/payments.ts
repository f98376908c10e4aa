/**
 * Payments: charges and refunds through a card payment gateway (bearer secret key).
 * Amounts arrive as decimal strings or numbers in major units and are sent in minor units.
 *
 * The gateway's own webhooks (`charge.succeeded`, `charge.refunded`; docs/webhooks.md) arrive here too, as the detail
 * the webhook endpoint forwards (functions/webhooks/webhook-ingress.ts `ForwardedWebhook`). Their payload is not
 * trusted beyond the charge id: the adapter reads the charge from the gateway (`GET /charges/:id`) and records the
 * gateway's current state in the ledger, so a late, reordered or odd-looking event cannot record a stale status.
 */
// zod/mini: functions take the schema (`z.optional(s)`, `s.check(z.minLength(1))`), so the bundler keeps only the zod
// code used — about 25 KB against 90 KB for classic zod's method-laden schemas (functions/runtime/schema.ts).
import * as z from 'zod/mini';
import { MalformedResponseError } from '../runtime/errors.js';
import { defineIntegration } from '../runtime/define-integration.js';
import type { Schema } from '../runtime/schema.js';

/** Digits after the decimal point per ISO 4217 currency, where it is not 2. */
const MINOR_UNIT_EXCEPTIONS: Record<string, number> = { JPY: 0, KRW: 0, VND: 0, CLP: 0, ISK: 0, BHD: 3, KWD: 3, JOD: 3, OMR: 3, TND: 3 };

const currency = z.pipe(
  z.string().check(z.regex(/^[A-Za-z]{3}$/, 'must be a 3-letter ISO 4217 code')),
  z.transform((code: string) => code.toUpperCase()),
);
const amount = z.union([z.number().check(z.positive()), z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a positive decimal'))]);

const chargeRequested = z.object({
  schemaVersion: z.optional(z.literal('1')),
  action: z.literal('charge'),
  paymentId: z.string().check(z.minLength(1), z.maxLength(128)),
  orderId: z.string().check(z.minLength(1), z.maxLength(128)),
  customerId: z.string().check(z.minLength(1), z.maxLength(128)),
  amount,
  currency,
  description: z.optional(z.string().check(z.maxLength(500))),
});

const refundRequested = z.object({
  schemaVersion: z.optional(z.literal('1')),
  action: z.literal('refund'),
  refundId: z.string().check(z.minLength(1), z.maxLength(128)),
  /** The gateway's charge id (from the charge's ledger `externalId`). */
  chargeId: z.string().check(z.minLength(1), z.maxLength(128)),
  amount: z.optional(amount),
  currency: z.optional(currency),
  reason: z.optional(z.enum(['duplicate', 'fraudulent', 'requested_by_customer', 'order_cancelled'])),
});

/** `PaymentRequested` (action charge) or `RefundRequested` (action refund), schemaVersion 1. */
export const paymentEventSchema = z.discriminatedUnion('action', [chargeRequested, refundRequested]);

export type PaymentEvent = z.infer<typeof paymentEventSchema>;

/** The gateway's webhook event types this adapter handles (the catalog routes exactly these to it). */
export const CHARGE_WEBHOOK_TYPES = ['charge.succeeded', 'charge.refunded'] as const;

/**
 * A gateway webhook as the webhook endpoint forwards it (the bus event's detail). The body the gateway signed is
 * `payload`: `{ id, type, created, data: { object: <charge> } }`; only `data.object.id` is read from it.
 */
export const chargeWebhookSchema = z.object({
  webhookId: z.string().check(z.minLength(1), z.maxLength(256)),
  provider: z.string().check(z.minLength(1)),
  type: z.enum(CHARGE_WEBHOOK_TYPES),
  signedAt: z.string().check(z.minLength(1)),
  /** When the hub received it (ISO-8601): it orders the ledger's records of one charge. */
  receivedAt: z.iso.datetime({ offset: true }),
  payload: z.object({ data: z.object({ object: z.object({ id: z.string().check(z.minLength(1), z.maxLength(128)) }) }) }),
});

export type ChargeWebhook = z.infer<typeof chargeWebhookSchema>;

/** What the payments queue carries: a payment or refund request, or a gateway webhook about a charge. */
export type PaymentsInput = PaymentEvent | ChargeWebhook;

/** True for a forwarded webhook (it has a `webhookId`; requests have an `action`). */
export function isChargeWebhook(input: PaymentsInput): input is ChargeWebhook {
  return 'webhookId' in input;
}

/** Our payment states; the gateway has more. */
export type PaymentStatus = 'completed' | 'processing' | 'failed' | 'cancelled' | 'refunded' | 'partially_refunded';

/** Maps the gateway's status to ours; an unknown status is a malformed answer (retried, then DLQ by redrive). */
export function toPaymentStatus(gatewayStatus: string): PaymentStatus {
  switch (gatewayStatus) {
    case 'succeeded':
      return 'completed';
    case 'pending':
    case 'requires_action':
      return 'processing';
    case 'failed':
      return 'failed';
    case 'canceled':
      return 'cancelled';
    default:
      throw new MalformedResponseError(`Payment gateway returned an unknown status ${JSON.stringify(gatewayStatus)}`);
  }
}

/** Converts a major-unit amount to integer minor units without floating-point drift (12.34 EUR → 1234). */
export function toMinorUnits(value: number | string, currencyCode: string): number {
  const digits = MINOR_UNIT_EXCEPTIONS[currencyCode] ?? 2;
  const [whole = '0', fraction = ''] = String(value).split('.');
  if (fraction.length > digits && /[1-9]/.test(fraction.slice(digits))) {
    throw new RangeError(`${value} ${currencyCode} has more than ${digits} decimal places`);
  }
  return Number.parseInt(whole, 10) * 10 ** digits + Number.parseInt((fraction + '0'.repeat(digits)).slice(0, digits) || '0', 10);
}

const gatewayAnswer = z.object({ id: z.string().check(z.minLength(1)), status: z.string() });

/** The fields of the gateway's charge (`GET /charges/:id`) the status depends on. */
const gatewayCharge = z.object({
  id: z.string().check(z.minLength(1)),
  status: z.string(),
  amount: z.int().check(z.nonnegative()),
  amountRefunded: z.int().check(z.nonnegative()),
});

/**
 * A charge's status as ours: a succeeded charge refunded in full is `refunded`, in part `partially_refunded`;
 * otherwise {@link toPaymentStatus}.
 */
export function toChargeStatus(charge: { status: string; amount: number; amountRefunded: number }): PaymentStatus {
  if (charge.status === 'succeeded' && charge.amountRefunded > 0) return charge.amountRefunded >= charge.amount ? 'refunded' : 'partially_refunded';
  return toPaymentStatus(charge.status);
}

/** A request, validated by its own schema (amount/currency rules included). */
const paymentRequestSchema = paymentEventSchema.check(
  z.superRefine((event, context) => {
    if (event.action === 'charge' || event.amount !== undefined) {
      const code = event.currency ?? '';
      if (event.amount !== undefined && !code) {
        context.addIssue({ code: 'custom', path: ['currency'], message: 'is required with an amount' });
        return;
      }
      try {
        if (event.amount !== undefined) toMinorUnits(event.amount, code);
      } catch (error) {
        context.addIssue({ code: 'custom', path: ['amount'], message: (error as Error).message });
      }
    }
  }),
);

/**
 * The adapter's input: a webhook (it has `webhookId`) is checked against {@link chargeWebhookSchema}, anything else
 * against the request schema. Chosen up front rather than by `z.union`, so an invalid message is reported with the
 * fields of the schema it was meant for (the DLQ's `errorMessage`), not as "Invalid input".
 */
export const paymentsInputSchema: Schema<PaymentsInput> = z.pipe(
  z.unknown(),
  z.transform((value, context): PaymentsInput => {
    const webhook = value !== null && typeof value === 'object' && 'webhookId' in value;
    const parsed = webhook ? z.safeParse(chargeWebhookSchema, value) : z.safeParse(paymentRequestSchema, value);
    if (parsed.success) return parsed.data;
    // A mini transform's context has no addIssue: the issues go straight into its list (what addIssue does).
    for (const issue of parsed.error.issues) context.issues.push({ code: 'custom', path: issue.path, message: issue.message, input: value });
    return z.NEVER;
  }),
);

/** What the ledger and a replay keep of a payment operation. */
interface PaymentResult {
  externalId: string;
  status: PaymentStatus;
  [field: string]: unknown;
}

export const payments = defineIntegration({
  input: paymentsInputSchema,
  idempotencyKey: (event) => {
    if (isChargeWebhook(event)) return `webhook:${event.webhookId}`;
    return event.action === 'charge' ? `charge:${event.paymentId}` : `refund:${event.refundId}`;
  },
  entity: (event) => {
    // Ordered by arrival at the hub: a record made from a later webhook read the gateway later, so an earlier webhook
    // processed after it is skipped as stale instead of overwriting a newer state.
    if (isChargeWebhook(event)) return { type: 'charge', id: event.payload.data.object.id, version: Date.parse(event.receivedAt) };
    return event.action === 'charge' ? { type: 'payment', id: event.paymentId } : { type: 'refund', id: event.refundId };
  },
  async send(event, { http }): Promise<PaymentResult> {
    if (isChargeWebhook(event)) {
      // The gateway's state, not the payload's: an unknown charge is a 404, a permanent failure (DLQ, never retried).
      const chargeId = event.payload.data.object.id;
      const response = await http.get(`/charges/${encodeURIComponent(chargeId)}`, { schema: gatewayCharge });
      return { externalId: response.body.id, status: toChargeStatus(response.body) };
    }
    if (event.action === 'charge') {
      const response = await http.post(
        '/charges',
        {
          amount: toMinorUnits(event.amount, event.currency),
          currency: event.currency,
          reference: event.orderId,
          customerId: event.customerId,
          description: event.description,
        },
        { schema: gatewayAnswer },
      );
      return toResult(response.body);
    }
    const response = await http.post(
      '/refunds',
      {
        chargeId: event.chargeId,
        amount: event.amount !== undefined && event.currency ? toMinorUnits(event.amount, event.currency) : undefined,
        reason: event.reason,
      },
      { schema: gatewayAnswer },
    );
    return toResult(response.body);
  },
  async probe({ http }) {
    await http.get('/health');
  },
  example: (n) => ({
    schemaVersion: '1',
    action: 'charge',
    paymentId: `pay-${n}`,
    orderId: `ord-${n}`,
    customerId: 'cus_ana',
    amount: `${10 + (n % 90)}.90`,
    currency: 'EUR',
  }),
});

/** The gateway's answer (checked by the HTTP client against `gatewayAnswer`, so an answer without id or status fails the attempt). */
function toResult(answer: z.infer<typeof gatewayAnswer>): PaymentResult {
  return { externalId: answer.id, status: toPaymentStatus(answer.status) };
}

/** The Lambda entry. */
export const handler = payments.sqsHandler;
