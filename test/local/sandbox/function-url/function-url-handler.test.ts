/**
 * The try stage's sandbox behind a Function URL (local/sandbox/function-url/function-url-handler.ts), driven with Function URL
 * (payload v2) events: the ops catalog in SSM and the secrets in Secrets Manager are mocked, the sandbox is real on
 * 127.0.0.1. The fixture catalog is made up: `helpdesk` is served by a generic provider, `crm-eu` (adapter `crm`) by
 * the dedicated CRM, and the standalone provider `inventory` by the dedicated inventory API.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { GetParametersByPathCommand, SSMClient } from '@aws-sdk/client-ssm';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import type { handler as Handler } from '../../../../local/sandbox/function-url/function-url-handler.js';
import { lambdaContext } from '../../../../local/lambda-events.js';
import { basicAuth, fileBody } from '../helpers.js';
import { type FunctionUrlRequest, functionUrlEvent, jsonBody, structured } from '../../../support/function-url-event.js';

const PATH = '/TryHub/circuit-ops/';
const CONTROL = { secret: 'try/control-token', token: 'control-token-0123456789abcdef' };
const CRM_EU_SECRET = 'arn:aws:secretsmanager:us-east-1:123456789012:secret:try/crm-eu-AbCdEf';
const CATALOG = {
  integrations: [
    { name: 'helpdesk', mappingUuid: '11111111-1111-4111-8111-111111111111', maxConcurrency: 5, baseUrl: 'https://try.example/helpdesk', auth: { scheme: 'bearer' }, secretName: 'try/helpdesk', circuit: {} },
    {
      name: 'crm-eu',
      adapter: 'crm',
      mappingUuid: '22222222-2222-4222-8222-222222222222',
      maxConcurrency: 5,
      baseUrl: 'https://try.example/crm',
      auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' },
      secretName: CRM_EU_SECRET,
      circuit: {},
    },
  ],
  providers: [{ name: 'inventory', baseUrl: 'https://try.example/inventory', auth: 'api_key', secretName: 'try/inventory', circuit: {} }],
};
const SECRETS: Record<string, Record<string, string>> = {
  'try/helpdesk': { token: 'helpdesk-token' },
  [CRM_EU_SECRET]: { clientId: 'crm-eu-client', clientSecret: 'crm-eu-secret' },
  'try/inventory': { apiKey: 'inventory-key' },
  [CONTROL.secret]: { token: CONTROL.token },
};
const HELPDESK_AUTH = { authorization: `Bearer ${SECRETS['try/helpdesk']!.token}` };
const CONTROL_AUTH = { 'x-sandbox-control-token': CONTROL.token };

const ssm = mockClient(SSMClient);
const secretsManager = mockClient(SecretsManagerClient);

function mockCatalog(): void {
  const parameter = (kind: string, entry: { name: string }) => ({ Name: `${PATH}${kind}/${entry.name}`, Value: JSON.stringify(entry) });
  ssm.on(GetParametersByPathCommand, { Path: '/TryHub/circuit-ops', Recursive: true }).resolves({
    Parameters: [...CATALOG.integrations.map((entry) => parameter('integrations', entry)), ...CATALOG.providers.map((entry) => parameter('providers', entry))],
  });
}

function mockSecret(secretId: string, value: Record<string, string>): void {
  secretsManager.on(GetSecretValueCommand, { SecretId: secretId }).resolves({ Name: secretId, SecretString: JSON.stringify(value) });
}

function mockAws(): void {
  ssm.reset();
  secretsManager.reset();
  mockCatalog();
  for (const [secretId, value] of Object.entries(SECRETS)) mockSecret(secretId, value);
}

/** A fresh handler module: its sandbox is started by its first request. */
async function loadHandler(): Promise<typeof Handler> {
  vi.resetModules();
  return (await import('../../../../local/sandbox/function-url/function-url-handler.js')).handler;
}

beforeAll(() => {
  vi.stubEnv('OPS_CATALOG_PATH', PATH);
  vi.stubEnv('CONTROL_TOKEN_SECRET', CONTROL.secret);
});
afterAll(() => {
  vi.unstubAllEnvs();
  ssm.restore();
  secretsManager.restore();
});

