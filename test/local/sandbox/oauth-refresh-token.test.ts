/**
 * The sandbox's OAuth2 refresh-token provider (local/sandbox/credential-schemes.ts `oauth2RefreshToken`): rotation on
 * every refresh, the reuse interval and reuse detection, revocation and re-authorization by the customer, scopes,
 * client authentication, expiry on the sandbox clock; then the generic provider serving the scheme over HTTP and the
 * `/_sandbox/oauth/:provider` control endpoints.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { SECRET_FIELDS } from '../../../functions/runtime/auth-config.js';
import type { IntegrationEntry } from '../../../lib/catalog.js';
import { sandboxSecretValues, sandboxWiring, startSandboxForCatalog } from '../../../local/hub/sandbox-wiring.js';
import { oauth2RefreshToken, type OAuth2RefreshTokenOptions } from '../../../local/sandbox/credential-schemes.js';
import {
  genericAuthOf,
  MAX_REUSE_INTERVAL_SECONDS,
  type RefreshTokenCredentials,
  type Sandbox,
  SandboxConfigError,
  type SandboxOptions,
  secretFieldProblems,
  startSandbox,
} from '../../../local/sandbox/index.js';
import type { ProviderRoute, RouteResponse } from '../../../local/sandbox/provider.js';
import { writeFixtureAdapter } from '../../support/fixture-adapter.js';
import { basicAuth, errorCode, genericAuthHeaders, get, manualClock, postJson, refreshTokenRequest } from './helpers.js';

// ------------------------------------------------------------------ the builder, driven in-process

const READ_ROUTE: ProviderRoute = { method: 'GET', path: '/tickets', auth: 'required', requiredScope: 'read', handle: () => ({ status: 200, body: {} }) };
const WRITE_ROUTE: ProviderRoute = { ...READ_ROUTE, method: 'POST', requiredScope: 'write' };

/** A refresh-token provider with counting mints (`rt-<n>`, `at-<n>`) on a manual clock; access tokens live 60 s. */
function build(overrides: Partial<OAuth2RefreshTokenOptions> = {}) {
  const clock = manualClock();
  let minted = 0;
  const auth = oauth2RefreshToken({
    realm: 'acme',
    tokenPath: '/oauth/token',
    mint: {
      clientId: () => 'acme-client',
      clientSecret: () => `secret-${++minted}`,
      refreshToken: () => `rt-${++minted}`,
      accessToken: () => `at-${++minted}`,
    },
    expiresInSeconds: 60,
    now: clock.now,
    scopes: ['read', 'write'],
    ...overrides,
  });
  /** POSTs the token endpoint: `grant_type=refresh_token` with `refreshToken`, client via Basic unless `headers` say otherwise. */
  const post = (form: Record<string, string>, headers?: IncomingHttpHeaders): RouteResponse => {
    const { clientId, clientSecret } = auth.credentials();
    const response = auth.tokenRoute.handle({
      method: 'POST',
      path: '/oauth/token',
      params: {},
      query: new URLSearchParams(),
      headers: headers ?? { authorization: basicAuth(clientId, clientSecret) },
      body: form,
      principal: null,
    });
    if (response instanceof Promise) throw new Error('the token route answers synchronously');
    return response;
  };
  const refresh = (refreshToken: string, form: Record<string, string> = {}, headers?: IncomingHttpHeaders) =>
    post({ grant_type: 'refresh_token', refresh_token: refreshToken, ...form }, headers);
  /** The new tokens of a refresh that must succeed. */
  const tokens = (refreshToken: string, form: Record<string, string> = {}) => {
    const response = refresh(refreshToken, form);
    expect(response.status, JSON.stringify(response.body)).toBe(200);
    return response.body as { access_token: string; refresh_token: string; token_type: string; expires_in: number; scope: string };
  };
  const call = (accessToken: string, route: ProviderRoute = READ_ROUTE) => auth.authenticate({ authorization: `Bearer ${accessToken}` }, route);
  return { auth, clock, post, refresh, tokens, call };
}

/** The RFC 6749 §5.2 error of a token response. */
function oauthError(response: RouteResponse): [number, string] {
  return [response.status, (response.body as { error: string }).error];
}

