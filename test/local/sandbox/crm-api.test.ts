import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { basicAuth, crmToken, errorCode, fileBody, get, manualClock, postFile, postJson, requestCrmToken } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42, ...options });
  return sandbox;
}

function tokenUrl(s: Sandbox): string {
  return `${s.providerUrl('crm')}/oauth/token`;
}

describe('CRM sandbox: OAuth2 client credentials', () => {
  it('issues a Bearer token for client credentials sent with HTTP Basic', async () => {
    const s = await start();
    const response = await requestCrmToken(s);
    expect(response.status).toBe(200);
    expect(response.headers.get('cache-control')).toBe('no-store');
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ token_type: 'Bearer', expires_in: 3600, scope: 'files:read files:write contacts:read contacts:write' });
    expect(body.access_token).toMatch(/^crm_at_\w{40}$/);
  });

  it('issues a token for client credentials sent as client_id and client_secret form fields', async () => {
    const s = await start();
    const { clientId, clientSecret } = s.credentials('crm');
    const form = new URLSearchParams({ grant_type: 'client_credentials', client_id: clientId, client_secret: clientSecret, scope: 'files:read' });
    const response = await fetch(tokenUrl(s), { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form.toString() });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ token_type: 'Bearer', scope: 'files:read' });
  });

  it('rejects a wrong client secret with 401 invalid_credentials', async () => {
    const s = await start();
    const response = await requestCrmToken(s, { clientId: s.credentials('crm').clientId, clientSecret: 'not-the-secret' });
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('invalid_credentials');
  });

  it('rejects a token request without client authentication with 401 missing_credentials', async () => {
    const s = await start();
    const response = await fetch(tokenUrl(s), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: 'grant_type=client_credentials',
    });
    expect(response.status).toBe(401);
    expect(await errorCode(response)).toBe('missing_credentials');
  });

  it('rejects an unsupported grant_type and an unknown scope with 400', async () => {
    const s = await start();
    const password = await requestCrmToken(s, undefined, 'grant_type=password');
    expect(password.status).toBe(400);
    expect(await errorCode(password)).toBe('unsupported_grant_type');
    const scope = await requestCrmToken(s, undefined, 'grant_type=client_credentials&scope=admin');
    expect(scope.status).toBe(400);
    expect(await errorCode(scope)).toBe('invalid_scope');
  });

  it('rejects a token request that is not form-encoded with 415', async () => {
    const s = await start();
    const { clientId, clientSecret } = s.credentials('crm');
    const response = await fetch(tokenUrl(s), {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: basicAuth(clientId, clientSecret) },
      body: JSON.stringify({ grant_type: 'client_credentials' }),
    });
    expect(response.status).toBe(415);
  });

  it('honours the configured expires_in and rejects the token with 401 token_expired once it expired on the sandbox clock', async () => {
    const clock = manualClock();
    const s = await start({ now: clock.now, providers: { crm: { tokenExpiresInSeconds: 60 } } });
    const response = await requestCrmToken(s);
    const { access_token: token, expires_in: expiresIn } = (await response.json()) as { access_token: string; expires_in: number };
    expect(expiresIn).toBe(60);
    clock.advance(59_000);
    expect((await postFile(s, token)).status).toBe(201);
    clock.advance(1_000);
    const expired = await postFile(s, token);
    expect(expired.status).toBe(401);
    expect(await errorCode(expired)).toBe('token_expired');
  });
});

