import { randomUUID } from 'node:crypto';

/** The detail of a valid OrderPlaced event (one item, a Lisbon address), for tests that start sagas through the bus. */
export function orderPlacedDetail(orderId = `order-${randomUUID()}`) {
  return {
    orderId,
    customerId: 'cust-1',
    email: 'buyer@example.com',
    items: [{ sku: 'SKU-1', quantity: 1 }],
    amount: '9.90',
    currency: 'eur',
    shippingAddress: { name: 'Ana Silva', line1: 'Rua Augusta 1', city: 'Lisboa', postalCode: '1100-053', country: 'PT' },
  };
}
