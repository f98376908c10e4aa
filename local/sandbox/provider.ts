/**
 * The registration interface of a sandbox provider. A provider (CRM, payments, inventory, shipping, e-mail, a
 * contacts source) is one file that builds a {@link SandboxProvider}: its routes, its credentials and how it checks
 * them, its in-memory state and how to reset it. Everything common (faults, latency, Idempotency-Key, the request
 * journal, body parsing, routing errors) is done by the server around the routes, never by the provider.
 */
import type { IncomingHttpHeaders } from 'node:http';
import type { SeededRandom } from './random.js';

/** Any value JSON can carry. */
export type JsonValue = string | number | boolean | null | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** A JSON object. */
export type JsonObject = { readonly [key: string]: JsonValue };

/** HTTP methods the sandbox routes on. */
export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

/** A request as a route handler sees it (already authenticated and parsed). */
export interface RouteRequest {
  /** HTTP method. */
  readonly method: HttpMethod;
  /** Path below the provider prefix, without query string (`/files/crm_file_1`). */
  readonly path: string;
  /** Values of the `:name` segments of the route pattern. */
  readonly params: Readonly<Record<string, string>>;
  /** Query string parameters. */
  readonly query: URLSearchParams;
  /** Raw request headers (lower-case names). */
  readonly headers: IncomingHttpHeaders;
  /** Parsed body: a JSON value for `body: 'json'` routes, a string record for `body: 'form'`, else undefined. */
  readonly body: unknown;
  /** Who `authenticate` said is calling (`null` on `auth: 'none'` routes). */
  readonly principal: string | null;
}

/** What a side effect created (or changed: a release, a cancellation), for the journal and `sandbox.sideEffects()`. */
export interface CreatedResource {
  /** Resource type, e.g. `file`, `charge`, `refund`, `release`. */
  readonly type: string;
  /** The provider's id of the new (or changed) resource. */
  readonly id: string;
}

/** A route handler's answer. */
export interface RouteResponse {
  /** HTTP status. */
  readonly status: number;
  /** JSON body. */
  readonly body: JsonValue;
  /** Extra response headers. */
  readonly headers?: Readonly<Record<string, string>>;
  /** Set when the request changed provider state (created something, or changed it: a release, a cancellation). */
  readonly sideEffect?: CreatedResource;
  /**
   * False when the request never started executing (its body failed validation): like Stripe, such a response
   * is not saved against the Idempotency-Key, so the client can fix the body and retry with the same key.
   * @default true
   */
  readonly saveForIdempotency?: boolean;
}

/** One endpoint of a provider. */
export interface ProviderRoute {
  /** HTTP method. */
  readonly method: HttpMethod;
  /** Path pattern below the provider prefix; `:name` segments capture (`/files/:id`). */
  readonly path: string;
  /** `required`: `SandboxProvider.authenticate` must accept the request first. */
  readonly auth: 'none' | 'required';
  /** Permission the credential must carry (checked by the provider's `authenticate`). */
  readonly requiredScope?: string;
  /** Expected request body encoding; requests with another Content-Type get 415. @default no body */
  readonly body?: 'json' | 'form';
  /** An empty request body (zero bytes, any Content-Type) is taken as `{}`: every body field is optional. */
  readonly optionalBody?: boolean;
  /** The route creates things: the Idempotency-Key header is honoured (replay, 422 on reuse, 409 in flight). */
  readonly idempotent?: boolean;
  /** Produces the response. Throwing yields a 500 (a sandbox bug, never a simulated fault). */
  handle(request: RouteRequest): RouteResponse | Promise<RouteResponse>;
}

/** Result of checking a request's credentials. */
export type AuthResult =
  | { readonly ok: true; readonly principal: string }
  | { readonly ok: false; readonly status: 401 | 403; readonly code: string; readonly message: string };

/** Provider-specific fault options (e.g. payments' `chargeStatus`) after validation. */
export type FaultExtrasValidation<TFaultExtras> =
  | { readonly ok: true; readonly extras: TFaultExtras }
  | { readonly ok: false; readonly problems: readonly string[] };

