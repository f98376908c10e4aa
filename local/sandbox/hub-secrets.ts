/**
 * How the hub's secrets hold the credential of each sandbox provider. The runtime reads a secret with the fields of
 * its auth scheme (functions/runtime/auth-config.ts SECRET_FIELDS), while a dedicated provider names its credential in
 * its own words (payments' `secretKey` is a bearer token). One field map per dedicated provider gives both directions,
 * so the local hub (local/hub/sandbox-wiring.ts: sandbox credentials → secrets) and a sandbox started with the hub's
 * credentials (server.ts `credentials`: secrets → sandbox credentials) cannot drift apart. A generic provider's
 * credential already has the secret's shape (generic-api.ts).
 */
import { type AuthConfig, type AuthScheme, isOAuth2, RUNTIME_SECRET_FIELDS, SECRET_FIELDS } from '../../functions/runtime/auth-config.js';
import type { GenericAuth } from './generic-api.js';
import { type CredentialsOf, PROVIDER_NAMES, type ProviderName } from './providers.js';

/** A dedicated provider as the hub authenticates to it. */
export interface DedicatedProviderAuth<P extends ProviderName> {
  /** The scheme it checks. */
  readonly scheme: AuthScheme;
  /** Its OAuth2 token endpoint, below the provider prefix. */
  readonly tokenPath?: string;
  /** Each field of the provider's credential → the secret field holding it (one of SECRET_FIELDS[scheme]). */
  readonly secretFields: { readonly [K in keyof CredentialsOf<P>]: string };
}

/** The dedicated providers' schemes and secret fields. A new dedicated provider fails to compile here. */
export const DEDICATED_PROVIDER_AUTH: { readonly [P in ProviderName]: DedicatedProviderAuth<P> } = {
  crm: { scheme: 'oauth2_client_credentials', tokenPath: '/oauth/token', secretFields: { clientId: 'clientId', clientSecret: 'clientSecret' } },
  payments: { scheme: 'bearer', secretFields: { secretKey: 'token' } },
  inventory: { scheme: 'api_key', secretFields: { apiKey: 'apiKey' } },
  shipping: { scheme: 'basic', secretFields: { username: 'username', password: 'password' } },
  email: { scheme: 'bearer', secretFields: { token: 'token' } },
  contacts: { scheme: 'bearer', secretFields: { token: 'token' } },
};

/** True when `name` is a dedicated provider's. */
export function isDedicatedProvider(name: string): name is ProviderName {
  return (PROVIDER_NAMES as readonly string[]).includes(name);
}

/** A dedicated provider's credential as the hub's secret holds it. */
export function secretOfCredentials<P extends ProviderName>(provider: P, credentials: CredentialsOf<P>): Record<string, string> {
  const held: Readonly<Record<string, unknown>> = { ...credentials };
  return Object.fromEntries(fieldPairs(provider).map(([credentialField, secretField]) => [secretField, String(held[credentialField] ?? '')]));
}

/** The dedicated provider's credential held in a secret's fields; check them with {@link secretFieldProblems} first. */
export function credentialsOfSecret<P extends ProviderName>(provider: P, secret: Readonly<Record<string, string>>): CredentialsOf<P> {
  return Object.fromEntries(fieldPairs(provider).map(([credentialField, secretField]) => [credentialField, secret[secretField] ?? ''])) as CredentialsOf<P>;
}

// The sandbox reads a bearer token as the one word after "Bearer" and an API key from a header, so those must be
// printable ASCII without spaces; HTTP Basic cannot carry a ':' in the user-id (RFC 7617).
const HEADER_WORD = /^[\x21-\x7E]+$/;
const HEADER_CARRIED_FIELDS: readonly string[] = ['token', 'apiKey', 'accessToken'];
// Runtime-written fields holding an epoch-ms number (functions/runtime/auth-config.ts RUNTIME_SECRET_FIELDS); the others are strings.
const EPOCH_MS_FIELDS: readonly string[] = ['accessTokenIssuedAt', 'accessTokenExpiresAt'];

/**
 * Every problem of `secret` as the credential of `scheme`, one line each (empty when it is usable): it must be an
 * object with exactly the scheme's secret fields, each a non-empty string the sandbox can check, plus optionally the
 * fields the runtime writes into it itself (RUNTIME_SECRET_FIELDS: a secret the hub has already used). Values are
 * never quoted, only field names.
 */
