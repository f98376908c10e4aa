/**
 * The credential half of a sandbox provider, one builder per auth scheme of the runtime
 * (functions/runtime/auth-config.ts `AuthConfig`): bearer token, API key in a header, HTTP Basic, OAuth2 client
 * credentials, OAuth2 refresh token (the two OAuth2 builders share client authentication, scopes and access tokens). A
 * builder keeps the current secret, mints a new one on rotation and checks a request's headers; the
 * dedicated providers and the generic one (generic-api.ts) spread the result into their `SandboxProvider`, so a
 * scheme behaves the same (codes, `WWW-Authenticate`, rotation) whichever provider uses it.
 *
 * Secrets are minted by the caller (`mint`), from its own seeded stream, so each provider's credentials stay what
 * they were for a given seed. `setCredentials` replaces the minted secret with a given one (a sandbox started with the
 * hub's existing secrets, server.ts `credentials`); rotation then mints from the same stream as before.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { apiKey, basicCredentials, bearerToken, invalidCredentials, missingCredentials, secretsEqual } from './auth.js';
import {
  type AuthResult,
  errorResponse,
  formFields,
  MAX_REUSE_INTERVAL_SECONDS,
  type ProviderRoute,
  type RefreshTokenCredentials,
  type RefreshTokenGrantControl,
  type RouteResponse,
  type SandboxProvider,
} from './provider.js';

/** The credential members of a {@link SandboxProvider}, ready to be spread into it. */
export type CredentialCheck<TCredentials extends object> = Pick<
  SandboxProvider<TCredentials, object>,
  'credentials' | 'rotateCredentials' | 'setCredentials' | 'authenticate' | 'authChallenge' | 'apiKeyHeader'
>;

/** Options of {@link bearerAuth}. */
export interface BearerAuthOptions<K extends string> {
  /** The credential field holding the token (`token`; payments calls it `secretKey`). */
  readonly field: K;
  /** Mints a token: once at start, then on every rotation. */
  readonly mint: () => string;
  /** Who a valid token authenticates. */
  readonly principal: string;
  /** What the token is called in the "expected" message. @default 'token' */
  readonly noun?: string;
  /** Message of a wrong token. @default 'invalid API token' */
  readonly invalidMessage?: string;
}

/** `Authorization: Bearer <token>` with a static, rotatable token; the credential is `{ [field]: token }`. */
export function bearerAuth<K extends string>(options: BearerAuthOptions<K>): CredentialCheck<{ readonly [P in K]: string }> {
  let token = options.mint();
  const credentials = () => ({ [options.field]: token }) as { readonly [P in K]: string };
  return {
    credentials,
    rotateCredentials() {
      token = options.mint();
      return credentials();
    },
    setCredentials(given) {
      token = given[options.field];
    },
    authenticate(headers): AuthResult {
      const presented = bearerToken(headers);
      if (presented === undefined) {
        return headers.authorization ? invalidCredentials(`expected "Bearer <${options.noun ?? 'token'}>"`) : missingCredentials();
      }
      return secretsEqual(presented, token) ? { ok: true, principal: options.principal } : invalidCredentials(options.invalidMessage ?? 'invalid API token');
    },
  };
}

/** Options of {@link apiKeyAuth}. */
export interface ApiKeyAuthOptions {
  /** Header carrying the key (any case). @default 'X-Api-Key' */
  readonly header?: string;
  /** Mints a key: once at start, then on every rotation. */
  readonly mint: () => string;
  /** Who a valid key authenticates. */
  readonly principal: string;
  /** Realm of the 401 challenge (the provider name). */
  readonly realm: string;
}

