/**
 * Auth scheme `oauth2_refresh_token` (docs/oauth-refresh-tokens.md): a long-lived refresh token, held in the
 * integration's secret, buys short-lived access tokens. Many providers ROTATE the refresh token on every refresh (the
 * old one stops working, sometimes after a short reuse interval), so two instances refreshing at once would lose one
 * rotation and lock the integration out. Hence:
 *
 * - The current access token lives in the secret too (`accessToken`, `accessTokenIssuedAt`, `accessTokenExpiresAt`):
 *   every instance uses the one that the last refresh bought, cached in memory until shortly before it expires.
 * - One refresh at a time across every instance: the refresher is elected with a lease (a conditional write with an
 *   expiry, ports.ts RefreshLeases). Under the lease it re-reads the secret (someone may have just refreshed), calls the
 *   token endpoint and writes the new tokens back as a new secret version BEFORE releasing the lease — nothing runs
 *   between the token response and that write. The others wait for the lease to be released (or to expire, if its
 *   holder died) and read the new version.
 * - A refresher that died between the token response and the write leaves the old refresh token in the secret: the
 *   next one presents it again, which a provider with a reuse interval accepts (the lease's length must stay below
 *   that interval). A provider without one answers `invalid_grant`.
 * - `invalid_grant` (revoked, expired or reused refresh token): ReauthorizationRequiredError, which the HTTP client
 *   turns into the circuit isolated with "re-authorization needed"; the refused token's fingerprint is recorded with
 *   the lease, so it is not presented again, and {@link RefreshTokenCredentials.recover} refreshes as soon as the
 *   secret holds another one (the prober calls it; docs/runbooks/circuit-open-too-long.md "Re-authorization needed").
 *
 * Tokens never reach an error or a log line; the lease records only a fingerprint of a refused token.
 */
import { createHash, randomUUID } from 'node:crypto';
import type { AuthConfig } from './auth-config.js';
import { systemClock } from './clock.js';
import { DependencyError, InvalidCredentialsError, ReauthorizationRequiredError, TokenEndpointError } from './errors.js';
import { HEADER_SAFE_VALUE, isHttpUrl, type OAuth2Client, refreshAtOf, requestToken } from './oauth2-token-endpoint.js';
import type { Clock, CredentialsProvider, HeadersOptions, RefreshLeases, WritableSecretSource } from './ports.js';
import { type ExpiringToken, TokenCache } from './token-cache.js';

/** The scheme's configuration. */
export type RefreshTokenAuth = Extract<AuthConfig, { scheme: 'oauth2_refresh_token' }>;

/** Options of {@link RefreshTokenCredentials}. */
export interface RefreshTokenCredentialsOptions {
  readonly auth: RefreshTokenAuth;
  readonly secretName: string;
  /** Reads and writes the secret. */
  readonly secrets: WritableSecretSource;
  /** Elects the refresher across instances. */
  readonly leases: RefreshLeases;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Timeout of one token request. @default 5000 */
  readonly tokenTimeoutMs?: number;
  /** Access-token lifetime assumed when the response has no `expires_in`. @default 300 */
  readonly defaultTokenLifetimeSeconds?: number;
  /**
   * How long a refresher holds the lease at most: the token request plus the secret write. Keep it below the
   * provider's refresh-token reuse interval, so a refresher that died mid-way can be followed by another.
   * @default tokenTimeoutMs + 10 s
   */
  readonly leaseMs?: number;
  /** How long a caller waits for another instance's refresh before giving up for now (transient). @default leaseMs + 5 s */
  readonly waitMs?: number;
  /** How often a waiting caller looks at the lease. @default 200 */
  readonly pollMs?: number;
  /** Who this instance is in the lease. @default a random UUID */
  readonly instanceId?: string;
}

/** What {@link RefreshTokenCredentials.recover} found. */
export type RecoveryOutcome = 'refreshed' | 'token_unchanged';

interface CachedToken extends ExpiringToken {
  readonly accessToken: string;
}

/** How often the secret write is tried before the refresh is given up (the lease's time bounds it too). */
const SECRET_WRITE_ATTEMPTS = 3;

/** The `oauth2_refresh_token` credentials of one integration in one instance (module scope: shared by all records). */
export class RefreshTokenCredentials implements CredentialsProvider {
  /** A 401/403 after a just-refreshed token means the grant is gone (http-client.ts), not a stale secret. */
  readonly rejectionAfterFreshMeansReauthorization = true;
  private readonly tokens: TokenCache<CachedToken>;
  private readonly clock: Clock;
  private readonly fetchImpl: typeof fetch;
  private readonly tokenTimeoutMs: number;
  private readonly defaultLifetimeMs: number;
  private readonly leaseMs: number;
  private readonly waitMs: number;
  private readonly pollMs: number;
  private readonly owner: string;
  private readonly leaseKey: string;

