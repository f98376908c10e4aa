/**
 * `auth set-refresh-token` as both operators do it (AWS: aws-hub-operator.ts; local: local/hub/local-hub-operator.ts):
 * find the circuit's `oauth2_refresh_token` secret, write the new token with the runtime's own
 * functions/runtime/refresh-token-replacement.ts (the lease the functions elect a refresher with, the secret through
 * the same adapter), then read the circuit back. Only the parts differ: which secrets and leases, how a store error
 * reads for the operator.
 */
import type { OpsCatalogEntries } from '../../functions/ops/ops-catalog.js';
import { AUTH_SCHEMES, type AuthScheme } from '../../functions/runtime/auth-config.js';
import { InvalidCredentialsError } from '../../functions/runtime/errors.js';
import type { RefreshLeases, WritableSecretSource } from '../../functions/runtime/ports.js';
import { replaceRefreshToken } from '../../functions/runtime/refresh-token-replacement.js';
import { type CircuitCredentials, type CircuitView, OperatorError, type RefreshTokenSetResult, UnknownCircuitError } from './hub-operator.js';

/** The scheme whose secret holds a refresh token. */
const REFRESH_TOKEN_SCHEME = 'oauth2_refresh_token';

/** What the operation needs from an operator. */
export interface RefreshTokenOperationParts {
  /** How each circuit of the hub authenticates. */
  readonly credentials: ReadonlyMap<string, CircuitCredentials>;
  /** The hub's circuits (for the unknown-circuit message). */
  readonly circuits: readonly string[];
  readonly secrets: WritableSecretSource;
  readonly leases: RefreshLeases;
  /** Turns a store error (a DependencyError wrapping the SDK's) into what the operator can act on. */
  readonly translate: (error: unknown, action: string) => OperatorError;
  readonly status: (circuit: string) => Promise<CircuitView>;
}

/**
 * How each circuit authenticates, from the circuits' SSM parameters (functions/ops/ops-catalog.ts): what the deployed
 * functions were given, rather than what this checkout's catalog says. An entry without a known scheme is left out.
 */
export function circuitCredentialsOfOpsCatalog(entries: OpsCatalogEntries): Map<string, CircuitCredentials> {
  const credentials = new Map<string, CircuitCredentials>();
  for (const entry of [...entries.integrations, ...entries.providers]) {
    const { name, auth, secretName } = (typeof entry === 'object' && entry !== null ? entry : {}) as { name?: unknown; auth?: unknown; secretName?: unknown };
    const scheme = typeof auth === 'string' ? auth : (auth as { scheme?: unknown } | undefined)?.scheme;
    if (typeof name !== 'string' || !AUTH_SCHEMES.includes(scheme as AuthScheme)) continue;
    credentials.set(name, { scheme: scheme as AuthScheme, ...(typeof secretName === 'string' && secretName !== '' ? { secretName } : {}) });
  }
  return credentials;
}

/** The secret of `circuit` if it takes a refresh token; else an OperatorError saying which circuits do. */
export function refreshTokenSecretOf(circuit: string, credentials: ReadonlyMap<string, CircuitCredentials>, circuits: readonly string[]): string {
  const found = credentials.get(circuit);
  if (!found) {
    if (!circuits.includes(circuit)) throw new UnknownCircuitError(circuit, circuits);
    throw new OperatorError(`The hub does not say how circuit '${circuit}' authenticates: redeploy the current version of the hub (docs/deploy.md)`);
  }
  if (found.scheme !== REFRESH_TOKEN_SCHEME) {
    const taking = [...credentials].filter(([, entry]) => entry.scheme === REFRESH_TOKEN_SCHEME).map(([name]) => name);
    throw new OperatorError(
      `Circuit '${circuit}' authenticates with ${found.scheme}, not ${REFRESH_TOKEN_SCHEME}: it has no refresh token. ` +
        `Circuits with one: ${taking.join(', ') || '(none in this hub)'}`,
    );
  }
  if (!found.secretName) throw new OperatorError(`Circuit '${circuit}' has no secret: redeploy the current version of the hub (docs/deploy.md)`);
  return found.secretName;
}

/** Writes the new refresh token of `circuit` (see the file comment). */
export async function setRefreshToken(circuit: string, refreshToken: string, parts: RefreshTokenOperationParts): Promise<RefreshTokenSetResult> {
  const secret = refreshTokenSecretOf(circuit, parts.credentials, parts.circuits);
  let replaced;
  try {
    replaced = await replaceRefreshToken(refreshToken, { secretName: secret, secrets: parts.secrets, leases: parts.leases });
  } catch (error) {
    // A malformed or refused token is the operator's to fix, said as is (it never quotes the token).
    if (error instanceof InvalidCredentialsError) throw new OperatorError(error.message, { cause: error });
    throw parts.translate(error, `write the refresh token into secret ${secret}`);
  }
  return { circuit, secret, ...replaced, circuitAfter: await parts.status(circuit) };
}
