/**
 * Configuration of the circuit controller and the circuit prober, read once at init from the environment (set by
 * the CircuitController construct). Every problem is reported at once in one ConfigurationError (docs/architecture.md "Conventions").
 * INTEGRATIONS and PROVIDERS are not set on the deployed functions: they are made from the SSM parameters under
 * OPS_CATALOG_PATH (functions/ops/ops-catalog.ts), one per circuit, and validated here as if they were.
 *
 * Controller:
 *   INTEGRATIONS         JSON array of { name, mappingUuid } — the integrations whose SQS event source mapping it pauses
 *   PROVIDERS            optional JSON array of names — the standalone workflow providers' circuits (no mapping: a
 *                        transition only turns the prober's schedule on and publishes CircuitOpen)
 *   CIRCUITS_TABLE_NAME  the circuits table (a fresh read of the circuit before acting on a stream record)
 *   PROBE_RULE_NAME      the prober's EventBridge schedule rule (enabled on every transition)
 *
 * Prober:
 *   INTEGRATIONS         JSON array of { name, adapter?, mappingUuid, maxConcurrency, baseUrl, auth, secretName?,
 *                        httpTimeoutMs?, authTokenUrl?, circuit? } — one per integration to watch; `adapter` (default
 *                        `name`) must be a module functions/integrations/<adapter>.ts; `secretName` is required unless
 *                        its auth scheme is none;
 *                        `circuit` are the same breaker overrides as the integration function's CIRCUIT_SETTINGS
 *   PROVIDERS            optional JSON array of { name, baseUrl, auth, secretName?, httpTimeoutMs?, circuit? } — one per
 *                        standalone workflow provider to probe; `name` must be in functions/workflows/provider-probes.ts
 *   CIRCUITS_TABLE_NAME  the circuits table (read; the probe lease and its outcome are written)
 *   PROBE_RULE_NAME      the prober's own schedule rule (disabled when nothing is left to do)
 *   RESTORE_AFTER_SECONDS  how long a circuit must have been closed before the mapping's concurrency goes back
 *                        from 2 to the catalog's maximum (default 60, 0 – 3600)
 *   SECRET_MAX_AGE_SECONDS  secret cache age (default 300)
 *
 * Both: OPS_CATALOG_PATH — the SSM parameter path of the circuits (`/<stack>/circuit-ops/`);
 * DYNAMODB_ENDPOINT, SECRETS_MANAGER_ENDPOINT, LAMBDA_ENDPOINT, EVENTBRIDGE_ENDPOINT, SSM_ENDPOINT — optional endpoint
 * overrides (VPC endpoints, local emulators).
 */
import { resolveCircuitBreakerSettings, type CircuitBreakerSettingsInput } from '../runtime/circuit-settings.js';
import { ConfigurationError } from '../runtime/errors.js';
import { DEFAULT_SETTINGS } from '../runtime/runtime-settings.js';
import { isLowerKebabCase, nameProblem } from '../runtime/names.js';
import type { AnyIntegration } from './integration-adapters.js';
import { type AuthConfig, type AuthDeclaration, authConfigProblems, toAuthConfig } from '../runtime/auth-config.js';
import { baseUrlProblem } from '../runtime/base-url.js';

/** An integration whose event source mapping the controller pauses and resumes. */
export interface ControlledIntegration {
  /** The adapter's name, which is also its circuit id. */
  readonly name: string;
  /** UUID of the SQS event source mapping of the integration's function. */
  readonly mappingUuid: string;
}

