/**
 * The shipping sandbox provider (`/shipping`): shipments with a tracking number, and their cancellation (the
 * saga's compensation). Auth: HTTP Basic `username:password`.
 *
 *   GET  /shipping/health                      200 { status: 'ok' }                                    no auth
 *   POST /shipping/shipments                   { orderId, address: { name, line1, line2?, city, postalCode, country },
 *                                                items: [{ sku, quantity }] }                            idempotent
 *        -> 201 { id: 'shp_<n>', orderId, status: 'created', trackingNumber: 'TRK<10 digits>', carrier, createdAt }
 *        -> 422 address_undeliverable when postalCode is `00000` (a deterministic permanent refusal for tests)
 *   POST /shipping/shipments/:id/cancel        { reason? } (or no body)
 *        -> 200 { id, status: 'cancelled', cancelledAt } (again: the same body, nothing changes) | 404
 *   GET  /shipping/shipments?idempotencyKey=…|orderId=…
 *        -> 200 { data: [shipment, ...] } oldest first (either filter, or both) | 400 invalid_request (neither)
 *   GET  /shipping/shipments/:id               200 shipment | 404
 *
 * Tracking numbers come from a seeded stream (the same seed and order give the same numbers; `reset()` rewinds it).
 * Cancel is idempotent by nature and ignores Idempotency-Key.
 */
import * as z from 'zod';
import { basicAuth } from './credential-schemes.js';
import {
  describeIssue,
  errorResponse,
  headerValue,
  invalidRequest,
  type JsonObject,
  NO_FAULT_EXTRAS,
  type NoFaultExtras,
  type ProviderContext,
  type ProviderRoute,
  type RouteResponse,
  type SandboxProvider,
  HEALTH_ROUTE,
  lookupRoute,
} from './provider.js';

/** The shipping account's Basic credentials, as a secret store would hold them. */
export interface ShippingCredentials {
  readonly username: string;
  readonly password: string;
}

/** A delivery address. */
export interface ShippingAddress {
  readonly name: string;
  readonly line1: string;
  readonly line2: string | null;
  readonly city: string;
  readonly postalCode: string;
  /** ISO 3166-1 alpha-2, upper case. */
  readonly country: string;
}

/** A shipment. */
export interface Shipment {
  readonly id: string;
  readonly orderId: string;
  readonly status: 'created' | 'cancelled';
  readonly trackingNumber: string;
  readonly carrier: string;
  readonly address: ShippingAddress;
  readonly items: readonly { readonly sku: string; readonly quantity: number }[];
  /** ISO-8601, sandbox clock. */
  readonly createdAt: string;
  /** ISO-8601, sandbox clock; set once cancelled. */
  readonly cancelledAt: string | null;
  /** The reason given by the first cancel, if any. */
  readonly cancelReason: string | null;
  /** The Idempotency-Key of the request that created it: a caller that lost the answer asks by it (`GET /shipments`). */
  readonly idempotencyKey: string | null;
}

/** Options of the shipping provider. */
export interface ShippingApiOptions {
  /** Carrier named on every shipment. @default 'sandbox-post' */
  readonly carrier?: string;
}

/** Shipping has no provider-specific fault options. */
export type ShippingFaultExtras = NoFaultExtras;

/** The shipping provider plus state inspection for tests. */
export interface ShippingApi extends SandboxProvider<ShippingCredentials, ShippingFaultExtras> {
  /** Every shipment, in creation order. */
  shipments(): readonly Shipment[];
  /** One shipment by id. */
  shipment(id: string): Shipment | undefined;
}

/** The postal code every shipment to is refused with 422 `address_undeliverable`. */
export const UNDELIVERABLE_POSTAL_CODE = '00000';

const addressSchema = z.strictObject({
  name: z.string().min(1).max(200),
  line1: z.string().min(1).max(200),
  line2: z.string().max(200).optional(),
  city: z.string().min(1).max(100),
  postalCode: z.string().min(1).max(20),
  country: z.string().regex(/^[A-Za-z]{2}$/, 'expected an ISO 3166-1 alpha-2 country code, e.g. "DE"'),
});

const shipmentSchema = z.strictObject({
  orderId: z.string().min(1).max(256),
  address: addressSchema,
  items: z
    .array(z.strictObject({ sku: z.string().min(1).max(64), quantity: z.int().positive().max(1_000_000) }))
    .min(1)
    .max(100),
});

const cancelSchema = z.strictObject({
  reason: z.string().max(500).optional(),
});

