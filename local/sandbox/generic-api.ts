/**
 * The generic sandbox provider: a third-party API built from a small declaration, for a catalog integration that has
 * no dedicated sandbox file yet. The server mounts it under `/<name>` next to the dedicated providers
 * (`startSandbox({ generic: [...] })`, server.ts), so faults, latency, Idempotency-Key, the journal and the control
 * plane apply to it exactly as to them; only the routes and the credential check come from here.
 *
 *   GET  /<name>/health             200 { status: 'ok' }                                       no auth, always served
 *   POST /<name><tokenPath>         OAuth2 token endpoint (schemes oauth2_client_credentials and oauth2_refresh_token)
 *   declared routes                 default when none are declared: POST /:collection -> 201 { id }
 *
 * A route that creates (by default every POST) stores a resource with a generated id (`<name>_<n>`), is one side
 * effect, honours Idempotency-Key, and answers 201 with its body template (an object template always carries the
 * `id`). Other routes answer their template (200, `{}` by default). Templates are JSON; a string `{{id}}`, `{{now}}`,
 * `{{params.<name>}}`, `{{query.<name>}}` or `{{body.<path>}}` is replaced by that value (a whole-string placeholder
 * keeps the value's JSON type; inside a longer string it is spliced in as text). Request bodies are any JSON.
 *
 * Credentials are what the runtime's secret holds for the scheme (functions/runtime/auth-config.ts `AuthConfig`), so
 * the local hub can put them in its secret store as they are: none `{}`, bearer `{ token }`, api_key `{ apiKey }`,
 * basic `{ username, password }`, oauth2_client_credentials `{ clientId, clientSecret }`, oauth2_refresh_token
 * `{ clientId, clientSecret, refreshToken }` (the grant's current refresh token: it rotates on every refresh,
 * credential-schemes.ts `oauth2RefreshToken`).
 */
import { type AuthScheme, DEFAULT_API_KEY_HEADER } from '../../functions/runtime/auth-config.js';
import { apiKeyAuth, basicAuth, bearerAuth, type CredentialCheck, oauth2ClientCredentials, oauth2RefreshToken } from './credential-schemes.js';
import {
  HEALTH_ROUTE,
  type HttpMethod,
  type JsonValue,
  MAX_REUSE_INTERVAL_SECONDS,
  NO_FAULT_EXTRAS,
  type NoFaultExtras,
  type ProviderContext,
  type ProviderRoute,
  type RefreshTokenGrantControl,
  type RouteRequest,
  type RouteResponse,
  type SandboxProvider,
} from './provider.js';

/** How a generic provider authenticates: a scheme name, or the scheme with its options. */
export type GenericAuth =
  | AuthScheme
  | { readonly scheme: Exclude<AuthScheme, 'api_key' | 'oauth2_client_credentials' | 'oauth2_refresh_token'> }
  | {
      readonly scheme: 'api_key';
      /** Header carrying the key. @default 'X-Api-Key' (the runtime's default) */
      readonly headerName?: string;
    }
  | {
      readonly scheme: 'oauth2_client_credentials';
      /** Token endpoint below the provider prefix. @default '/oauth/token' */
      readonly tokenPath?: string;
      /** `expires_in` of issued tokens, seconds, on the sandbox clock. @default 3600 */
      readonly tokenExpiresInSeconds?: number;
    }
  | {
      readonly scheme: 'oauth2_refresh_token';
      /** Token endpoint below the provider prefix. @default '/oauth/token' */
      readonly tokenPath?: string;
      /** `expires_in` of issued access tokens, seconds, on the sandbox clock. @default 3600 */
      readonly tokenExpiresInSeconds?: number;
      /** The scopes of the grant: a refresh may ask for a subset. @default any requested scope is granted */
      readonly scopes?: readonly string[];
      /** False: a refresh carrying `scope` gets 400 `invalid_request`. @default true */
      readonly scopeOnRefresh?: boolean;
      /** How long a used refresh token may be presented again, seconds (changeable at run time). @default 0 */
      readonly reuseIntervalSeconds?: number;
    };

