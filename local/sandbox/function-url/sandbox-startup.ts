/**
 * Starting the try stage's sandbox: the sandbox third-party APIs of the local hub (local/sandbox/), serving the
 * integrations and standalone workflow providers a deployed stack has, with the credentials its secrets hold, so the
 * hub's functions (which read the same secrets) authenticate. The SSM and Secrets Manager calls come in as ports
 * (wired in function-url-handler.ts), so every rule here is tested without AWS.
 *
 * What is served comes from the ops catalog, the SSM parameters the stack writes for the circuit controller
 * (functions/ops/ops-catalog.ts), by the local hub's rule (local/hub/serving-provider.ts):
 *   - an integration: the dedicated provider named like it, else like its adapter, else a generic provider mounted
 *     under its name with its auth (local/sandbox/generic-api.ts);
 *   - a standalone workflow provider: the dedicated provider of its name (the workflow tasks need its behaviour).
 * A sandbox provider checks one credential, so the entries it serves must hold the same one in their secrets.
 *
 * Any problem fails the whole start, listing every problem: a sandbox answering only some integrations would show up
 * as 401s and 404s far from their cause.
 */
import { type OpsCatalogEntries, opsCatalogEntries, type OpsCatalogParameter } from '../../../functions/ops/ops-catalog.js';
import { type AuthConfig, type AuthDeclaration, authConfigProblems, isOAuth2, SECRET_FIELDS, toAuthConfig } from '../../../functions/runtime/auth-config.js';
import { ConfigurationError } from '../../../functions/runtime/errors.js';
import { nameProblem } from '../../../functions/runtime/names.js';
import { type SandboxPlan, type SandboxServing, servingProviderOf } from '../../hub/serving-provider.js';
import {
  DEDICATED_PROVIDER_AUTH,
  genericAuthOf,
  isDedicatedProvider,
  PROVIDER_NAMES,
  SandboxConfigError,
  secretFieldProblems,
  startSandbox,
} from '../index.js';

/** The environment variables of the try stage's sandbox (documented in function-url-handler.ts). */
export const TRY_SANDBOX_VARIABLES = { opsCatalogPath: 'OPS_CATALOG_PATH', controlTokenSecret: 'CONTROL_TOKEN_SECRET' } as const;

/** The control token must be at least this long: anyone who reaches the Function URL may try to guess it. */
export const MIN_CONTROL_TOKEN_LENGTH = 16;

/** Where the sandbox finds what to serve and its control token. */
export interface TrySandboxSettings {
  /** SSM parameter path of the ops catalog, with a trailing slash (`/<stack>/circuit-ops/`). */
  readonly opsCatalogPath: string;
  /** Secrets Manager id (name or ARN) of the control token secret, `{ "token": "..." }`. */
  readonly controlTokenSecret: string;
}

/** What the start reads, as ports. */
export interface SandboxStartupPorts {
  /** Every parameter under a path (functions/ops/ops-catalog.ts ssmParameterReader); throws a DependencyError. */
  readonly readParameters: (path: string) => Promise<OpsCatalogParameter[]>;
  /**
   * A secret's JSON object by name or ARN, read afresh (a retried start must see a fixed secret); throws an error
   * whose message names the secret but never quotes its value (runtime SecretSource.getJson).
   */
  readonly readSecret: (secretId: string) => Promise<Record<string, unknown>>;
}

/** One integration or standalone workflow provider and the sandbox provider serving it, and how problems name it. */
export interface TrySandboxServing extends SandboxServing {
  /** `integration 'helpdesk'`, `provider 'inventory'`. */
  readonly owner: string;
}

/** What to start: who is served by which provider, and the generic providers to mount. */
export type SandboxStartPlan = SandboxPlan<TrySandboxServing>;

/** A started sandbox, as the Function URL proxy needs it. */
export interface TrySandbox {
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  /** What `x-sandbox-control-token` must equal on control requests. */
  readonly controlToken: string;
  /** Stops the server. */
  close(): Promise<void>;
}

const SUBJECT = 'try-stage sandbox configuration';

/** The settings from the environment; throws a ConfigurationError listing every missing variable. */
export function trySandboxSettings(env: Readonly<Record<string, string | undefined>>): TrySandboxSettings {
  const problems: string[] = [];
  const required = (variable: string, meaning: string): string => {
    const value = env[variable]?.trim();
    if (!value) problems.push(`${variable} is required: ${meaning}`);
    return value ?? '';
  };
  const path = required(TRY_SANDBOX_VARIABLES.opsCatalogPath, "the SSM parameter path of the stack's ops catalog, like /IntegrationHub-try-core/circuit-ops/");
  const controlTokenSecret = required(TRY_SANDBOX_VARIABLES.controlTokenSecret, 'the Secrets Manager name or ARN of the control token secret');
  if (problems.length > 0) throw ConfigurationError.listing(SUBJECT, problems);
  // The catalog's entries are `<path>integrations/<name>`: without the slash no parameter would match.
  return { opsCatalogPath: path.endsWith('/') ? path : `${path}/`, controlTokenSecret };
}