/** What the sandbox hands to every provider factory. */
export interface ProviderContext {
  /** The sandbox seed. */
  readonly seed: number;
  /** The sandbox clock, epoch ms (injectable so token expiry and outage windows are testable). */
  now(): number;
  /** A seeded random stream private to this provider and `label` (e.g. `credentials`). */
  random(label: string): SeededRandom;
}

/** A simulated third-party API, mounted under `/<name>` on the sandbox server. */
export interface SandboxProvider<TCredentials extends object, TFaultExtras extends object> {
  /** Path prefix and provider key (lower-case, URL-safe). */
  readonly name: string;
  /** The endpoints. */
  readonly routes: readonly ProviderRoute[];
  /** The current credential, as a secret store would hold it. */
  credentials(): TCredentials;
  /** Issues a new credential and invalidates the old one (and anything issued with it). */
  rotateCredentials(): TCredentials;
  /**
   * Replaces the credential with a given one (a sandbox started with the hub's existing secrets); like a rotation, the
   * old one and anything issued with it stop working. The server validates it first (hub-secrets.ts).
   */
  setCredentials(credentials: TCredentials): void;
  /** `WWW-Authenticate` value sent with a 401. @default `Bearer realm="<name>", error="invalid_token"` */
  readonly authChallenge?: string;
  /**
   * Header an API-key provider reads its key from, when not `X-Api-Key`: the journal then names the scheme `ApiKey`
   * for it too (auth.ts `authScheme`), never the key.
   */
  readonly apiKeyHeader?: string;
  /** Checks the credentials of a request to an `auth: 'required'` route. */
  authenticate(headers: IncomingHttpHeaders, route: ProviderRoute): AuthResult;
  /** Names of the provider-specific fault options this provider accepts besides the common ones. */
  readonly faultExtraKeys: readonly string[];
  /** Validates provider-specific fault options (only keys from `faultExtraKeys` are passed). */
  validateFaultExtras(input: Readonly<Record<string, unknown>>): FaultExtrasValidation<TFaultExtras>;
  /** Applies validated provider-specific fault options (an empty object clears them). */
  setFaultExtras(extras: TFaultExtras): void;
  /** Forgets all resources and provider-specific fault options. Credentials and issued tokens are kept. */
  reset(): void;
  /**
   * Present on a provider of scheme `oauth2_refresh_token` (credential-schemes.ts `oauth2RefreshToken`): what the
   * customer and the provider do to the grant besides the hub's refreshes, for tests and the control plane.
   */
  readonly refreshTokenGrant?: RefreshTokenGrantControl;
}

/** The credential of scheme `oauth2_refresh_token`: the client and the grant's current refresh token. */
export type RefreshTokenCredentials = { readonly clientId: string; readonly clientSecret: string; readonly refreshToken: string };

/** The grant of an `oauth2_refresh_token` provider, driven from outside the hub (credential-schemes.ts `oauth2RefreshToken`). */
export interface RefreshTokenGrantControl {
  /** The customer disconnects the app: the grant's refresh tokens get `invalid_grant`, its access tokens 401. */
  revoke(): void;
  /** The customer authorizes the app again: a new grant (the old one is revoked); returns the credentials with its refresh token. */
  authorize(): RefreshTokenCredentials;
  /** How long a used refresh token may be presented again, seconds (0: never). */
  reuseIntervalSeconds(): number;
  /** Changes the reuse interval from now on; throws a RangeError unless an integer in 0..{@link MAX_REUSE_INTERVAL_SECONDS}. */
  setReuseIntervalSeconds(seconds: number): void;
  /** Refresh-grant requests whose client authentication passed, accepted or not, since start. */
  refreshRequests(): number;
  /** Refreshes that issued tokens, since start. */
  refreshesGranted(): number;
  /** Access tokens issued since start. */
  tokensIssued(): number;
}

/** Largest reuse interval of a refresh token, seconds (a day: real providers allow seconds to minutes). */
export const MAX_REUSE_INTERVAL_SECONDS = 86_400;

/** Any registered provider, as the server handles them generically. */
export type AnySandboxProvider = SandboxProvider<object, object>;

/** Fault extras of a provider that has no provider-specific fault options. */
export type NoFaultExtras = Record<never, never>;