describe('oauth2RefreshToken: rotation', () => {
  it('issues an access token and a new refresh token on every refresh; the credentials then hold the new one', () => {
    const { auth, tokens, call } = build();
    const first = auth.credentials().refreshToken;
    expect(first).toMatch(/^rt-/);
    const a = tokens(first);
    expect(a).toMatchObject({ token_type: 'Bearer', expires_in: 60, scope: 'read write' });
    expect(a.access_token).toMatch(/^at-/);
    expect(a.refresh_token).toMatch(/^rt-/);
    expect(a.refresh_token).not.toBe(first);
    expect(auth.credentials().refreshToken).toBe(a.refresh_token);

    const b = tokens(a.refresh_token);
    expect(b.refresh_token).not.toBe(a.refresh_token);
    expect(auth.credentials()).toEqual({ clientId: 'acme-client', clientSecret: expect.stringMatching(/^secret-/), refreshToken: b.refresh_token });
    // Access tokens are not revoked by a later refresh: each lives until it expires.
    expect(call(a.access_token)).toEqual({ ok: true, principal: 'acme-client' });
    expect(call(b.access_token)).toEqual({ ok: true, principal: 'acme-client' });
  });

  it('answers no-store with the RFC 6749 §5.1 fields', () => {
    const { auth, refresh } = build();
    const response = refresh(auth.credentials().refreshToken);
    expect(response.headers).toMatchObject({ 'cache-control': 'no-store', pragma: 'no-cache' });
    expect(Object.keys(response.body as object).sort()).toEqual(['access_token', 'expires_in', 'refresh_token', 'scope', 'token_type']);
  });
});

describe('oauth2RefreshToken: reuse detection', () => {
  it('with the reuse interval off, the previous refresh token is reuse even at the same instant: invalid_grant and the grant is revoked', () => {
    const { auth, refresh, tokens, call } = build();
    expect(auth.reuseIntervalSeconds()).toBe(0);
    const first = auth.credentials().refreshToken;
    const issued = tokens(first);

    const reused = refresh(first);
    expect(oauthError(reused)).toEqual([400, 'invalid_grant']);
    expect((reused.body as { error_description: string }).error_description).toMatch(/reused/);
    // Everything of the grant is revoked: its current refresh token and its access tokens.
    expect(oauthError(refresh(issued.refresh_token))).toEqual([400, 'invalid_grant']);
    expect(call(issued.access_token)).toEqual({ ok: false, status: 401, code: 'invalid_token', message: expect.stringMatching(/grant revoked/) });
  });

  it('accepts the previous refresh token within the interval since its first use, with new tokens each time, and not after', () => {
    const { auth, clock, refresh, tokens, call } = build({ reuseIntervalSeconds: 30 });
    const first = auth.credentials().refreshToken;
    const a = tokens(first);
    clock.advance(10_000);
    const b = tokens(first); // a second instance that raced with the same refresh token
    expect(b.refresh_token).not.toBe(a.refresh_token);
    expect(auth.credentials().refreshToken).toBe(b.refresh_token);
    clock.advance(19_999);
    const c = tokens(first); // 29.999 s after its first use: still within
    expect(auth.credentials().refreshToken).toBe(c.refresh_token);

    clock.advance(1); // 30 s after the first use: the window does not restart on a reuse
    expect(oauthError(refresh(first))).toEqual([400, 'invalid_grant']);
    expect(oauthError(refresh(c.refresh_token))).toEqual([400, 'invalid_grant']);
    expect(call(c.access_token)).toMatchObject({ ok: false, code: 'invalid_token' });
  });

  it('treats a refresh token superseded by a reuse as older: presenting it is reuse', () => {
    const { auth, refresh, tokens } = build({ reuseIntervalSeconds: 30 });
    const first = auth.credentials().refreshToken;
    const a = tokens(first);
    const b = tokens(first);
    expect(oauthError(refresh(a.refresh_token))).toEqual([400, 'invalid_grant']);
    expect(oauthError(refresh(b.refresh_token))).toEqual([400, 'invalid_grant']);
  });

  it('treats any refresh token older than the previous one as reuse, within the interval too', () => {
    const { auth, refresh, tokens } = build({ reuseIntervalSeconds: 30 });
    const first = auth.credentials().refreshToken;
    const a = tokens(first);
    tokens(a.refresh_token);
    expect(oauthError(refresh(first))).toEqual([400, 'invalid_grant']);
    expect(oauthError(refresh(auth.credentials().refreshToken))).toEqual([400, 'invalid_grant']);
  });

  it('changes the reuse interval at run time, and refuses an invalid one', () => {
    const { auth, clock, refresh, tokens } = build();
    const first = auth.credentials().refreshToken;
    tokens(first);
    clock.advance(5_000);
    auth.setReuseIntervalSeconds(10);
    expect(auth.reuseIntervalSeconds()).toBe(10);
    expect(refresh(first).status).toBe(200);
    for (const bad of [-1, 1.5, MAX_REUSE_INTERVAL_SECONDS + 1, Number.NaN]) expect(() => auth.setReuseIntervalSeconds(bad)).toThrow(RangeError);
    expect(auth.reuseIntervalSeconds()).toBe(10);
  });
});

