/**
 * The payments sandbox provider (`/payments`), Stripe-flavoured: a secret key as bearer token, charges, refunds.
 *
 *   GET  /payments/health        200 { status: 'ok' }                          no auth
 *   POST /payments/charges       { amount, currency, reference, customerId, description? } -> 201 charge  idempotent
 *   GET  /payments/charges?idempotencyKey=…|reference=…  200 { data: [charge, ...] } oldest first | 400 (neither)
 *   GET  /payments/charges/:id   200 charge | 404
 *   POST /payments/refunds       { chargeId, amount?, reason? } -> 201 refund | 404 unknown charge | 400  idempotent
 *   GET  /payments/refunds/:id   200 refund | 404
 *
 * A charge's status is, in order: the `chargeStatus` fault option; a `status=<status>` marker in `reference`
 * (e.g. `order-7;status=requires_action`, like Stripe's magic test cards); otherwise `succeeded`. Refunds do the
 * same with the `refundStatus` fault option and a marker in `reason`. Only a succeeded charge can be refunded,
 * and never beyond its amount (failed refunds do not count).
 */
import * as z from 'zod';
import { bearerAuth } from './credential-schemes.js';
import {
  describeIssue,
  errorResponse,
  headerValue,
  type FaultExtrasValidation,
  invalidRequest,
  type JsonObject,
  type ProviderContext,
  type ProviderRoute,
  type RouteResponse,
  type SandboxProvider,
  HEALTH_ROUTE,
  lookupRoute,
} from './provider.js';

/** Every status a charge can have. */
export const CHARGE_STATUSES = ['succeeded', 'pending', 'requires_action', 'failed', 'canceled'] as const;
/** Status of a charge. */
export type ChargeStatus = (typeof CHARGE_STATUSES)[number];

/** Every status a refund can have. */
export const REFUND_STATUSES = ['succeeded', 'pending', 'failed'] as const;
/** Status of a refund. */
export type RefundStatus = (typeof REFUND_STATUSES)[number];

/** The payments secret key, as a secret store would hold it. */
export interface PaymentsCredentials {
  readonly secretKey: string;
}

/** A charge. */
export interface Charge {
  readonly id: string;
  readonly status: ChargeStatus;
  /** Minor units. */
  readonly amount: number;
  readonly currency: string;
  readonly reference: string;
  readonly customerId: string;
  readonly description: string | null;
  /** Set on failed charges. */
  readonly failureCode: string | null;
  /** Sum of succeeded and pending refunds, minor units. */
  readonly amountRefunded: number;
  /** ISO-8601, sandbox clock. */
  readonly createdAt: string;
  /** The Idempotency-Key of the request that created it: a caller that lost the answer asks by it (`GET /charges`). */
  readonly idempotencyKey: string | null;
}

/** A refund. */
export interface Refund {
  readonly id: string;
  readonly status: RefundStatus;
  readonly chargeId: string;
  /** Minor units. */
  readonly amount: number;
  readonly reason: string | null;
  /** ISO-8601, sandbox clock. */
  readonly createdAt: string;
}

/** Payments-specific fault options: force the status of the next charges/refunds. */
export interface PaymentsFaultExtras {
  /** Status of every new charge, overriding reference markers. */
  readonly chargeStatus?: ChargeStatus;
  /** Status of every new refund, overriding reason markers. */
  readonly refundStatus?: RefundStatus;
}

/** The payments provider plus state inspection for tests. */
export interface PaymentsApi extends SandboxProvider<PaymentsCredentials, PaymentsFaultExtras> {
  /** Every charge, in creation order. */
  charges(): readonly Charge[];
  /** One charge by id. */
  charge(id: string): Charge | undefined;
  /** Every refund, in creation order. */
  refunds(): readonly Refund[];
  /** One refund by id. */
  refund(id: string): Refund | undefined;
}

const chargeSchema = z.strictObject({
  amount: z.int().positive().max(99_999_999),
  currency: z.string().regex(/^[A-Z]{3}$/, 'expected an ISO 4217 code in upper case, e.g. "EUR"'),
  reference: z.string().min(1).max(255),
  customerId: z.string().min(1).max(255),
  description: z.string().max(1000).optional(),
});

const refundSchema = z.strictObject({
  chargeId: z.string().min(1),
  amount: z.int().positive().optional(),
  reason: z.string().max(500).optional(),
});

