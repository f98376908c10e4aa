/**
 * Where the circuit controller and prober find the circuits they watch. The catalog would outgrow Lambda's 4 KB of
 * environment at a handful of integrations, so the stack (lib/constructs/circuit-controller.ts) writes one SSM
 * parameter per circuit under a path, and the functions get only that path (`OPS_CATALOG_PATH`):
 *
 *   <path>integrations/<name>   { name, adapter?, mappingUuid, maxConcurrency, baseUrl, auth, secretName?, httpTimeoutMs?, circuit }
 *   <path>providers/<name>      { name, baseUrl, auth, secretName?, httpTimeoutMs?, circuit }
 *
 * Read once at init and turned into the INTEGRATIONS and PROVIDERS variables that functions/ops/ops-config.ts
 * validates, so a parameter is checked exactly like the variable used to be (every problem at once).
 */
import { GetParametersByPathCommand, type SSMClient } from '@aws-sdk/client-ssm';
import { DependencyError } from '../runtime/errors.js';

/** One stored parameter: its full name and value. */
export interface OpsCatalogParameter {
  readonly name: string;
  readonly value: string;
}

/** Which function reads the catalog: the controller needs less of each entry than the prober. */
export type OpsCatalogReader = 'controller' | 'prober';

/** The environment variable naming the parameter path (with a trailing slash). */
export const OPS_CATALOG_PATH_VARIABLE = 'OPS_CATALOG_PATH';

/** The parameter path of the circuits of the hub whose controller is in stack `stackName` (with a trailing slash). */
export function opsCatalogPath(stackName: string): string {
  return `/${stackName}/circuit-ops/`;
}

/** A parameter path's segment for integrations and for standalone workflow providers. */
export const OPS_CATALOG_KINDS = { integrations: 'integrations/', providers: 'providers/' } as const;

/** The catalog entries stored under a path: each parameter's value, parsed. */
export interface OpsCatalogEntries {
  readonly integrations: readonly unknown[];
  readonly providers: readonly unknown[];
}

/**
 * The entries of the parameters under `path`, in name order. A parameter whose value is not JSON is kept as a string,
 * so the reader's validation reports it with the entry's place. Also read by the try stage's sandbox
 * (local/sandbox/function-url/sandbox-startup.ts), which serves the same integrations and providers.
 */
export function opsCatalogEntries(parameters: readonly OpsCatalogParameter[], path: string): OpsCatalogEntries {
  const under = (kind: keyof typeof OPS_CATALOG_KINDS) =>
    parameters
      .filter((parameter) => parameter.name.startsWith(`${path}${OPS_CATALOG_KINDS[kind]}`))
      .sort((a, b) => a.name.localeCompare(b.name))
      .map((parameter) => parseValue(parameter.value));
  return { integrations: under('integrations'), providers: under('providers') };
}

/** The INTEGRATIONS and PROVIDERS variables of the parameters under `path` (see {@link opsCatalogEntries}). */
export function opsCatalogVariables(parameters: readonly OpsCatalogParameter[], path: string, reader: OpsCatalogReader): { INTEGRATIONS: string; PROVIDERS: string } {
  const { integrations, providers } = opsCatalogEntries(parameters, path);
  if (reader === 'prober') return { INTEGRATIONS: JSON.stringify(integrations), PROVIDERS: JSON.stringify(providers) };
  return {
    // The controller pauses and resumes mappings: it takes an integration's name and mapping only.
    INTEGRATIONS: JSON.stringify(integrations.map((entry) => (isRecord(entry) ? { name: entry.name, mappingUuid: entry.mappingUuid } : entry))),
    PROVIDERS: JSON.stringify(providers.map((entry) => (isRecord(entry) ? entry.name : entry))),
  };
}

/**
 * `env` with INTEGRATIONS and PROVIDERS read from the parameters under its OPS_CATALOG_PATH (unchanged when the
 * variable is absent, as in tests that set the two variables themselves).
 */
export async function withOpsCatalog(
  env: Record<string, string | undefined>,
  reader: OpsCatalogReader,
  readParameters: (path: string) => Promise<OpsCatalogParameter[]>,
): Promise<Record<string, string | undefined>> {
  const path = env[OPS_CATALOG_PATH_VARIABLE]?.trim();
  if (!path) return env;
  return { ...env, ...opsCatalogVariables(await readParameters(path), path, reader) };
}

/** How long an ops function trusts the circuits it read before it reads the parameters again. */
export const OPS_CATALOG_MAX_AGE_MS = 60_000;

/** Options of {@link reloadingOpsCatalog}. */
export interface ReloadingOpsCatalogOptions<T> {
  readonly env: Record<string, string | undefined>;
  readonly reader: OpsCatalogReader;
  readonly readParameters: (path: string) => Promise<OpsCatalogParameter[]>;
  /** Builds what runs on the catalog (the controller, the prober) from the environment with the catalog in it. */
  readonly build: (env: Record<string, string | undefined>) => T | Promise<T>;
  /** @default OPS_CATALOG_MAX_AGE_MS */
  readonly maxAgeMs?: number;
  /** @default Date.now */
  readonly now?: () => number;
}

/**
 * What an ops function runs on, kept in step with the parameters. An integration stack deployed after this instance
 * started adds, removes or replaces circuits (a replaced mapping has a new UUID): read once at init, the controller
 * would never pause the new mapping and the prober's after-deploy run would reconcile the old list. So the
 * parameters are read again when they are older than `maxAgeMs`, or when asked (`force`: the after-deploy run), and
 * `build` runs again only when what they say changed.
 */
export function reloadingOpsCatalog<T>(options: ReloadingOpsCatalogOptions<T>): { current(force?: boolean): Promise<T> } {
  const maxAgeMs = options.maxAgeMs ?? OPS_CATALOG_MAX_AGE_MS;
  const now = options.now ?? Date.now;
  let loaded: { at: number; key: string; value: T } | undefined;
  return {
    async current(force = false) {
      if (loaded && !force && now() - loaded.at < maxAgeMs) return loaded.value;
      const at = now();
      const env = await withOpsCatalog(options.env, options.reader, options.readParameters);
      const key = JSON.stringify([env.INTEGRATIONS, env.PROVIDERS]);
      if (loaded?.key === key) loaded = { ...loaded, at };
      else loaded = { at, key, value: await options.build(env) };
      return loaded.value;
    },
  };
}

/**
 * Reads every parameter under `path` (all pages) from SSM Parameter Store. `purpose` completes the failure's message
 * ("Cannot read <purpose> from the SSM parameters under <path>").
 */
export function ssmParameterReader(client: SSMClient, purpose = 'the circuits to watch'): (path: string) => Promise<OpsCatalogParameter[]> {
  return async (path) => {
    const parameters: OpsCatalogParameter[] = [];
    let nextToken: string | undefined;
    try {
      do {
        const page = await client.send(new GetParametersByPathCommand({ Path: path.replace(/\/+$/, ''), Recursive: true, NextToken: nextToken }));
        for (const parameter of page.Parameters ?? []) {
          if (parameter.Name && parameter.Value !== undefined) parameters.push({ name: parameter.Name, value: parameter.Value });
        }
        nextToken = page.NextToken;
      } while (nextToken);
    } catch (error) {
      throw new DependencyError('ParameterStore', `Cannot read ${purpose} from the SSM parameters under ${path}`, { cause: error });
    }
    return parameters;
  };
}

function parseValue(value: string): unknown {
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}