/**
 * Reads the ops catalog and the secrets, and starts the sandbox on 127.0.0.1 (a free port) with the generic providers
 * the catalog needs and the credentials its secrets hold. Throws a ConfigurationError listing every problem, or the
 * DependencyError of an unreadable ops catalog.
 */
export async function startTrySandbox(settings: TrySandboxSettings, ports: SandboxStartupPorts): Promise<TrySandbox> {
  const entries = opsCatalogEntries(await ports.readParameters(settings.opsCatalogPath), settings.opsCatalogPath);
  const { plan, problems } = sandboxStartPlan(entries);
  if (entries.integrations.length === 0 && entries.providers.length === 0) {
    problems.push(`no integration or provider parameter is under ${settings.opsCatalogPath} (is it the stack's ops catalog path?)`);
  }
  const [credentials, controlToken] = await Promise.all([readCredentials(plan.servings, ports.readSecret), readControlToken(settings.controlTokenSecret, ports.readSecret)]);
  problems.push(...credentials.problems, ...controlToken.problems);
  if (problems.length > 0) throw ConfigurationError.listing(SUBJECT, problems);
  try {
    const sandbox = await startSandbox<string>({ generic: plan.generic, credentials: credentials.byProvider });
    return { baseUrl: sandbox.baseUrl, controlToken: controlToken.token, close: () => sandbox.close() };
  } catch (error) {
    // Checked above already; a rule only the sandbox knows (e.g. a provider name's length) still gets listed.
    if (error instanceof SandboxConfigError) throw ConfigurationError.listing(SUBJECT, error.problems);
    throw error;
  }
}

/** Which sandbox provider serves each ops catalog entry, the generic providers to mount, and every problem. */
export function sandboxStartPlan(entries: OpsCatalogEntries): { plan: SandboxStartPlan; problems: string[] } {
  const problems: string[] = [];
  const servings: TrySandboxServing[] = [];
  entries.integrations.forEach((entry, index) => {
    const parsed = parseEntry(entry, 'integration', index, problems);
    if (!parsed) return;
    const provider = servingProviderOf({ name: parsed.name, adapter: parsed.adapter ?? parsed.name });
    servings.push({ owner: parsed.owner, name: parsed.name, provider: provider.name, generic: provider.generic, auth: parsed.auth, ...secretOf(parsed) });
  });
  entries.providers.forEach((entry, index) => {
    const parsed = parseEntry(entry, 'provider', index, problems);
    if (!parsed) return;
    if (!isDedicatedProvider(parsed.name)) {
      problems.push(`${parsed.owner}: no dedicated sandbox provider is called '${parsed.name}' (known: ${PROVIDER_NAMES.join(', ')})`);
      return;
    }
    servings.push({ owner: parsed.owner, name: parsed.name, provider: parsed.name, generic: false, auth: parsed.auth, ...secretOf(parsed) });
  });
  for (const serving of servings) problems.push(...dedicatedAuthProblems(serving));
  const generic = servings.filter((serving) => serving.generic).map((serving) => ({ name: serving.provider, auth: genericAuthOf(serving.auth) }));
  return { plan: { servings, generic }, problems };
}

// ------------------------------------------------------------------ helpers

interface ParsedEntry {
  readonly owner: string;
  readonly name: string;
  readonly adapter?: string;
  readonly auth: AuthConfig;
  readonly secretName?: string;
}

/**
 * The fields of an entry the sandbox needs (the ops functions validate the rest, functions/ops/ops-config.ts), or
 * undefined when they have a problem.
 */
function parseEntry(entry: unknown, kind: 'integration' | 'provider', index: number, problems: string[]): ParsedEntry | undefined {
  if (!isRecord(entry)) {
    problems.push(`${kind}s[${index}]: must be a JSON object like { name, auth, secretName }`);
    return undefined;
  }
  const owner = typeof entry.name === 'string' && entry.name ? `${kind} '${entry.name}'` : `${kind}s[${index}]`;
  const found: string[] = [];
  const badName = nameProblem(entry.name);
  if (badName) found.push(badName);
  const badAdapter = kind === 'integration' && entry.adapter !== undefined ? nameProblem(entry.adapter, 'adapter') : undefined;
  if (badAdapter) found.push(badAdapter);
  const authProblems = authConfigProblems(entry.auth);
  found.push(...authProblems);
  const auth = authProblems.length === 0 ? toAuthConfig(entry.auth as AuthDeclaration) : undefined;
  const secretName = typeof entry.secretName === 'string' && entry.secretName.trim() ? entry.secretName.trim() : undefined;
  if (auth && auth.scheme !== 'none' && !secretName) found.push(`secretName is required for auth scheme '${auth.scheme}'`);
  problems.push(...found.map((problem) => `${owner}: ${problem}`));
  if (found.length > 0 || !auth) return undefined;
  return { owner, name: entry.name as string, ...(typeof entry.adapter === 'string' ? { adapter: entry.adapter } : {}), auth, ...(secretName ? { secretName } : {}) };
}

