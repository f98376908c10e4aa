/**
 * The providers the sandbox mounts. Adding one is one file that exports a factory
 * `(context, options?) => SandboxProvider`, plus one line here; its URL prefix, typed credentials, typed fault
 * options and state accessor on the sandbox (`sandbox.<name>`) follow from this map.
 */
import { createContactsApi } from './contacts-api.js';
import { createCrmApi } from './crm-api.js';
import { createEmailApi } from './email-api.js';
import { createInventoryApi } from './inventory-api.js';
import { createPaymentsApi } from './payments-api.js';
import type { SandboxProvider } from './provider.js';
import { createShippingApi } from './shipping-api.js';

/** Factories of every mounted provider, keyed by provider name (= URL prefix). */
export const PROVIDER_FACTORIES = {
  crm: createCrmApi,
  payments: createPaymentsApi,
  inventory: createInventoryApi,
  shipping: createShippingApi,
  email: createEmailApi,
  contacts: createContactsApi,
} as const;

/** Name (and URL prefix) of a mounted provider. */
export type ProviderName = keyof typeof PROVIDER_FACTORIES;

/** The provider object (routes, credentials, state inspection) of provider `P`. */
export type ProviderApi<P extends ProviderName> = ReturnType<(typeof PROVIDER_FACTORIES)[P]>;

/** The credential object of provider `P` (what a fake secret store holds). */
export type CredentialsOf<P extends ProviderName> = ReturnType<ProviderApi<P>['credentials']>;

/** The provider-specific fault options of provider `P` (e.g. payments' `chargeStatus`). */
export type FaultExtrasOf<P extends ProviderName> = ProviderApi<P> extends SandboxProvider<object, infer X> ? X : never;

/** The options a provider factory takes besides its context. */
export type ProviderOptionsOf<P extends ProviderName> = Parameters<(typeof PROVIDER_FACTORIES)[P]>[1];

/** Every provider name, in mount order. */
export const PROVIDER_NAMES = Object.keys(PROVIDER_FACTORIES) as ProviderName[];