/** One declared endpoint of a generic provider and its canned answer. */
export interface GenericRoute {
  /** HTTP method. */
  readonly method: HttpMethod;
  /** Path below the provider prefix; `:name` segments capture (`/tickets/:id`). */
  readonly path: string;
  /** Creates a resource: generated id, side effect, Idempotency-Key honoured. @default true for POST, else false */
  readonly creates?: boolean;
  /** Answer status (200..599; not 204/205/304, a JSON body is always sent). @default 201 when creating, else 200 */
  readonly status?: number;
  /** Answer body template (see the file comment). @default `{ id: '{{id}}' }` when creating, else `{}` */
  readonly body?: JsonValue;
  /** `none`: no credentials needed. @default 'required' */
  readonly auth?: 'none' | 'required';
}

/** The declaration of a generic provider. */
export interface GenericProviderDeclaration<TName extends string = string> {
  /** Provider name and URL prefix, lower-kebab-case (the catalog integration's name). */
  readonly name: TName;
  /** Auth scheme (and its options). */
  readonly auth: GenericAuth;
  /** The endpoints besides health (and the token endpoint). @default [{ method: 'POST', path: '/:collection' }] */
  readonly routes?: readonly GenericRoute[];
}

/** A generic provider's credential, as a secret store would hold it (the fields depend on the scheme). */
export type GenericCredentials = Readonly<Record<string, string>>;

/** A resource created by a generic provider. */
export interface GenericResource {
  /** Generated id, `<provider>_<n>`. */
  readonly id: string;
  /** The creating route, e.g. `POST /tickets`. */
  readonly route: string;
  /** Request path below the provider prefix. */
  readonly path: string;
  /** The request body as received (`{}` when empty). */
  readonly request: JsonValue;
  /** The answer body sent. */
  readonly response: JsonValue;
  /** ISO-8601, sandbox clock. */
  readonly createdAt: string;
}

/** A generic provider plus state inspection for tests. */
export interface GenericApi extends SandboxProvider<GenericCredentials, NoFaultExtras> {
  /** The auth scheme it serves. */
  readonly scheme: AuthScheme;
  /** Path of the token endpoint below the provider prefix (OAuth2 only): a client's `tokenUrl` is the provider URL + it. */
  readonly tokenPath?: string;
  /** `expires_in` of the access tokens it issues, seconds on the sandbox clock (OAuth2 only). */
  readonly tokenExpiresInSeconds?: number;
  /** The grant of scheme `oauth2_refresh_token` (revoke, authorize, reuse interval, counters); absent for other schemes. */
  readonly refreshTokenGrant?: RefreshTokenGrantControl;
  /** Every created resource, in order. */
  resources(): readonly GenericResource[];
  /** One resource by id. */
  resource(id: string): GenericResource | undefined;
}

/** Routes of a generic provider declared without any: every POST to a collection creates. */
export const DEFAULT_GENERIC_ROUTES: readonly GenericRoute[] = [{ method: 'POST', path: '/:collection' }];

/** Token endpoint of an OAuth2 generic provider unless declared. */
export const DEFAULT_TOKEN_PATH = '/oauth/token';

/** `expires_in` of an OAuth2 generic provider's access tokens unless declared, seconds. */
export const DEFAULT_TOKEN_EXPIRES_IN_SECONDS = 3600;

const SCHEMES: readonly AuthScheme[] = ['none', 'bearer', 'api_key', 'basic', 'oauth2_client_credentials', 'oauth2_refresh_token'];
const OAUTH2_SCHEMES: readonly AuthScheme[] = ['oauth2_client_credentials', 'oauth2_refresh_token'];
// An OAuth scope name (RFC 6749 §3.3): printable ASCII except space, '"' and '\\' (as functions/runtime/auth-config.ts checks).
const SCOPE = /^[\x21\x23-\x5B\x5D-\x7E]+$/;
const METHODS: readonly HttpMethod[] = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'];
const NAME = /^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$/;
const MAX_NAME_LENGTH = 63;
const HEADER_NAME = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+$/;
const PATH = /^(?:\/[A-Za-z0-9._~:-]+)+$/;
const PLACEHOLDER = /\{\{\s*([A-Za-z]+)(?:\.([\w.-]+))?\s*\}\}/g;
// A JSON body is always sent, so the statuses that forbid one are refused up front rather than failing per request.
const BODYLESS_STATUSES = [204, 205, 304];

