/**
 * The `OrderPlaced` event detail (schemaVersion 1) as the saga starter validates it and every saga task re-reads it
 * from the execution state. One schema for both, so an order the starter accepts is one every step can process.
 */
import * as z from 'zod/mini';
import { toMinorUnits } from '../integrations/payments.js';
import type { OrderPlaced } from './workflow-contract.js';

const amount = z.union([z.number().check(z.positive()), z.string().check(z.regex(/^\d+(\.\d+)?$/, 'must be a positive decimal'))]);

const text = (max: number) => z.string().check(z.minLength(1), z.maxLength(max));

const orderFields = z.object({
  orderId: text(128),
  customerId: text(128),
  // Deliverability is the e-mail provider's call (a refused recipient is a business refusal of that step).
  email: z.email().check(z.maxLength(254)),
  items: z
    .array(z.object({ sku: text(64), quantity: z.int().check(z.positive(), z.maximum(10_000)) }))
    .check(z.minLength(1), z.maxLength(100)),
  amount,
  currency: z.string().check(z.regex(/^[A-Za-z]{3}$/, 'must be a 3-letter ISO 4217 code')),
  shippingAddress: z.object({
    name: text(200),
    line1: text(200),
    line2: z.optional(text(200)),
    city: text(100),
    postalCode: text(20),
    country: z.string().check(z.regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code')),
  }),
});

/** `OrderPlaced`: what the saga needs of an order. Unknown fields are dropped. */
export const orderPlacedSchema = orderFields.check(
  z.superRefine((order: z.infer<typeof orderFields>, context) => {
    try {
      toMinorUnits(order.amount, order.currency.toUpperCase());
    } catch (error) {
      context.addIssue({ code: 'custom', path: ['amount'], message: (error as Error).message });
    }
  }),
);

// The schema's output must stay assignable to the contract's type (a compile-time check).
const _contract: (order: z.infer<typeof orderPlacedSchema>) => OrderPlaced = (order) => order;
void _contract;
