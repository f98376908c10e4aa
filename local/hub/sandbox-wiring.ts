/**
 * Points the synthesized hub at the sandbox, derived from the catalogs (lib/catalog.ts, lib/workflow-catalog.ts) so a
 * new catalog entry needs no edit here:
 *
 * - each integration is served by the sandbox provider local/hub/serving-provider.ts picks: the dedicated one named
 *   like it, else the dedicated one named like its adapter, else a GENERIC provider mounted under its name with the
 *   catalog's auth (local/sandbox/generic-api.ts; an OAuth2 `tokenUrl` that is a path becomes its token path);
 * - each standalone workflow provider is served by the dedicated provider of its name (the workflow tasks need its
 *   real behaviour: stock, refusals, the change feed);
 * - the stack is synthesized with `baseUrl:<name>` context for every one of them (as `cdk deploy -c` would), and the
 *   secrets are put under the names the catalog gives them, holding the sandbox's credentials in the scheme's
 *   fields (functions/runtime/auth-config.ts SECRET_FIELDS).
 *
 * Used by the local hub (local-hub.ts, which also refuses a template whose functions call anything else), `npm start`
 * (local/start.ts, through {@link startSandboxForCatalog}) and the workflow tests.
 */
import { type AuthConfig, type AuthScheme, isOAuth2, toAuthConfig } from '../../functions/runtime/auth-config.js';
import { INTEGRATIONS, type IntegrationEntry, resolveCatalog } from '../../lib/catalog.js';
import { PROVIDERS, type ProviderEntry, resolveWorkflows, WORKFLOWS, type WorkflowsCatalog } from '../../lib/workflow-catalog.js';
import { createLocalSecretsManager, type LocalSecretsManager } from '../local-secrets-manager.js';
import { type CfnTemplate, synthesizeHubTemplate } from '../local-step-functions.js';
import {
  DEDICATED_PROVIDER_AUTH,
  genericAuthOf,
  isDedicatedProvider,
  type Sandbox,
  SandboxConfigError,
  type SandboxControl,
  type SandboxOptions,
  secretOfCredentials,
  startSandbox,
} from '../sandbox/index.js';
import { type SandboxPlan, type SandboxServing, servingProviderOf } from './serving-provider.js';

/** The catalogs the local hub is built from; each defaults to the shipped one. */
export interface HubCatalogs {
  /** The integrations. @default INTEGRATIONS (lib/catalog.ts) */
  readonly integrations?: readonly IntegrationEntry[];
  /** The workflows; `null` deploys none (a catalog without the integrations they need). @default WORKFLOWS */
  readonly workflows?: WorkflowsCatalog | null;
  /** The workflow providers. @default PROVIDERS (lib/workflow-catalog.ts) */
  readonly providers?: readonly ProviderEntry[];
}

/** The sandbox side of a catalog. */
export type SandboxWiring = SandboxPlan;
export type { SandboxServing };

/** A sandbox with any generic providers: every wiring function takes provider names as strings. */
type AnySandbox = SandboxControl<string>;

/** How the sandbox serves each integration and standalone provider of the catalogs; throws a CatalogError for an invalid catalog. */
export function sandboxWiring(catalogs: HubCatalogs = {}, options: CatalogSandboxOptions = {}): SandboxWiring {
  const { integrations = INTEGRATIONS, workflows = WORKFLOWS, providers = PROVIDERS } = catalogs;
  const resolved = resolveCatalog(integrations);
  const servings: SandboxServing[] = resolved.map((integration) => {
    const provider = servingProviderOf(integration);
    return { name: integration.name, provider: provider.name, generic: provider.generic, auth: integration.auth, secretName: secretNameOf(integration) };
  });
  // As in lib/integration-hub-stack.ts: without workflows the stack deploys no provider; an integration's provider is
  // that integration's (same base URL and secret), so only standalone ones are added.
  const standalone = workflows ? [...resolveWorkflows(resolved, {}, workflows, providers).providers.values()].filter((p) => p.integration === undefined) : [];
  for (const provider of standalone) {
    servings.push({ name: provider.name, provider: provider.name, generic: false, auth: provider.auth, secretName: secretNameOf(provider) });
  }
  const generic = servings
    .filter((serving) => serving.generic)
    .map((serving) => ({ name: serving.provider, auth: genericAuthOf(serving.auth, options.accessTokenLifetimeSeconds) }));
  return { servings, generic };
}