/**
 * Every problem of a declaration (an empty list when it is valid). Checked at start so a bad declaration fails
 * `startSandbox` with every problem at once instead of a route misbehaving later.
 */
export function genericDeclarationProblems(declaration: GenericProviderDeclaration): string[] {
  const problems: string[] = [];
  const { name } = declaration;
  if (typeof name !== 'string' || !NAME.test(name) || name.length > MAX_NAME_LENGTH) {
    problems.push(`name must be lower-kebab-case, 1..${MAX_NAME_LENGTH} characters (got ${JSON.stringify(name)})`);
  }
  const auth = normalizeAuth(declaration.auth);
  if (!SCHEMES.includes(auth.scheme)) problems.push(`auth.scheme must be one of ${SCHEMES.join(', ')}`);
  if (auth.headerName !== undefined && !HEADER_NAME.test(auth.headerName)) problems.push('auth.headerName is not a valid HTTP header name');
  if (auth.tokenPath !== undefined && !PATH.test(auth.tokenPath)) problems.push('auth.tokenPath must be a path like "/oauth/token"');
  const seconds = auth.tokenExpiresInSeconds;
  if (seconds !== undefined && !(Number.isInteger(seconds) && seconds >= 1)) problems.push('auth.tokenExpiresInSeconds must be an integer >= 1');
  problems.push(...refreshTokenOptionProblems(auth));

  if (declaration.routes !== undefined && !Array.isArray(declaration.routes)) {
    problems.push('routes must be an array');
    return problems;
  }
  const taken = new Set([`${HEALTH_ROUTE.method} ${HEALTH_ROUTE.path}`]);
  if (OAUTH2_SCHEMES.includes(auth.scheme)) taken.add(`POST ${auth.tokenPath ?? DEFAULT_TOKEN_PATH}`);
  (declaration.routes ?? DEFAULT_GENERIC_ROUTES).forEach((route, index) => {
    const label = `routes[${index}]`;
    if (!METHODS.includes(route.method)) problems.push(`${label}.method must be one of ${METHODS.join(', ')}`);
    const path: unknown = route.path;
    if (typeof path !== 'string' || !PATH.test(path)) {
      problems.push(`${label}.path must be a path like "/tickets" or "/tickets/:id"`);
      return;
    }
    const key = `${route.method} ${path}`;
    if (taken.has(key)) problems.push(`${label}: ${key} is declared twice or is built in`);
    taken.add(key);
    const creates = createsResource(route);
    const status = route.status ?? (creates ? 201 : 200);
    if (!(Number.isInteger(status) && status >= 200 && status <= 599) || BODYLESS_STATUSES.includes(status)) {
      problems.push(`${label}.status must be an integer in 200..599 other than ${BODYLESS_STATUSES.join('/')}`);
    } else if (creates && status >= 300) {
      problems.push(`${label}: a route that creates must answer 2xx (got ${status})`);
    }
    const routeAuth: unknown = route.auth;
    if (routeAuth !== undefined && routeAuth !== 'none' && routeAuth !== 'required') problems.push(`${label}.auth must be 'none' or 'required'`);
    if (route.body !== undefined) {
      const params = path.split('/').filter((part) => part.startsWith(':')).map((part) => part.slice(1));
      problems.push(...templateProblems(route.body, { creates, params }).map((problem) => `${label}.body: ${problem}`));
    }
  });
  return problems;
}

