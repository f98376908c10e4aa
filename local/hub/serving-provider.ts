/**
 * Which sandbox provider plays the third party of a catalog integration. One rule, used wherever the local hub needs
 * to find an integration's side effects (local/hub/demo-scenario.ts) so a new catalog entry needs no edit here:
 *
 * 1. the dedicated provider named like the integration (local/sandbox/providers.ts), else
 * 2. the dedicated provider named like its adapter (a second account of one CRM runs the `crm` adapter and talks to
 *    the CRM sandbox), else
 * 3. the generic provider named like the integration (local/sandbox/generic-api.ts), which the sandbox mounts for an
 *    integration without a dedicated API.
 */
import type { AuthConfig } from '../../functions/runtime/auth-config.js';
import { type GenericProviderDeclaration, PROVIDER_NAMES } from '../sandbox/index.js';

/** The sandbox provider serving an integration. */
export interface ServingProvider {
  /** The provider's name: its URL prefix, and what `sandbox.sideEffects(name)` / `setFaults(name)` take. */
  readonly name: string;
  /** True when it is a generic provider (mounted for this integration), false for a dedicated one. */
  readonly generic: boolean;
}

/** The sandbox provider serving `integration`; `dedicated` are the dedicated providers' names. */
export function servingProviderOf(
  integration: { readonly name: string; readonly adapter: string },
  dedicated: readonly string[] = PROVIDER_NAMES,
): ServingProvider {
  if (dedicated.includes(integration.name)) return { name: integration.name, generic: false };
  if (dedicated.includes(integration.adapter)) return { name: integration.adapter, generic: false };
  return { name: integration.name, generic: true };
}

/** How the sandbox serves one integration or standalone workflow provider: the local hub's and the try stage's. */
export interface SandboxServing {
  /** The integration's or provider's name. */
  readonly name: string;
  /** The sandbox provider answering it (its URL prefix, and the name `sandbox.sideEffects()` takes). */
  readonly provider: string;
  /** True when that provider is a generic one, mounted for this integration. */
  readonly generic: boolean;
  /** The catalog's auth. */
  readonly auth: AuthConfig;
  /** The secret the hub's functions read (name or ARN); undefined for auth 'none' (the stack creates none). */
  readonly secretName?: string;
}

/** What the sandbox serves: every integration, then every standalone workflow provider, and the generic providers to mount. */
export interface SandboxPlan<S extends SandboxServing = SandboxServing> {
  readonly servings: readonly S[];
  /** The generic providers the sandbox must mount (`startSandbox({ generic })`). */
  readonly generic: readonly GenericProviderDeclaration[];
}