/** What the prober needs to probe an integration and restore its mapping. */
export interface ProbedIntegration extends ControlledIntegration {
  /** The adapter the integration runs (functions/integrations/<adapter>.ts), whose probe is called. */
  readonly adapter: string;
  /** The catalog's maximum concurrency of the mapping, restored once the circuit has stayed closed. */
  readonly maxConcurrency: number;
  /** The provider's base URL. */
  readonly baseUrl: string;
  /** How the provider is authenticated (the catalog entry's `auth`). */
  readonly auth: AuthConfig;
  /** Secrets Manager name or ARN of the provider credentials (absent for auth scheme none). */
  readonly secretName?: string;
  /** Timeout of the probe call. @default the adapter's */
  readonly httpTimeoutMs?: number;
  /** OAuth2 token URL override. @default the adapter's */
  readonly authTokenUrl?: string;
  /** Circuit breaker overrides: must equal the integration function's, so a failed probe grows the same break. */
  readonly circuit: CircuitBreakerSettingsInput;
}

/** A standalone workflow provider whose circuit the prober probes (it has no event source mapping). */
export interface ProbedProvider {
  /** The provider's name, which is also its circuit id. */
  readonly name: string;
  readonly baseUrl: string;
  /** How the provider is authenticated (the catalog's `auth`). */
  readonly auth: AuthConfig;
  /** Secrets Manager name or ARN of the provider credentials (absent for auth scheme none). */
  readonly secretName?: string;
  /** Timeout of the probe call. @default the provider's connection */
  readonly httpTimeoutMs?: number;
  /** Circuit breaker overrides: must equal the provider tasks', so a failed probe grows the same break. */
  readonly circuit: CircuitBreakerSettingsInput;
}

/** Optional AWS endpoint overrides. */
export interface EndpointOverrides {
  readonly dynamodb?: string;
  readonly secretsManager?: string;
  readonly lambda?: string;
  readonly eventBridge?: string;
}

/** The controller's configuration. */
export interface ControllerConfig {
  readonly integrations: readonly ControlledIntegration[];
  /** The standalone workflow providers' circuit ids. */
  readonly providers: readonly string[];
  readonly circuitsTableName: string;
  readonly probeRuleName: string;
  readonly endpoints: EndpointOverrides;
}

/** The prober's configuration. */
export interface ProberConfig {
  readonly integrations: readonly ProbedIntegration[];
  readonly providers: readonly ProbedProvider[];
  readonly circuitsTableName: string;
  readonly probeRuleName: string;
  /** Milliseconds a circuit must have been closed before its mapping's concurrency is restored. */
  readonly restoreAfterMs: number;
  readonly secretMaxAgeSeconds: number;
  readonly endpoints: EndpointOverrides;
}

/** Lambda's bounds of an SQS event source mapping's MaximumConcurrency. */
export const MAPPING_CONCURRENCY_RANGE = { min: 2, max: 1000 } as const;

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
const CONTROLLER_FIELDS = ['name', 'mappingUuid'];
const PROBER_FIELDS = [...CONTROLLER_FIELDS, 'adapter', 'maxConcurrency', 'baseUrl', 'auth', 'secretName', 'httpTimeoutMs', 'authTokenUrl', 'circuit'];
const PROVIDER_FIELDS = ['name', 'baseUrl', 'auth', 'secretName', 'httpTimeoutMs', 'circuit'];

/** Reads the controller's configuration; throws one ConfigurationError listing every problem. */
export function controllerConfigFromEnvironment(env: Record<string, string | undefined>): ControllerConfig {
  const problems: string[] = [];
  const entries = readIntegrations(env.INTEGRATIONS, problems);
  const integrations = entries.map((entry, index) => {
    const where = describe(entry, index);
    unknownFields(entry, CONTROLLER_FIELDS, where, problems);
    return controlled(entry, where, problems);
  });
  uniqueNames(integrations, problems);
  const providers = readProviderNames(env.PROVIDERS, integrations, problems);
  const config: ControllerConfig = {
    integrations,
    providers,
    circuitsTableName: required(env, 'CIRCUITS_TABLE_NAME', problems),
    probeRuleName: required(env, 'PROBE_RULE_NAME', problems),
    endpoints: endpointsFrom(env),
  };
  fail('circuit controller', problems);
  return config;
}

/**
 * Reads the prober's configuration; throws one ConfigurationError listing every problem. `adapters` resolves an
 * adapter name to its adapter (see {@link adapterNamesOf}), `providerProbes` a provider name to its probe (the auth scheme decides whether a
 * secret is needed).
 */
