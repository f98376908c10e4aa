import { afterEach, describe, expect, it } from 'vitest';
import { DEFAULT_API_KEY_HEADER, SECRET_FIELDS } from '../../../functions/runtime/auth-config.js';
import {
  DEFAULT_TOKEN_PATH,
  type GenericProviderDeclaration,
  PROVIDER_NAMES,
  type Sandbox,
  SandboxConfigError,
  type SandboxOptions,
  startSandbox,
} from '../../../local/sandbox/index.js';
import { basicAuth, errorCode, genericAuthHeaders, get, manualClock, postJson } from './helpers.js';

const opened: Sandbox<string>[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((s) => s.close()));
});

async function start<const G extends string>(options: SandboxOptions<G>): Promise<Sandbox<G>> {
  const s = await startSandbox<G>({ seed: 42, ...options });
  opened.push(s);
  return s;
}

/** POSTs JSON to a generic provider with its current credentials. */
async function post(s: Sandbox<string>, name: string, path: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return postJson(`${s.providerUrl(name)}${path}`, body, { ...(await genericAuthHeaders(s, name)), ...headers });
}

/** Headers that carry the provider's scheme with a wrong secret. */
function wrongHeaders(s: Sandbox<string>, name: string): Record<string, string> {
  const provider = s.generic(name);
  switch (provider.scheme) {
    case 'none':
      return {};
    case 'bearer':
    case 'oauth2_client_credentials':
    case 'oauth2_refresh_token':
      return { authorization: 'Bearer not-the-token' };
    case 'api_key':
      return { [provider.apiKeyHeader ?? DEFAULT_API_KEY_HEADER]: 'not-the-key' };
    case 'basic':
      return { authorization: basicAuth(s.credentials(name).username ?? '', 'not-the-password') };
  }
}

const HELPDESK = { name: 'helpdesk', auth: 'bearer' } as const;

/** One generic provider per scheme (and per scheme option). */
const SCHEMES = [
  { name: 'bearer-api', auth: 'bearer' },
  { name: 'key-api', auth: 'api_key' },
  { name: 'partner-key-api', auth: { scheme: 'api_key', headerName: 'X-Partner-Key' } },
  { name: 'basic-api', auth: 'basic' },
  { name: 'oauth-api', auth: 'oauth2_client_credentials' },
  { name: 'oauth-path-api', auth: { scheme: 'oauth2_client_credentials', tokenPath: '/v2/token' } },
] as const satisfies readonly GenericProviderDeclaration[];

