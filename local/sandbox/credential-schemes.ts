/**
 * The credential half of a sandbox provider, one builder per auth scheme of the runtime
 * (functions/runtime/auth-config.ts `AuthConfig`): bearer token, API key in a header, HTTP Basic, OAuth2 client
 * credentials. A builder keeps the current secret, mints a new one on rotation and checks a request's headers; the
 * dedicated providers and the generic one (generic-api.ts) spread the result into their `SandboxProvider`, so a
 * scheme behaves the same (codes, `WWW-Authenticate`, rotation) whichever provider uses it.
 *
 * Secrets are minted by the caller (`mint`), from its own seeded stream, so each provider's credentials stay what
 * they were for a given seed. `setCredentials` replaces the minted secret with a given one (a sandbox started with the
 * hub's existing secrets, server.ts `credentials`); rotation then mints from the same stream as before.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { apiKey, basicCredentials, bearerToken, invalidCredentials, missingCredentials, secretsEqual } from './auth.js';
import { type AuthResult, errorResponse, formFields, type ProviderRoute, type RouteResponse, type SandboxProvider } from './provider.js';

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
export interface OAuth2ClientCredentials extends CredentialCheck<{ readonly clientId: string; readonly clientSecret: string }> {
  /** `POST <tokenPath>` (form, client id/secret via Basic or form fields), unauthenticated. */
  readonly tokenRoute: ProviderRoute;
  /** Access tokens issued since start (tokens survive a provider reset). */
  tokensIssued(): number;
}

interface IssuedToken {
  readonly generation: number;
  readonly expiresAt: number;
  readonly scopes: readonly string[];
}

/**
 * OAuth2 client-credentials grant (RFC 6749 §4.4), then `Authorization: Bearer <access token>`. Rotation replaces the
 * client secret (the client id stays, as in real identity providers) and revokes every token issued before it; so does
 * setting given credentials.
 */
export function oauth2ClientCredentials(options: OAuth2Options): OAuth2ClientCredentials {
  let clientId = options.mint.clientId();
  let clientSecret = options.mint.clientSecret();
  let generation = 1;
  const tokens = new Map<string, IssuedToken>();
  let tokenCount = 0;

  const issueToken = (body: unknown, headers: IncomingHttpHeaders): RouteResponse => {
    const authorization = basicCredentials(headers, 'form-encoded');
    const hasAuthHeader = headers.authorization !== undefined;
    const form = formFields(body);
    const grantType = form.grant_type;
    if (!grantType) return errorResponse(400, 'invalid_request', 'grant_type is required');
    if (grantType !== 'client_credentials') {
      return errorResponse(400, 'unsupported_grant_type', `grant_type "${grantType}" is not supported`);
    }
    const formClient = form.client_id !== undefined || form.client_secret !== undefined;
    if (hasAuthHeader && formClient) {
      return errorResponse(400, 'invalid_request', 'use either HTTP Basic or client_id/client_secret, not both');
    }
    if (hasAuthHeader && !authorization) return errorResponse(401, 'invalid_credentials', 'malformed Basic authorization header');
    const presented = authorization ?? (formClient ? { id: form.client_id ?? '', secret: form.client_secret ?? '' } : undefined);
    if (!presented) return errorResponse(401, 'missing_credentials', 'client authentication required');
    if (!secretsEqual(presented.id, clientId) || !secretsEqual(presented.secret, clientSecret)) {
      return errorResponse(401, 'invalid_credentials', 'invalid client credentials', {
        headers: hasAuthHeader ? { 'www-authenticate': `Basic realm="${options.realm}"` } : {},
      });
    }
    const requested = (form.scope ?? '').split(' ').filter(Boolean);
    const known = options.scopes;
    const unknown = known === undefined ? [] : requested.filter((scope) => !known.includes(scope));
    if (unknown.length > 0) return errorResponse(400, 'invalid_scope', `unknown scope(s): ${unknown.join(', ')}`);
    const scopes = requested.length > 0 || known === undefined ? requested : known;
    const accessToken = options.mint.accessToken();
    tokens.set(accessToken, { generation, expiresAt: options.now() + options.expiresInSeconds * 1000, scopes });
    tokenCount++;
    return {
      status: 200,
      body: { access_token: accessToken, token_type: 'Bearer', expires_in: options.expiresInSeconds, scope: scopes.join(' ') },
      headers: { 'cache-control': 'no-store', pragma: 'no-cache' },
    };
  };

  return {
    tokenRoute: {
      method: 'POST',
      path: options.tokenPath,
      auth: 'none',
      body: 'form',
      handle: (request) => issueToken(request.body, request.headers),
    },
    tokensIssued: () => tokenCount,
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
    authenticate(headers, route): AuthResult {
      const token = bearerToken(headers);
      if (token === undefined) return headers.authorization ? invalidCredentials('expected a Bearer token') : missingCredentials();
      const issued = tokens.get(token);
      if (!issued) return invalidCredentials('unknown access token');
      if (issued.generation !== generation) return invalidCredentials('access token revoked: client credentials were rotated');
      if (options.now() >= issued.expiresAt) return { ok: false, status: 401, code: 'token_expired', message: 'access token expired' };
      if (route.requiredScope && !issued.scopes.includes(route.requiredScope)) {
        return { ok: false, status: 403, code: 'insufficient_scope', message: `token lacks scope "${route.requiredScope}"` };
      }
      return { ok: true, principal: clientId };
    },
  };
}
