/**
 * The `OrderPlaced` event detail (schemaVersion 1) as the saga starter validates it and every saga task re-reads it
 * from the execution state. One schema for both, so an order the starter accepts is one every step can process.
 */
import * as z from 'zod';
import { toMinorUnits } from '../integrations/payments.js';
import type { OrderPlaced } from './workflow-contract.js';

const amount = z.union([z.number().positive(), z.string().regex(/^\d+(\.\d+)?$/, 'must be a positive decimal')]);

/** `OrderPlaced`: what the saga needs of an order. Unknown fields are dropped. */
export const orderPlacedSchema = z
  .object({
    orderId: z.string().min(1).max(128),
    customerId: z.string().min(1).max(128),
    // Deliverability is the e-mail provider's call (a refused recipient is a business refusal of that step).
    email: z.email().max(254),
    items: z
      .array(z.object({ sku: z.string().min(1).max(64), quantity: z.number().int().positive().max(10_000) }))
      .min(1)
      .max(100),
    amount,
    currency: z.string().regex(/^[A-Za-z]{3}$/, 'must be a 3-letter ISO 4217 code'),
    shippingAddress: z.object({
      name: z.string().min(1).max(200),
      line1: z.string().min(1).max(200),
      line2: z.string().min(1).max(200).optional(),
      city: z.string().min(1).max(100),
      postalCode: z.string().min(1).max(20),
      country: z.string().regex(/^[A-Za-z]{2}$/, 'must be an ISO 3166-1 alpha-2 code'),
    }),
  })
  .superRefine((order, context) => {
    try {
      toMinorUnits(order.amount, order.currency.toUpperCase());
    } catch (error) {
      context.addIssue({ code: 'custom', path: ['amount'], message: (error as Error).message });
    }
  });

// The schema's output must stay assignable to the contract's type (a compile-time check).
const _contract: (order: z.infer<typeof orderPlacedSchema>) => OrderPlaced = (order) => order;
void _contract;
