/**
 * Credential parsing and checking shared by the providers. Secrets are compared in constant time (habit, not
 * need) and never leave this module except as the credentials object a test asks for: the journal only ever
 * sees the auth scheme ({@link authScheme}).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type AuthResult, headerValue } from './provider.js';

/** Header of the API-key scheme (lower case, as Node gives header names). */
export const API_KEY_HEADER = 'x-api-key';

/** Authorization schemes the journal may name; anything else is journaled as `other`. */
const KNOWN_SCHEMES: readonly string[] = ['Basic', 'Bearer', 'Digest', 'Negotiate', 'Token', 'ApiKey', 'AWS4-HMAC-SHA256'];

/**
 * The scheme of an Authorization header (`Bearer`, `Basic`, ...), `other`, `ApiKey` for a request that carries
 * only an API-key header (`X-Api-Key`, or the provider's own `apiKeyHeader`), or null when neither is present; the
 * only auth detail ever journaled. Only known schemes are named: a client that pastes a bare secret as the header
 * value must not get that secret echoed into the journal.
 */
export function authScheme(headers: IncomingHttpHeaders, apiKeyHeader: string = API_KEY_HEADER): string | null {
  const value = headerValue(headers, 'authorization');
  // API-key providers (inventory) take the key in a header; the journal names the scheme, never the key.
  if (value === undefined) {
    return headerValue(headers, API_KEY_HEADER) === undefined && headerValue(headers, apiKeyHeader) === undefined ? null : 'ApiKey';
  }
  const parts = value.trim().split(/\s+/);
  const scheme = KNOWN_SCHEMES.find((known) => known.toLowerCase() === parts[0]?.toLowerCase());
  return scheme !== undefined && parts.length === 2 ? scheme : 'other';
}

/** The value of the API-key header (`X-Api-Key` unless the provider names another), or undefined. */
export function apiKey(headers: IncomingHttpHeaders, header: string = API_KEY_HEADER): string | undefined {
  return headerValue(headers, header)?.trim();
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headerValue(headers, 'authorization') ?? '');
  return match?.[1];
}

/**
 * The id and secret of an `Authorization: Basic <base64(id:secret)>` header, or undefined. `form-encoded`: OAuth2
 * client authentication, whose id and secret are form-urlencoded before being joined (RFC 6749 §2.3.1); `plain`: HTTP
 * Basic, which joins them as they are (RFC 7617), so a password holding '+' or '%' stays intact.
 */
export function basicCredentials(headers: IncomingHttpHeaders, encoding: 'form-encoded' | 'plain'): { id: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(headerValue(headers, 'authorization') ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  const id = decoded.slice(0, colon);
  const secret = decoded.slice(colon + 1);
  return encoding === 'plain' ? { id, secret } : { id: formDecode(id), secret: formDecode(secret) };
}

/** Constant-time string equality. */
export function secretsEqual(a: string, b: string): boolean {
  const left = Buffer.from(a);
  const right = Buffer.from(b);
  return left.length === right.length && timingSafeEqual(left, right);
}

/** 401 for a request that carries no usable credentials. */
export function missingCredentials(message = 'authentication required'): AuthResult {
  return { ok: false, status: 401, code: 'missing_credentials', message };
}

/** 401 for credentials that are wrong, revoked or rotated away. */
export function invalidCredentials(message = 'invalid credentials'): AuthResult {
  return { ok: false, status: 401, code: 'invalid_credentials', message };
}

function formDecode(value: string): string {
  try {
    return decodeURIComponent(value.replace(/\+/g, ' '));
  } catch {
    return value;
  }
}