/** Builds a generic provider; throws listing every problem of an invalid declaration. */
export function createGenericApi(context: ProviderContext, declaration: GenericProviderDeclaration): GenericApi {
  const problems = genericDeclarationProblems(declaration);
  if (problems.length > 0) throw new Error(`invalid generic provider "${String(declaration.name)}": ${problems.join('; ')}`);
  const { name } = declaration;
  const auth = normalizeAuth(declaration.auth);
  const credentials = credentialCheck(name, auth, context);
  const resources = new Map<string, GenericResource>();
  let resourceSeq = 0;

  const answer = (declared: GenericRoute, request: RouteRequest): RouteResponse => {
    const creates = createsResource(declared);
    const id = creates ? `${name}_${resourceSeq + 1}` : undefined;
    const now = new Date(context.now()).toISOString();
    const template = declared.body ?? {};
    // Adapters take the created resource's id from the answer (functions/integrations/crm.ts `externalId`), so a
    // creating object template always carries one.
    const withId = creates && isObject(template) && !('id' in template) ? { id: '{{id}}', ...template } : template;
    const body = render(withId, (variable, path) => lookup(variable, path, { id, now, request }));
    const status = declared.status ?? (creates ? 201 : 200);
    if (id === undefined) return { status, body };
    resourceSeq++;
    const requestBody = (request.body ?? {}) as JsonValue;
    resources.set(id, { id, route: `${declared.method} ${declared.path}`, path: request.path, request: requestBody, response: body, createdAt: now });
    return { status, body, sideEffect: { type: 'resource', id } };
  };

  const routes: ProviderRoute[] = [
    HEALTH_ROUTE,
    ...(credentials.tokenRoute ? [credentials.tokenRoute] : []),
    ...(declaration.routes ?? DEFAULT_GENERIC_ROUTES).map(
      (declared): ProviderRoute => ({
        method: declared.method,
        path: declared.path,
        auth: declared.auth ?? 'required',
        // Any JSON, and none at all, is accepted: the declaration has no schema to validate against.
        ...(declared.method === 'GET' || declared.method === 'DELETE' ? {} : { body: 'json' as const, optionalBody: true }),
        ...(createsResource(declared) ? { idempotent: true } : {}),
        handle: (request) => answer(declared, request),
      }),
    ),
  ];

  return {
    name,
    scheme: auth.scheme,
    ...(credentials.tokenRoute ? { tokenPath: credentials.tokenRoute.path, tokenExpiresInSeconds: auth.tokenExpiresInSeconds ?? DEFAULT_TOKEN_EXPIRES_IN_SECONDS } : {}),
    routes,
    credentials: credentials.credentials,
    rotateCredentials: credentials.rotateCredentials,
    setCredentials: credentials.setCredentials,
    authenticate: credentials.authenticate,
    ...(credentials.authChallenge === undefined ? {} : { authChallenge: credentials.authChallenge }),
    ...(credentials.apiKeyHeader === undefined ? {} : { apiKeyHeader: credentials.apiKeyHeader }),
    ...(credentials.refreshTokenGrant ? { refreshTokenGrant: credentials.refreshTokenGrant } : {}),
    ...NO_FAULT_EXTRAS,
    reset() {
      resources.clear();
      resourceSeq = 0;
    },
    resources: () => [...resources.values()],
    resource: (id) => resources.get(id),
  };
}

interface NormalizedAuth {
  readonly scheme: AuthScheme;
  readonly headerName?: string;
  readonly tokenPath?: string;
  readonly tokenExpiresInSeconds?: number;
  readonly scopes?: readonly string[];
  readonly scopeOnRefresh?: boolean;
  readonly reuseIntervalSeconds?: number;
}