  constructor(private readonly options: RefreshTokenCredentialsOptions) {
    this.clock = options.clock ?? systemClock;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.tokenTimeoutMs = options.tokenTimeoutMs ?? 5000;
    this.defaultLifetimeMs = (options.defaultTokenLifetimeSeconds ?? 300) * 1000;
    this.leaseMs = options.leaseMs ?? this.tokenTimeoutMs + 10_000;
    this.waitMs = options.waitMs ?? this.leaseMs + 5000;
    this.pollMs = options.pollMs ?? 200;
    this.owner = options.instanceId ?? randomUUID();
    this.leaseKey = refreshLeaseKey(options.secretName);
    this.tokens = new TokenCache(this.clock);
  }

  /**
   * `Authorization: Bearer <access token>`. `fresh: true` (after a 401/403) means the token just used was refused:
   * another one is obtained — from the secret if another instance already refreshed, else by a refresh.
   */
  async headers(options?: HeadersOptions): Promise<Record<string, string>> {
    const fresh = options?.fresh === true;
    // The token the provider refused: the call's own when it says (another call may have replaced it already), else the last one.
    const refused = fresh ? (bearerTokenOf(options?.refused) ?? this.tokens.last?.accessToken) : undefined;
    const token = await this.tokens.get(fresh, () => this.obtain(refused, fresh), (cached) => cached.accessToken === refused);
    return { Authorization: `Bearer ${token.accessToken}` };
  }

  /**
   * For a circuit isolated with "re-authorization needed": refreshes now if the secret holds a refresh token other
   * than the one the provider refused ('refreshed'); 'token_unchanged' when nobody has put a new one in yet (nothing
   * is sent). Throws like a refresh: ReauthorizationRequiredError when the new token is refused too.
   */
  async recover(): Promise<RecoveryOutcome> {
    const secret = await this.options.secrets.getJson(this.options.secretName, { forceFetch: true });
    const { refreshToken } = this.clientFrom(secret);
    const { rejectedRefreshToken } = await this.options.leases.read(this.leaseKey);
    if (rejectedRefreshToken !== undefined && rejectedRefreshToken === fingerprint(refreshToken)) return 'token_unchanged';
    // Whatever access token the secret still holds belongs to the refused grant: refresh regardless.
    await this.tokens.get(true, () => this.obtain(undefined, true, true));
    return 'refreshed';
  }

  /**
   * A usable token: the secret's, unless it is `rejected` or due; else the one bought by whoever wins the lease.
   * `forceRefresh` skips the secret's token (recovery: it belongs to a grant that is gone).
   */
  private async obtain(rejected: string | undefined, readFresh: boolean, forceRefresh = false): Promise<CachedToken> {
    const deadline = this.clock.now() + this.waitMs;
    let fresh = readFresh;
    for (;;) {
      if (!forceRefresh) {
        const stored = this.storedToken(await this.read(fresh), rejected);
        if (stored) return stored;
      }
      fresh = true;
      const now = this.clock.now();
      if (await this.options.leases.acquire(this.leaseKey, this.owner, now, now + this.leaseMs)) {
        return this.refreshUnderLease(rejected, forceRefresh);
      }
      if (!(await awaitLeaseRelease(this.options.leases, this.leaseKey, this.clock, deadline, this.pollMs))) {
        throw new TokenEndpointError(`Another instance's refresh of the access token for secret '${this.options.secretName}' did not finish within ${this.waitMs} ms`);
      }
    }
  }