/** Builds the payments provider. */
export function createPaymentsApi(context: ProviderContext): PaymentsApi {
  const secrets = context.random('credentials');
  const auth = bearerAuth({
    field: 'secretKey',
    mint: () => `sk_test_${secrets.token(24)}`,
    principal: 'account',
    noun: 'secret key',
    invalidMessage: 'invalid API key',
  });
  let extras: PaymentsFaultExtras = {};
  const charges = new Map<string, Charge>();
  const refunds = new Map<string, Refund>();
  let chargeSeq = 0;
  let refundSeq = 0;

  const createCharge = (body: unknown, idempotencyKey: string | null): RouteResponse => {
    const parsed = chargeSchema.safeParse(body);
    if (!parsed.success) return invalidRequest(parsed.error.issues.map(describeIssue));
    const input = parsed.data;
    const status = extras.chargeStatus ?? marker(input.reference, CHARGE_STATUSES) ?? 'succeeded';
    chargeSeq++;
    const charge: Charge = {
      id: `ch_${chargeSeq}`,
      status,
      amount: input.amount,
      currency: input.currency,
      reference: input.reference,
      customerId: input.customerId,
      description: input.description ?? null,
      failureCode: status === 'failed' ? 'card_declined' : null,
      amountRefunded: 0,
      createdAt: new Date(context.now()).toISOString(),
      idempotencyKey,
    };
    charges.set(charge.id, charge);
    return { status: 201, body: chargeJson(charge), sideEffect: { type: 'charge', id: charge.id } };
  };

  const createRefund = (body: unknown): RouteResponse => {
    const parsed = refundSchema.safeParse(body);
    if (!parsed.success) return invalidRequest(parsed.error.issues.map(describeIssue));
    const input = parsed.data;
    const charge = charges.get(input.chargeId);
    if (!charge) return errorResponse(404, 'not_found', `no charge "${input.chargeId}"`);
    if (charge.status !== 'succeeded') {
      return errorResponse(400, 'charge_not_refundable', `charge ${charge.id} is ${charge.status}; only succeeded charges can be refunded`);
    }
    const refundable = charge.amount - charge.amountRefunded;
    if (refundable === 0) return errorResponse(400, 'charge_already_refunded', `charge ${charge.id} is fully refunded`);
    const amount = input.amount ?? refundable;
    if (amount > refundable) {
      return errorResponse(400, 'refund_exceeds_charge', `refund of ${amount} exceeds the refundable ${refundable} of charge ${charge.id}`);
    }
    const status = extras.refundStatus ?? marker(input.reason ?? '', REFUND_STATUSES) ?? 'succeeded';
    refundSeq++;
    const refund: Refund = {
      id: `re_${refundSeq}`,
      status,
      chargeId: charge.id,
      amount,
      reason: input.reason ?? null,
      createdAt: new Date(context.now()).toISOString(),
    };
    refunds.set(refund.id, refund);
    if (status !== 'failed') charges.set(charge.id, { ...charge, amountRefunded: charge.amountRefunded + amount });
    return { status: 201, body: refundJson(refund), sideEffect: { type: 'refund', id: refund.id } };
  };

  const routes: ProviderRoute[] = [
    HEALTH_ROUTE,
    { method: 'POST', path: '/charges', auth: 'required', body: 'json', idempotent: true, handle: (r) => createCharge(r.body, headerValue(r.headers, 'idempotency-key') ?? null) },
    lookupRoute('/charges', 'reference', () => charges.values(), chargeJson),
    {
      method: 'GET',
      path: '/charges/:id',
      auth: 'required',
      handle: (request) => {
        const charge = charges.get(request.params.id ?? '');
        return charge ? { status: 200, body: chargeJson(charge) } : errorResponse(404, 'not_found', `no charge "${request.params.id}"`);
      },
    },
    { method: 'POST', path: '/refunds', auth: 'required', body: 'json', idempotent: true, handle: (r) => createRefund(r.body) },
    {
      method: 'GET',
      path: '/refunds/:id',
      auth: 'required',
      handle: (request) => {
        const refund = refunds.get(request.params.id ?? '');
        return refund ? { status: 200, body: refundJson(refund) } : errorResponse(404, 'not_found', `no refund "${request.params.id}"`);
      },
    },
  ];

  return {
    name: 'payments',
    routes,
    faultExtraKeys: ['chargeStatus', 'refundStatus'],
    ...auth,
    validateFaultExtras(input): FaultExtrasValidation<PaymentsFaultExtras> {
      const problems: string[] = [];
      const { chargeStatus, refundStatus } = input;
      if (chargeStatus !== undefined && !isOneOf(chargeStatus, CHARGE_STATUSES)) {
        problems.push(`chargeStatus must be one of ${CHARGE_STATUSES.join(', ')}`);
      }
      if (refundStatus !== undefined && !isOneOf(refundStatus, REFUND_STATUSES)) {
        problems.push(`refundStatus must be one of ${REFUND_STATUSES.join(', ')}`);
      }
      if (problems.length > 0) return { ok: false, problems };
      return {
        ok: true,
        extras: {
          ...(isOneOf(chargeStatus, CHARGE_STATUSES) ? { chargeStatus } : {}),
          ...(isOneOf(refundStatus, REFUND_STATUSES) ? { refundStatus } : {}),
        },
      };
    },
    setFaultExtras(next) {
      extras = { ...next };
    },
    reset() {
      charges.clear();
      refunds.clear();
      chargeSeq = 0;
      refundSeq = 0;
      extras = {};
    },
    charges: () => [...charges.values()],
    charge: (id) => charges.get(id),
    refunds: () => [...refunds.values()],
    refund: (id) => refunds.get(id),
  };
}

function chargeJson(charge: Charge): JsonObject {
  return {
    id: charge.id,
    status: charge.status,
    amount: charge.amount,
    currency: charge.currency,
    reference: charge.reference,
    customerId: charge.customerId,
    description: charge.description,
    failureCode: charge.failureCode,
    amountRefunded: charge.amountRefunded,
    createdAt: charge.createdAt,
  };
}

function refundJson(refund: Refund): JsonObject {
  return { ...refund };
}

/** The status named by a `status=<value>` marker in free text, if it is one of `allowed`. */
function marker<T extends string>(text: string, allowed: readonly T[]): T | undefined {
  const value = /\bstatus=([a-z_]+)/.exec(text)?.[1];
  return isOneOf(value, allowed) ? value : undefined;
}

function isOneOf<T extends string>(value: unknown, allowed: readonly T[]): value is T {
  return typeof value === 'string' && (allowed as readonly string[]).includes(value);
}