/** The options only `oauth2_refresh_token` takes, checked (values are not secrets, so they are quoted). */
function refreshTokenOptionProblems(auth: NormalizedAuth): string[] {
  const { scopes, scopeOnRefresh, reuseIntervalSeconds } = auth;
  const given = Object.entries({ scopes, scopeOnRefresh, reuseIntervalSeconds }).filter(([, value]) => value !== undefined).map(([field]) => field);
  if (auth.scheme !== 'oauth2_refresh_token') {
    return given.length > 0 ? [`auth.${given.join(', auth.')} only apply to scheme oauth2_refresh_token`] : [];
  }
  const problems: string[] = [];
  if (scopes !== undefined && (!Array.isArray(scopes) || scopes.length === 0 || !scopes.every((scope) => typeof scope === 'string' && SCOPE.test(scope)))) {
    problems.push(`auth.scopes must be a non-empty list of OAuth scope names (printable ASCII, no spaces or quotes) (got ${JSON.stringify(scopes)})`);
  } else if (scopes !== undefined && new Set(scopes).size !== scopes.length) {
    problems.push('auth.scopes must not repeat a scope');
  }
  if (scopeOnRefresh !== undefined && typeof scopeOnRefresh !== 'boolean') problems.push('auth.scopeOnRefresh must be true or false');
  const interval = reuseIntervalSeconds;
  if (interval !== undefined && !(Number.isInteger(interval) && interval >= 0 && interval <= MAX_REUSE_INTERVAL_SECONDS)) {
    problems.push(`auth.reuseIntervalSeconds must be an integer in 0..${MAX_REUSE_INTERVAL_SECONDS}`);
  }
  return problems;
}

function normalizeAuth(auth: GenericAuth): NormalizedAuth {
  if (typeof auth === 'string') return { scheme: auth };
  // An untyped caller may leave auth out: report it with the other problems rather than throw a TypeError.
  return typeof auth === 'object' && auth !== null ? auth : { scheme: String(auth) as AuthScheme };
}

function createsResource(route: GenericRoute): boolean {
  return route.creates ?? route.method === 'POST';
}

/** The credential members for the scheme, minted from the provider's own seeded stream; OAuth2 adds its token route. */
function credentialCheck(
  name: string,
  auth: NormalizedAuth,
  context: ProviderContext,
): CredentialCheck<GenericCredentials> & { readonly tokenRoute?: ProviderRoute; readonly refreshTokenGrant?: RefreshTokenGrantControl } {
  const secrets = context.random('credentials');
  switch (auth.scheme) {
    case 'none':
      return { credentials: () => ({}), rotateCredentials: () => ({}), setCredentials: () => {}, authenticate: () => ({ ok: true, principal: 'anonymous' }) };
    case 'bearer':
      return bearerAuth({ field: 'token', mint: () => `${name}_tok_${secrets.token(32)}`, principal: name });
    case 'api_key':
      return apiKeyAuth({ header: auth.headerName ?? DEFAULT_API_KEY_HEADER, mint: () => `${name}_key_${secrets.token(32)}`, principal: name, realm: name });
    case 'basic':
      return basicAuth({ username: `${name}_user_${secrets.token(8)}`, mintPassword: () => secrets.token(24), realm: name });
    case 'oauth2_client_credentials':
      return oauth2ClientCredentials({
        realm: name,
        tokenPath: auth.tokenPath ?? DEFAULT_TOKEN_PATH,
        mint: {
          clientId: () => `${name}_client_${secrets.token(12)}`,
          clientSecret: () => `${name}_secret_${secrets.token(32)}`,
          accessToken: () => `${name}_at_${secrets.token(40)}`,
        },
        expiresInSeconds: auth.tokenExpiresInSeconds ?? DEFAULT_TOKEN_EXPIRES_IN_SECONDS,
        now: context.now,
      });
    case 'oauth2_refresh_token': {
      const grant = oauth2RefreshToken({
        realm: name,
        tokenPath: auth.tokenPath ?? DEFAULT_TOKEN_PATH,
        mint: {
          clientId: () => `${name}_client_${secrets.token(12)}`,
          clientSecret: () => `${name}_secret_${secrets.token(32)}`,
          refreshToken: () => `${name}_rt_${secrets.token(40)}`,
          accessToken: () => `${name}_at_${secrets.token(40)}`,
        },
        expiresInSeconds: auth.tokenExpiresInSeconds ?? DEFAULT_TOKEN_EXPIRES_IN_SECONDS,
        now: context.now,
        ...(auth.scopes === undefined ? {} : { scopes: auth.scopes }),
        ...(auth.scopeOnRefresh === undefined ? {} : { scopeOnRefresh: auth.scopeOnRefresh }),
        ...(auth.reuseIntervalSeconds === undefined ? {} : { reuseIntervalSeconds: auth.reuseIntervalSeconds }),
      });
      return { ...grant, refreshTokenGrant: grant };
    }
  }
}