describe('CRM sandbox: files', () => {
  it('creates a file with 201, returns its id, and stores it', async () => {
    const s = await start();
    const token = await crmToken(s);
    const response = await postFile(s, token, fileBody({ externalRef: 'doc-7', version: 2 }));
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toEqual({ id: 'crm_file_1', externalRef: 'doc-7', version: 2, createdAt: expect.any(String) });
    expect(s.crm.files()).toHaveLength(1);
    expect(s.crm.file('crm_file_1')).toMatchObject({ externalRef: 'doc-7', version: 2, name: 'contract.pdf', tags: ['contract', 'signed'] });
  });

  it('reads a file back by id and lists files by externalRef', async () => {
    const s = await start();
    const token = await crmToken(s);
    await postFile(s, token, fileBody({ externalRef: 'a' }));
    await postFile(s, token, fileBody({ externalRef: 'b', folder: undefined, ownerEmail: undefined, tags: undefined }));
    const one = await get(`${s.providerUrl('crm')}/files/crm_file_2`, { authorization: `Bearer ${token}` });
    expect(one.status).toBe(200);
    expect(await one.json()).toMatchObject({ id: 'crm_file_2', externalRef: 'b', folder: null, ownerEmail: null, tags: [] });
    const list = await get(`${s.providerUrl('crm')}/files?externalRef=a`, { authorization: `Bearer ${token}` });
    const { data } = (await list.json()) as { data: { id: string }[] };
    expect(data.map((file) => file.id)).toEqual(['crm_file_1']);
  });

  it('requires a Bearer token: none gives 401 missing_credentials with WWW-Authenticate, an unknown one 401 invalid_credentials', async () => {
    const s = await start();
    const none = await postJson(`${s.providerUrl('crm')}/files`, fileBody());
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await errorCode(none)).toBe('missing_credentials');
    const unknown = await postFile(s, 'crm_at_made_up');
    expect(unknown.status).toBe(401);
    expect(await errorCode(unknown)).toBe('invalid_credentials');
    expect(s.crm.files()).toHaveLength(0);
  });

  it('rejects a token without the files:write scope with 403 insufficient_scope', async () => {
    const s = await start();
    const response = await requestCrmToken(s, undefined, 'grant_type=client_credentials&scope=files:read');
    const { access_token: token } = (await response.json()) as { access_token: string };
    const created = await postFile(s, token);
    expect(created.status).toBe(403);
    expect(await errorCode(created)).toBe('insufficient_scope');
  });

  it('rejects an invalid file body with 400 invalid_request listing every problem', async () => {
    const s = await start();
    const token = await crmToken(s);
    const response = await postFile(s, token, fileBody({ version: 1.5, name: undefined, mimeType: 'pdf', uploadedAt: 'yesterday', colour: 'red' }));
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; problems: string[] } };
    expect(body.error.code).toBe('invalid_request');
    expect(body.error.problems.join('\n')).toMatch(/version/);
    expect(body.error.problems.join('\n')).toMatch(/name/);
    expect(body.error.problems.join('\n')).toMatch(/mimeType/);
    expect(body.error.problems.join('\n')).toMatch(/uploadedAt/);
    expect(body.error.problems.join('\n')).toMatch(/colour/);
    expect(s.crm.files()).toHaveLength(0);
  });

  it('rejects a body that is not JSON with 400 invalid_json and a non-JSON Content-Type with 415', async () => {
    const s = await start();
    const token = await crmToken(s);
    const url = `${s.providerUrl('crm')}/files`;
    const broken = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: '{"externalRef":' });
    expect(broken.status).toBe(400);
    expect(await errorCode(broken)).toBe('invalid_json');
    const text = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'text/plain' }, body: 'hello' });
    expect(text.status).toBe(415);
  });

  it('answers 404 for an unknown file and an unknown route, 405 with Allow for a wrong method', async () => {
    const s = await start();
    const token = await crmToken(s);
    const auth = { authorization: `Bearer ${token}` };
    expect((await get(`${s.providerUrl('crm')}/files/crm_file_99`, auth)).status).toBe(404);
    expect((await get(`${s.providerUrl('crm')}/invoices`, auth)).status).toBe(404);
    const wrongMethod = await fetch(`${s.providerUrl('crm')}/health`, { method: 'DELETE' });
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET');
  });

  it('answers the health probe with 200 { status: ok } without authentication', async () => {
    const s = await start();
    const response = await get(`${s.providerUrl('crm')}/health`);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ status: 'ok' });
  });
});

describe('CRM sandbox: credential rotation', () => {
  it('after rotation the old secret and tokens issued with it get 401 invalid_credentials, and the new secret works', async () => {
    const s = await start();
    const old = s.credentials('crm');
    const oldToken = await crmToken(s, old);
    const rotated = s.rotateCredentials('crm');
    expect(rotated.clientSecret).not.toBe(old.clientSecret);
    expect(s.credentials('crm')).toEqual(rotated);

    const withOldSecret = await requestCrmToken(s, old);
    expect(withOldSecret.status).toBe(401);
    expect(await errorCode(withOldSecret)).toBe('invalid_credentials');
    const withOldToken = await postFile(s, oldToken);
    expect(withOldToken.status).toBe(401);
    expect(await errorCode(withOldToken)).toBe('invalid_credentials');

    const newToken = await crmToken(s, rotated);
    expect((await postFile(s, newToken)).status).toBe(201);
  });

  it('derives the credentials from the seed', async () => {
    const first = await startSandbox({ seed: 7 });
    const second = await startSandbox({ seed: 7 });
    const other = await startSandbox({ seed: 8 });
    try {
      expect(first.credentials('crm')).toEqual(second.credentials('crm'));
      expect(first.credentials('crm')).not.toEqual(other.credentials('crm'));
    } finally {
      await Promise.all([first.close(), second.close(), other.close()]);
    }
  });
});