describe('oauth2RefreshToken: the customer revokes and authorizes again', () => {
  it('revoke(): later refreshes get invalid_grant and the access tokens 401', () => {
    const { auth, refresh, tokens, call } = build();
    const issued = tokens(auth.credentials().refreshToken);
    auth.revoke();
    const refused = refresh(issued.refresh_token);
    expect(oauthError(refused)).toEqual([400, 'invalid_grant']);
    expect((refused.body as { error_description: string }).error_description).toMatch(/revoked/);
    expect(call(issued.access_token)).toMatchObject({ ok: false, status: 401, code: 'invalid_token' });
  });

  it('authorize(): a new grant with its own refresh token; the old grant is revoked', () => {
    const { auth, refresh, tokens, call } = build();
    const old = tokens(auth.credentials().refreshToken);
    auth.revoke();
    const given = auth.authorize();
    expect(given).toEqual(auth.credentials());
    expect(given.refreshToken).not.toBe(old.refresh_token);
    expect(oauthError(refresh(old.refresh_token))).toEqual([400, 'invalid_grant']);
    expect(call(old.access_token)).toMatchObject({ ok: false, code: 'invalid_token' });

    const fresh = tokens(given.refreshToken);
    expect(call(fresh.access_token)).toEqual({ ok: true, principal: 'acme-client' });
    // Authorizing again revokes the grant that worked so far, even without a revoke first.
    auth.authorize();
    expect(call(fresh.access_token)).toMatchObject({ ok: false, code: 'invalid_token' });
    expect(oauthError(refresh(fresh.refresh_token))).toEqual([400, 'invalid_grant']);
  });

  it('rotateCredentials() replaces the client secret and keeps the grant and its tokens', () => {
    const { auth, refresh, tokens, call } = build();
    const before = auth.credentials();
    const issued = tokens(before.refreshToken);
    const rotated = auth.rotateCredentials();
    expect(rotated).toEqual({ clientId: before.clientId, clientSecret: expect.not.stringMatching(before.clientSecret), refreshToken: issued.refresh_token });
    const oldSecret = refresh(issued.refresh_token, {}, { authorization: basicAuth(before.clientId, before.clientSecret) });
    expect(oauthError(oldSecret)).toEqual([401, 'invalid_client']);
    expect(call(issued.access_token).ok).toBe(true);
    expect(tokens(issued.refresh_token).refresh_token).toBe(auth.credentials().refreshToken);
  });

  it('setCredentials() adopts the given client and refresh token as a new grant, revoking the old one', () => {
    const { auth, refresh, tokens, call } = build();
    const old = tokens(auth.credentials().refreshToken);
    const given: RefreshTokenCredentials = { clientId: 'hub-client', clientSecret: 'hub-secret', refreshToken: 'hub-refresh-token' };
    auth.setCredentials(given);
    expect(auth.credentials()).toEqual(given);
    expect(call(old.access_token)).toMatchObject({ ok: false, code: 'invalid_token' });
    expect(oauthError(refresh(old.refresh_token))).toEqual([400, 'invalid_grant']);
    const adopted = tokens('hub-refresh-token');
    expect(auth.credentials().refreshToken).toBe(adopted.refresh_token);
    expect(call(adopted.access_token)).toEqual({ ok: true, principal: 'hub-client' });
  });
});