/** The fault-extras members of a provider without provider-specific fault options, to spread into it. */
export const NO_FAULT_EXTRAS: Pick<SandboxProvider<object, NoFaultExtras>, 'faultExtraKeys' | 'validateFaultExtras' | 'setFaultExtras'> = {
  faultExtraKeys: [],
  validateFaultExtras: () => ({ ok: true, extras: {} }),
  setFaultExtras: () => {},
};

/** The unauthenticated health check every provider serves (faults apply to it, so a probe sees an outage). */
export const HEALTH_ROUTE: ProviderRoute = { method: 'GET', path: '/health', auth: 'none', handle: () => ({ status: 200, body: { status: 'ok' } }) };

/** The JSON error shape every sandbox provider uses: `{ error: { code, message } }`. */
export function errorResponse(
  status: number,
  code: string,
  message: string,
  options: { headers?: Readonly<Record<string, string>>; details?: JsonObject; saveForIdempotency?: boolean } = {},
): RouteResponse {
  return {
    status,
    body: { error: { code, message, ...(options.details ?? {}) } },
    ...(options.headers ? { headers: options.headers } : {}),
    ...(options.saveForIdempotency === undefined ? {} : { saveForIdempotency: options.saveForIdempotency }),
  };
}

/** A 400 for a body that failed validation; never saved against an Idempotency-Key. */
export function invalidRequest(problems: readonly string[]): RouteResponse {
  return errorResponse(400, 'invalid_request', problems.join('; '), {
    details: { problems: [...problems] },
    saveForIdempotency: false,
  });
}

/**
 * The lookup a caller makes when it does not know whether its request happened (a timeout, a lost answer): `GET
 * <path>?idempotencyKey=` (the key it sent) or `?<field>=` (its own reference), or both; `{ data: [record, ...] }` in
 * creation order; 400 when neither is given.
 */
export function lookupRoute<T extends { readonly idempotencyKey: string | null }>(
  path: string,
  field: keyof T & string,
  records: () => Iterable<T>,
  toJson: (record: T) => unknown,
): ProviderRoute {
  return {
    method: 'GET',
    path,
    auth: 'required',
    handle: (request) => {
      const key = request.query.get('idempotencyKey');
      const reference = request.query.get(field);
      if (key === null && reference === null) return invalidRequest([`idempotencyKey or ${field}: one is required`]);
      const found = [...records()].filter((record) => (key === null || record.idempotencyKey === key) && (reference === null || record[field] === reference));
      return { status: 200, body: { data: found.map(toJson) as JsonValue[] } };
    },
  };
}

/** First value of a header (Node gives arrays for repeated headers). */
export function headerValue(headers: IncomingHttpHeaders, name: string): string | undefined {
  const value = headers[name.toLowerCase()];
  return Array.isArray(value) ? value[0] : value;
}

/** Matches a `/a/:b` pattern against a path; returns the captured params or undefined. */
export function matchPath(pattern: string, path: string): Record<string, string> | undefined {
  const patternParts = pattern.split('/').filter(Boolean);
  const pathParts = path.split('/').filter(Boolean);
  if (patternParts.length !== pathParts.length) return undefined;
  const params: Record<string, string> = {};
  for (const [index, part] of patternParts.entries()) {
    const actual = pathParts[index] ?? '';
    if (part.startsWith(':')) {
      try {
        params[part.slice(1)] = decodeURIComponent(actual);
      } catch {
        return undefined;
      }
    } else if (part !== actual) {
      return undefined;
    }
  }
  return params;
}

/** `path: message` for a schema issue (zod); unknown keys have an empty path. */
export function describeIssue(issue: { readonly path: readonly PropertyKey[]; readonly message: string }): string {
  const path = issue.path.map(String).join('.');
  return path ? `${path}: ${issue.message}` : issue.message;
}

/** The string fields of a parsed form body (`body: 'form'` routes); anything else gives an empty record. */
export function formFields(body: unknown): Readonly<Record<string, string>> {
  if (typeof body !== 'object' || body === null) return {};
  const fields: Record<string, string> = {};
  for (const [key, value] of Object.entries(body)) if (typeof value === 'string') fields[key] = value;
  return fields;
}