export function proberConfigFromEnvironment(
  env: Record<string, string | undefined>,
  adapters: (name: string) => AnyIntegration | undefined,
  providerProbes: (name: string) => unknown = () => undefined,
): ProberConfig {
  const problems: string[] = [];
  const entries = readIntegrations(env.INTEGRATIONS, problems);
  const integrations = entries.map((entry, index): ProbedIntegration => {
    const where = describe(entry, index);
    unknownFields(entry, PROBER_FIELDS, where, problems);
    const base = controlled(entry, where, problems);
    const adapterName = entry.adapter ?? base.name;
    const badAdapterName = nameProblem(adapterName, 'adapter');
    if (badAdapterName) problems.push(`${where}: ${badAdapterName}`);
    const adapter = typeof adapterName === 'string' && adapterName ? adapters(adapterName) : undefined;
    if (!badAdapterName && adapterName && !adapter) problems.push(`${where}: no adapter is called '${String(adapterName)}' (functions/integrations/)`);

    const maxConcurrency = entry.maxConcurrency;
    if (!isInteger(maxConcurrency, MAPPING_CONCURRENCY_RANGE.min, MAPPING_CONCURRENCY_RANGE.max)) {
      problems.push(`${where}: maxConcurrency must be an integer from ${MAPPING_CONCURRENCY_RANGE.min} to ${MAPPING_CONCURRENCY_RANGE.max} (got ${JSON.stringify(maxConcurrency)})`);
    }
    const authTokenUrl = optionalString(entry, 'authTokenUrl', where, problems);
    return {
      ...base,
      adapter: typeof adapterName === 'string' ? adapterName : '',
      maxConcurrency: maxConcurrency as number,
      ...connectionFields(entry, where, problems),
      ...(authTokenUrl ? { authTokenUrl } : {}),
    };
  });
  uniqueNames(integrations, problems);

  const providers = readArray(env.PROVIDERS, 'PROVIDERS', problems, { optional: true }).map((entry, index): ProbedProvider => {
    const where = typeof entry.name === 'string' && entry.name ? `PROVIDERS '${entry.name}'` : `PROVIDERS[${index}]`;
    unknownFields(entry, PROVIDER_FIELDS, where, problems);
    const name = typeof entry.name === 'string' ? entry.name : '';
    const badName = nameProblem(name);
    if (badName) problems.push(`${where}: ${badName}`);
    const probe = name ? providerProbes(name) : undefined;
    if (name && !probe) problems.push(`${where}: no provider probe is called '${name}' (functions/workflows/provider-probes.ts)`);
    return { name, ...connectionFields(entry, where, problems) };
  });
  providerNamesOnce(integrations, providers.map((p) => p.name), problems);

  const restoreAfterSeconds = integer(env, 'RESTORE_AFTER_SECONDS', 60, 0, 3600, problems);
  const config: ProberConfig = {
    integrations,
    providers,
    circuitsTableName: required(env, 'CIRCUITS_TABLE_NAME', problems),
    probeRuleName: required(env, 'PROBE_RULE_NAME', problems),
    restoreAfterMs: restoreAfterSeconds * 1000,
    secretMaxAgeSeconds: integer(env, 'SECRET_MAX_AGE_SECONDS', DEFAULT_SETTINGS.secretMaxAgeSeconds, 0, 86_400, problems),
    endpoints: endpointsFrom(env),
  };
  fail('circuit prober', problems);
  return config;
}

// ---------------------------------------------------------------- helpers