describe('the sandbox behind a Function URL', () => {
  let handler: typeof Handler;
  const call = async (request: FunctionUrlRequest, timeoutMs?: number) =>
    structured(await handler(functionUrlEvent(request), timeoutMs === undefined ? undefined : lambdaContext('try-sandbox', timeoutMs)));
  const control = (method: string, path: string, body?: unknown) => call({ method, path: `/_sandbox${path}`, headers: CONTROL_AUTH, ...(body === undefined ? {} : { body }) });

  beforeAll(async () => {
    mockAws();
    handler = await loadHandler();
  });
  beforeEach(async () => {
    expect((await control('POST', '/reset')).statusCode).toBe(200);
  });

  it('creates a resource for an authenticated POST, and replays its answer for the same Idempotency-Key', async () => {
    const request = { path: '/helpdesk/tickets', headers: { ...HELPDESK_AUTH, 'idempotency-key': 'ticket-1' }, body: { subject: 'Printer on fire' } };

    const created = await call(request);
    expect(created.statusCode).toBe(201);
    expect(jsonBody(created)).toEqual({ id: 'helpdesk_1' });

    const replayed = await call(request);
    expect(replayed.statusCode).toBe(201);
    expect(replayed.headers?.['idempotent-replayed']).toBe('true');
    expect(jsonBody(replayed)).toEqual({ id: 'helpdesk_1' });
    expect(jsonBody<{ count: number }>(await control('GET', '/side-effects')).count).toBe(1);
  });

  it('serves an integration whose adapter is crm by the dedicated CRM, accepting the client credentials of its secret', async () => {
    const { clientId, clientSecret } = SECRETS[CRM_EU_SECRET]!;
    const token = await call({
      path: '/crm/oauth/token',
      headers: { authorization: basicAuth(clientId!, clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(token.statusCode).toBe(200);

    const file = await call({ path: '/crm/files', headers: { authorization: `Bearer ${jsonBody<{ access_token: string }>(token).access_token}` }, body: fileBody() });
    expect(file.statusCode).toBe(201);
    expect(jsonBody(file)).toMatchObject({ id: 'crm_file_1', externalRef: fileBody().externalRef });
  });

  it('serves a standalone workflow provider by its dedicated API with the key of its secret', async () => {
    const stock = await call({ path: '/inventory/stock/SKU-1', headers: { 'x-api-key': SECRETS['try/inventory']!.apiKey! } });
    expect(stock.statusCode).toBe(200);
    expect(jsonBody(stock)).toMatchObject({ sku: 'SKU-1' });
  });

  it('answers 401 to wrong or missing credentials, as the provider does', async () => {
    const wrong = await call({ path: '/helpdesk/tickets', headers: { authorization: 'Bearer not-the-token' }, body: {} });
    expect(wrong.statusCode).toBe(401);
    expect(jsonBody(wrong)).toMatchObject({ error: { code: 'invalid_credentials' } });
    expect(wrong.headers?.['www-authenticate']).toMatch(/^Bearer/);
    expect((await call({ path: '/helpdesk/tickets', body: {} })).statusCode).toBe(401);
  });

  it('refuses the control plane without the control token, also behind a path that normalizes to it', async () => {
    for (const request of [
      { path: '/_sandbox/faults' },
      { path: '/_sandbox/credentials/crm', headers: { 'x-sandbox-control-token': `${CONTROL.token}x` } },
      { path: '/helpdesk/../_sandbox/rotate/helpdesk', method: 'POST' },
    ]) {
      const refused = await call(request);
      expect(refused.statusCode, request.path).toBe(403);
      expect(jsonBody(refused)).toEqual({ error: { code: 'forbidden', message: expect.stringContaining('x-sandbox-control-token') } });
    }
    // Nothing was rotated: the secret's token still works.
    expect((await call({ path: '/helpdesk/tickets', headers: HELPDESK_AUTH, body: {} })).statusCode).toBe(201);
  });

  it('lets the control token set a fault that the next provider call sees', async () => {
    const set = await control('POST', '/faults', { provider: 'helpdesk', faults: { failNext: { count: 1 } } });
    expect(set.statusCode).toBe(200);
    expect(jsonBody(set)).toEqual({ provider: 'helpdesk', faults: { failNext: { count: 1 } } });

    expect((await call({ path: '/helpdesk/tickets', headers: HELPDESK_AUTH, body: {} })).statusCode).toBe(503);
    expect((await call({ path: '/helpdesk/tickets', headers: HELPDESK_AUTH, body: {} })).statusCode).toBe(201);
  });

  it('decodes a base64-encoded body', async () => {
    const { clientId, clientSecret } = SECRETS[CRM_EU_SECRET]!;
    const token = await call({
      path: '/crm/oauth/token',
      headers: { authorization: basicAuth(clientId!, clientSecret!), 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
      base64: true,
    });
    expect(token.statusCode).toBe(200);
    const body = fileBody({ externalRef: 'dms-file-ünïcode' });
    const file = await call({ path: '/crm/files', headers: { authorization: `Bearer ${jsonBody<{ access_token: string }>(token).access_token}` }, body, base64: true });
    expect(file.statusCode).toBe(201);
    expect(jsonBody(file)).toMatchObject({ externalRef: 'dms-file-ünïcode' });
  });

  it('forwards the query string', async () => {
    await call({ path: '/helpdesk/tickets', headers: { authorization: 'Bearer not-the-token' }, body: {} });
    await call({ path: '/inventory/stock/SKU-1', headers: { 'x-api-key': SECRETS['try/inventory']!.apiKey! } });

    const journal = await call({ path: '/_sandbox/journal', query: 'provider=helpdesk&status=401', headers: CONTROL_AUTH });
    expect(journal.statusCode).toBe(200);
    expect(jsonBody<{ entries: { provider: string; status: number }[] }>(journal).entries.map(({ provider, status }) => ({ provider, status }))).toEqual([
      { provider: 'helpdesk', status: 401 },
    ]);
  });

  it('answers 502 when the sandbox resets the connection, and 504 when it holds the request until the function would time out', async () => {
    await control('POST', '/faults', { provider: 'helpdesk', faults: { reset: true } });
    const reset = await call({ path: '/helpdesk/tickets', headers: HELPDESK_AUTH, body: {} });
    expect(reset.statusCode).toBe(502);
    expect(jsonBody(reset)).toMatchObject({ error: { code: 'sandbox_connection_failed' } });

    await control('POST', '/faults', { provider: 'helpdesk', faults: { hang: true } });
    // 1.5 s left: the handler keeps 1 s to answer, so it gives up on the sandbox after 0.5 s.
    const held = await call({ path: '/helpdesk/tickets', headers: HELPDESK_AUTH, body: {} }, 1_500);
    expect(held.statusCode).toBe(504);
    expect(jsonBody(held)).toMatchObject({ error: { code: 'sandbox_timeout' } });
  });

  it('reads the ops catalog and the secrets once, at the first request, for every request after it', () => {
    expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(1);
    expect(secretsManager.commandCalls(GetSecretValueCommand).map((c) => c.args[0].input.SecretId).sort()).toEqual(Object.keys(SECRETS).sort());
  });
});

describe('a sandbox that cannot start', () => {
  beforeEach(mockAws);

  it('answers 503 listing an unreadable secret, and starts on the next request once it can be read', async () => {
    secretsManager.on(GetSecretValueCommand, { SecretId: 'try/helpdesk' }).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    secretsManager.on(GetSecretValueCommand, { SecretId: 'try/inventory' }).resolves({ SecretString: JSON.stringify({ key: 'wrong field' }) });
    const handler = await loadHandler();
    const request = () => handler(functionUrlEvent({ path: '/helpdesk/tickets', headers: HELPDESK_AUTH, body: {} }));

    const failed = structured(await request());
    expect(failed.statusCode).toBe(503);
    expect(jsonBody(failed)).toEqual({
      error: {
        code: 'sandbox_not_started',
        message: expect.stringMatching(/^Invalid try-stage sandbox configuration:/),
        problems: [
          "integration 'helpdesk': Could not read secret 'try/helpdesk': AccessDeniedException",
          "provider 'inventory': secret 'try/inventory': field(s) apiKey must be non-empty strings (scheme api_key)",
        ],
      },
    });

    mockSecret('try/helpdesk', SECRETS['try/helpdesk']!);
    mockSecret('try/inventory', SECRETS['try/inventory']!);
    expect(structured(await request()).statusCode).toBe(201);
    // The retried start read everything again.
    expect(ssm.commandCalls(GetParametersByPathCommand)).toHaveLength(2);
  });

  it('answers 503 naming the path when the ops catalog cannot be read', async () => {
    ssm.on(GetParametersByPathCommand).rejects(Object.assign(new Error('not authorized'), { name: 'AccessDeniedException' }));
    const handler = await loadHandler();

    const failed = structured(await handler(functionUrlEvent({ path: '/helpdesk/health' })));
    expect(failed.statusCode).toBe(503);
    expect(jsonBody(failed)).toEqual({ error: { code: 'sandbox_not_started', message: `Cannot read the integrations to serve from the SSM parameters under ${PATH}` } });
  });

  it('answers 503 listing every missing environment variable', async () => {
    vi.stubEnv('OPS_CATALOG_PATH', '');
    vi.stubEnv('CONTROL_TOKEN_SECRET', '');
    try {
      const handler = await loadHandler();
      const failed = structured(await handler(functionUrlEvent({ path: '/helpdesk/health' })));
      expect(failed.statusCode).toBe(503);
      expect(jsonBody<{ error: { problems: string[] } }>(failed).error.problems).toEqual([
        expect.stringMatching(/^OPS_CATALOG_PATH is required/),
        expect.stringMatching(/^CONTROL_TOKEN_SECRET is required/),
      ]);
    } finally {
      vi.stubEnv('OPS_CATALOG_PATH', PATH);
      vi.stubEnv('CONTROL_TOKEN_SECRET', CONTROL.secret);
    }
  });
});
