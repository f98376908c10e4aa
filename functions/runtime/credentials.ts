/**
 * Turns an integration's auth configuration plus its secret into request headers. The secret is read through a
 * {@link SecretSource} (cached there); OAuth2 access tokens are cached here until shortly before they expire and
 * fetched single-flight. `headers({ fresh: true })` — used after a 401/403 — bypasses every cache, so a rotated
 * secret is picked up.
 *
 * Errors name the secret, the scheme and missing FIELD NAMES, never a value; the token endpoint's response body is
 * only quoted as its OAuth `error`/`error_description`, with our own credentials redacted.
 */
import { type AuthConfig, type AuthScheme, DEFAULT_API_KEY_HEADER, isOAuth2 } from './auth-config.js';
import { systemClock } from './clock.js';
import { AuthenticationError, ConfigurationError, InvalidCredentialsError } from './errors.js';
import { HEADER_SAFE_VALUE, isHttpUrl, type OAuth2Client, refreshAtOf, requestToken } from './oauth2-token-endpoint.js';
import { RefreshTokenCredentials } from './refresh-token-credentials.js';
import { type ExpiringToken, TokenCache } from './token-cache.js';
import type { Clock, CredentialsProvider, HeadersOptions, RefreshLeases, SecretSource, WritableSecretSource } from './ports.js';

export { type AuthConfig, type AuthScheme, DEFAULT_API_KEY_HEADER } from './auth-config.js';

/** Options of {@link createCredentialsProvider}. */
export interface CredentialsProviderOptions {
  readonly auth: AuthConfig;
  /** The secret holding the credentials; required unless the scheme is 'none'. */
  readonly secretName?: string;
  /** Required unless the scheme is 'none'; `oauth2_refresh_token` writes to it too (a {@link WritableSecretSource}). */
  readonly secrets?: SecretSource | WritableSecretSource;
  /** Elects one refresher across instances; required for 'oauth2_refresh_token'. */
  readonly leases?: RefreshLeases;
  /** This instance in the refresh lease. @default a random UUID */
  readonly instanceId?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** Used for the OAuth2 token request. @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Timeout of one token request. @default 5000 */
  readonly tokenTimeoutMs?: number;
  /** Token lifetime assumed when the token response has no `expires_in`. @default 300 */
  readonly defaultTokenLifetimeSeconds?: number;
}

export { TOKEN_EXPIRY_SKEW_MS } from './oauth2-token-endpoint.js';

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;

/** Creates the provider for one integration (module scope: the token cache is shared by all records). */
export function createCredentialsProvider(options: CredentialsProviderOptions): CredentialsProvider {
  const { auth } = options;
  if (auth.scheme === 'none') return { headers: async () => ({}) };

  const problems: string[] = [];
  if (!options.secretName) problems.push(`secretName is required for auth scheme '${auth.scheme}'`);
  if (!options.secrets) problems.push(`secrets (a SecretSource) is required for auth scheme '${auth.scheme}'`);
  if (auth.scheme === 'api_key' && auth.headerName !== undefined && !HEADER_NAME.test(auth.headerName)) {
    problems.push('auth.headerName is not a valid HTTP header name');
  }
  if (isOAuth2(auth) && !isHttpUrl(auth.tokenUrl)) problems.push('auth.tokenUrl must be an http(s) URL');
  if (auth.scheme === 'oauth2_refresh_token') {
    if (!options.leases) problems.push("leases (a RefreshLeases) are required for auth scheme 'oauth2_refresh_token'");
    if (options.secrets && !isWritable(options.secrets)) problems.push("secrets must be writable (putJson) for auth scheme 'oauth2_refresh_token': it stores the rotated tokens");
  }
  if (problems.length > 0 || !options.secretName || !options.secrets) {
    throw new ConfigurationError(`Invalid credentials configuration: ${problems.join('; ')}`);
  }

  const secretName = options.secretName;
  const secrets = options.secrets;
  const read = (fresh: boolean) => secrets.getJson(secretName, fresh ? { forceFetch: true } : undefined);

  switch (auth.scheme) {
    case 'bearer':
      return {
        async headers(opts) {
          const { token } = requireFields(await read(opts?.fresh === true), secretName, auth.scheme, ['token']);
          return { Authorization: `Bearer ${token}` };
        },
      };
    case 'api_key': {
      const headerName = auth.headerName ?? DEFAULT_API_KEY_HEADER;
      return {
        async headers(opts) {
          const { apiKey } = requireFields(await read(opts?.fresh === true), secretName, auth.scheme, ['apiKey']);
          return { [headerName]: apiKey };
        },
      };
    }
    case 'basic':
      return {
        async headers(opts) {
          const fields = requireFields(await read(opts?.fresh === true), secretName, auth.scheme, ['username', 'password'], {
            // Basic credentials are base64-encoded, so any character is fine except ':' in the user-id (RFC 7617).
            headerSafe: false,
          });
          if (fields.username.includes(':')) throw invalidFields(secretName, auth.scheme, ['username'], "must not contain ':'");
          return { Authorization: `Basic ${Buffer.from(`${fields.username}:${fields.password}`, 'utf8').toString('base64')}` };
        },
      };
    case 'oauth2_client_credentials':
      return new OAuth2ClientCredentials(auth, secretName, read, options);
    case 'oauth2_refresh_token':
      return new RefreshTokenCredentials({ ...options, auth, secretName, secrets: secrets as WritableSecretSource, leases: options.leases! });
  }
}