/** The connection fields an integration and a provider share: URL, secret, timeout, circuit overrides. */
function connectionFields(
  entry: Record<string, unknown>,
  where: string,
  problems: string[],
): Pick<ProbedProvider, 'baseUrl' | 'auth' | 'secretName' | 'httpTimeoutMs' | 'circuit'> {
  const baseUrl = entry.baseUrl;
  const badUrl = baseUrlProblem(baseUrl);
  if (badUrl) problems.push(`${where}: ${badUrl}`);
  const authProblems = authConfigProblems(entry.auth);
  problems.push(...authProblems.map((problem) => `${where}: ${problem}`));
  const auth = authProblems.length === 0 ? toAuthConfig(entry.auth as AuthDeclaration) : undefined;
  const secretName = optionalString(entry, 'secretName', where, problems);
  if (auth && auth.scheme !== 'none' && !secretName) problems.push(`${where}: secretName is required for auth scheme '${auth.scheme}'`);
  const httpTimeoutMs = entry.httpTimeoutMs;
  if (httpTimeoutMs !== undefined && !isInteger(httpTimeoutMs, 100, 900_000)) {
    problems.push(`${where}: httpTimeoutMs must be an integer from 100 to 900000 (got ${JSON.stringify(httpTimeoutMs)})`);
  }
  const circuit = entry.circuit ?? {};
  if (!isRecord(circuit)) {
    problems.push(`${where}: circuit must be an object of circuit breaker settings`);
  } else {
    try {
      resolveCircuitBreakerSettings(circuit as CircuitBreakerSettingsInput, `${where} circuit`);
    } catch (error) {
      problems.push((error as Error).message);
    }
  }
  return {
    baseUrl: baseUrl as string,
    auth: auth ?? { scheme: 'none' },
    ...(secretName ? { secretName } : {}),
    ...(httpTimeoutMs !== undefined ? { httpTimeoutMs: httpTimeoutMs as number } : {}),
    circuit: (isRecord(circuit) ? circuit : {}) as CircuitBreakerSettingsInput,
  };
}

/**
 * The adapters the prober's INTEGRATIONS name (`adapter`, else `name`), read leniently so that they can be loaded
 * before {@link proberConfigFromEnvironment} reports every problem of the variable.
 */
export function adapterNamesOf(rawIntegrations: string | undefined): string[] {
  try {
    const parsed: unknown = JSON.parse(rawIntegrations ?? '[]');
    if (!Array.isArray(parsed)) return [];
    return parsed.flatMap((entry: { adapter?: unknown; name?: unknown } | null) => {
      const adapter = entry?.adapter ?? entry?.name;
      return isLowerKebabCase(adapter) ? [adapter] : [];
    });
  } catch {
    return [];
  }
}

function readIntegrations(raw: string | undefined, problems: string[]): Record<string, unknown>[] {
  return readArray(raw, 'INTEGRATIONS', problems, { optional: false });
}

/** The JSON value of a variable; undefined (with the problem noted) when it is not JSON, or absent. */
function parseJson(raw: string, variable: string, problems: string[]): unknown {
  try {
    return JSON.parse(raw);
  } catch (error) {
    problems.push(`${variable} is not valid JSON: ${(error as Error).message}`);
    return undefined;
  }
}

/** A JSON array of objects from a variable; `optional` allows it to be absent or empty. */
function readArray(raw: string | undefined, variable: string, problems: string[], options: { optional: boolean }): Record<string, unknown>[] {
  if (!raw?.trim()) {
    if (!options.optional) problems.push(`${variable} is required: a JSON array with one object per integration`);
    return [];
  }
  const parsed = parseJson(raw, variable, problems);
  if (parsed === undefined) return [];
  if (!Array.isArray(parsed) || (parsed.length === 0 && !options.optional)) {
    problems.push(`${variable} must be a ${options.optional ? '' : 'non-empty '}JSON array`);
    return [];
  }
  return parsed.map((entry, index) => {
    if (isRecord(entry)) return entry;
    problems.push(`${variable}[${index}] must be an object`);
    return {};
  });
}

