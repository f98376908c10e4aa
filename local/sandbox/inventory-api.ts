/**
 * The inventory sandbox provider (`/inventory`): stock levels per SKU and reservations against them, the first step
 * (and the last compensation) of the order-fulfilment saga. Auth: `X-Api-Key: <apiKey>`.
 *
 *   GET  /inventory/health                         200 { status: 'ok' }                                no auth
 *   POST /inventory/reservations                   { orderId, items: [{ sku, quantity }] }              idempotent
 *        -> 201 { id: 'res_<n>', orderId, status: 'reserved', items, createdAt }
 *        -> 409 insufficient_stock (nothing reserved; `shortages` lists each short SKU) | 400 unknown_sku
 *   POST /inventory/reservations/:id/release       {} or { reason? } (or no body)
 *        -> 200 { id, status: 'released', releasedAt } (again: the same body, nothing changes) | 404
 *   GET  /inventory/reservations?idempotencyKey=…|orderId=…
 *        -> 200 { data: [reservation, ...] } oldest first (either filter, or both) | 400 invalid_request (neither)
 *   GET  /inventory/reservations/:id               200 reservation | 404
 *   GET  /inventory/stock/:sku                     200 { sku, available, reserved } | 404
 *
 * A reservation is all or nothing: every line is checked (quantities of repeated SKUs are added up) before any
 * stock moves. Reserving moves units from `available` to `reserved`; releasing moves them back. The refusals are
 * business outcomes, saved against an Idempotency-Key like any executed request (only body validation failures
 * are not saved). Release is idempotent by nature and ignores Idempotency-Key.
 */
import * as z from 'zod';
import { apiKeyAuth } from './credential-schemes.js';
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

/** The inventory API key, as a secret store would hold it. */
export interface InventoryCredentials {
  readonly apiKey: string;
}

/** Stock of one SKU. */
export interface StockLevel {
  readonly sku: string;
  /** Units that can still be reserved. */
  readonly available: number;
  /** Units held by active reservations. */
  readonly reserved: number;
}

/** One line of a reservation. */
export interface ReservationItem {
  readonly sku: string;
  readonly quantity: number;
}

/** A reservation. */
export interface Reservation {
  readonly id: string;
  readonly orderId: string;
  readonly status: 'reserved' | 'released';
  readonly items: readonly ReservationItem[];
  /** ISO-8601, sandbox clock. */
  readonly createdAt: string;
  /** ISO-8601, sandbox clock; set once released. */
  readonly releasedAt: string | null;
  /** The reason given by the first release, if any. */
  readonly releaseReason: string | null;
  /** The Idempotency-Key of the request that created it: a caller that lost the answer asks by it (`GET /reservations`). */
  readonly idempotencyKey: string | null;
}

/** Options of the inventory provider. */
export interface InventoryApiOptions {
  /** Available units per SKU at start and after `reset()`. @default SKU-1..SKU-5 with 100 each */
  readonly initialStock?: Readonly<Record<string, number>>;
}

/** The inventory has no provider-specific fault options. */
export type InventoryFaultExtras = NoFaultExtras;

/** The inventory provider plus state inspection for tests. */
export interface InventoryApi extends SandboxProvider<InventoryCredentials, InventoryFaultExtras> {
  /** Sets the available units of a SKU (creating the SKU if unknown); its reserved units are kept. */
  setStock(sku: string, available: number): void;
  /** The stock of one SKU. */
  stock(sku: string): StockLevel | undefined;
  /** The stock of every SKU, in SKU creation order. */
  stockLevels(): readonly StockLevel[];
  /** Every reservation, in creation order. */
  reservations(): readonly Reservation[];
  /** One reservation by id. */
  reservation(id: string): Reservation | undefined;
}

/** Stock at start when no `initialStock` is given. */
export const DEFAULT_INITIAL_STOCK: Readonly<Record<string, number>> = {
  'SKU-1': 100,
  'SKU-2': 100,
  'SKU-3': 100,
  'SKU-4': 100,
  'SKU-5': 100,
};

const itemSchema = z.strictObject({
  sku: z.string().min(1).max(64),
  quantity: z.int().positive().max(1_000_000),
});

const reservationSchema = z.strictObject({
  orderId: z.string().min(1).max(256),
  items: z.array(itemSchema).min(1).max(100),
});

const releaseSchema = z.strictObject({
  reason: z.string().max(500).optional(),
});