describe('generic sandbox provider: routes', () => {
  it('creates a resource on any POST to a collection by default: 201 with a generated id, stored and a side effect', async () => {
    const s = await start({ generic: [HELPDESK] });
    const first = await post(s, 'helpdesk', '/tickets', { subject: 'Printer on fire' });
    expect(first.status).toBe(201);
    expect(await first.json()).toEqual({ id: 'helpdesk_1' });
    const empty = await fetch(`${s.providerUrl('helpdesk')}/comments`, { method: 'POST', headers: await genericAuthHeaders(s, 'helpdesk') });
    expect(empty.status).toBe(201);
    expect(await empty.json()).toEqual({ id: 'helpdesk_2' });

    expect(s.generic('helpdesk').resources()).toMatchObject([
      { id: 'helpdesk_1', route: 'POST /:collection', path: '/tickets', request: { subject: 'Printer on fire' }, response: { id: 'helpdesk_1' } },
      { id: 'helpdesk_2', path: '/comments', request: {} },
    ]);
    expect(s.sideEffects('helpdesk')).toMatchObject([
      { provider: 'helpdesk', type: 'resource', id: 'helpdesk_1' },
      { provider: 'helpdesk', type: 'resource', id: 'helpdesk_2' },
    ]);
  });

  it('answers GET /health with 200 without credentials, and 405/404 outside the declared routes', async () => {
    const s = await start({ generic: [HELPDESK] });
    const health = await get(`${s.providerUrl('helpdesk')}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toEqual({ status: 'ok' });
    const headers = await genericAuthHeaders(s, 'helpdesk');
    expect((await get(`${s.providerUrl('helpdesk')}/tickets`, headers)).status).toBe(405);
    const nested = await post(s, 'helpdesk', '/tickets/1/comments', {});
    expect(nested.status).toBe(404);
    expect(await errorCode(nested)).toBe('not_found');
    expect(s.generic('helpdesk').resources()).toEqual([]);
  });

  it('answers declared routes with their status and body template', async () => {
    const clock = manualClock();
    const routes = [
      {
        method: 'POST',
        path: '/v1/tickets',
        body: { status: 'open', subject: '{{body.subject}}', priority: '{{body.meta.priority}}', url: '/v1/tickets/{{id}}', createdAt: '{{now}}' },
      },
      { method: 'GET', path: '/v1/tickets/:id', body: { id: '{{params.id}}', status: 'open', expand: '{{query.expand}}' } },
      { method: 'POST', path: '/v1/tickets/:id/close', creates: false, body: { id: '{{params.id}}', status: 'closed' } },
      { method: 'POST', path: '/v1/refusals', creates: false, status: 422, body: { error: { code: 'ticket_rejected', message: 'no' } } },
      { method: 'PUT', path: '/v1/settings', body: { saved: true } },
      { method: 'GET', path: '/v1/public', auth: 'none', body: { hello: 'world' } },
    ] as const;
    const s = await start({ now: clock.now, generic: [{ name: 'desk', auth: 'basic', routes }] });
    const url = s.providerUrl('desk');
    const headers = await genericAuthHeaders(s, 'desk');

    const created = await post(s, 'desk', '/v1/tickets', { subject: 'Printer on fire', meta: { priority: 2 } });
    expect(created.status).toBe(201);
    expect(await created.json()).toEqual({
      id: 'desk_1',
      status: 'open',
      subject: 'Printer on fire',
      priority: 2,
      url: '/v1/tickets/desk_1',
      createdAt: new Date(clock.now()).toISOString(),
    });
    const read = await get(`${url}/v1/tickets/desk_1?expand=comments`, headers);
    expect(read.status).toBe(200);
    expect(await read.json()).toEqual({ id: 'desk_1', status: 'open', expand: 'comments' });
    const closed = await post(s, 'desk', '/v1/tickets/desk_1/close', {});
    expect([closed.status, await closed.json()]).toEqual([200, { id: 'desk_1', status: 'closed' }]);
    const refused = await post(s, 'desk', '/v1/refusals', { anything: true });
    expect([refused.status, await errorCode(refused)]).toEqual([422, 'ticket_rejected']);
    const put = await fetch(`${url}/v1/settings`, { method: 'PUT', headers: { ...headers, 'content-type': 'application/json' }, body: '{"a":1}' });
    expect([put.status, await put.json()]).toEqual([200, { saved: true }]);
    expect(await (await get(`${url}/v1/public`)).json()).toEqual({ hello: 'world' });
    expect((await get(`${url}/v1/tickets/desk_1`)).status).toBe(401);

    // Only the creating route changed state.
    expect(s.sideEffects('desk').map((effect) => effect.id)).toEqual(['desk_1']);
    expect(s.generic('desk').resources()).toHaveLength(1);
  });
});

describe('generic sandbox provider: auth', () => {
  it.each(SCHEMES)('$name: its credentials are the secret fields of its scheme; it refuses missing and wrong ones, and rotated ones', async (declaration) => {
    const { name } = declaration;
    const s = await start({ generic: [declaration] });
    const provider = s.generic(name);
    const credentials = s.credentials(name);
    expect(Object.keys(credentials).sort()).toEqual([...SECRET_FIELDS[provider.scheme]].sort());
    for (const value of Object.values(credentials)) expect(value).toMatch(/^[\w-]{8,}$/);

    const url = `${s.providerUrl(name)}/tickets`;
    const missing = await postJson(url, {});
    expect([missing.status, await errorCode(missing)]).toEqual([401, 'missing_credentials']);
    expect(missing.headers.get('www-authenticate')).toContain(`realm="${name}"`);
    const wrong = await postJson(url, {}, wrongHeaders(s, name));
    expect([wrong.status, await errorCode(wrong)]).toEqual([401, 'invalid_credentials']);
    const before = await genericAuthHeaders(s, name);
    expect((await postJson(url, {}, before)).status).toBe(201);

    const rotated = s.rotateCredentials(name);
    expect(rotated).not.toEqual(credentials);
    expect(s.credentials(name)).toEqual(rotated);
    const stale = await postJson(url, {}, before);
    expect([stale.status, await errorCode(stale)]).toEqual([401, 'invalid_credentials']);
    expect((await post(s, name, '/tickets', {})).status).toBe(201);

    // The journal names the scheme and never holds a secret.
    const journal = JSON.stringify(s.journal.entries({ provider: name }));
    for (const secret of [...Object.values(credentials), ...Object.values(rotated)]) expect(journal).not.toContain(secret);
    expect(s.generic(name).resources()).toHaveLength(2);
  });

  it('none: needs no credentials and has an empty credential', async () => {
    const s = await start({ generic: [{ name: 'open-api', auth: 'none' }] });
    expect(s.credentials('open-api')).toEqual({});
    const response = await postJson(`${s.providerUrl('open-api')}/tickets`, { subject: 'x' });
    expect([response.status, await response.json()]).toEqual([201, { id: 'open-api_1' }]);
    expect(s.rotateCredentials('open-api')).toEqual({});
  });

  it('api_key: reads the key from the declared header only, X-Api-Key by default, and journals the scheme', async () => {
    const s = await start({ generic: [{ name: 'key-api', auth: 'api_key' }, { name: 'partner-key-api', auth: { scheme: 'api_key', headerName: 'X-Partner-Key' } }] });
    expect(s.generic('key-api').apiKeyHeader).toBe(DEFAULT_API_KEY_HEADER);
    const { apiKey } = s.credentials('partner-key-api');
    const inDefaultHeader = await postJson(`${s.providerUrl('partner-key-api')}/tickets`, {}, { 'x-api-key': apiKey ?? '' });
    expect([inDefaultHeader.status, await errorCode(inDefaultHeader)]).toEqual([401, 'missing_credentials']);
    expect((await postJson(`${s.providerUrl('partner-key-api')}/tickets`, {}, { 'x-partner-key': apiKey ?? '' })).status).toBe(201);
    expect(s.journal.entries({ provider: 'partner-key-api' }).map((entry) => entry.authScheme)).toEqual(['ApiKey', 'ApiKey']);
  });

  it('oauth2: issues tokens at the token path for the client credentials; tokens expire on the sandbox clock', async () => {
    const clock = manualClock();
    const s = await start({
      now: clock.now,
      generic: [{ name: 'oauth-api', auth: { scheme: 'oauth2_client_credentials', tokenPath: '/v2/token', tokenExpiresInSeconds: 60 } }],
    });
    expect(s.generic('oauth-api').tokenPath).toBe('/v2/token');
    const { clientId = '', clientSecret = '' } = s.credentials('oauth-api');
    const tokenUrl = `${s.providerUrl('oauth-api')}/v2/token`;
    const form = { 'content-type': 'application/x-www-form-urlencoded' };
    const refused = await fetch(tokenUrl, { method: 'POST', headers: { ...form, authorization: basicAuth(clientId, 'wrong') }, body: 'grant_type=client_credentials' });
    expect([refused.status, await errorCode(refused)]).toEqual([401, 'invalid_credentials']);
    const granted = await fetch(tokenUrl, { method: 'POST', headers: form, body: `grant_type=client_credentials&client_id=${clientId}&client_secret=${clientSecret}` });
    expect(granted.status).toBe(200);
    const token = (await granted.json()) as { access_token: string; token_type: string; expires_in: number };
    expect(token).toMatchObject({ token_type: 'Bearer', expires_in: 60 });
    expect((await get(`${s.providerUrl('oauth-api')}${DEFAULT_TOKEN_PATH}`)).status).toBe(404);

    const bearer = { authorization: `Bearer ${token.access_token}` };
    expect((await postJson(`${s.providerUrl('oauth-api')}/tickets`, {}, bearer)).status).toBe(201);
    clock.advance(60_000);
    const expired = await postJson(`${s.providerUrl('oauth-api')}/tickets`, {}, bearer);
    expect([expired.status, await errorCode(expired)]).toEqual([401, 'token_expired']);
  });
});

describe('generic sandbox provider: Idempotency-Key', () => {
  it('replays the first answer for the same key and body with no second side effect, and refuses the key with another body', async () => {
    const s = await start({ generic: [HELPDESK] });
    const key = { 'idempotency-key': 'open-ticket:evt-1' };
    const first = await post(s, 'helpdesk', '/tickets', { subject: 'a' }, key);
    const replay = await post(s, 'helpdesk', '/tickets', { subject: 'a' }, key);
    expect(replay.status).toBe(201);
    expect(replay.headers.get('idempotent-replayed')).toBe('true');
    expect(await replay.text()).toBe(await first.text());
    expect(s.generic('helpdesk').resources()).toHaveLength(1);
    expect(s.sideEffects('helpdesk')).toHaveLength(1);
    expect(s.journal.entries({ provider: 'helpdesk' }).map((entry) => [entry.sideEffect, entry.replayed])).toEqual([
      [true, false],
      [false, true],
    ]);

    const reused = await post(s, 'helpdesk', '/tickets', { subject: 'b' }, key);
    expect([reused.status, await errorCode(reused)]).toEqual([422, 'idempotency_key_reused']);
    expect(s.generic('helpdesk').resources()).toHaveLength(1);
  });
});

describe('generic sandbox provider: faults', () => {
  it('applies an outage window to the generic provider only, on the sandbox clock', async () => {
    const clock = manualClock();
    const s = await start({ now: clock.now, generic: [HELPDESK] });
    s.setFaults('helpdesk', { outage: { fromMs: 1_000, toMs: 2_000 } });
    expect((await post(s, 'helpdesk', '/tickets', {})).status).toBe(201);
    clock.advance(1_000);
    expect((await post(s, 'helpdesk', '/tickets', {})).status).toBe(503);
    expect((await get(`${s.providerUrl('helpdesk')}/health`)).status).toBe(503);
    expect((await get(`${s.providerUrl('payments')}/health`)).status).toBe(200);
    clock.advance(1_000);
    expect((await post(s, 'helpdesk', '/tickets', {})).status).toBe(201);
    expect(s.journal.count({ provider: 'helpdesk', fault: 'outage' })).toBe(2);
    expect(s.generic('helpdesk').resources()).toHaveLength(2);
  });

  it('fails the next requests with 503 when set over the control plane, then lets the retry through once', async () => {
    const s = await start({ generic: [HELPDESK] });
    const set = await postJson(`${s.baseUrl}/_sandbox/faults`, { provider: 'helpdesk', faults: { failNext: { count: 2 } } });
    expect(set.status).toBe(200);
    expect(s.faults('helpdesk')).toEqual({ failNext: { count: 2 } });
    const statuses: number[] = [];
    for (let i = 0; i < 3; i++) {
      const response = await post(s, 'helpdesk', '/tickets', { subject: 'a' }, { 'idempotency-key': 'open-ticket:evt-2' });
      await response.arrayBuffer();
      statuses.push(response.status);
    }
    expect(statuses).toEqual([503, 503, 201]);
    expect(s.journal.entries({ provider: 'helpdesk' }).map((entry) => entry.fault)).toEqual(['failNext', 'failNext', null]);
    expect(s.generic('helpdesk').resources()).toHaveLength(1);
  });

  it('throttles with 429 and Retry-After from the initial faults, honouring pathFilter', async () => {
    const s = await start({ generic: [HELPDESK], faults: { helpdesk: { throttle: { retryAfterSeconds: 30 }, pathFilter: '/tickets' } } });
    const throttled = await post(s, 'helpdesk', '/tickets', {});
    expect([throttled.status, throttled.headers.get('retry-after'), await errorCode(throttled)]).toEqual([429, '30', 'rate_limited']);
    expect((await post(s, 'helpdesk', '/comments', {})).status).toBe(201);
    expect(s.generic('helpdesk').resources().map((resource) => resource.path)).toEqual(['/comments']);
  });

  it('rejects invalid fault options for a generic provider, listing every problem', async () => {
    const s = await start({ generic: [HELPDESK] });
    expect(() => s.setFaults('helpdesk', { errorRate: 2, chargeStatus: 'failed' } as never)).toThrow(SandboxConfigError);
    expect(s.faults('helpdesk')).toEqual({});
  });
});

describe('generic sandbox provider: journal, reset, seeds', () => {
  it('journals every call by provider name with route, status, auth scheme, key and correlation id', async () => {
    const s = await start({ generic: [HELPDESK] });
    await post(s, 'helpdesk', '/tickets', {}, { 'idempotency-key': 'k-1', 'x-correlation-id': 'c-1' });
    await get(`${s.providerUrl('helpdesk')}/health`);
    expect(s.journal.entries({ provider: 'helpdesk' })).toMatchObject([
      {
        method: 'POST',
        path: '/tickets',
        route: '/:collection',
        status: 201,
        authScheme: 'Bearer',
        idempotencyKey: 'k-1',
        correlationId: 'c-1',
        created: { type: 'resource', id: 'helpdesk_1' },
      },
      { method: 'GET', path: '/health', route: '/health', status: 200, authScheme: null, sideEffect: false },
    ]);
    expect(s.journal.countsByPath().helpdesk).toEqual({ '/tickets': 1, '/health': 1 });
  });

  it('reset() forgets resources, keys and faults but keeps the credentials', async () => {
    const s = await start({ generic: [HELPDESK] });
    const credentials = s.credentials('helpdesk');
    await post(s, 'helpdesk', '/tickets', {}, { 'idempotency-key': 'k-1' });
    s.setFaults('helpdesk', { status: 500, pathFilter: '/comments' });
    s.reset();
    expect(s.generic('helpdesk').resources()).toEqual([]);
    expect(s.faults('helpdesk')).toEqual({});
    expect(s.credentials('helpdesk')).toEqual(credentials);
    const again = await post(s, 'helpdesk', '/tickets', {}, { 'idempotency-key': 'k-1' });
    expect([again.status, again.headers.get('idempotent-replayed'), await again.json()]).toEqual([201, null, { id: 'helpdesk_1' }]);
  });

  it('gives the same credentials for the same seed, and mounting generic providers changes no dedicated credential', async () => {
    const plain = await start({});
    const withGeneric = await start({ generic: [HELPDESK, ...SCHEMES] });
    const again = await start({ generic: [HELPDESK] });
    for (const name of PROVIDER_NAMES) expect(withGeneric.credentials(name)).toEqual(plain.credentials(name));
    expect(again.credentials('helpdesk')).toEqual(withGeneric.credentials('helpdesk'));
  });
});

describe('generic sandbox provider: declarations', () => {
  it('refuses invalid declarations at start, listing every problem', async () => {
    const error: unknown = await startSandbox({
      generic: [
        { name: 'Help_Desk', auth: 'bearer' },
        { name: 'crm', auth: 'bearer' },
        { name: 'desk', auth: 'bearer' },
        { name: 'desk', auth: 'basic' },
        { name: 'mystery', auth: 'kerberos' as never },
        {
          name: 'bad-routes',
          auth: { scheme: 'api_key', headerName: 'bad header' },
          routes: [
            { method: 'POST', path: 'tickets' },
            { method: 'POST', path: '/tickets', status: 404 },
            { method: 'GET', path: '/health' },
            { method: 'GET', path: '/tickets/:id', body: { id: '{{id}}', owner: '{{params.owner}}', colour: '{{colour}}' } },
          ],
        },
      ],
    }).then(
      (s) => s.close(),
      (rejection: unknown) => rejection,
    );
    expect(error).toBeInstanceOf(SandboxConfigError);
    expect((error as SandboxConfigError).problems).toEqual([
      expect.stringMatching(/^generic\[0\] \(Help_Desk\): name must be lower-kebab-case/),
      expect.stringMatching(/^generic\[1\] \(crm\): a provider named "crm" is already mounted/),
      expect.stringMatching(/^generic\[3\] \(desk\): a provider named "desk" is already mounted/),
      expect.stringMatching(/^generic\[4\] \(mystery\): auth.scheme must be one of/),
      expect.stringMatching(/^generic\[5\] \(bad-routes\): auth.headerName is not a valid HTTP header name/),
      expect.stringMatching(/routes\[0\].path must be a path/),
      expect.stringMatching(/routes\[1\]: a route that creates must answer 2xx \(got 404\)/),
      expect.stringMatching(/routes\[2\]: GET \/health is declared twice or is built in/),
      expect.stringMatching(/routes\[3\].body: \$.id: \{\{id\}\} only exists on a route that creates/),
      expect.stringMatching(/routes\[3\].body: \$.owner: \{\{params.owner\}\} is not a ":name" segment/),
      expect.stringMatching(/routes\[3\].body: \$.colour: unknown placeholder \{\{colour\}\}/),
    ]);
  });
});
