/**
 * The sandbox third-party APIs: a loopback HTTP server playing the providers the hub integrates with, seeded,
 * fault-injectable and journaled. Start with {@link startSandbox}.
 */
export { startSandbox, SandboxConfigError } from './server.js';
export type { Sandbox, SandboxControl, SandboxOptions, ProviderFaultOptions } from './server.js';
export type { FaultOptions, FaultKind, OutageMode, OutageWindow, ThrottleFault } from './faults.js';
export type { JournalEntry, JournalFilter, JournalView, SideEffect } from './journal.js';
export { PROVIDER_NAMES } from './providers.js';
export type { CredentialsOf, FaultExtrasOf, ProviderApi, ProviderName, ProviderOptionsOf } from './providers.js';
export { CRM_SCOPES } from './crm-api.js';
export type { CrmApi, CrmApiOptions, CrmCredentials, CrmFile } from './crm-api.js';
export { CHARGE_STATUSES, REFUND_STATUSES } from './payments-api.js';
export type { Charge, ChargeStatus, PaymentsApi, PaymentsCredentials, PaymentsFaultExtras, Refund, RefundStatus } from './payments-api.js';
export type { SandboxProvider, ProviderRoute, ProviderContext, RouteRequest, RouteResponse } from './provider.js';
