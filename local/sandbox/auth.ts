/**
 * Credential parsing and checking shared by the providers. Secrets are compared in constant time (habit, not
 * need) and never leave this module except as the credentials object a test asks for: the journal only ever
 * sees the auth scheme ({@link authScheme}).
 */
import { timingSafeEqual } from 'node:crypto';
import type { IncomingHttpHeaders } from 'node:http';
import { type AuthResult, headerValue } from './provider.js';

/** The scheme of an Authorization header (`Bearer`, `Basic`, ...) or null; the only auth detail ever journaled. */
export function authScheme(headers: IncomingHttpHeaders): string | null {
  const value = headerValue(headers, 'authorization');
  if (!value) return null;
  const scheme = value.trim().split(/\s+/, 1)[0] ?? '';
  // A scheme is a token; anything else (a bare secret pasted as the header) must not be echoed into the journal.
  return /^[A-Za-z][A-Za-z0-9._~+-]{0,30}$/.test(scheme) ? scheme : 'invalid';
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(headers: IncomingHttpHeaders): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(headerValue(headers, 'authorization') ?? '');
  return match?.[1];
}

/** The id and secret of an `Authorization: Basic <base64(id:secret)>` header, or undefined. */
export function basicCredentials(headers: IncomingHttpHeaders): { id: string; secret: string } | undefined {
  const match = /^Basic\s+([A-Za-z0-9+/=]+)\s*$/i.exec(headerValue(headers, 'authorization') ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  if (colon < 0) return undefined;
  // RFC 6749 §2.3.1: id and secret are form-urlencoded before being joined.
  return { id: formDecode(decoded.slice(0, colon)), secret: formDecode(decoded.slice(colon + 1)) };
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
