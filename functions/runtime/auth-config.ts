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
  | { readonly scheme: 'oauth2_client_credentials'; readonly tokenUrl: string; readonly scope?: string };

/** The auth schemes. */
export type AuthScheme = AuthConfig['scheme'];

/** The secret fields each scheme reads (the stack generates a placeholder secret with these keys). */
export const SECRET_FIELDS: Readonly<Record<AuthScheme, readonly string[]>> = {
  none: [],
  bearer: ['token'],
  api_key: ['apiKey'],
  basic: ['username', 'password'],
  oauth2_client_credentials: ['clientId', 'clientSecret'],
};

/** Every auth scheme, in documentation order. */
export const AUTH_SCHEMES = Object.keys(SECRET_FIELDS) as AuthScheme[];

/** Default header for the api_key scheme. */
export const DEFAULT_API_KEY_HEADER = 'X-Api-Key';

/** What a catalog may write: a scheme that needs no parameter as a bare string, or the whole configuration. */
export type AuthDeclaration = Exclude<AuthScheme, 'oauth2_client_credentials'> | AuthConfig;

const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const FIELDS: Readonly<Record<AuthScheme, readonly string[]>> = {
  none: ['scheme'],
  bearer: ['scheme'],
  api_key: ['scheme', 'headerName'],
  basic: ['scheme'],
  oauth2_client_credentials: ['scheme', 'tokenUrl', 'scope'],
};

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
  if (scheme === 'oauth2_client_credentials') {
    const { tokenUrl, scope } = fields;
    if (typeof tokenUrl !== 'string' || !(tokenUrl.startsWith('/') || /^https?:\/\/\S+$/.test(tokenUrl))) {
      problems.push(`auth.tokenUrl is required for oauth2_client_credentials: an http(s) URL, or a path relative to the base URL (got ${JSON.stringify(tokenUrl)})`);
    }
    if (scope !== undefined && typeof scope !== 'string') problems.push('auth.scope must be a string');
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
