/**
 * How a deployment authenticates to a provider: the auth scheme and its parameters. Declared once, in the catalog
 * entry of the integration (lib/catalog.ts) or the workflow provider (lib/workflow-catalog.ts); the stack passes it
 * to the function as `AUTH` (JSON), and the credentials provider (credentials.ts) turns it plus the secret into
 * headers. Pure code: the catalogs validate with it at synth, the runtime at init, with the same rules.
 */

/** How an integration authenticates; the matching secret fields are in {@link SECRET_FIELDS}. */
export type AuthConfig =
  /** No auth headers; no secret is read. */
  | { readonly scheme: 'none' }
  /** Secret `{ token }` → `Authorization: Bearer <token>`. */
  | { readonly scheme: 'bearer' }
  /** Secret `{ apiKey }` → `<headerName>: <apiKey>`. */
  | {
      readonly scheme: 'api_key';
      /** @default 'X-Api-Key' */
      readonly headerName?: string;
    }
  /** Secret `{ username, password }` → `Authorization: Basic ...`. */
  | { readonly scheme: 'basic' }
  /**
   * Secret `{ clientId, clientSecret, tokenUrl?, scope? }` (secret values override the config) → `Authorization:
   * Bearer <access token>`. A `tokenUrl` that is a path is relative to the provider's base URL.
   */
  | { readonly scheme: 'oauth2_client_credentials'; readonly tokenUrl: string; readonly scope?: string }
  /**
   * Secret `{ clientId, clientSecret, refreshToken, tokenUrl? }` → `Authorization: Bearer <access token>` bought with
   * the refresh token (authorization-code grant: the hub acts on a customer's account). The runtime keeps the current
   * access token and the provider's rotated refresh token in the same secret (`accessToken`, `accessTokenIssuedAt`, `accessTokenExpiresAt`),
   * refreshing once across every instance (functions/runtime/refresh-token-credentials.ts, docs/oauth-refresh-tokens.md).
   */
  | {
      readonly scheme: 'oauth2_refresh_token';
      readonly tokenUrl: string;
      /** Scopes the grant needs: request the minimum. Sent on every refresh unless `scopeOnRefresh` is false. */
      readonly scopes?: readonly string[];
      /** Some providers refuse `scope` on a refresh (the grant keeps its scopes). @default true */
      readonly scopeOnRefresh?: boolean;
    };

/** The auth schemes. */
export type AuthScheme = AuthConfig['scheme'];

/** The secret fields each scheme reads (the stack generates a placeholder secret with these keys). */
export const SECRET_FIELDS: Readonly<Record<AuthScheme, readonly string[]>> = {
  none: [],
  bearer: ['token'],
  api_key: ['apiKey'],
  basic: ['username', 'password'],
  oauth2_client_credentials: ['clientId', 'clientSecret'],
  oauth2_refresh_token: ['clientId', 'clientSecret', 'refreshToken'],
};

/**
 * The value the stack puts in every field of a secret it creates except the last, generated one
 * (lib/constructs/integration-pipeline.ts): set the real values after deploy.
 */
export const SECRET_PLACEHOLDER = 'SET_AFTER_DEPLOY';

/**
 * Fields the runtime itself writes into the secret of a scheme (never set by hand): the current access token of
 * `oauth2_refresh_token`, so every instance uses the one refresh's token.
 */
export const RUNTIME_SECRET_FIELDS: Readonly<Record<AuthScheme, readonly string[]>> = {
  none: [],
  bearer: [],
  api_key: [],
  basic: [],
  oauth2_client_credentials: [],
  oauth2_refresh_token: ['accessToken', 'accessTokenIssuedAt', 'accessTokenExpiresAt'],
};

/**
 * True for the schemes whose grant the provider can revoke: the HTTP client then isolates the circuit for
 * re-authorization (errors.ts ReauthorizationRequiredError) and only a person with a new refresh token ends it, so
 * these circuits get a reauthorization-needed alarm (lib/constructs/integration-alarms.ts).
 */
export function canRequireReauthorization(scheme: AuthScheme): boolean {
  return scheme === 'oauth2_refresh_token';
}

/** The OAuth2 schemes: both take a token URL that may be a path relative to the provider's base URL. */
export type OAuth2AuthConfig = Extract<AuthConfig, { tokenUrl: string }>;

/** True for the OAuth2 schemes. */
export function isOAuth2(auth: AuthConfig): auth is OAuth2AuthConfig {
  return auth.scheme === 'oauth2_client_credentials' || auth.scheme === 'oauth2_refresh_token';
}

/** Every auth scheme, in documentation order. */
export const AUTH_SCHEMES = Object.keys(SECRET_FIELDS) as AuthScheme[];

/** Default header for the api_key scheme. */
export const DEFAULT_API_KEY_HEADER = 'X-Api-Key';