/** The `baseUrl:<name>` context pointing every integration and standalone provider at its sandbox provider. */
export function sandboxContext(sandbox: AnySandbox, catalogs: HubCatalogs = {}): Record<string, string> {
  return Object.fromEntries(sandboxWiring(catalogs).servings.map((serving) => [`baseUrl:${serving.name}`, sandbox.providerUrl(serving.provider)]));
}

/**
 * Synthesizes the hub from the catalogs with every third party at the sandbox. Also takes a workflows catalog alone
 * (the workflow tests under test/workflows synthesize a variant of the shipped workflows that way).
 */
export function synthesizeAgainstSandbox(sandbox: AnySandbox, catalogs: HubCatalogs | WorkflowsCatalog = {}): CfnTemplate {
  const selected: HubCatalogs = 'orderSaga' in catalogs ? { workflows: catalogs } : catalogs;
  return synthesizeHubTemplate({ ...selected, context: sandboxContext(sandbox, selected) });
}

/**
 * The secrets of the catalogs, by the names the catalog gives them, holding the sandbox's credentials. A provider the
 * sandbox does not mount gets no secret: the local hub then refuses to start, naming the integration.
 */
export function sandboxSecretValues(sandbox: AnySandbox, catalogs: HubCatalogs = {}): Record<string, Record<string, string>> {
  const secrets: Record<string, Record<string, string>> = {};
  for (const serving of sandboxWiring(catalogs).servings) {
    const mounted = mountedProvider(sandbox, serving.provider);
    if (serving.secretName === undefined || !mounted) continue;
    const value = { ...mounted.secret() };
    // A token URL on another host would leave the sandbox; the runtime lets the secret's tokenUrl override the
    // configuration's (functions/runtime/credentials.ts), so the secret points it at the sandbox's token endpoint.
    if (isOAuth2(serving.auth) && !serving.auth.tokenUrl.startsWith('/') && mounted.tokenPath) {
      value.tokenUrl = `${sandbox.providerUrl(serving.provider)}${mounted.tokenPath}`;
    }
    secrets[serving.secretName] = value;
  }
  return secrets;
}

/** {@link sandboxSecretValues} in an in-memory Secrets Manager. */
export function sandboxSecrets(sandbox: AnySandbox, catalogs: HubCatalogs = {}): LocalSecretsManager {
  return createLocalSecretsManager(sandboxSecretValues(sandbox, catalogs));
}

/** Options of {@link sandboxWiring} and {@link startSandboxForCatalog} besides the sandbox's own and the catalogs. */
export interface CatalogSandboxOptions {
  /**
   * `expires_in` of the access tokens issued by the generic OAuth2 providers derived from the catalogs, seconds on the
   * sandbox clock. A sandbox setting, not a catalog field: the provider decides its tokens' lifetime, and the demo
   * (local/start.ts) shortens it so its traffic outlives a token. @default the generic provider's (3600)
   */
  readonly accessTokenLifetimeSeconds?: number;
}

/**
 * Starts the sandbox with the generic providers the catalogs need (besides the dedicated ones). A generic provider
 * declared in `options.generic` replaces the derived one of the same name (e.g. to give it routes).
 */
export function startSandboxForCatalog(options: SandboxOptions<string> & HubCatalogs & CatalogSandboxOptions = {}): Promise<Sandbox<string>> {
  const { integrations, workflows, providers, accessTokenLifetimeSeconds, ...sandboxOptions } = options;
  const declared = sandboxOptions.generic ?? [];
  const derived = sandboxWiring({ integrations, workflows, providers }, { accessTokenLifetimeSeconds }).generic.filter((g) => !declared.some((d) => d.name === g.name));
  return startSandbox<string>({ ...sandboxOptions, generic: [...derived, ...declared] });
}

/** One Lambda function of the template with its environment (intrinsics resolved). */
export interface FunctionEnvironment {
  readonly logicalId: string;
  readonly environment: Readonly<Record<string, string>>;
}

/**
 * Why the sandbox would not answer the calls of these functions, one line each (empty when it answers all): every
 * provider binding's `[<prefix>]BASE_URL` must be a provider URL of this sandbox (`<sandbox>/<provider>`) whose
 * provider is mounted and checks the binding's auth scheme, and every `[<prefix>]SECRET_NAME` must be in the local
 * secrets. Such a function would otherwise retry its messages forever with nothing delivered.
 */