/** An API key in a header; the credential is `{ apiKey }`. */
export function apiKeyAuth(options: ApiKeyAuthOptions): CredentialCheck<{ readonly apiKey: string }> {
  const header = options.header ?? 'X-Api-Key';
  let key = options.mint();
  return {
    authChallenge: `ApiKey realm="${options.realm}", header="${header}"`,
    apiKeyHeader: header,
    credentials: () => ({ apiKey: key }),
    rotateCredentials() {
      key = options.mint();
      return { apiKey: key };
    },
    setCredentials(given) {
      key = given.apiKey;
    },
    authenticate(headers): AuthResult {
      const presented = apiKey(headers, header);
      if (presented === undefined || presented === '') {
        return missingCredentials(headers.authorization ? `expected the API key in the ${header} header` : `${header} header required`);
      }
      return secretsEqual(presented, key) ? { ok: true, principal: options.principal } : invalidCredentials('invalid API key');
    },
  };
}

/** Options of {@link basicAuth}. */
export interface BasicAuthOptions {
  /** The username; rotation keeps it (it changes the password, as with real accounts). */
  readonly username: string;
  /** Mints a password: once at start, then on every rotation. */
  readonly mintPassword: () => string;
  /** Realm of the 401 challenge (the provider name). */
  readonly realm: string;
}

/** HTTP Basic; the credential is `{ username, password }` and the principal the username. */
export function basicAuth(options: BasicAuthOptions): CredentialCheck<{ readonly username: string; readonly password: string }> {
  let { username } = options;
  let password = options.mintPassword();
  return {
    authChallenge: `Basic realm="${options.realm}"`,
    credentials: () => ({ username, password }),
    rotateCredentials() {
      password = options.mintPassword();
      return { username, password };
    },
    setCredentials(given) {
      ({ username, password } = given);
    },
    authenticate(headers): AuthResult {
      // HTTP Basic carries user-id and password as they are (RFC 7617), unlike OAuth2 client authentication.
      const presented = basicCredentials(headers, 'plain');
      if (!presented) return headers.authorization ? invalidCredentials('expected HTTP Basic credentials') : missingCredentials();
      const valid = secretsEqual(presented.id, username) && secretsEqual(presented.secret, password);
      return valid ? { ok: true, principal: username } : invalidCredentials('invalid username or password');
    },
  };
}


// ------------------------------------------------------------------ OAuth2: what both grants share

/** An OAuth2 client: the id stays, the secret rotates. */
type OAuth2Client = { readonly clientId: string; readonly clientSecret: string };

