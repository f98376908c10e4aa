import { beforeEach, describe, expect, it } from 'vitest';
import { createCredentialsProvider, type AuthConfig } from '../../../functions/runtime/credentials.js';
import { AuthenticationError, ConfigurationError, InvalidCredentialsError, TokenEndpointError } from '../../../functions/runtime/errors.js';
import { StaticSecretSource } from '../../../functions/runtime/static-secret-source.js';
import { FakeClock, rejectionOf, serializeError, startLoopbackServer } from './http-test-kit.js';

const oauth: AuthConfig = { scheme: 'oauth2_client_credentials', tokenUrl: 'https://auth.example.com/oauth/token', scope: 'files.write' };
const CLIENT_SECRET = 'cs_VERY_SECRET_value+/=';

interface TokenCall {
  url: string;
  headers: Headers;
  body: string;
}

/** A token endpoint as a fake fetch: answers from a queue (or a fallback), records calls, can hold answers back. */
class FakeTokenEndpoint {
  readonly calls: TokenCall[] = [];
  readonly replies: Array<() => Response | Promise<Response>> = [];
  private issued = 0;
  fallback: () => Response | Promise<Response> = () => this.token();

  readonly fetch = (async (input: string | URL | Request, init?: RequestInit) => {
    this.calls.push({ url: String(input), headers: new Headers(init?.headers), body: String(init?.body ?? '') });
    return (this.replies.shift() ?? this.fallback)();
  }) as typeof fetch;

  /** A successful token response with a new token each time; `null` leaves out expires_in. */
  token(expiresIn: number | string | null = 3600): Response {
    this.issued += 1;
    return json(200, { access_token: `at-${this.issued}`, token_type: 'bearer', ...(expiresIn === null ? {} : { expires_in: expiresIn }) });
  }
}