interface OAuth2ClientWithScope extends OAuth2Client {
  readonly scope?: string;
}

interface CachedToken extends ExpiringToken {
  readonly authorization: string;
}

/** OAuth2 client-credentials grant with a cached, single-flight access token. */
class OAuth2ClientCredentials implements CredentialsProvider {
  private readonly tokens: TokenCache<CachedToken>;
  private readonly clock: Clock;
  private readonly fetchImpl: typeof fetch;
  private readonly tokenTimeoutMs: number;
  private readonly defaultLifetimeMs: number;

  constructor(
    private readonly auth: Extract<AuthConfig, { scheme: 'oauth2_client_credentials' }>,
    private readonly secretName: string,
    private readonly read: (fresh: boolean) => Promise<Record<string, unknown>>,
    options: CredentialsProviderOptions,
  ) {
    this.clock = options.clock ?? systemClock;
    this.fetchImpl = options.fetch ?? ((input, init) => globalThis.fetch(input, init));
    this.tokenTimeoutMs = options.tokenTimeoutMs ?? 5000;
    this.defaultLifetimeMs = (options.defaultTokenLifetimeSeconds ?? 300) * 1000;
    this.tokens = new TokenCache(this.clock);
  }

  async headers(options?: HeadersOptions): Promise<Record<string, string>> {
    const fresh = options?.fresh === true;
    const refused = options?.refused?.Authorization;
    const token = await this.tokens.get(fresh, () => this.obtainToken(fresh), refused === undefined ? undefined : (cached) => cached.authorization === refused);
    return { Authorization: token.authorization };
  }

  private async obtainToken(fresh: boolean): Promise<CachedToken> {
    const client = this.clientFrom(await this.read(fresh));
    try {
      return await this.requestToken(client);
    } catch (error) {
      if (fresh || !(error instanceof AuthenticationError)) throw error;
      // The cached secret may be older than a rotation: re-read it, and try once more only if it changed.
      const current = this.clientFrom(await this.read(true));
      if (sameClient(client, current)) throw error;
      return this.requestToken(current);
    }
  }

  private clientFrom(secret: Record<string, unknown>): OAuth2ClientWithScope {
    const { clientId, clientSecret } = requireFields(secret, this.secretName, this.auth.scheme, ['clientId', 'clientSecret'], { headerSafe: false });
    const tokenUrl = optionalString(secret, 'tokenUrl', this.secretName, this.auth.scheme) ?? this.auth.tokenUrl;
    if (!isHttpUrl(tokenUrl)) throw invalidFields(this.secretName, this.auth.scheme, ['tokenUrl'], 'must be an http(s) URL');
    const scope = optionalString(secret, 'scope', this.secretName, this.auth.scheme) ?? this.auth.scope;
    return { clientId, clientSecret, tokenUrl, scope };
  }

  private async requestToken(client: OAuth2ClientWithScope): Promise<CachedToken> {
    const grantedAt = this.clock.now();
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (client.scope) form.set('scope', client.scope);
    const token = await requestToken(client, form, { clock: this.clock, fetch: this.fetchImpl, timeoutMs: this.tokenTimeoutMs, defaultLifetimeMs: this.defaultLifetimeMs });
    return { authorization: `Bearer ${token.accessToken}`, refreshAt: refreshAtOf(grantedAt, token.expiresAt) };
  }
}


function sameClient(a: OAuth2ClientWithScope, b: OAuth2ClientWithScope): boolean {
  return a.clientId === b.clientId && a.clientSecret === b.clientSecret && a.tokenUrl === b.tokenUrl && a.scope === b.scope;
}

/**
 * Reads required string fields from a secret; reports every missing or unusable field by NAME in one error.
 * `headerSafe` (default true) also requires values that can go into an HTTP header verbatim.
 */
function requireFields<K extends string>(
  secret: Record<string, unknown>,
  secretName: string,
  scheme: AuthScheme,
  names: readonly K[],
  options: { headerSafe?: boolean } = {},
): Record<K, string> {
  const headerSafe = options.headerSafe ?? true;
  const result = {} as Record<K, string>;
  const bad: string[] = [];
  for (const name of names) {
    const value = isRecord(secret) ? secret[name] : undefined;
    if (typeof value !== 'string' || value === '' || (headerSafe && !HEADER_SAFE_VALUE.test(value))) bad.push(name);
    else result[name] = value;
  }
  if (bad.length > 0) {
    throw invalidFields(secretName, scheme, bad, headerSafe ? 'must be non-empty strings of printable ASCII' : 'must be non-empty strings');
  }
  return result;
}

function optionalString(secret: Record<string, unknown>, name: string, secretName: string, scheme: AuthScheme): string | undefined {
  const value = secret[name];
  if (value === undefined || value === null) return undefined;
  if (typeof value !== 'string' || value === '') throw invalidFields(secretName, scheme, [name], 'must be a non-empty string when present');
  return value;
}

function invalidFields(secretName: string, scheme: AuthScheme, fields: readonly string[], rule: string): InvalidCredentialsError {
  return new InvalidCredentialsError(
    `Secret '${secretName}' cannot be used for auth scheme '${scheme}': missing or invalid field(s) ${fields.join(', ')} (${rule})`,
  );
}



function isWritable(secrets: SecretSource | WritableSecretSource): secrets is WritableSecretSource {
  return typeof (secrets as Partial<WritableSecretSource>).putJson === 'function';
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