/** Why a token request was refused before its grant was looked at. */
interface TokenRequestFailure {
  readonly status: 400 | 401;
  /** The sandbox's code (`missing_credentials`, `invalid_credentials`, `invalid_request`, `unsupported_grant_type`). */
  readonly code: string;
  /** The RFC 6749 §5.2 error code of the same failure (`invalid_client` for both 401s). */
  readonly error: string;
  readonly message: string;
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Checks the grant type and the client authentication of a token request: HTTP Basic with the id and secret
 * form-urlencoded before the Basic encoding (RFC 6749 §2.3.1), or `client_id`/`client_secret` form fields, never both.
 * Undefined when the request may go on to its grant.
 */
function tokenRequestFailure(
  form: Readonly<Record<string, string>>,
  headers: IncomingHttpHeaders,
  grantType: string,
  client: OAuth2Client,
  realm: string,
): TokenRequestFailure | undefined {
  const refuse = (status: 400 | 401, code: string, message: string, extra: Readonly<Record<string, string>> = {}): TokenRequestFailure => ({
    status,
    code,
    error: status === 401 ? 'invalid_client' : code,
    message,
    headers: extra,
  });
  if (!form.grant_type) return refuse(400, 'invalid_request', 'grant_type is required');
  if (form.grant_type !== grantType) return refuse(400, 'unsupported_grant_type', `grant_type "${form.grant_type}" is not supported`);
  const authorization = basicCredentials(headers, 'form-encoded');
  const hasAuthHeader = headers.authorization !== undefined;
  const formClient = form.client_id !== undefined || form.client_secret !== undefined;
  if (hasAuthHeader && formClient) return refuse(400, 'invalid_request', 'use either HTTP Basic or client_id/client_secret, not both');
  if (hasAuthHeader && !authorization) return refuse(401, 'invalid_credentials', 'malformed Basic authorization header');
  const presented = authorization ?? (formClient ? { id: form.client_id ?? '', secret: form.client_secret ?? '' } : undefined);
  if (!presented) return refuse(401, 'missing_credentials', 'client authentication required');
  if (!secretsEqual(presented.id, client.clientId) || !secretsEqual(presented.secret, client.clientSecret)) {
    return refuse(401, 'invalid_credentials', 'invalid client credentials', hasAuthHeader ? { 'www-authenticate': `Basic realm="${realm}"` } : {});
  }
  return undefined;
}

/**
 * The scopes a token request gets: the requested ones (space-separated `scope`), or all of `allowed` when none are
 * requested; `refused` lists the requested ones outside `allowed` (`undefined`: any scope is granted).
 */
function grantedScopes(scope: string | undefined, allowed: readonly string[] | undefined): { scopes: readonly string[]; refused: readonly string[] } {
  const requested = (scope ?? '').split(' ').filter(Boolean);
  const refused = allowed === undefined ? [] : requested.filter((name) => !allowed.includes(name));
  return { scopes: requested.length > 0 || allowed === undefined ? requested : allowed, refused };
}

/** A 401 for an access token revoked since it was issued; the reason is checked on every request. */
type Revocation = Extract<AuthResult, { ok: false }>;

interface IssuedToken {
  readonly expiresAt: number;
  readonly scopes: readonly string[];
  /** Why the token no longer works, if it does not. */
  readonly revoked: () => Revocation | undefined;
}

/** Access tokens issued by a token endpoint, and the Bearer check of the API routes against them. */
function accessTokenStore(options: { readonly mint: () => string; readonly expiresInSeconds: number; readonly now: () => number }) {
  const tokens = new Map<string, IssuedToken>();
  let issued = 0;
  return {
    /** Mints a token carrying `scopes`; its answer is the 200 of RFC 6749 §5.1 plus `extra` (a refresh token). */
    issue(scopes: readonly string[], revoked: IssuedToken['revoked'], extra: Readonly<Record<string, string>> = {}): RouteResponse {
      const accessToken = options.mint();
      tokens.set(accessToken, { expiresAt: options.now() + options.expiresInSeconds * 1000, scopes, revoked });
      issued++;
      return {
        status: 200,
        body: { access_token: accessToken, token_type: 'Bearer', expires_in: options.expiresInSeconds, ...extra, scope: scopes.join(' ') },
        headers: NO_STORE,
      };
    },
    issued: () => issued,
    authenticate(headers: IncomingHttpHeaders, route: ProviderRoute, principal: string): AuthResult {
      const token = bearerToken(headers);
      if (token === undefined) return headers.authorization ? invalidCredentials('expected a Bearer token') : missingCredentials();
      const found = tokens.get(token);
      if (!found) return invalidCredentials('unknown access token');
      const revocation = found.revoked();
      if (revocation) return revocation;
      if (options.now() >= found.expiresAt) return { ok: false, status: 401, code: 'token_expired', message: 'access token expired' };
      if (route.requiredScope && !found.scopes.includes(route.requiredScope)) {
        return { ok: false, status: 403, code: 'insufficient_scope', message: `token lacks scope "${route.requiredScope}"` };
      }
      return { ok: true, principal };
    },
  };
}

/** Token answers are never cached (RFC 6749 §5.1). */
const NO_STORE: Readonly<Record<string, string>> = { 'cache-control': 'no-store', pragma: 'no-cache' };

/** The mounted token endpoint (unauthenticated: the client authenticates in the request). */
function tokenEndpoint(path: string, handle: (form: Readonly<Record<string, string>>, headers: IncomingHttpHeaders) => RouteResponse): ProviderRoute {
  return { method: 'POST', path, auth: 'none', body: 'form', handle: (request) => handle(formFields(request.body), request.headers) };
}

// ------------------------------------------------------------------ OAuth2 client credentials

/** Options of {@link oauth2ClientCredentials}. */
export interface OAuth2Options {
  /** Realm of the token endpoint's Basic challenge (the provider name). */
  readonly realm: string;
  /** Path of the token endpoint below the provider prefix (`/oauth/token`). */
  readonly tokenPath: string;
  /** Mints the client id (once), the client secret (at start and on rotation) and access tokens, in that order. */
  readonly mint: { readonly clientId: () => string; readonly clientSecret: () => string; readonly accessToken: () => string };
  /** `expires_in` of issued tokens, seconds, checked against `now`. */
  readonly expiresInSeconds: number;
  /** The sandbox clock, epoch ms. */
  readonly now: () => number;
  /**
   * Scopes a token may carry; a request without `scope` gets all of them, an unknown one is 400 `invalid_scope`.
   * Routes demand one with `requiredScope` (403 `insufficient_scope`).
   * @default any requested scope is granted (a provider without scopes)
   */
  readonly scopes?: readonly string[];
}

/** The OAuth2 scheme: the credential members plus the token endpoint to mount and a counter for tests. */
export interface OAuth2ClientCredentials extends CredentialCheck<OAuth2Client> {
  /** `POST <tokenPath>` (form, client id/secret via Basic or form fields), unauthenticated. */
  readonly tokenRoute: ProviderRoute;
  /** Access tokens issued since start (tokens survive a provider reset). */
  tokensIssued(): number;
}

/**
 * OAuth2 client-credentials grant (RFC 6749 §4.4), then `Authorization: Bearer <access token>`. Rotation replaces the
 * client secret (the client id stays, as in real identity providers) and revokes every token issued before it; so does
 * setting given credentials. Errors have the sandbox's shape `{ error: { code, message } }`.
 */
export function oauth2ClientCredentials(options: OAuth2Options): OAuth2ClientCredentials {
  let clientId = options.mint.clientId();
  let clientSecret = options.mint.clientSecret();
  let generation = 1;
  const access = accessTokenStore({ mint: options.mint.accessToken, expiresInSeconds: options.expiresInSeconds, now: options.now });
  const rotated: Revocation = { ok: false, status: 401, code: 'invalid_credentials', message: 'access token revoked: client credentials were rotated' };

  const issueToken = (form: Readonly<Record<string, string>>, headers: IncomingHttpHeaders): RouteResponse => {
    const failure = tokenRequestFailure(form, headers, 'client_credentials', { clientId, clientSecret }, options.realm);
    if (failure) return errorResponse(failure.status, failure.code, failure.message, failure.headers ? { headers: failure.headers } : {});
    const { scopes, refused } = grantedScopes(form.scope, options.scopes);
    if (refused.length > 0) return errorResponse(400, 'invalid_scope', `unknown scope(s): ${refused.join(', ')}`);
    const issuedIn = generation;
    return access.issue(scopes, () => (issuedIn === generation ? undefined : rotated));
  };

  return {
    tokenRoute: tokenEndpoint(options.tokenPath, issueToken),
    tokensIssued: access.issued,
    credentials: () => ({ clientId, clientSecret }),
    rotateCredentials() {
      generation++;
      clientSecret = options.mint.clientSecret();
      return { clientId, clientSecret };
    },
    setCredentials(given) {
      generation++;
      ({ clientId, clientSecret } = given);
    },
    authenticate: (headers, route) => access.authenticate(headers, route, clientId),
  };
}

// ------------------------------------------------------------------ OAuth2 refresh token

/** Options of {@link oauth2RefreshToken}. */
export interface OAuth2RefreshTokenOptions {
  /** Realm of the token endpoint's Basic challenge (the provider name). */
  readonly realm: string;
  /** Path of the token endpoint below the provider prefix (`/oauth/token`). */
  readonly tokenPath: string;
  /**
   * Mints the client id (once), the client secret (at start and on rotation), refresh tokens (the first grant's at
   * start, then one per refresh and per `authorize`) and access tokens. Refresh and access tokens must differ in form
   * (a prefix), as a provider's do.
   */
  readonly mint: {
    readonly clientId: () => string;
    readonly clientSecret: () => string;
    readonly refreshToken: () => string;
    readonly accessToken: () => string;
  };
  /** `expires_in` of issued access tokens, seconds, checked against `now`. */
  readonly expiresInSeconds: number;
  /** The sandbox clock, epoch ms. */
  readonly now: () => number;
  /**
   * The scopes a grant holds (the customer consented to all of them): a refresh may ask for a subset (else 400
   * `invalid_scope`) and gets all of them without `scope`. Routes demand one with `requiredScope`.
   * @default any requested scope is granted (a provider without scopes)
   */
  readonly scopes?: readonly string[];
  /** False: a refresh carrying `scope` is refused with 400 `invalid_request`, as some providers do. @default true */
  readonly scopeOnRefresh?: boolean;
  /** How long after its first use a refresh token may be presented again (0: never). Changeable at run time. @default 0 */
  readonly reuseIntervalSeconds?: number;
}

/** The refresh-token scheme: the credential members, the grant's controls and the token endpoint to mount. */
export interface OAuth2RefreshToken extends CredentialCheck<RefreshTokenCredentials>, RefreshTokenGrantControl {
  /** `POST <tokenPath>` (form `grant_type=refresh_token`, client id/secret via Basic or form fields), unauthenticated. */
  readonly tokenRoute: ProviderRoute;
}

/** One authorization of the customer: its refresh tokens rotate, its scopes stay. */
interface Grant {
  readonly scopes: readonly string[] | undefined;
  revoked: boolean;
  /** The refresh token a refresh must present. */
  current: string;
  /** The refresh token presented last, and when it was first used (the reuse interval runs from then). */
  previous?: { readonly token: string; readonly usedAt: number };
}

/**
 * OAuth2 refresh-token grant (RFC 6749 §6) with refresh-token rotation and reuse detection, the way identity
 * providers that rotate refresh tokens do it, then `Authorization: Bearer <access token>`. The credential is the client plus the CURRENT
 * refresh token of the grant the customer gave.
 *
 * Every refresh with the current refresh token issues an access token and a new refresh token; the presented one
 * becomes the previous one. Presenting the previous one again within `reuseIntervalSeconds` of its first use is
 * accepted (new tokens again); presenting it later, or any older one, is reuse: 400 `invalid_grant` and the whole
 * grant is revoked (refresh and access tokens). The token endpoint answers RFC 6749 §5.2 errors
 * `{ error, error_description }` (`invalid_client`, `invalid_grant`, `invalid_scope`, `invalid_request`,
 * `unsupported_grant_type`) as real providers do, unlike the sandbox's other errors.
 *
 * Rotation replaces the client secret and keeps the grant and its tokens (a new client secret does not undo the
 * customer's consent); `setCredentials` adopts the given client and refresh token as a new grant; `authorize` is the
 * customer consenting again, `revoke` the customer disconnecting the app.
 */
export function oauth2RefreshToken(options: OAuth2RefreshTokenOptions): OAuth2RefreshToken {
  const scopeOnRefresh = options.scopeOnRefresh ?? true;
  let reuseIntervalSeconds = 0;
  const setReuseIntervalSeconds = (seconds: number): void => {
    if (!Number.isInteger(seconds) || seconds < 0 || seconds > MAX_REUSE_INTERVAL_SECONDS) {
      throw new RangeError(`reuseIntervalSeconds must be an integer in 0..${MAX_REUSE_INTERVAL_SECONDS} (got ${String(seconds)})`);
    }
    reuseIntervalSeconds = seconds;
  };
  setReuseIntervalSeconds(options.reuseIntervalSeconds ?? 0);

  let clientId = options.mint.clientId();
  let clientSecret = options.mint.clientSecret();
  /** Every refresh token ever issued or adopted, and its grant. */
  const refreshTokens = new Map<string, Grant>();
  const startGrant = (refreshToken: string): Grant => {
    const started: Grant = { scopes: options.scopes, revoked: false, current: refreshToken };
    refreshTokens.set(refreshToken, started);
    return started;
  };
  let grant = startGrant(options.mint.refreshToken());
  const access = accessTokenStore({ mint: options.mint.accessToken, expiresInSeconds: options.expiresInSeconds, now: options.now });
  const grantRevoked: Revocation = { ok: false, status: 401, code: 'invalid_token', message: 'access token revoked: grant revoked' };
  let refreshRequests = 0;
  let refreshesGranted = 0;

  const oauthError = (status: number, error: string, description: string, headers: Readonly<Record<string, string>> = {}): RouteResponse => ({
    status,
    body: { error, error_description: description },
    headers: { ...NO_STORE, ...headers },
  });

  const refresh = (form: Readonly<Record<string, string>>, headers: IncomingHttpHeaders): RouteResponse => {
    const failure = tokenRequestFailure(form, headers, 'refresh_token', { clientId, clientSecret }, options.realm);
    if (failure) return oauthError(failure.status, failure.error, failure.message, failure.headers);
    refreshRequests++;
    const presented = form.refresh_token;
    if (!presented) return oauthError(400, 'invalid_request', 'refresh_token is required');
    if (form.scope !== undefined && !scopeOnRefresh) return oauthError(400, 'invalid_request', 'scope is not accepted on a refresh: the grant keeps its scopes');
    const owner = refreshTokens.get(presented);
    if (!owner) return oauthError(400, 'invalid_grant', 'unknown refresh token');
    if (owner.revoked) return oauthError(400, 'invalid_grant', 'refresh token revoked: the grant was revoked');
    const now = options.now();
    const withinReuseInterval = owner.previous?.token === presented && now < owner.previous.usedAt + reuseIntervalSeconds * 1000;
    if (presented !== owner.current && !withinReuseInterval) {
      owner.revoked = true;
      return oauthError(400, 'invalid_grant', 'refresh token reused: the grant is revoked');
    }
    const { scopes, refused } = grantedScopes(form.scope, owner.scopes);
    if (refused.length > 0) return oauthError(400, 'invalid_scope', `scope(s) not granted: ${refused.join(', ')}`);
    if (presented === owner.current) owner.previous = { token: presented, usedAt: now };
    owner.current = options.mint.refreshToken();
    refreshTokens.set(owner.current, owner);
    refreshesGranted++;
    return access.issue(scopes, () => (owner.revoked ? grantRevoked : undefined), { refresh_token: owner.current });
  };

  const credentials = (): RefreshTokenCredentials => ({ clientId, clientSecret, refreshToken: grant.current });
  return {
    tokenRoute: tokenEndpoint(options.tokenPath, refresh),
    credentials,
    rotateCredentials() {
      clientSecret = options.mint.clientSecret();
      return credentials();
    },
    setCredentials(given) {
      grant.revoked = true;
      ({ clientId, clientSecret } = given);
      grant = startGrant(given.refreshToken);
    },
    authenticate: (headers, route) => access.authenticate(headers, route, clientId),
    revoke() {
      grant.revoked = true;
    },
    authorize() {
      grant.revoked = true;
      grant = startGrant(options.mint.refreshToken());
      return credentials();
    },
    reuseIntervalSeconds: () => reuseIntervalSeconds,
    setReuseIntervalSeconds,
    refreshRequests: () => refreshRequests,
    refreshesGranted: () => refreshesGranted,
    tokensIssued: access.issued,
  };
}