  private async refreshUnderLease(rejected: string | undefined, forceRefresh: boolean): Promise<CachedToken> {
    let refused: string | undefined;
    try {
      const secret = await this.read(true);
      if (!forceRefresh) {
        // Another instance may have refreshed between our read and our lease.
        const stored = this.storedToken(secret, rejected);
        if (stored) return stored;
      }
      const client = this.clientFrom(secret);
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: client.refreshToken });
      const { scopes, scopeOnRefresh } = this.options.auth;
      if (scopes && scopeOnRefresh !== false) form.set('scope', scopes.join(' '));
      const grantedAt = this.clock.now();
      let granted;
      try {
        granted = await requestToken(client, form, {
          clock: this.clock,
          fetch: this.fetchImpl,
          timeoutMs: this.tokenTimeoutMs,
          defaultLifetimeMs: this.defaultLifetimeMs,
          grantIsRefreshToken: true,
        });
      } catch (error) {
        if (error instanceof ReauthorizationRequiredError) refused = fingerprint(client.refreshToken);
        throw error;
      }
      // The provider may have rotated the refresh token: nothing but the write happens until it is stored.
      await this.write({
        ...secret,
        refreshToken: granted.refreshToken ?? client.refreshToken,
        accessToken: granted.accessToken,
        accessTokenIssuedAt: grantedAt,
        accessTokenExpiresAt: granted.expiresAt,
      });
      return { accessToken: granted.accessToken, refreshAt: refreshAtOf(grantedAt, granted.expiresAt) };
    } finally {
      // A failed release only makes the others wait for the lease to expire.
      await this.options.leases.release(this.leaseKey, this.owner, refused === undefined ? {} : { rejectedRefreshToken: refused }).catch(() => undefined);
    }
  }

  private async write(secret: Record<string, unknown>): Promise<void> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        await this.options.secrets.putJson(this.options.secretName, secret);
        return;
      } catch (error) {
        if (attempt >= SECRET_WRITE_ATTEMPTS) {
          // The rotated refresh token is lost unless the provider honours a reuse interval (the runbook says so).
          throw new DependencyError('SecretsManager', `Could not store the refreshed tokens in secret '${this.options.secretName}' (${SECRET_WRITE_ATTEMPTS} attempts)`, {
            cause: error,
          });
        }
        await this.clock.sleep(100 * 2 ** attempt);
      }
    }
  }

  /** The secret's access token when it can be used now (not `rejected`, not due); undefined otherwise. */
  private storedToken(secret: Record<string, unknown>, rejected: string | undefined): CachedToken | undefined {
    const { accessToken, accessTokenIssuedAt, accessTokenExpiresAt } = secret;
    if (typeof accessToken !== 'string' || !HEADER_SAFE_VALUE.test(accessToken) || accessToken === rejected) return undefined;
    if (typeof accessTokenExpiresAt !== 'number' || !Number.isFinite(accessTokenExpiresAt)) return undefined;
    const issuedAt = typeof accessTokenIssuedAt === 'number' && Number.isFinite(accessTokenIssuedAt) ? accessTokenIssuedAt : accessTokenExpiresAt;
    const refreshAt = refreshAtOf(issuedAt, accessTokenExpiresAt);
    return this.clock.now() < refreshAt ? { accessToken, refreshAt } : undefined;
  }

  private clientFrom(secret: Record<string, unknown>): OAuth2Client & { readonly refreshToken: string } {
    const { secretName, auth } = this.options;
    const bad = ['clientId', 'clientSecret', 'refreshToken'].filter((field) => typeof secret[field] !== 'string' || secret[field] === '');
    const tokenUrl = secret.tokenUrl ?? auth.tokenUrl;
    if (typeof tokenUrl !== 'string' || !isHttpUrl(tokenUrl)) bad.push('tokenUrl');
    if (bad.length > 0) {
      throw new InvalidCredentialsError(
        `Secret '${secretName}' cannot be used for auth scheme '${auth.scheme}': missing or invalid field(s) ${bad.join(', ')} (must be non-empty strings; tokenUrl an http(s) URL)`,
      );
    }
    return { clientId: secret.clientId as string, clientSecret: secret.clientSecret as string, refreshToken: secret.refreshToken as string, tokenUrl: tokenUrl as string };
  }

  private read(fresh: boolean): Promise<Record<string, unknown>> {
    return this.options.secrets.getJson(this.options.secretName, fresh ? { forceFetch: true } : undefined);
  }
}

/** The token of an `Authorization: Bearer <token>` header, if `headers` has one. */
function bearerTokenOf(headers: Readonly<Record<string, string>> | undefined): string | undefined {
  const authorization = headers?.Authorization;
  return authorization?.startsWith('Bearer ') ? authorization.slice('Bearer '.length) : undefined;
}

/** Waits until lease `key` is free or expired; false when `deadline` (epoch ms) came first. */
export async function awaitLeaseRelease(leases: RefreshLeases, key: string, clock: Clock, deadline: number, pollMs: number): Promise<boolean> {
  for (;;) {
    const { owner, until } = await leases.read(key);
    const now = clock.now();
    if (owner === undefined || until === undefined || until <= now) return true;
    if (now >= deadline) return false;
    await clock.sleep(Math.min(pollMs, Math.max(1, until - now)));
  }
}

/** The lease item of a secret's grant (one grant per secret). */
export function refreshLeaseKey(secretName: string): string {
  return `oauth-refresh#${secretName}`;
}

/** A refresh token's fingerprint: enough to tell two tokens apart, useless to anyone who reads it. */
export function fingerprint(refreshToken: string): string {
  return createHash('sha256').update(refreshToken, 'utf8').digest('base64url').slice(0, 16);
}