/** Builds the shipping provider. */
export function createShippingApi(context: ProviderContext, options: ShippingApiOptions = {}): ShippingApi {
  const carrier = options.carrier ?? 'sandbox-post';
  const secrets = context.random('credentials');
  const auth = basicAuth({ username: `shp_user_${secrets.token(8)}`, mintPassword: () => secrets.token(24), realm: 'shipping' });
  const tracking = context.random('tracking');
  const shipments = new Map<string, Shipment>();
  let shipmentSeq = 0;

  const trackingNumber = (): string => {
    let digits = '';
    for (let i = 0; i < 10; i++) digits += String(tracking.int(10));
    return `TRK${digits}`;
  };

  const create = (body: unknown, idempotencyKey: string | null): RouteResponse => {
    const parsed = shipmentSchema.safeParse(body);
    if (!parsed.success) return invalidRequest(parsed.error.issues.map(describeIssue));
    const { orderId, address, items } = parsed.data;
    if (address.postalCode.trim() === UNDELIVERABLE_POSTAL_CODE) {
      return errorResponse(422, 'address_undeliverable', `the carrier does not deliver to postal code ${address.postalCode}`);
    }
    shipmentSeq++;
    const shipment: Shipment = {
      id: `shp_${shipmentSeq}`,
      orderId,
      status: 'created',
      trackingNumber: trackingNumber(),
      carrier,
      address: {
        name: address.name,
        line1: address.line1,
        line2: address.line2 ?? null,
        city: address.city,
        postalCode: address.postalCode,
        country: address.country.toUpperCase(),
      },
      items: items.map(({ sku, quantity }) => ({ sku, quantity })),
      createdAt: new Date(context.now()).toISOString(),
      cancelledAt: null,
      cancelReason: null,
      idempotencyKey,
    };
    shipments.set(shipment.id, shipment);
    return {
      status: 201,
      body: {
        id: shipment.id,
        orderId,
        status: shipment.status,
        trackingNumber: shipment.trackingNumber,
        carrier,
        createdAt: shipment.createdAt,
      },
      sideEffect: { type: 'shipment', id: shipment.id },
    };
  };

  const cancel = (id: string, body: unknown): RouteResponse => {
    const parsed = cancelSchema.safeParse(body);
    if (!parsed.success) return invalidRequest(parsed.error.issues.map(describeIssue));
    const shipment = shipments.get(id);
    if (!shipment) return errorResponse(404, 'not_found', `no shipment "${id}"`);
    if (shipment.status === 'cancelled') return { status: 200, body: cancelledJson(shipment) };
    const cancelled: Shipment = {
      ...shipment,
      status: 'cancelled',
      cancelledAt: new Date(context.now()).toISOString(),
      cancelReason: parsed.data.reason ?? null,
    };
    shipments.set(id, cancelled);
    return { status: 200, body: cancelledJson(cancelled), sideEffect: { type: 'cancellation', id } };
  };

  const routes: ProviderRoute[] = [
    HEALTH_ROUTE,
    {
      method: 'POST',
      path: '/shipments',
      auth: 'required',
      body: 'json',
      idempotent: true,
      handle: (r) => create(r.body, headerValue(r.headers, 'idempotency-key') ?? null),
    },
    lookupRoute('/shipments', 'orderId', () => shipments.values(), shipmentJson),
    {
      method: 'POST',
      path: '/shipments/:id/cancel',
      auth: 'required',
      body: 'json',
      optionalBody: true,
      handle: (r) => cancel(r.params.id ?? '', r.body),
    },
    {
      method: 'GET',
      path: '/shipments/:id',
      auth: 'required',
      handle: (request) => {
        const shipment = shipments.get(request.params.id ?? '');
        return shipment ? { status: 200, body: shipmentJson(shipment) } : errorResponse(404, 'not_found', `no shipment "${request.params.id}"`);
      },
    },
  ];

  return {
    name: 'shipping',
    routes,
    ...auth,
    ...NO_FAULT_EXTRAS,
    reset() {
      shipments.clear();
      shipmentSeq = 0;
      tracking.restart();
    },
    shipments: () => [...shipments.values()],
    shipment: (id) => shipments.get(id),
  };
}

function shipmentJson(shipment: Shipment): JsonObject {
  return {
    id: shipment.id,
    orderId: shipment.orderId,
    status: shipment.status,
    trackingNumber: shipment.trackingNumber,
    carrier: shipment.carrier,
    address: { ...shipment.address },
    items: shipment.items.map((item) => ({ ...item })),
    createdAt: shipment.createdAt,
    cancelledAt: shipment.cancelledAt,
  };
}

function cancelledJson(shipment: Shipment): JsonObject {
  return { id: shipment.id, status: 'cancelled', cancelledAt: shipment.cancelledAt };
}