/** Builds the inventory provider. */
export function createInventoryApi(context: ProviderContext, options: InventoryApiOptions = {}): InventoryApi {
  const initialStock = options.initialStock ?? DEFAULT_INITIAL_STOCK;
  for (const [sku, quantity] of Object.entries(initialStock)) {
    if (!(Number.isInteger(quantity) && quantity >= 0)) throw new Error(`inventory initialStock of "${sku}" must be an integer >= 0`);
  }
  const secrets = context.random('credentials');
  const auth = apiKeyAuth({ mint: () => `inv_key_${secrets.token(24)}`, principal: 'inventory-account', realm: 'inventory' });
  const stock = new Map<string, { available: number; reserved: number }>();
  const reservations = new Map<string, Reservation>();
  let reservationSeq = 0;

  const restock = (): void => {
    stock.clear();
    for (const [sku, available] of Object.entries(initialStock)) stock.set(sku, { available, reserved: 0 });
  };
  restock();

  const reserve = (body: unknown, idempotencyKey: string | null): RouteResponse => {
    const parsed = reservationSchema.safeParse(body);
    if (!parsed.success) return invalidRequest(parsed.error.issues.map(describeIssue));
    const { orderId, items } = parsed.data;
    const wanted = new Map<string, number>();
    for (const item of items) wanted.set(item.sku, (wanted.get(item.sku) ?? 0) + item.quantity);
    const unknown = [...wanted.keys()].filter((sku) => !stock.has(sku));
    if (unknown.length > 0) {
      return errorResponse(400, 'unknown_sku', `unknown SKU(s): ${unknown.join(', ')}`, { details: { skus: unknown } });
    }
    const shortages = [...wanted].flatMap(([sku, requested]) => {
      const available = stock.get(sku)?.available ?? 0;
      return requested > available ? [{ sku, requested, available }] : [];
    });
    if (shortages.length > 0) {
      return errorResponse(409, 'insufficient_stock', `not enough stock for ${shortages.map((s) => s.sku).join(', ')}; nothing was reserved`, {
        details: { shortages },
      });
    }
    for (const [sku, quantity] of wanted) {
      const level = stock.get(sku);
      if (level) stock.set(sku, { available: level.available - quantity, reserved: level.reserved + quantity });
    }
    reservationSeq++;
    const reservation: Reservation = {
      id: `res_${reservationSeq}`,
      orderId,
      status: 'reserved',
      items: items.map(({ sku, quantity }) => ({ sku, quantity })),
      createdAt: new Date(context.now()).toISOString(),
      releasedAt: null,
      releaseReason: null,
      idempotencyKey,
    };
    reservations.set(reservation.id, reservation);
    return { status: 201, body: reservationJson(reservation), sideEffect: { type: 'reservation', id: reservation.id } };
  };

  const release = (id: string, body: unknown): RouteResponse => {
    const parsed = releaseSchema.safeParse(body);
    if (!parsed.success) return invalidRequest(parsed.error.issues.map(describeIssue));
    const reservation = reservations.get(id);
    if (!reservation) return errorResponse(404, 'not_found', `no reservation "${id}"`);
    if (reservation.status === 'released') return { status: 200, body: releasedJson(reservation) };
    for (const item of reservation.items) {
      const level = stock.get(item.sku);
      if (level) stock.set(item.sku, { available: level.available + item.quantity, reserved: level.reserved - item.quantity });
    }
    const released: Reservation = {
      ...reservation,
      status: 'released',
      releasedAt: new Date(context.now()).toISOString(),
      releaseReason: parsed.data.reason ?? null,
    };
    reservations.set(id, released);
    return { status: 200, body: releasedJson(released), sideEffect: { type: 'release', id } };
  };

  const routes: ProviderRoute[] = [
    HEALTH_ROUTE,
    {
      method: 'POST',
      path: '/reservations',
      auth: 'required',
      body: 'json',
      idempotent: true,
      handle: (r) => reserve(r.body, headerValue(r.headers, 'idempotency-key') ?? null),
    },
    lookupRoute('/reservations', 'orderId', () => reservations.values(), reservationJson),
    {
      method: 'POST',
      path: '/reservations/:id/release',
      auth: 'required',
      body: 'json',
      optionalBody: true,
      handle: (r) => release(r.params.id ?? '', r.body),
    },
    {
      method: 'GET',
      path: '/reservations/:id',
      auth: 'required',
      handle: (request) => {
        const reservation = reservations.get(request.params.id ?? '');
        return reservation
          ? { status: 200, body: reservationJson(reservation) }
          : errorResponse(404, 'not_found', `no reservation "${request.params.id}"`);
      },
    },
    {
      method: 'GET',
      path: '/stock/:sku',
      auth: 'required',
      handle: (request) => {
        const sku = request.params.sku ?? '';
        const level = stock.get(sku);
        return level ? { status: 200, body: { sku, ...level } } : errorResponse(404, 'not_found', `no SKU "${sku}"`);
      },
    },
  ];

  return {
    name: 'inventory',
    routes,
    ...auth,
    ...NO_FAULT_EXTRAS,
    reset() {
      restock();
      reservations.clear();
      reservationSeq = 0;
    },
    setStock(sku, available) {
      if (!(Number.isInteger(available) && available >= 0)) throw new RangeError(`stock of "${sku}" must be an integer >= 0`);
      stock.set(sku, { available, reserved: stock.get(sku)?.reserved ?? 0 });
    },
    stock: (sku) => {
      const level = stock.get(sku);
      return level ? { sku, ...level } : undefined;
    },
    stockLevels: () => [...stock].map(([sku, level]) => ({ sku, ...level })),
    reservations: () => [...reservations.values()],
    reservation: (id) => reservations.get(id),
  };
}

function reservationJson(reservation: Reservation): JsonObject {
  return {
    id: reservation.id,
    orderId: reservation.orderId,
    status: reservation.status,
    items: reservation.items.map((item) => ({ sku: item.sku, quantity: item.quantity })),
    createdAt: reservation.createdAt,
    releasedAt: reservation.releasedAt,
  };
}

function releasedJson(reservation: Reservation): JsonObject {
  return { id: reservation.id, status: 'released', releasedAt: reservation.releasedAt };
}
