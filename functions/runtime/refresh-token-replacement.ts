/**
 * Putting a new refresh token into an `oauth2_refresh_token` secret once the customer re-authorized the hub
 * (`npm run hub -- auth set-refresh-token`, docs/operator-cli.md; docs/runbooks/reauthorization-needed.md).
 *
 * It is written under the lease that elects a refresher (refresh-token-credentials.ts), so a refresh in flight — with
 * the old grant — cannot store its rotated token over the new one after the operator wrote it. The access token the
 * secret held belongs to the old grant and is dropped: the next call, or the prober's re-authorization, refreshes
 * with the new refresh token. The fingerprint of the token the provider refused stays recorded, so that the prober
 * can tell the new token from the refused one.
 *
 * The token itself never reaches an error, a log line or the result.
 */
import { randomUUID } from 'node:crypto';
import { RUNTIME_SECRET_FIELDS, SECRET_FIELDS, SECRET_PLACEHOLDER } from './auth-config.js';
import { systemClock } from './clock.js';
import { DependencyError, InvalidCredentialsError } from './errors.js';
import type { Clock, RefreshLeases, WritableSecretSource } from './ports.js';
import { awaitLeaseRelease, fingerprint, refreshLeaseKey } from './refresh-token-credentials.js';

/** Options of {@link replaceRefreshToken}. */
export interface RefreshTokenReplacementOptions {
  readonly secretName: string;
  readonly secrets: WritableSecretSource;
  readonly leases: RefreshLeases;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Who takes the lease. @default `operator-<uuid>` */
  readonly owner?: string;
  /** How long the lease is held at most: one secret read and one write. @default 15 000 */
  readonly leaseMs?: number;
  /** How long to wait for a refresher that holds the lease. @default 30 000 */
  readonly waitMs?: number;
  /** @default 200 */
  readonly pollMs?: number;
}

/** What {@link replaceRefreshToken} found and did. */
export interface RefreshTokenReplacement {
  /**
   * Fields the scheme needs besides the refresh token that the secret lacks or still holds the deploy placeholder in
   * (clientId, clientSecret): no refresh can succeed until they are set.
   */
  readonly unsetFields: readonly string[];
  /** The secret held the refresh token the provider last refused (the usual case after "re-authorization needed"). */
  readonly replacedRefusedToken: boolean;
  /** The secret held an access token, now dropped. */
  readonly droppedAccessToken: boolean;
}

/** The longest refresh token accepted: providers issue a few hundred characters at most. */
export const MAX_REFRESH_TOKEN_LENGTH = 8192;

/**
 * Why `value` cannot be a refresh token, or undefined when it can: RFC 6749 (appendix A.17) allows printable ASCII
 * (VSCHAR, space included) only; leading or trailing white space is a copy-paste accident.
 */
export function refreshTokenProblem(value: string): string | undefined {
  if (value === '') return 'it is empty';
  if (value.trim() !== value) return 'it starts or ends with white space';
  if (value.length > MAX_REFRESH_TOKEN_LENGTH) return `it is longer than ${MAX_REFRESH_TOKEN_LENGTH} characters`;
  // The position only: the character could be part of the token.
  const bad = [...value].findIndex((char) => char < ' ' || char > '~');
  if (bad >= 0) return `character ${bad + 1} is not printable ASCII (RFC 6749 allows no other)`;
  return undefined;
}

/**
 * Writes `refreshToken` into the secret as a new version, without the access token of the old grant, under the
 * refresh lease. @throws InvalidCredentialsError when the token is malformed or is the one the provider refused;
 * DependencyError when the lease stays held by a refresher longer than `waitMs`, or on a store error.
 */
export async function replaceRefreshToken(refreshToken: string, options: RefreshTokenReplacementOptions): Promise<RefreshTokenReplacement> {
  const { secretName, secrets, leases } = options;
  const problem = refreshTokenProblem(refreshToken);
  if (problem !== undefined) throw new InvalidCredentialsError(`The new refresh token for secret '${secretName}' is not valid: ${problem}`);
  const clock = options.clock ?? systemClock;
  const owner = options.owner ?? `operator-${randomUUID()}`;
  const leaseMs = options.leaseMs ?? 15_000;
  const key = refreshLeaseKey(secretName);

  const { rejectedRefreshToken } = await leases.read(key);
  if (rejectedRefreshToken !== undefined && rejectedRefreshToken === fingerprint(refreshToken)) {
    throw new InvalidCredentialsError(
      `The new refresh token for secret '${secretName}' is the one the provider refused: have the customer authorize the hub again and use the token that gives`,
    );
  }
  const waitMs = options.waitMs ?? 30_000;
  const deadline = clock.now() + waitMs;
  for (;;) {
    const now = clock.now();
    if (await leases.acquire(key, owner, now, now + leaseMs)) break;
    if (!(await awaitLeaseRelease(leases, key, clock, deadline, options.pollMs ?? 200))) {
      throw new DependencyError('DynamoDB', `A refresh of secret '${secretName}' has held its lease for longer than ${waitMs} ms: try again`);
    }
  }
  try {
    const secret = await secrets.getJson(secretName, { forceFetch: true });
    const runtimeFields = RUNTIME_SECRET_FIELDS.oauth2_refresh_token;
    const kept = Object.fromEntries(Object.entries(secret).filter(([field]) => !runtimeFields.includes(field)));
    await secrets.putJson(secretName, { ...kept, refreshToken });
    const unsetFields = SECRET_FIELDS.oauth2_refresh_token.filter(
      (field) => field !== 'refreshToken' && (typeof secret[field] !== 'string' || secret[field] === '' || secret[field] === SECRET_PLACEHOLDER),
    );
    return {
      unsetFields,
      replacedRefusedToken: typeof secret.refreshToken === 'string' && rejectedRefreshToken === fingerprint(secret.refreshToken),
      droppedAccessToken: runtimeFields.some((field) => field in secret),
    };
  } finally {
    // Keeps the refused token's fingerprint: the prober compares the secret's token with it.
    await leases.release(key, owner, rejectedRefreshToken === undefined ? {} : { rejectedRefreshToken }).catch(() => undefined);
  }
}