export function secretFieldProblems(scheme: AuthScheme, secret: unknown): string[] {
  const expected = SECRET_FIELDS[scheme];
  const runtime = RUNTIME_SECRET_FIELDS[scheme];
  const wanted = `${expected.length > 0 ? expected.join(', ') : 'no field'}${runtime.length > 0 ? `; the runtime may add ${runtime.join(', ')}` : ''}`;
  if (typeof secret !== 'object' || secret === null || Array.isArray(secret)) return [`must be an object with ${wanted} (scheme ${scheme})`];
  const fields = secret as Readonly<Record<string, unknown>>;
  const problems: string[] = [];
  const unknown = Object.keys(fields).filter((field) => !expected.includes(field) && !runtime.includes(field));
  if (unknown.length > 0) problems.push(`field(s) ${unknown.join(', ')} do not belong to scheme ${scheme} (expected ${wanted})`);
  const present = runtime.filter((field) => fields[field] !== undefined);
  const notNumbers = present.filter((field) => EPOCH_MS_FIELDS.includes(field) && !(typeof fields[field] === 'number' && Number.isFinite(fields[field])));
  if (notNumbers.length > 0) problems.push(`field(s) ${notNumbers.join(', ')} must be epoch-ms numbers when present (written by the runtime)`);
  const notStrings = present.filter((field) => !EPOCH_MS_FIELDS.includes(field) && (typeof fields[field] !== 'string' || fields[field] === ''));
  if (notStrings.length > 0) problems.push(`field(s) ${notStrings.join(', ')} must be non-empty strings when present (written by the runtime)`);
  const missing = expected.filter((field) => typeof fields[field] !== 'string' || fields[field] === '');
  if (missing.length > 0) problems.push(`field(s) ${missing.join(', ')} must be non-empty strings (scheme ${scheme})`);
  const headerCarried = [...expected, ...present].filter((field) => HEADER_CARRIED_FIELDS.includes(field) && typeof fields[field] === 'string' && fields[field] !== '');
  const notHeaderWords = headerCarried.filter((field) => !HEADER_WORD.test(fields[field] as string));
  if (notHeaderWords.length > 0) problems.push(`field(s) ${notHeaderWords.join(', ')} must be printable ASCII without spaces`);
  if (scheme === 'basic' && typeof fields.username === 'string' && fields.username.includes(':')) problems.push("field username must not contain ':'");
  return problems;
}

/**
 * The generic provider serving a catalog auth: the same scheme, header and token path. An OAuth2 `tokenUrl` that is a
 * path is resolved against the base URL (functions/runtime/runtime-environment.ts resolveAuth), i.e. below the
 * provider prefix, so it becomes the token path; a full URL keeps the default path (the hub's secret must then point
 * `tokenUrl` at the sandbox, see local/hub/sandbox-wiring.ts sandboxSecretValues).
 */
export function genericAuthOf(auth: AuthConfig, tokenExpiresInSeconds?: number): GenericAuth {
  if (auth.scheme === 'api_key') return auth.headerName ? { scheme: 'api_key', headerName: auth.headerName } : 'api_key';
  if (!isOAuth2(auth)) return auth.scheme;
  // `tokenExpiresInSeconds`: the access tokens' lifetime, a sandbox setting (the provider decides it, not the catalog).
  const token = {
    ...(auth.tokenUrl.startsWith('/') ? { tokenPath: auth.tokenUrl } : {}),
    ...(tokenExpiresInSeconds === undefined ? {} : { tokenExpiresInSeconds }),
  };
  if (auth.scheme === 'oauth2_refresh_token') {
    // The grant holds the scopes the catalog asks for, and refuses `scope` on a refresh where the catalog says the provider does.
    return {
      scheme: auth.scheme,
      ...token,
      ...(auth.scopes === undefined ? {} : { scopes: auth.scopes }),
      ...(auth.scopeOnRefresh === undefined ? {} : { scopeOnRefresh: auth.scopeOnRefresh }),
    };
  }
  return Object.keys(token).length > 0 ? { scheme: auth.scheme, ...token } : auth.scheme;
}

function fieldPairs(provider: ProviderName): [credentialField: string, secretField: string][] {
  return Object.entries(DEDICATED_PROVIDER_AUTH[provider].secretFields as Readonly<Record<string, string>>);
}
