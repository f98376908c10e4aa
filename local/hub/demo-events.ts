/**
 * The demo's traffic: a seeded, realistic mix of what upstream systems send the hub — files uploaded (→ crm),
 * charges requested (→ payments), orders placed (→ the order saga) and contacts changed in the source system
 * (→ the contact sync reads them from its change feed) — spread evenly over the publishing window. A small share
 * is deliberately bad (a payment without an amount, a file with a broken MIME type, an order to an undeliverable
 * address) so the run shows the DLQ and a compensation doing their job. Same seed, same plan.
 */
import { SeededRandom } from '../sandbox/random.js';
import { UNDELIVERABLE_POSTAL_CODE } from '../sandbox/index.js';

/** One planned event. */
export type DemoEvent =
  | { readonly kind: 'file'; readonly atMs: number; readonly key: string; readonly valid: boolean; readonly detail: unknown }
  | { readonly kind: 'payment'; readonly atMs: number; readonly key: string; readonly valid: boolean; readonly detail: unknown }
  | { readonly kind: 'order'; readonly atMs: number; readonly key: string; readonly valid: boolean; readonly detail: unknown }
  | { readonly kind: 'contact'; readonly atMs: number; readonly key: string; readonly valid: true; readonly change: 'upsert' | 'delete' };

/** Where each kind of event goes on the bus. */
export const DEMO_ROUTES = {
  file: { source: 'files.service', detailType: 'FileUploaded', integration: 'crm' },
  payment: { source: 'billing.service', detailType: 'PaymentRequested', integration: 'payments' },
  order: { source: 'orders.service', detailType: 'OrderPlaced', workflow: 'order-saga' },
} as const;

/** Options of {@link planDemoEvents}. */
export interface DemoPlanOptions {
  readonly events: number;
  readonly seed: number;
  /** Events are spread evenly over this window. */
  readonly publishForMs: number;
  /** Contacts seeded in the source before the run (the first sync copies them). @default 40 */
  readonly initialContacts?: number;
}

/** Shares of the mix (the rest are contact changes). */
const MIX = { file: 0.4, payment: 0.3, order: 0.15 } as const;
/** Share of deliberately invalid files and payments, and of orders to an undeliverable address. */
const BAD_SHARE = 0.03;

/** The seeded plan of `events` events. */
export function planDemoEvents(options: DemoPlanOptions): DemoEvent[] {
  const random = new SeededRandom(options.seed, 'demo-events');
  const plan: DemoEvent[] = [];
  const contactIds = Array.from({ length: options.initialContacts ?? 40 }, (_, i) => `c_${String(i + 1).padStart(6, '0')}`);
  for (let i = 0; i < options.events; i++) {
    const atMs = Math.round((i * options.publishForMs) / Math.max(1, options.events));
    const n = String(i + 1).padStart(5, '0');
    const roll = random.float();
    const bad = random.float() < BAD_SHARE;
    if (roll < MIX.file) {
      plan.push({ kind: 'file', atMs, key: `file-${n}`, valid: !bad, detail: fileUploaded(`file-${n}`, random, bad) });
    } else if (roll < MIX.file + MIX.payment) {
      plan.push({ kind: 'payment', atMs, key: `bill-${n}`, valid: !bad, detail: paymentRequested(`pay-${n}`, `bill-${n}`, random, bad) });
    } else if (roll < MIX.file + MIX.payment + MIX.order) {
      // An undeliverable order is valid input: the saga must compensate it, not lose it.
      plan.push({ kind: 'order', atMs, key: `ord-${n}`, valid: true, detail: orderPlaced(`ord-${n}`, random, bad) });
    } else {
      const deleting = random.float() < 0.15 && contactIds.length > 1;
      const id = contactIds[random.int(contactIds.length)]!;
      plan.push({ kind: 'contact', atMs, key: id, valid: true, change: deleting ? 'delete' : 'upsert' });
    }
  }
  return plan;
}

const CUSTOMERS = ['cus_ana', 'cus_bruno', 'cus_carla', 'cus_dmitri', 'cus_eve'];
const SKUS = ['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4', 'SKU-5'];

function fileUploaded(fileId: string, random: SeededRandom, bad: boolean): unknown {
  return {
    schemaVersion: '1',
    fileId,
    version: 1,
    name: `${fileId}.pdf`,
    // A MIME type without a slash is refused by the adapter's schema: poison → DLQ with the reason.
    mimeType: bad ? 'pdf' : 'application/pdf',
    sizeBytes: 1000 + random.int(5_000_000),
    folder: '/invoices',
    uploadedBy: { email: 'ana@example.com', name: 'Ana Lima' },
    uploadedAt: '2026-11-22T09:00:00Z',
    tags: ['demo'],
  };
}

function paymentRequested(paymentId: string, orderId: string, random: SeededRandom, bad: boolean): unknown {
  const amount = `${1 + random.int(500)}.${String(random.int(100)).padStart(2, '0')}`;
  const detail: Record<string, unknown> = {
    schemaVersion: '1',
    action: 'charge',
    paymentId,
    orderId,
    customerId: CUSTOMERS[random.int(CUSTOMERS.length)],
    amount,
    currency: random.float() < 0.7 ? 'eur' : 'usd',
  };
  if (bad) delete detail.amount;
  return detail;
}

function orderPlaced(orderId: string, random: SeededRandom, undeliverable: boolean): unknown {
  return {
    orderId,
    customerId: CUSTOMERS[random.int(CUSTOMERS.length)],
    email: 'ana@example.com',
    items: [{ sku: SKUS[random.int(SKUS.length)], quantity: 1 + random.int(2) }],
    amount: `${10 + random.int(90)}.90`,
    currency: 'eur',
    shippingAddress: { name: 'Ana Lima', line1: 'Rua Augusta 1', city: 'Lisboa', postalCode: undeliverable ? UNDELIVERABLE_POSTAL_CODE : '1100-053', country: 'PT' },
  };
}