/** What a catalog may write: a scheme that needs no parameter as a bare string, or the whole configuration. */
export type AuthDeclaration = Exclude<AuthScheme, OAuth2AuthConfig['scheme']> | AuthConfig;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELDS: Readonly<Record<AuthScheme, readonly string[]>> = {
  none: ['scheme'],
  bearer: ['scheme'],
  api_key: ['scheme', 'headerName'],
  basic: ['scheme'],
  oauth2_client_credentials: ['scheme', 'tokenUrl', 'scope'],
  oauth2_refresh_token: ['scheme', 'tokenUrl', 'scopes', 'scopeOnRefresh'],
};
// RFC 6749 §3.3: a scope token is printable ASCII except space, '"' and '\\'.
const SCOPE_TOKEN = /^[\x21\x23-\x5B\x5D-\x7E]+$/;

/** The declaration as a configuration object (`'bearer'` → `{ scheme: 'bearer' }`). */
export function toAuthConfig(declaration: AuthDeclaration): AuthConfig {
  return typeof declaration === 'string' ? ({ scheme: declaration } as AuthConfig) : declaration;
}

/** Every problem of an auth declaration, one line each; empty when it is usable. */
export function authConfigProblems(declaration: unknown): string[] {
  const auth: unknown = typeof declaration === 'string' ? { scheme: declaration } : declaration;
  if (auth === null || typeof auth !== 'object' || Array.isArray(auth)) {
    return [`auth must be one of ${AUTH_SCHEMES.join(', ')}, or an object with a scheme (got ${JSON.stringify(declaration)})`];
  }
  const { scheme } = auth as { scheme?: unknown };
  if (typeof scheme !== 'string' || !Object.hasOwn(SECRET_FIELDS, scheme)) {
    return [`auth scheme must be one of ${AUTH_SCHEMES.join(', ')} (got ${JSON.stringify(scheme)})`];
  }
  const problems: string[] = [];
  const known = FIELDS[scheme as AuthScheme];
  const unknown = Object.keys(auth).filter((field) => !known.includes(field));
  if (unknown.length > 0) problems.push(`auth field(s) ${unknown.join(', ')} do not apply to scheme '${scheme}' (known: ${known.join(', ')})`);
  const fields = auth as Record<string, unknown>;
  if (scheme === 'api_key' && fields.headerName !== undefined && (typeof fields.headerName !== 'string' || !HEADER_NAME.test(fields.headerName))) {
    problems.push(`auth.headerName must be an HTTP header name (got ${JSON.stringify(fields.headerName)})`);
  }
  if (scheme === 'oauth2_client_credentials' || scheme === 'oauth2_refresh_token') {
    const { tokenUrl } = fields;
    if (typeof tokenUrl !== 'string' || !(tokenUrl.startsWith('/') || /^https?:\/\/\S+$/.test(tokenUrl))) {
      problems.push(`auth.tokenUrl is required for ${scheme}: an http(s) URL, or a path relative to the base URL (got ${JSON.stringify(tokenUrl)})`);
    }
  }
  if (scheme === 'oauth2_client_credentials' && fields.scope !== undefined && typeof fields.scope !== 'string') problems.push('auth.scope must be a string');
  if (scheme === 'oauth2_refresh_token') {
    const { scopes, scopeOnRefresh } = fields;
    if (scopes !== undefined && (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((scope) => typeof scope === 'string' && SCOPE_TOKEN.test(scope)))) {
      problems.push(`auth.scopes must be a non-empty list of OAuth scope names (printable ASCII, no spaces or quotes) (got ${JSON.stringify(scopes)})`);
    } else if (Array.isArray(scopes) && new Set(scopes).size !== scopes.length) {
      problems.push('auth.scopes must not repeat a scope');
    }
    if (scopeOnRefresh !== undefined && typeof scopeOnRefresh !== 'boolean') problems.push('auth.scopeOnRefresh must be true or false');
  }
  return problems;
}

/**
 * Reads an auth configuration from an environment variable (`AUTH`, or a prefixed one for a workflow task's
 * provider). Problems are appended to `problems`; the result is only meaningful when none were added.
 */
export function authConfigFromEnvironment(raw: string | undefined, variable: string, problems: string[]): AuthConfig | undefined {
  if (!raw?.trim()) return undefined;
  let parsed: unknown;
  try {
    parsed = JSON.parse(raw);
  } catch (error) {
    problems.push(`${variable} must be JSON like {"scheme":"bearer"}: ${(error as Error).message}`);
    return undefined;
  }
  const found = authConfigProblems(parsed);
  problems.push(...found.map((problem) => `${variable}: ${problem}`));
  return found.length === 0 ? toAuthConfig(parsed as AuthDeclaration) : undefined;
}
