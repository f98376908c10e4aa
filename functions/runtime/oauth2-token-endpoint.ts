/**
 * One request to a provider's OAuth2 token endpoint (RFC 6749 §4.4 client credentials, §6 refresh), shared by both
 * OAuth2 schemes (credentials.ts, refresh-token-credentials.ts): client authentication, timeout, and the
 * classification of the answer into the runtime's errors.
 *
 * Secrets never reach an error: the token response is never quoted, an error response only as its OAuth
 * `error`/`error_description` with our own credentials redacted, and no error keeps the fetch error as its cause
 * (it may reference the request, whose headers hold the client secret).
 */
import { AuthenticationError, ReauthorizationRequiredError, TokenEndpointError } from './errors.js';
import { describeNetworkError, providerErrorSummary } from './http-client.js';
import type { Clock } from './ports.js';

/** The OAuth client as the secret (and catalog) give it. */
export interface OAuth2Client {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly tokenUrl: string;
}

/** What a successful token request gave. */
export interface GrantedToken {
  readonly accessToken: string;
  /** Epoch ms at which the access token expires (request time + `expires_in`, or the default lifetime). */
  readonly expiresAt: number;
  /** A rotated refresh token, when the provider issued one. */
  readonly refreshToken?: string;
}

/** How to reach the endpoint. */
export interface TokenRequestOptions {
  readonly clock: Clock;
  readonly fetch: typeof fetch;
  readonly timeoutMs: number;
  /** Lifetime assumed when the response has no usable `expires_in`. */
  readonly defaultLifetimeMs: number;
  /** The grant is a refresh token, whose `invalid_grant` means a person must authorize again. @default false */
  readonly grantIsRefreshToken?: boolean;
}

// Visible ASCII with inner spaces: anything else makes fetch throw an error that quotes the value.
export const HEADER_SAFE_VALUE = /^[\x21-\x7E](?:[\x20-\x7E]*[\x21-\x7E])?$/;

/**
 * POSTs `form` (the grant) to the client's token endpoint with HTTP Basic client authentication. Throws
 * TokenEndpointError when the endpoint did not hand out a token (5xx, 408/425/429, timeout, unreachable, unusable
 * answer), ReauthorizationRequiredError for `invalid_grant` of a refresh token (revoked, expired or reused: only a
 * person can grant access again), and AuthenticationError for any other refusal (`invalid_client`, 401, a
 * wrong URL), which retrying the same request cannot fix.
 */
export async function requestToken(client: OAuth2Client, form: URLSearchParams, options: TokenRequestOptions): Promise<GrantedToken> {
  const requestedAt = options.clock.now();
  const url = new URL(client.tokenUrl);
  const where = `${url.host}${url.pathname}`; // never the query string
  // RFC 6749 §2.3.1: client id and secret are form-urlencoded before the Basic encoding.
  const basic = Buffer.from(`${formEncode(client.clientId)}:${formEncode(client.clientSecret)}`, 'utf8').toString('base64');
  const redacted = [client.clientSecret, basic, `Basic ${basic}`, ...form.getAll('refresh_token')];

  const controller = new AbortController();
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    controller.abort();
  }, options.timeoutMs);
  let response: Response;
  let text: string;
  try {
    response = await options.fetch(url, {
      method: 'POST',
      headers: {
        Authorization: `Basic ${basic}`,
        'Content-Type': 'application/x-www-form-urlencoded',
        Accept: 'application/json',
        'User-Agent': 'integration-hub',
      },
      body: form.toString(),
      signal: controller.signal,
      redirect: 'manual',
    });
    text = await response.text();
  } catch (error) {
    const reason = timedOut ? `no response within ${options.timeoutMs} ms` : `connection failed (${describeNetworkError(error)})`;
    throw new TokenEndpointError(`Token request to ${where} failed: ${reason}`);
  } finally {
    clearTimeout(timer);
  }

  const { status } = response;
  if (status >= 200 && status < 300) {
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new TokenEndpointError(`Token endpoint ${where} answered ${status} with a body that is not JSON`);
    }
    const fields = isRecord(body) ? body : {};
    const accessToken = fields.access_token;
    if (typeof accessToken !== 'string' || !HEADER_SAFE_VALUE.test(accessToken)) {
      throw new TokenEndpointError(`Token endpoint ${where} answered ${status} without a usable access_token`);
    }
    const refreshToken = fields.refresh_token;
    if (refreshToken !== undefined && (typeof refreshToken !== 'string' || refreshToken === '')) {
      throw new TokenEndpointError(`Token endpoint ${where} answered ${status} with an unusable refresh_token`);
    }
    const lifetimeMs = expiresInMs(fields.expires_in) ?? options.defaultLifetimeMs;
    return { accessToken, expiresAt: requestedAt + lifetimeMs, ...(refreshToken ? { refreshToken } : {}) };
  }

  const summary = providerErrorSummary(text, redacted);
  const detail = `${status}${summary ? ` ${summary}` : ''}`;
  if (status >= 500 || status === 408 || status === 425 || status === 429) {
    throw new TokenEndpointError(`Token endpoint ${where} answered ${detail}`);
  }
  if (options.grantIsRefreshToken && status === 400 && oauthErrorCode(text) === 'invalid_grant') {
    throw new ReauthorizationRequiredError(`Token endpoint ${where} rejected the grant: ${detail}`);
  }
  throw new AuthenticationError(status, `Token endpoint ${where} rejected the client credentials: ${detail}`);
}

/** The token lifetime to plan with: refresh this long before expiry at most (or 10% of the lifetime, if smaller). */
export const TOKEN_EXPIRY_SKEW_MS = 60_000;

/** When a token granted at `grantedAt` that expires at `expiresAt` should be replaced. */
export function refreshAtOf(grantedAt: number, expiresAt: number): number {
  return expiresAt - Math.min(TOKEN_EXPIRY_SKEW_MS, Math.max(0, expiresAt - grantedAt) * 0.1);
}

/** The OAuth `error` code of an error response body (RFC 6749 §5.2), if any. */
function oauthErrorCode(text: string): string | undefined {
  try {
    const body: unknown = JSON.parse(text);
    return isRecord(body) && typeof body.error === 'string' ? body.error : undefined;
  } catch {
    return undefined;
  }
}

/** `expires_in` in ms, accepting numeric strings; undefined when absent or not a positive number. */
function expiresInMs(value: unknown): number | undefined {
  const seconds = typeof value === 'string' && value.trim() !== '' ? Number(value) : value;
  return typeof seconds === 'number' && Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined;
}

/** True for an absolute http(s) URL. */
export function isHttpUrl(value: string): boolean {
  try {
    const url = new URL(value);
    return url.protocol === 'https:' || url.protocol === 'http:';
  } catch {
    return false;
  }
}

function formEncode(value: string): string {
  return new URLSearchParams({ v: value }).toString().slice(2);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