describe('oauth2RefreshToken: access tokens and scopes', () => {
  it('expires access tokens after expires_in on the sandbox clock', () => {
    const { auth, clock, tokens, call } = build();
    const issued = tokens(auth.credentials().refreshToken);
    clock.advance(59_999);
    expect(call(issued.access_token).ok).toBe(true);
    clock.advance(1);
    expect(call(issued.access_token)).toEqual({ ok: false, status: 401, code: 'token_expired', message: 'access token expired' });
  });

  it('refuses missing, malformed and unknown bearer tokens', () => {
    const { auth } = build();
    expect(auth.authenticate({}, READ_ROUTE)).toMatchObject({ ok: false, status: 401, code: 'missing_credentials' });
    expect(auth.authenticate({ authorization: 'Token x' }, READ_ROUTE)).toMatchObject({ ok: false, status: 401, code: 'invalid_credentials' });
    expect(auth.authenticate({ authorization: `Bearer ${auth.credentials().refreshToken}` }, READ_ROUTE)).toMatchObject({
      ok: false,
      status: 401,
      code: 'invalid_credentials',
      message: 'unknown access token',
    });
  });

  it('grants a requested subset of the grant scopes, refuses others with invalid_scope without using the refresh token up', () => {
    const { auth, refresh, tokens, call } = build();
    const first = auth.credentials().refreshToken;
    const refused = refresh(first, { scope: 'read admin' });
    expect(oauthError(refused)).toEqual([400, 'invalid_scope']);
    expect((refused.body as { error_description: string }).error_description).toContain('admin');
    expect(auth.credentials().refreshToken).toBe(first);

    const narrow = tokens(first, { scope: 'read' });
    expect(narrow.scope).toBe('read');
    expect(call(narrow.access_token, READ_ROUTE).ok).toBe(true);
    expect(call(narrow.access_token, WRITE_ROUTE)).toMatchObject({ ok: false, status: 403, code: 'insufficient_scope' });
    const all = tokens(narrow.refresh_token);
    expect(all.scope).toBe('read write');
    expect(call(all.access_token, WRITE_ROUTE).ok).toBe(true);
  });

  it('scopeOnRefresh false: any scope parameter is invalid_request, without one the grant scopes are issued', () => {
    const { auth, refresh, tokens } = build({ scopeOnRefresh: false });
    const first = auth.credentials().refreshToken;
    expect(oauthError(refresh(first, { scope: 'read' }))).toEqual([400, 'invalid_request']);
    expect(oauthError(refresh(first, { scope: '' }))).toEqual([400, 'invalid_request']);
    expect(tokens(first).scope).toBe('read write');
  });

  it('grants any requested scope when the provider has none', () => {
    const { auth, tokens } = build({ scopes: undefined });
    expect(tokens(auth.credentials().refreshToken, { scope: 'anything' }).scope).toBe('anything');
    expect(tokens(auth.credentials().refreshToken).scope).toBe('');
  });
});

describe('oauth2RefreshToken: the token request', () => {
  it('authenticates the client by HTTP Basic or by form fields, never both, and refuses wrong or missing ones', () => {
    const { auth, post, refresh } = build();
    const { clientId, clientSecret, refreshToken } = auth.credentials();
    const form = { grant_type: 'refresh_token', refresh_token: refreshToken };
    expect(oauthError(post(form, {}))).toEqual([401, 'invalid_client']);
    const wrong = refresh(refreshToken, {}, { authorization: basicAuth(clientId, 'wrong') });
    expect(oauthError(wrong)).toEqual([401, 'invalid_client']);
    expect(wrong.headers).toMatchObject({ 'www-authenticate': 'Basic realm="acme"' });
    expect(oauthError(post({ ...form, client_id: clientId, client_secret: 'wrong' }, {}))).toEqual([401, 'invalid_client']);
    expect(oauthError(post({ ...form, client_id: clientId, client_secret: clientSecret }))).toEqual([400, 'invalid_request']);
    expect(oauthError(post(form, { authorization: 'Basic %%%' }))).toEqual([401, 'invalid_client']);
    // None of these used the refresh token up.
    expect(auth.credentials().refreshToken).toBe(refreshToken);
    expect(post({ ...form, client_id: clientId, client_secret: clientSecret }, {}).status).toBe(200);
  });

  it('refuses another grant type, a missing refresh token and an unknown one; an unknown one revokes nothing', () => {
    const { auth, post, refresh, tokens } = build();
    expect(oauthError(post({ grant_type: 'client_credentials' }))).toEqual([400, 'unsupported_grant_type']);
    expect(oauthError(post({}))).toEqual([400, 'invalid_request']);
    expect(oauthError(post({ grant_type: 'refresh_token' }))).toEqual([400, 'invalid_request']);
    expect(oauthError(refresh('rt-not-issued'))).toEqual([400, 'invalid_grant']);
    expect(tokens(auth.credentials().refreshToken).access_token).toMatch(/^at-/);
  });

  it('counts refresh requests that passed client authentication, refreshes granted and access tokens issued', () => {
    const { auth, post, refresh, tokens } = build({ reuseIntervalSeconds: 30 });
    const first = auth.credentials().refreshToken;
    refresh(first, {}, {}); // no client authentication: not counted
    post({ grant_type: 'client_credentials' }); // not a refresh: not counted
    expect([auth.refreshRequests(), auth.refreshesGranted(), auth.tokensIssued()]).toEqual([0, 0, 0]);
    tokens(first);
    tokens(first); // reuse within the interval: granted
    refresh(first, { scope: 'admin' }); // refused
    refresh('rt-unknown'); // refused
    expect([auth.refreshRequests(), auth.refreshesGranted(), auth.tokensIssued()]).toEqual([4, 2, 2]);
  });
});