function json(status: number, body: unknown): Response {
  return new Response(typeof body === 'string' ? body : JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
}

let clock: FakeClock;
let secrets: StaticSecretSource;
let endpoint: FakeTokenEndpoint;

beforeEach(() => {
  clock = new FakeClock();
  secrets = new StaticSecretSource({
    bearer: { token: 'tok-123' },
    key: { apiKey: 'key-456' },
    basic: { username: 'bob', password: 'p@ss:wörd' },
    oauth: { clientId: 'client-1', clientSecret: CLIENT_SECRET },
  });
  endpoint = new FakeTokenEndpoint();
});

function oauthProvider(overrides: Partial<Parameters<typeof createCredentialsProvider>[0]> = {}) {
  return createCredentialsProvider({ auth: oauth, secretName: 'oauth', secrets, clock, fetch: endpoint.fetch, ...overrides });
}

describe('createCredentialsProvider: static schemes', () => {
  it('sends no auth headers and reads no secret for scheme none', async () => {
    const provider = createCredentialsProvider({ auth: { scheme: 'none' } });
    expect(await provider.headers()).toEqual({});
    expect(await provider.headers({ fresh: true })).toEqual({});
  });

  it('sends a bearer token', async () => {
    const provider = createCredentialsProvider({ auth: { scheme: 'bearer' }, secretName: 'bearer', secrets });
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer tok-123' });
  });

  it('sends an API key in X-Api-Key by default, or in the configured header', async () => {
    const byDefault = createCredentialsProvider({ auth: { scheme: 'api_key' }, secretName: 'key', secrets });
    const custom = createCredentialsProvider({ auth: { scheme: 'api_key', headerName: 'X-Auth-Token' }, secretName: 'key', secrets });
    expect(await byDefault.headers()).toEqual({ 'X-Api-Key': 'key-456' });
    expect(await custom.headers()).toEqual({ 'X-Auth-Token': 'key-456' });
  });

  it('sends HTTP Basic credentials, UTF-8 encoded', async () => {
    const provider = createCredentialsProvider({ auth: { scheme: 'basic' }, secretName: 'basic', secrets });
    const { Authorization } = await provider.headers();
    expect(Buffer.from(Authorization?.replace('Basic ', '') ?? '', 'base64').toString('utf8')).toBe('bob:p@ss:wörd');
  });

  it('re-reads the secret bypassing caches when asked for fresh credentials', async () => {
    const provider = createCredentialsProvider({ auth: { scheme: 'bearer' }, secretName: 'bearer', secrets });
    await provider.headers();
    secrets.set('bearer', { token: 'rotated' });
    expect(await provider.headers({ fresh: true })).toEqual({ Authorization: 'Bearer rotated' });
    expect(secrets.forcedReads).toBe(1);
  });

  it.each([
    [{ scheme: 'bearer' } as AuthConfig, { tokn: 'typo-value-1' }, ['token']],
    [{ scheme: 'api_key' } as AuthConfig, { apiKey: 12345678 }, ['apiKey']],
    [{ scheme: 'basic' } as AuthConfig, { username: 'alice-value' }, ['password']],
    [{ scheme: 'basic' } as AuthConfig, {}, ['username', 'password']],
    [oauth, { clientId: 'client-value', client_secret: 'secret-value' }, ['clientSecret']],
    [oauth, { clientId: 'client-value', clientSecret: 'secret-value', tokenUrl: 'not a url' }, ['tokenUrl']],
  ])('names the missing or invalid fields of a %j secret, never the values', async (auth, secret, fields) => {
    secrets.set('s', secret);
    const provider = createCredentialsProvider({ auth, secretName: 's', secrets, clock, fetch: endpoint.fetch });

    const error = await rejectionOf(provider.headers());

    expect(error).toBeInstanceOf(InvalidCredentialsError);
    for (const field of fields) expect((error as Error).message).toContain(field);
    const serialized = serializeError(error);
    for (const value of Object.values(secret)) expect(serialized).not.toContain(String(value));
    expect(endpoint.calls).toHaveLength(0);
  });

  it('rejects a value that cannot go into a header without quoting it', async () => {
    secrets.set('s', { token: 'line1\nline2-secret' });
    const error = await rejectionOf(createCredentialsProvider({ auth: { scheme: 'bearer' }, secretName: 's', secrets }).headers());
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect(serializeError(error)).not.toContain('line2-secret');
  });

  it('rejects a user name containing a colon (RFC 7617)', async () => {
    secrets.set('s', { username: 'a:b', password: 'x' });
    const error = await rejectionOf(createCredentialsProvider({ auth: { scheme: 'basic' }, secretName: 's', secrets }).headers());
    expect(error).toBeInstanceOf(InvalidCredentialsError);
    expect((error as Error).message).toContain('username');
  });

  it('fails fast on configuration without a secret name or source', () => {
    expect(() => createCredentialsProvider({ auth: { scheme: 'bearer' } })).toThrow(ConfigurationError);
    expect(() => createCredentialsProvider({ auth: { scheme: 'api_key', headerName: 'bad header' }, secretName: 'k', secrets })).toThrow(/headerName/);
    expect(() => createCredentialsProvider({ auth: { scheme: 'oauth2_client_credentials', tokenUrl: 'nope' }, secretName: 'k', secrets })).toThrow(/tokenUrl/);
  });
});

describe('createCredentialsProvider: OAuth2 client credentials', () => {
  it('requests a token with a form-encoded client_credentials grant and the client as HTTP Basic', async () => {
    const headers = await oauthProvider().headers();

    expect(headers).toEqual({ Authorization: 'Bearer at-1' });
    const [call] = endpoint.calls;
    expect(call?.url).toBe('https://auth.example.com/oauth/token');
    expect(call?.headers.get('content-type')).toBe('application/x-www-form-urlencoded');
    expect(Object.fromEntries(new URLSearchParams(call?.body))).toEqual({ grant_type: 'client_credentials', scope: 'files.write' });
    const basic = Buffer.from(call?.headers.get('authorization')?.replace('Basic ', '') ?? '', 'base64').toString();
    // RFC 6749 §2.3.1: both parts form-urlencoded before the Basic encoding.
    expect(basic).toBe(`client-1:${new URLSearchParams({ x: CLIENT_SECRET }).toString().slice(2)}`);
  });

  it('lets the secret override the token URL and scope', async () => {
    secrets.set('oauth', { clientId: 'c', clientSecret: 's', tokenUrl: 'https://other.example.com/token', scope: 'read' });
    await oauthProvider().headers();
    expect(endpoint.calls[0]?.url).toBe('https://other.example.com/token');
    expect(new URLSearchParams(endpoint.calls[0]?.body).get('scope')).toBe('read');
  });

  it('caches the token: many requests, one token call and one secret read', async () => {
    const provider = oauthProvider();
    for (let i = 0; i < 25; i += 1) {
      expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-1' });
      clock.advance(60_000);
    }
    expect(endpoint.calls).toHaveLength(1);
    expect(secrets.readsOf('oauth')).toBe(1);
  });

  it('refreshes the token 60 s before it expires', async () => {
    const provider = oauthProvider();
    await provider.headers();

    clock.advance(3600_000 - 60_000 - 1);
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-1' });
    clock.advance(1);
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-2' });
    expect(endpoint.calls).toHaveLength(2);
  });

  it('refreshes a short-lived token 10% before it expires, accepting expires_in as a string', async () => {
    endpoint.replies.push(() => endpoint.token('100'));
    const provider = oauthProvider();
    await provider.headers();

    clock.advance(89_999);
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-1' });
    clock.advance(1);
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-2' });
  });

  it('assumes a default lifetime when expires_in is missing', async () => {
    endpoint.replies.push(() => endpoint.token(null));
    const provider = oauthProvider({ defaultTokenLifetimeSeconds: 600 });
    await provider.headers();

    clock.advance(539_999);
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-1' });
    clock.advance(1);
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-2' });
  });

  it('shares one in-flight token request among concurrent callers', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    endpoint.replies.push(async () => {
      await gate;
      return endpoint.token();
    });
    const provider = oauthProvider();

    const pending = Array.from({ length: 20 }, () => provider.headers());
    await new Promise((resolve) => setTimeout(resolve, 5));
    release();
    const results = await Promise.all(pending);

    expect(endpoint.calls).toHaveLength(1);
    expect(new Set(results.map((h) => h.Authorization))).toEqual(new Set(['Bearer at-1']));
  });

  it('shares a failing in-flight request too, and tries again on the next call', async () => {
    endpoint.replies.push(() => json(503, {}));
    const provider = oauthProvider();

    const results = await Promise.allSettled(Array.from({ length: 5 }, () => provider.headers()));

    expect(results.every((r) => r.status === 'rejected')).toBe(true);
    expect(endpoint.calls).toHaveLength(1);
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-1' });
  });

  it('forces a fresh secret read and a new token when asked for fresh credentials', async () => {
    const provider = oauthProvider();
    await provider.headers();
    secrets.set('oauth', { clientId: 'client-2', clientSecret: 'rotated' });

    expect(await provider.headers({ fresh: true })).toEqual({ Authorization: 'Bearer at-2' });
    expect(secrets.forcedReads).toBe(1);
    expect(Buffer.from(endpoint.calls[1]?.headers.get('authorization')?.slice(6) ?? '', 'base64').toString()).toBe('client-2:rotated');
    // and the new token is what later callers get
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-2' });
    expect(endpoint.calls).toHaveLength(2);
  });

  it('gives a caller whose refused token was already replaced the replacement, with no new token request', async () => {
    const provider = oauthProvider();
    const refused = await provider.headers();
    expect(await provider.headers({ fresh: true, refused })).toEqual({ Authorization: 'Bearer at-2' });

    expect(await provider.headers({ fresh: true, refused })).toEqual({ Authorization: 'Bearer at-2' });
    expect(endpoint.calls).toHaveLength(2);
    expect(secrets.forcedReads).toBe(1);
    // The replacement refused in turn is replaced.
    expect(await provider.headers({ fresh: true, refused: { Authorization: 'Bearer at-2' } })).toEqual({ Authorization: 'Bearer at-3' });
  });

  it('does not let a fresh request join an older in-flight one', async () => {
    let release!: () => void;
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    endpoint.replies.push(async () => {
      await gate;
      return endpoint.token();
    });
    const provider = oauthProvider();

    const stale = provider.headers();
    await new Promise((resolve) => setTimeout(resolve, 1));
    const fresh = await provider.headers({ fresh: true });
    release();

    expect(fresh).toEqual({ Authorization: 'Bearer at-1' });
    expect(await stale).toEqual({ Authorization: 'Bearer at-2' });
    // the late, older token must not replace the fresh one in the cache
    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-1' });
  });

  it.each([500, 502, 503, 429])('treats token endpoint status %i as a transient TokenEndpointError (a provider failure)', async (status) => {
    endpoint.replies.push(() => json(status, { error: 'temporarily_unavailable' }));
    const error = await rejectionOf(oauthProvider().headers());
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(error).toMatchObject({ errorClass: 'TokenEndpointUnavailable', category: 'transient' });
    expect((error as Error).message).toContain(`${status}`);
  });

  it('treats an unreachable token endpoint as a transient TokenEndpointError', async () => {
    endpoint.replies.push(() => {
      throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED'), { code: 'ECONNREFUSED' }) });
    });
    const error = await rejectionOf(oauthProvider().headers());
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect((error as Error).message).toContain('ECONNREFUSED');
  });

  it('times out a token endpoint that does not answer', async () => {
    const server = await startLoopbackServer();
    try {
      server.replies.push({ kind: 'hang' });
      const provider = createCredentialsProvider({ auth: { ...oauth, tokenUrl: `${server.url}/token` }, secretName: 'oauth', secrets, tokenTimeoutMs: 100 });
      const error = await rejectionOf(provider.headers());
      expect(error).toBeInstanceOf(TokenEndpointError);
      expect((error as Error).message).toContain('no response within 100 ms');
    } finally {
      await server.close();
    }
  });

  it('obtains a token from a real loopback token endpoint', async () => {
    const server = await startLoopbackServer();
    try {
      server.replies.push({ status: 200, body: { access_token: 'loop-token', expires_in: 60 } });
      const provider = createCredentialsProvider({ auth: { ...oauth, tokenUrl: `${server.url}/token` }, secretName: 'oauth', secrets });
      expect(await provider.headers()).toEqual({ Authorization: 'Bearer loop-token' });
      expect(server.requests[0]).toMatchObject({ method: 'POST', url: '/token' });
      expect(server.requests[0]?.body).toContain('grant_type=client_credentials');
    } finally {
      await server.close();
    }
  });

  it.each([400, 401])('treats token endpoint status %i as rejected credentials (AuthenticationError) naming the OAuth error', async (status) => {
    endpoint.fallback = () => json(status, { error: 'invalid_client', error_description: 'Client authentication failed' });
    const error = await rejectionOf(oauthProvider().headers());
    expect(error).toBeInstanceOf(AuthenticationError);
    expect(error).toMatchObject({ status, category: 'transient', errorClass: 'AuthenticationFailed' });
    expect((error as Error).message).toContain('invalid_client: Client authentication failed');
  });

  it('re-reads a rotated client secret once when the token endpoint rejects the cached one', async () => {
    const provider = oauthProvider();
    await provider.headers();
    clock.advance(3600_000); // token expired
    secrets.set('oauth', { clientId: 'client-1', clientSecret: 'rotated-secret' });
    endpoint.replies.push(() => json(401, { error: 'invalid_client' }));

    // the static source has no cache, so simulate a stale cached secret by serving the old one once
    const stale = { clientId: 'client-1', clientSecret: CLIENT_SECRET };
    const original = secrets.getJson.bind(secrets);
    let served = false;
    secrets.getJson = async (name, options) => {
      if (!options?.forceFetch && !served) {
        served = true;
        return stale;
      }
      return original(name, options);
    };

    expect(await provider.headers()).toEqual({ Authorization: 'Bearer at-2' });
    expect(secrets.forcedReads).toBe(1);
    expect(endpoint.calls).toHaveLength(3);
  });

  it('does not repeat a rejected token request when the re-read secret is unchanged', async () => {
    endpoint.fallback = () => json(401, { error: 'invalid_client' });
    expect(await rejectionOf(oauthProvider().headers())).toBeInstanceOf(AuthenticationError);
    expect(secrets.forcedReads).toBe(1);
    expect(endpoint.calls).toHaveLength(1);
  });

  it.each([
    ['not JSON', () => new Response(`{"access_token":"leaky-${CLIENT_SECRET}`, { status: 200 })],
    ['no access_token', () => json(200, { token: 'leaky-token-value' })],
  ])('treats a 2xx token response with %s as a transient TokenEndpointError without quoting it', async (_, reply) => {
    endpoint.replies.push(reply);
    const error = await rejectionOf(oauthProvider().headers());
    expect(error).toBeInstanceOf(TokenEndpointError);
    expect(serializeError(error)).not.toContain('leaky');
  });

  it('never puts the client secret or a token into errors, even when the endpoint echoes them', async () => {
    const basic = Buffer.from(`client-1:${new URLSearchParams({ x: CLIENT_SECRET }).toString().slice(2)}`).toString('base64');
    endpoint.fallback = () => json(400, { error: 'invalid_client', error_description: `bad secret ${CLIENT_SECRET} in Basic ${basic}` });

    const error = await rejectionOf(oauthProvider().headers());

    const serialized = serializeError(error);
    expect(serialized).not.toContain(CLIENT_SECRET);
    expect(serialized).not.toContain(basic);
    expect((error as Error).message).toContain('[redacted]');
  });
});