// ------------------------------------------------------------------ body templates

type Resolve = (variable: string, path: string | undefined) => JsonValue | undefined;

/** Replaces the placeholders of a template (see the file comment). */
function render(template: JsonValue, resolve: Resolve): JsonValue {
  if (typeof template === 'string') {
    const whole = new RegExp(`^${PLACEHOLDER.source}$`).exec(template);
    if (whole) return resolve(whole[1] ?? '', whole[2]) ?? null;
    return template.replace(PLACEHOLDER, (_match, variable: string, path: string | undefined) => {
      const value = resolve(variable, path);
      return value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value);
    });
  }
  if (Array.isArray(template)) return template.map((item: JsonValue) => render(item, resolve));
  if (isObject(template)) return Object.fromEntries(Object.entries(template).map(([key, value]) => [key, render(value, resolve)]));
  return template;
}

function lookup(variable: string, path: string | undefined, scope: { id: string | undefined; now: string; request: RouteRequest }): JsonValue | undefined {
  const { request } = scope;
  switch (variable) {
    case 'id':
      return scope.id;
    case 'now':
      return scope.now;
    case 'params':
      return path === undefined ? undefined : request.params[path];
    case 'query':
      return path === undefined ? undefined : (request.query.get(path) ?? undefined);
    case 'body': {
      let value: unknown = request.body;
      for (const key of (path ?? '').split('.').filter(Boolean)) {
        value = typeof value === 'object' && value !== null ? (value as Record<string, unknown>)[key] : undefined;
      }
      // Parsed request JSON (server.ts parseBody) is JSON by construction.
      return value as JsonValue | undefined;
    }
    default:
      return undefined;
  }
}

/** Unknown placeholders, `{{id}}` outside a creating route, `{{params.x}}` of a segment the path does not capture. */
function templateProblems(template: unknown, route: { creates: boolean; params: readonly string[] }): string[] {
  const problems: string[] = [];
  const visit = (value: unknown, where: string): void => {
    if (typeof value === 'string') {
      for (const match of value.matchAll(PLACEHOLDER)) {
        const [text, variable, path] = match;
        if (variable === 'id' || variable === 'now') {
          if (path !== undefined) problems.push(`${where}: ${text} takes no path`);
          else if (variable === 'id' && !route.creates) problems.push(`${where}: {{id}} only exists on a route that creates`);
        } else if (variable === 'params' || variable === 'query' || variable === 'body') {
          if (variable === 'params' && (path === undefined || !route.params.includes(path))) {
            problems.push(`${where}: ${text} is not a ":name" segment of the path`);
          } else if (variable === 'query' && path === undefined) {
            problems.push(`${where}: ${text} needs a parameter name`);
          }
        } else {
          problems.push(`${where}: unknown placeholder ${text} (use id, now, params.<name>, query.<name>, body.<path>)`);
        }
      }
    } else if (Array.isArray(value)) {
      value.forEach((item, index) => visit(item, `${where}[${index}]`));
    } else if (isObject(value)) {
      for (const [key, item] of Object.entries(value)) visit(item, `${where}.${key}`);
    } else if (!(value === null || typeof value === 'boolean' || (typeof value === 'number' && Number.isFinite(value)))) {
      problems.push(`${where}: not a JSON value`);
    }
  };
  visit(template, '$');
  return problems;
}

function isObject(value: unknown): value is { readonly [key: string]: JsonValue } {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