// ------------------------------------------------------------------ the generic provider over HTTP

const opened: Sandbox<string>[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

async function start<const G extends string>(options: SandboxOptions<G>): Promise<Sandbox<G>> {
  const s = await startSandbox<G>({ seed: 7, ...options });
  opened.push(s);
  return s;
}

const DESK = {
  name: 'desk',
  auth: { scheme: 'oauth2_refresh_token', tokenPath: '/v1/token', tokenExpiresInSeconds: 60, scopes: ['tickets:read', 'tickets:write'] },
  routes: [{ method: 'POST', path: '/tickets' }],
} as const;

/** The RFC 6749 §5.2 error code of a token response over HTTP. */
async function oauthErrorOf(response: Response): Promise<[number, string | undefined]> {
  const body = (await response.json()) as { error?: unknown; error_description?: unknown };
  expect(typeof body.error_description).toBe('string');
  return [response.status, typeof body.error === 'string' ? body.error : undefined];
}

function control(s: Sandbox<string>, path: string): string {
  return `${s.baseUrl}/_sandbox${path}`;
}

describe('generic provider of scheme oauth2_refresh_token', () => {
  it('serves the token endpoint at its token path: rotation, Bearer access, expiry on the sandbox clock, RFC errors', async () => {
    const clock = manualClock();
    const s = await start({ now: clock.now, generic: [DESK] });
    const desk = s.generic('desk');
    expect([desk.scheme, desk.tokenPath]).toEqual(['oauth2_refresh_token', '/v1/token']);
    const credentials = s.credentials('desk');
    expect(Object.keys(credentials).sort()).toEqual([...SECRET_FIELDS.oauth2_refresh_token].sort());
    expect(credentials.refreshToken).toMatch(/^desk_rt_/);

    const response = await refreshTokenRequest(s.providerUrl('desk'), '/v1/token', credentials);
    expect([response.status, response.headers.get('cache-control')]).toEqual([200, 'no-store']);
    const tokens = (await response.json()) as { access_token: string; refresh_token: string; expires_in: number; scope: string };
    expect(tokens).toMatchObject({ expires_in: 60, scope: 'tickets:read tickets:write' });
    expect(tokens.access_token).toMatch(/^desk_at_/);
    expect(s.credentials('desk').refreshToken).toBe(tokens.refresh_token);

    const bearer = { authorization: `Bearer ${tokens.access_token}` };
    expect((await postJson(`${s.providerUrl('desk')}/tickets`, {}, bearer)).status).toBe(201);
    clock.advance(60_000);
    const expired = await postJson(`${s.providerUrl('desk')}/tickets`, {}, bearer);
    expect([expired.status, await errorCode(expired)]).toEqual([401, 'token_expired']);

    // The old refresh token again: reuse, the grant is revoked.
    expect(await oauthErrorOf(await refreshTokenRequest(s.providerUrl('desk'), '/v1/token', credentials))).toEqual([400, 'invalid_grant']);
    expect(await oauthErrorOf(await refreshTokenRequest(s.providerUrl('desk'), '/v1/token', s.credentials('desk')))).toEqual([400, 'invalid_grant']);
    const wrongClient = await refreshTokenRequest(s.providerUrl('desk'), '/v1/token', { ...s.credentials('desk'), clientSecret: 'wrong' });
    expect(wrongClient.headers.get('www-authenticate')).toBe('Basic realm="desk"');
    expect(await oauthErrorOf(wrongClient)).toEqual([401, 'invalid_client']);
    expect((await get(`${s.providerUrl('desk')}/oauth/token`)).status).toBe(404);

    // The journal names the schemes and never holds a token or the client secret.
    const journal = JSON.stringify(s.journal.entries({ provider: 'desk' }));
    for (const secret of [credentials.refreshToken, credentials.clientSecret, tokens.access_token, tokens.refresh_token]) expect(journal).not.toContain(secret);
    expect(s.journal.entries({ provider: 'desk' }).map((entry) => entry.authScheme)).toEqual(['Basic', 'Bearer', 'Bearer', 'Basic', 'Basic', 'Basic', null]);
  });

  it('authenticates the test helpers like any generic provider, and refuses a wrong bearer token', async () => {
    const s = await start({ generic: [DESK] });
    const created = await postJson(`${s.providerUrl('desk')}/tickets`, { subject: 'x' }, await genericAuthHeaders(s, 'desk'));
    expect(created.status).toBe(201);
    expect((await postJson(`${s.providerUrl('desk')}/tickets`, {}, await genericAuthHeaders(s, 'desk'))).status).toBe(201);
    const wrong = await postJson(`${s.providerUrl('desk')}/tickets`, {}, { authorization: 'Bearer not-the-token' });
    expect([wrong.status, await errorCode(wrong)]).toEqual([401, 'invalid_credentials']);
    expect(s.generic('desk').refreshTokenGrant?.refreshesGranted()).toBe(2);
  });

  it('takes scopeOnRefresh and reuseIntervalSeconds from the declaration', async () => {
    const s = await start({
      generic: [{ name: 'strict', auth: { scheme: 'oauth2_refresh_token', scopes: ['a'], scopeOnRefresh: false, reuseIntervalSeconds: 5 } }],
    });
    const url = s.providerUrl('strict');
    expect(s.generic('strict').refreshTokenGrant?.reuseIntervalSeconds()).toBe(5);
    const first = s.credentials('strict');
    expect(await oauthErrorOf(await refreshTokenRequest(url, '/oauth/token', first, { scope: 'a' }))).toEqual([400, 'invalid_request']);
    expect((await refreshTokenRequest(url, '/oauth/token', first)).status).toBe(200);
    expect((await refreshTokenRequest(url, '/oauth/token', first)).status).toBe(200);
  });

  it('starts with the hub secret, ignoring the fields the runtime writes, and checks them without quoting values', async () => {
    const secret = { clientId: 'hub-client', clientSecret: 'hub-secret', refreshToken: 'hub-rt-1', accessToken: 'hub-at-1', accessTokenExpiresAt: Date.UTC(2030, 0, 1) };
    const s = await start({ generic: [DESK], credentials: { desk: secret } });
    expect(s.credentials('desk')).toEqual({ clientId: 'hub-client', clientSecret: 'hub-secret', refreshToken: 'hub-rt-1' });
    expect((await refreshTokenRequest(s.providerUrl('desk'), '/v1/token', secret)).status).toBe(200);

    expect(secretFieldProblems('oauth2_refresh_token', secret)).toEqual([]);
    expect(secretFieldProblems('oauth2_refresh_token', { clientId: 'c', clientSecret: 's', refreshToken: 'r' })).toEqual([]);
    const problems = secretFieldProblems('oauth2_refresh_token', {
      clientId: 'c',
      clientSecret: 's',
      accessToken: 'has spaces-secret',
      accessTokenExpiresAt: 'tomorrow-secret',
      password: 'p-secret',
    });
    expect(problems).toEqual([
      'field(s) password do not belong to scheme oauth2_refresh_token (expected clientId, clientSecret, refreshToken; the runtime may add accessToken, accessTokenIssuedAt, accessTokenExpiresAt)',
      'field(s) accessTokenExpiresAt must be epoch-ms numbers when present (written by the runtime)',
      'field(s) refreshToken must be non-empty strings (scheme oauth2_refresh_token)',
      'field(s) accessToken must be printable ASCII without spaces',
    ]);
    expect(problems.join(' ')).not.toContain('-secret');
    // Runtime fields belong to their scheme only.
    expect(secretFieldProblems('oauth2_client_credentials', { clientId: 'c', clientSecret: 's', accessToken: 'a' })).toHaveLength(1);

    const error: unknown = await startSandbox({ generic: [DESK], credentials: { desk: { clientId: 'c', clientSecret: 's' } } }).then(
      (started) => started.close(),
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(SandboxConfigError);
    expect((error as SandboxConfigError).problems).toEqual(['credentials.desk: field(s) refreshToken must be non-empty strings (scheme oauth2_refresh_token)']);
  });

  it('refuses invalid refresh-token options in a declaration, and those options on another scheme', async () => {
    const error: unknown = await startSandbox({
      generic: [
        { name: 'bad-rt', auth: { scheme: 'oauth2_refresh_token', scopes: ['a b', 'c'], scopeOnRefresh: 'no' as never, reuseIntervalSeconds: -1 } },
        { name: 'repeats', auth: { scheme: 'oauth2_refresh_token', scopes: ['a', 'a'] } },
        { name: 'not-rt', auth: { scheme: 'bearer', scopes: ['a'] } as never },
      ],
    }).then(
      (started) => started.close(),
      (rejection: unknown) => rejection,
    );
    expect((error as SandboxConfigError).problems).toEqual([
      expect.stringMatching(/^generic\[0\] \(bad-rt\): auth.scopes must be a non-empty list of OAuth scope names/),
      'generic[0] (bad-rt): auth.scopeOnRefresh must be true or false',
      `generic[0] (bad-rt): auth.reuseIntervalSeconds must be an integer in 0..${MAX_REUSE_INTERVAL_SECONDS}`,
      'generic[1] (repeats): auth.scopes must not repeat a scope',
      'generic[2] (not-rt): auth.scopes only apply to scheme oauth2_refresh_token',
    ]);
  });

  it('is what genericAuthOf makes of a catalog oauth2_refresh_token auth', () => {
    expect(genericAuthOf({ scheme: 'oauth2_refresh_token', tokenUrl: '/v2/token', scopes: ['a', 'b'], scopeOnRefresh: false })).toEqual({
      scheme: 'oauth2_refresh_token',
      tokenPath: '/v2/token',
      scopes: ['a', 'b'],
      scopeOnRefresh: false,
    });
    expect(genericAuthOf({ scheme: 'oauth2_refresh_token', tokenUrl: 'https://login.example.com/token' })).toEqual({ scheme: 'oauth2_refresh_token' });
  });
});

describe('the local hub wiring of a catalog oauth2_refresh_token integration', () => {
  const adapter = writeFixtureAdapter('refresh-token');
  afterAll(() => adapter.remove());
  const entry = (name: string, auth: IntegrationEntry['auth']): IntegrationEntry => ({
    name,
    description: `Fixture integration ${name}.`,
    adapter: adapter.name,
    routes: [{ sources: ['test.fixture'], detailTypes: ['TicketRequested'] }],
    baseUrl: `https://${name}.example.com/api`,
    auth,
  });
  const catalogs = {
    integrations: [
      entry('calendar', { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth2/token', scopes: ['events:write'] }),
      entry('mailbox', { scheme: 'oauth2_refresh_token', tokenUrl: 'https://login.example.com/token' }),
    ],
    workflows: null,
  };

  it('mounts generic providers at the catalog token path, and points an off-host token URL at the sandbox in the secret', async () => {
    expect(sandboxWiring(catalogs).generic).toEqual([
      { name: 'calendar', auth: { scheme: 'oauth2_refresh_token', tokenPath: '/oauth2/token', scopes: ['events:write'] } },
      { name: 'mailbox', auth: { scheme: 'oauth2_refresh_token' } },
    ]);
    const s = await startSandboxForCatalog({ seed: 7, ...catalogs });
    opened.push(s);
    const secrets = sandboxSecretValues(s, catalogs);
    expect(secrets).toEqual({
      'integration-hub/calendar': { ...s.credentials('calendar') },
      'integration-hub/mailbox': { ...s.credentials('mailbox'), tokenUrl: `${s.providerUrl('mailbox')}/oauth/token` },
    });
    const granted = await refreshTokenRequest(s.providerUrl('calendar'), '/oauth2/token', secrets['integration-hub/calendar']!, { scope: 'events:write' });
    expect(granted.status).toBe(200);
  });
});

describe('control endpoints of a refresh-token grant', () => {
  it('GET /_sandbox/oauth/:provider reports the counters and the reuse interval; settings changes the interval', async () => {
    const s = await start({ generic: [DESK] });
    const url = s.providerUrl('desk');
    const first = s.credentials('desk');
    await (await refreshTokenRequest(url, '/v1/token', first)).arrayBuffer();
    expect(await (await get(control(s, '/oauth/desk'))).json()).toEqual({ refreshRequests: 1, refreshesGranted: 1, tokensIssued: 1, reuseIntervalSeconds: 0 });

    const set = await postJson(control(s, '/oauth/desk/settings'), { reuseIntervalSeconds: 60 });
    expect([set.status, await set.json()]).toEqual([200, { provider: 'desk', reuseIntervalSeconds: 60 }]);
    // The previous refresh token is now accepted again.
    expect((await refreshTokenRequest(url, '/v1/token', first)).status).toBe(200);
    expect(await (await get(control(s, '/oauth/desk'))).json()).toEqual({ refreshRequests: 2, refreshesGranted: 2, tokensIssued: 2, reuseIntervalSeconds: 60 });

    const invalid = await postJson(control(s, '/oauth/desk/settings'), { reuseIntervalSeconds: 'long', colour: 'red' });
    expect(invalid.status).toBe(400);
    const body = (await invalid.json()) as { error: { code: string; problems: string[] } };
    expect(body.error.code).toBe('invalid_settings');
    expect(body.error.problems).toEqual(['unknown setting(s) colour (known: reuseIntervalSeconds)', expect.stringMatching(/^reuseIntervalSeconds must be an integer/)]);
    const notJson = await fetch(control(s, '/oauth/desk/settings'), { method: 'POST', body: 'nope' });
    expect([notJson.status, await errorCode(notJson)]).toEqual([400, 'invalid_settings']);
    expect(s.generic('desk').refreshTokenGrant?.reuseIntervalSeconds()).toBe(60);
  });

  it('POST revoke revokes the grant; POST authorize returns the credentials of a working new grant', async () => {
    const s = await start({ generic: [DESK] });
    const url = s.providerUrl('desk');
    const issued = (await (await refreshTokenRequest(url, '/v1/token', s.credentials('desk'))).json()) as { access_token: string };
    const revoked = await fetch(control(s, '/oauth/desk/revoke'), { method: 'POST' });
    expect([revoked.status, await revoked.json()]).toEqual([200, { provider: 'desk', revoked: true }]);
    expect(await oauthErrorOf(await refreshTokenRequest(url, '/v1/token', s.credentials('desk')))).toEqual([400, 'invalid_grant']);
    const stale = await postJson(`${url}/tickets`, {}, { authorization: `Bearer ${issued.access_token}` });
    expect([stale.status, await errorCode(stale)]).toEqual([401, 'invalid_token']);

    const authorized = await fetch(control(s, '/oauth/desk/authorize'), { method: 'POST' });
    const { provider, credentials } = (await authorized.json()) as { provider: string; credentials: RefreshTokenCredentials };
    expect([authorized.status, provider]).toEqual([200, 'desk']);
    expect(credentials).toEqual(s.credentials('desk'));
    const fresh = await refreshTokenRequest(url, '/v1/token', credentials);
    expect(fresh.status).toBe(200);
    const { access_token: accessToken } = (await fresh.json()) as { access_token: string };
    expect((await postJson(`${url}/tickets`, {}, { authorization: `Bearer ${accessToken}` })).status).toBe(201);
  });

  it('answers 404 for an unknown provider or action, 400 for a provider of another scheme, 405 for the wrong method', async () => {
    const s = await start({ generic: [DESK, { name: 'helpdesk', auth: 'bearer' }] });
    const unknown = await get(control(s, '/oauth/nope'));
    expect([unknown.status, await errorCode(unknown)]).toEqual([404, 'unknown_provider']);
    for (const provider of ['crm', 'helpdesk']) {
      const other = await fetch(control(s, `/oauth/${provider}/revoke`), { method: 'POST' });
      expect(other.status).toBe(400);
      const body = (await other.json()) as { error: { code: string; message: string } };
      expect(body.error.code).toBe('unsupported_scheme');
      expect(body.error.message).toContain(provider === 'crm' ? 'oauth2_client_credentials' : 'bearer');
    }
    expect((await fetch(control(s, '/oauth/desk/rewind'), { method: 'POST' })).status).toBe(404);
    expect((await get(control(s, '/oauth/desk/revoke'))).status).toBe(405);
    expect((await fetch(control(s, '/oauth/desk'), { method: 'POST' })).status).toBe(405);
    // Nothing above touched the grant.
    expect((await refreshTokenRequest(s.providerUrl('desk'), '/v1/token', s.credentials('desk'))).status).toBe(200);
  });
});