function secretOf(entry: ParsedEntry): { secretName?: string } {
  return entry.auth.scheme === 'none' || entry.secretName === undefined ? {} : { secretName: entry.secretName };
}

/** A dedicated provider checks its own scheme (and OAuth2 token path): an entry expecting another would never authenticate. */
function dedicatedAuthProblems(serving: TrySandboxServing): string[] {
  if (serving.generic || !isDedicatedProvider(serving.provider)) return [];
  const dedicated = DEDICATED_PROVIDER_AUTH[serving.provider];
  const served = `sandbox provider '${serving.provider}'`;
  if (serving.auth.scheme !== dedicated.scheme) return [`${serving.owner}: auth scheme is '${serving.auth.scheme}' but ${served} checks '${dedicated.scheme}'`];
  const { auth } = serving;
  if (isOAuth2(auth) && auth.tokenUrl.startsWith('/') && auth.tokenUrl !== dedicated.tokenPath) {
    return [`${serving.owner}: auth.tokenUrl is '${auth.tokenUrl}' but ${served} issues tokens at '${dedicated.tokenPath}'`];
  }
  return [];
}

/**
 * The credential of every sandbox provider that serves an entry with a secret, as the secret holds it (only the
 * scheme's fields: a secret may also carry the runtime's `tokenUrl`/`scope` overrides and the access token it keeps
 * there itself), and every problem.
 */
async function readCredentials(
  servings: readonly TrySandboxServing[],
  readSecret: SandboxStartupPorts['readSecret'],
): Promise<{ byProvider: Record<string, Record<string, string>>; problems: string[] }> {
  const secretNames = [...new Set(servings.flatMap((serving) => (serving.secretName ? [serving.secretName] : [])))];
  // Each secret is read once even when several entries share it; a failure is kept as the value to report per entry.
  const read = new Map(await Promise.all(secretNames.map(async (name) => [name, await readSecret(name).catch((error: unknown) => toError(error))] as const)));
  const problems: string[] = [];
  const byProvider: Record<string, Record<string, string>> = {};
  const firstServing = new Map<string, TrySandboxServing>();
  for (const serving of servings) {
    const { secretName } = serving;
    const value = secretName === undefined ? undefined : read.get(secretName);
    if (secretName === undefined || value === undefined) continue;
    if (value instanceof Error) {
      problems.push(`${serving.owner}: ${value.message}`);
      continue;
    }
    const fields = pickFields(value, SECRET_FIELDS[serving.auth.scheme]);
    const fieldProblems = secretFieldProblems(serving.auth.scheme, fields);
    if (fieldProblems.length > 0) {
      problems.push(...fieldProblems.map((problem) => `${serving.owner}: secret '${secretName}': ${problem}`));
      continue;
    }
    const first = firstServing.get(serving.provider);
    const credential = fields as Record<string, string>;
    if (!first) {
      firstServing.set(serving.provider, serving);
      byProvider[serving.provider] = credential;
    } else if (!sameFields(byProvider[serving.provider] ?? {}, credential)) {
      problems.push(
        `${serving.owner}: secret '${secretName}' holds other credentials than '${first.secretName}' of ${first.owner}, and both are served by ` +
          `sandbox provider '${serving.provider}', which checks one credential (give them the same secret, or the same values)`,
      );
    }
  }
  return { byProvider, problems };
}

/** The control token from its secret `{ "token": "..." }`, or the problem with it. */
async function readControlToken(secretId: string, readSecret: SandboxStartupPorts['readSecret']): Promise<{ token: string; problems: string[] }> {
  let secret: Record<string, unknown>;
  try {
    secret = await readSecret(secretId);
  } catch (error) {
    return { token: '', problems: [`control token: ${toError(error).message}`] };
  }
  const { token } = secret;
  if (typeof token !== 'string' || token.length < MIN_CONTROL_TOKEN_LENGTH) {
    return { token: '', problems: [`control token: secret '${secretId}' must be JSON {"token": "<at least ${MIN_CONTROL_TOKEN_LENGTH} characters>"}`] };
  }
  return { token, problems: [] };
}

function pickFields(secret: Record<string, unknown>, fields: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(fields.filter((field) => field in secret).map((field) => [field, secret[field]]));
}

function sameFields(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const keys = Object.keys(a);
  return keys.length === Object.keys(b).length && keys.every((key) => a[key] === b[key]);
}

function toError(error: unknown): Error {
  return error instanceof Error ? error : new Error(String(error));
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