export function sandboxWiringProblems(sandbox: AnySandbox, functions: Iterable<FunctionEnvironment>, hasSecret: (secretName: string) => boolean): string[] {
  const problems: string[] = [];
  for (const { logicalId, environment } of functions) {
    // A provider binding always sets [<prefix>]BASE_URL with [<prefix>]AUTH (lib/constructs/integration-pipeline.ts,
    // workflow-providers.ts), which tells it from an unrelated variable that happens to end in BASE_URL.
    const bindings = Object.keys(environment).filter((name) => name.endsWith('BASE_URL') && environment[`${name.slice(0, -'BASE_URL'.length)}AUTH`] !== undefined);
    for (const variable of bindings) {
      const prefix = variable.slice(0, -'BASE_URL'.length);
      const integration = prefix === '' ? environment.INTEGRATION_NAME : undefined;
      const who = integration ? `integration '${integration}'` : `function ${logicalId}`;
      const baseUrl = environment[variable]!;
      const provider = sandboxProviderOf(sandbox, baseUrl);
      const mounted = provider === undefined ? undefined : mountedProvider(sandbox, provider);
      if (provider === undefined) {
        const context = integration ? `baseUrl:${integration}` : 'baseUrl:<provider>';
        problems.push(
          `${who}: ${variable} ${baseUrl} is not served by the local sandbox (${sandbox.baseUrl}/<provider>): ` +
            `the template was synthesized without its ${context} context (let LocalHub.start synthesize it, or use synthesizeAgainstSandbox)`,
        );
      } else if (!mounted) {
        problems.push(
          `${who}: ${variable} ${baseUrl} names sandbox provider '${provider}', which this sandbox does not mount ` +
            '(start it with startSandboxForCatalog and the same catalog, local/hub/sandbox-wiring.ts)',
        );
      } else {
        const scheme = authSchemeOf(environment[`${prefix}AUTH`]);
        if (scheme !== undefined && scheme !== mounted.scheme) {
          problems.push(`${who}: ${prefix}AUTH scheme is '${scheme}' but sandbox provider '${provider}' checks '${mounted.scheme}'`);
        }
      }
      const secretName = environment[`${prefix}SECRET_NAME`];
      if (secretName && !hasSecret(secretName)) {
        problems.push(
          `${who}: ${prefix}SECRET_NAME '${secretName}' is missing from the local secrets manager, which holds the secrets ` +
            "the hub's catalog names (was the template synthesized from another catalog than LocalHub.start's?)",
        );
      }
    }
  }
  return problems;
}

// ------------------------------------------------------------------ helpers

function secretNameOf(owner: { readonly auth: AuthConfig; readonly secret: { readonly name: string } }): string | undefined {
  return owner.auth.scheme === 'none' ? undefined : owner.secret.name;
}

/**
 * A provider the sandbox mounts: the scheme it checks, its token path and its credentials as secret fields (a
 * dedicated provider's are mapped by local/sandbox/hub-secrets.ts; a generic one's already have that shape).
 */
interface MountedProvider {
  readonly scheme: AuthScheme;
  readonly tokenPath?: string;
  secret(): Record<string, string>;
}

function mountedProvider(sandbox: AnySandbox, provider: string): MountedProvider | undefined {
  if (isDedicatedProvider(provider)) {
    const { scheme, tokenPath } = DEDICATED_PROVIDER_AUTH[provider];
    return { scheme, tokenPath, secret: () => secretOfCredentials(provider, sandbox.credentials(provider)) };
  }
  try {
    const generic = sandbox.generic(provider);
    return { scheme: generic.scheme, tokenPath: generic.tokenPath, secret: () => ({ ...sandbox.credentials(provider) }) };
  } catch (error) {
    if (error instanceof SandboxConfigError) return undefined;
    throw error;
  }
}

/** The provider a base URL names when it is `<sandbox>/<provider>` (a trailing slash allowed), else undefined. */
function sandboxProviderOf(sandbox: AnySandbox, baseUrl: string): string | undefined {
  let url: URL;
  try {
    url = new URL(baseUrl);
  } catch {
    return undefined;
  }
  const segments = url.pathname.split('/').filter(Boolean);
  if (url.origin !== new URL(sandbox.baseUrl).origin || segments.length !== 1 || url.search) return undefined;
  return segments[0];
}

function authSchemeOf(raw: string | undefined): AuthScheme | undefined {
  if (!raw) return undefined;
  try {
    return toAuthConfig(JSON.parse(raw) as AuthConfig).scheme;
  } catch {
    return undefined;
  }
}