/** The controller's PROVIDERS: a JSON array of circuit names, none of them an integration's. */
function readProviderNames(raw: string | undefined, integrations: readonly ControlledIntegration[], problems: string[]): string[] {
  if (!raw?.trim()) return [];
  const parsed = parseJson(raw, 'PROVIDERS', problems);
  if (parsed === undefined) return [];
  if (!Array.isArray(parsed) || !parsed.every(isLowerKebabCase)) {
    problems.push('PROVIDERS must be a JSON array of lower-kebab-case provider names');
    return [];
  }
  providerNamesOnce(integrations, parsed, problems);
  return parsed;
}

/** A circuit is an integration's or a provider's, once: a provider of an integration is probed as the integration. */
function providerNamesOnce(integrations: readonly ControlledIntegration[], providers: readonly string[], problems: string[]): void {
  const seen = new Set(integrations.map((integration) => integration.name));
  for (const name of providers) {
    if (name && seen.has(name)) problems.push(`PROVIDERS lists '${name}', which is already an integration or listed before`);
    seen.add(name);
  }
}

function controlled(entry: Record<string, unknown>, where: string, problems: string[]): ControlledIntegration {
  const { name, mappingUuid } = entry;
  const badName = nameProblem(name);
  if (badName) problems.push(`${where}: ${badName}`);
  if (typeof mappingUuid !== 'string' || !UUID.test(mappingUuid)) {
    problems.push(`${where}: mappingUuid must be the UUID of an event source mapping (got ${JSON.stringify(mappingUuid)})`);
  }
  return { name: typeof name === 'string' ? name : '', mappingUuid: typeof mappingUuid === 'string' ? mappingUuid : '' };
}

function describe(entry: Record<string, unknown>, index: number): string {
  return typeof entry.name === 'string' && entry.name ? `INTEGRATIONS '${entry.name}'` : `INTEGRATIONS[${index}]`;
}

function unknownFields(entry: Record<string, unknown>, known: readonly string[], where: string, problems: string[]): void {
  const unknown = Object.keys(entry).filter((key) => !known.includes(key));
  if (unknown.length > 0) problems.push(`${where}: unknown field(s) ${unknown.join(', ')} (known: ${known.join(', ')})`);
}

function uniqueNames(integrations: readonly ControlledIntegration[], problems: string[]): void {
  const names = new Set<string>();
  const mappings = new Set<string>();
  for (const { name, mappingUuid } of integrations) {
    if (name && names.has(name)) problems.push(`INTEGRATIONS lists '${name}' twice`);
    if (mappingUuid && mappings.has(mappingUuid)) problems.push(`INTEGRATIONS uses mappingUuid ${mappingUuid} for more than one integration`);
    names.add(name);
    mappings.add(mappingUuid);
  }
}

function optionalString(entry: Record<string, unknown>, field: string, where: string, problems: string[]): string | undefined {
  const value = entry[field];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value.trim() === '') {
    problems.push(`${where}: ${field} must be a non-empty string when present`);
    return undefined;
  }
  return value.trim();
}

function required(env: Record<string, string | undefined>, name: string, problems: string[]): string {
  const value = env[name]?.trim();
  if (!value) problems.push(`${name} is required`);
  return value ?? '';
}

function integer(env: Record<string, string | undefined>, name: string, fallback: number, min: number, max: number, problems: string[]): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!isInteger(value, min, max)) {
    problems.push(`${name} must be an integer from ${min} to ${max}, got ${JSON.stringify(raw)}`);
    return fallback;
  }
  return value;
}

function endpointsFrom(env: Record<string, string | undefined>): EndpointOverrides {
  const pick = (name: string) => env[name]?.trim() || undefined;
  return {
    dynamodb: pick('DYNAMODB_ENDPOINT'),
    secretsManager: pick('SECRETS_MANAGER_ENDPOINT'),
    lambda: pick('LAMBDA_ENDPOINT'),
    eventBridge: pick('EVENTBRIDGE_ENDPOINT'),
  };
}

function fail(what: string, problems: string[]): void {
  if (problems.length > 0) throw new ConfigurationError(`Invalid configuration for the ${what}:\n- ${problems.join('\n- ')}`);
}

function isInteger(value: unknown, min: number, max: number): boolean {
  return typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
