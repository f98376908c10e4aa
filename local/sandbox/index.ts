/**
 * The sandbox third-party APIs: a loopback HTTP server playing the providers the hub integrates with, seeded,
 * fault-injectable and journaled. Start with {@link startSandbox}.
 */
export { startSandbox, SandboxConfigError } from './server.js';
export type { Sandbox, SandboxControl, SandboxOptions, ProviderFaultOptions } from './server.js';
export type { FailNextFault, FaultOptions, FaultKind, OutageMode, OutageWindow, ThrottleFault } from './faults.js';
export type { JournalEntry, JournalFilter, JournalView, SideEffect } from './journal.js';
export { CONTROL_PLANE_PREFIX, isControlPlaneRequest } from './control.js';
export {
  credentialsOfSecret,
  DEDICATED_PROVIDER_AUTH,
  genericAuthOf,
  isDedicatedProvider,
  secretFieldProblems,
  secretOfCredentials,
} from './hub-secrets.js';
export type { DedicatedProviderAuth } from './hub-secrets.js';
export { PROVIDER_NAMES } from './providers.js';
export type { CredentialsOf, FaultExtrasOf, ProviderApi, ProviderName, ProviderOptionsOf } from './providers.js';
export { CRM_SCOPES, MAX_BULK_ITEMS } from './crm-api.js';
export type { CrmApi, CrmApiOptions, CrmBulkAction, CrmContact, CrmContactStatus, CrmCredentials, CrmFile } from './crm-api.js';
export { CHARGE_STATUSES, REFUND_STATUSES } from './payments-api.js';
export type { Charge, ChargeStatus, PaymentsApi, PaymentsCredentials, PaymentsFaultExtras, Refund, RefundStatus } from './payments-api.js';
export { DEFAULT_INITIAL_STOCK } from './inventory-api.js';
export type { InventoryApi, InventoryApiOptions, InventoryCredentials, Reservation, ReservationItem, StockLevel } from './inventory-api.js';
export { UNDELIVERABLE_POSTAL_CODE } from './shipping-api.js';
export type { Shipment, ShippingAddress, ShippingApi, ShippingApiOptions, ShippingCredentials } from './shipping-api.js';
export { INVALID_RECIPIENT_DOMAIN } from './email-api.js';
export type { EmailApi, EmailCredentials, EmailMessage } from './email-api.js';
export { DEFAULT_CHANGES_LIMIT, MAX_CHANGES_LIMIT } from './contacts-api.js';
export type { ContactChange, ContactsApi, ContactsCredentials, SeedOptions, SourceContact } from './contacts-api.js';
export { DEFAULT_GENERIC_ROUTES, DEFAULT_TOKEN_PATH } from './generic-api.js';
export type { GenericApi, GenericAuth, GenericCredentials, GenericProviderDeclaration, GenericResource, GenericRoute } from './generic-api.js';
export { MAX_REUSE_INTERVAL_SECONDS } from './provider.js';
export type { SandboxProvider, ProviderRoute, ProviderContext, RefreshTokenCredentials, RefreshTokenGrantControl, RouteRequest, RouteResponse } from './provider.js';
