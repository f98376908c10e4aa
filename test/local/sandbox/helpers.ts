// Shared helpers of the sandbox tests: real HTTP over loopback with the platform fetch.
import type { CrmCredentials, Sandbox } from '../../../local/sandbox/index.js';

/** Providers authenticated by a static credential (everything but the CRM's OAuth2). */
export type StaticAuthProvider = 'payments' | 'inventory' | 'shipping' | 'email' | 'contacts';

/** `Authorization: Basic ...` for a client id and secret. */
export function basicAuth(id: string, secret: string): string {
  return `Basic ${Buffer.from(`${id}:${secret}`).toString('base64')}`;
}

/** POSTs a form to the CRM token endpoint with HTTP Basic client authentication. */
export function requestCrmToken(sandbox: Sandbox, credentials: CrmCredentials = sandbox.credentials('crm'), form = 'grant_type=client_credentials'): Promise<Response> {
  return fetch(`${sandbox.providerUrl('crm')}/oauth/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(credentials.clientId, credentials.clientSecret) },
    body: form,
  });
}

/** A CRM access token for the current credentials. */
export async function crmToken(sandbox: Sandbox, credentials?: CrmCredentials): Promise<string> {
  const response = await requestCrmToken(sandbox, credentials);
  if (response.status !== 200) throw new Error(`token request failed with ${response.status}: ${await response.text()}`);
  const body = (await response.json()) as { access_token: string };
  return body.access_token;
}

/** A valid CRM file body. */
export function fileBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    externalRef: 'dms-file-42',
    version: 3,
    name: 'contract.pdf',
    mimeType: 'application/pdf',
    sizeBytes: 52_431,
    folder: '/contracts/2024',
    ownerEmail: 'owner@example.com',
    uploadedAt: '2024-05-01T10:15:30Z',
    tags: ['contract', 'signed'],
    ...overrides,
  };
}

/** A valid charge body. */
export function chargeBody(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return { amount: 1999, currency: 'EUR', reference: 'order-1001', customerId: 'cus_123', description: 'Order 1001', ...overrides };
}

/** POSTs JSON with the given headers. */
export function postJson(url: string, body: unknown, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
    ...(signal ? { signal } : {}),
  });
}

/** POSTs a file to the CRM with a bearer token. */
export function postFile(sandbox: Sandbox, token: string, body: unknown = fileBody(), headers: Record<string, string> = {}): Promise<Response> {
  return postJson(`${sandbox.providerUrl('crm')}/files`, body, { authorization: `Bearer ${token}`, ...headers });
}

/** POSTs to a payments endpoint with the current secret key. */
export function postPayments(sandbox: Sandbox, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return postJson(`${sandbox.providerUrl('payments')}${path}`, body, {
    authorization: `Bearer ${sandbox.credentials('payments').secretKey}`,
    ...headers,
  });
}

/** GETs a path with optional headers. */
export function get(url: string, headers: Record<string, string> = {}, signal?: AbortSignal): Promise<Response> {
  return fetch(url, { headers, ...(signal ? { signal } : {}) });
}

/** The `error.code` of a JSON error body. */
export async function errorCode(response: Response): Promise<string | undefined> {
  const body = (await response.json()) as { error?: { code?: string } };
  return body.error?.code;
}

/** Polls until `condition` holds (events such as a socket closing arrive asynchronously). */
export async function eventually(condition: () => boolean, timeoutMs = 2_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 5));
  }
}

/** A controllable sandbox clock. */
export function manualClock(start = Date.UTC(2030, 0, 1, 12, 0, 0)): { now: () => number; advance(ms: number): void } {
  let time = start;
  return {
    now: () => time,
    advance: (ms) => {
      time += ms;
    },
  };
}

/** The auth headers of a static-credential provider with its current credentials. */
export function authHeaders(sandbox: Sandbox, provider: StaticAuthProvider): Record<string, string> {
  switch (provider) {
    case 'payments':
      return { authorization: `Bearer ${sandbox.credentials('payments').secretKey}` };
    case 'inventory':
      return { 'x-api-key': sandbox.credentials('inventory').apiKey };
    case 'shipping': {
      const { username, password } = sandbox.credentials('shipping');
      return { authorization: basicAuth(username, password) };
    }
    case 'email':
      return { authorization: `Bearer ${sandbox.credentials('email').token}` };
    case 'contacts':
      return { authorization: `Bearer ${sandbox.credentials('contacts').token}` };
  }
}

/**
 * The auth headers of a generic provider with its current credentials, by its scheme (generic-api.ts); for OAuth2 a
 * token is fetched from its token endpoint first.
 */
export async function genericAuthHeaders(sandbox: Sandbox<string>, name: string): Promise<Record<string, string>> {
  const provider = sandbox.generic(name);
  const credentials = sandbox.credentials(name);
  switch (provider.scheme) {
    case 'none':
      return {};
    case 'bearer':
      return { authorization: `Bearer ${credentials.token}` };
    case 'api_key':
      return { [provider.apiKeyHeader ?? 'x-api-key']: credentials.apiKey ?? '' };
    case 'basic':
      return { authorization: basicAuth(credentials.username ?? '', credentials.password ?? '') };
    case 'oauth2_client_credentials': {
      const response = await fetch(`${sandbox.providerUrl(name)}${provider.tokenPath}`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: basicAuth(credentials.clientId ?? '', credentials.clientSecret ?? '') },
        body: 'grant_type=client_credentials',
      });
      if (response.status !== 200) throw new Error(`token request failed with ${response.status}: ${await response.text()}`);
      return { authorization: `Bearer ${((await response.json()) as { access_token: string }).access_token}` };
    }
    case 'oauth2_refresh_token': {
      // A refresh rotates the refresh token: the sandbox's credentials then hold the new current one.
      const response = await refreshTokenRequest(sandbox.providerUrl(name), provider.tokenPath ?? '', credentials);
      if (response.status !== 200) throw new Error(`refresh failed with ${response.status}: ${await response.text()}`);
      return { authorization: `Bearer ${((await response.json()) as { access_token: string }).access_token}` };
    }
  }
}

/** The credential of an `oauth2_refresh_token` provider (generic-api.ts), as its secret holds it. */
export interface RefreshTokenClient {
  readonly clientId?: string;
  readonly clientSecret?: string;
  readonly refreshToken?: string;
}

/**
 * POSTs `grant_type=refresh_token` to a token endpoint the way the hub runtime does: the client id and secret
 * form-urlencoded, then HTTP Basic (RFC 6749 §2.3.1); `form` adds or overrides form fields (`scope`).
 */
export function refreshTokenRequest(providerUrl: string, tokenPath: string, client: RefreshTokenClient, form: Record<string, string> = {}): Promise<Response> {
  const encode = (value: string): string => new URLSearchParams({ v: value }).toString().slice(2);
  const basic = Buffer.from(`${encode(client.clientId ?? '')}:${encode(client.clientSecret ?? '')}`).toString('base64');
  return fetch(`${providerUrl}${tokenPath}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${basic}` },
    body: new URLSearchParams({ grant_type: 'refresh_token', refresh_token: client.refreshToken ?? '', ...form }).toString(),
  });
}

/** POSTs JSON to a provider path with its current credentials. */
export function postAs(sandbox: Sandbox, provider: StaticAuthProvider, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return postJson(`${sandbox.providerUrl(provider)}${path}`, body, { ...authHeaders(sandbox, provider), ...headers });
}

/** GETs a provider path with its current credentials. */
export function getAs(sandbox: Sandbox, provider: StaticAuthProvider, path: string): Promise<Response> {
  return get(`${sandbox.providerUrl(provider)}${path}`, authHeaders(sandbox, provider));
}

/** A valid shipment body. */
export function shipmentBody(overrides: Record<string, unknown> = {}, address: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    orderId: 'order-1001',
    address: { name: 'Ada Lovelace', line1: '12 Analytical St', city: 'London', postalCode: 'N1 9GU', country: 'GB', ...address },
    items: [{ sku: 'SKU-1', quantity: 2 }],
    ...overrides,
  };
}
