import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { crmToken, errorCode, get, postJson, requestCrmToken } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42 });
  return sandbox;
}

function upsert(externalId: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    externalId,
    email: `${externalId}@example.com`,
    name: `Contact ${externalId}`,
    phone: null,
    status: 'active',
    sourceUpdatedAt: '2030-01-01T00:00:00.000Z',
    ...overrides,
  };
}

async function bulk(s: Sandbox, token: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
  return postJson(`${s.providerUrl('crm')}/contacts/bulk`, body, { authorization: `Bearer ${token}`, ...headers });
}

async function bulkJson(s: Sandbox, token: string, body: unknown): Promise<{ upserted: number; deleted: number; results: unknown[] }> {
  const response = await bulk(s, token, body);
  expect(response.status).toBe(200);
  return (await response.json()) as { upserted: number; deleted: number; results: unknown[] };
}

describe('CRM sandbox: bulk contacts', () => {
  it('creates contacts, then updates them in place by externalId without duplicates', async () => {
    const s = await start();
    const token = await crmToken(s);
    const created = await bulkJson(s, token, { upserts: [upsert('c_1'), upsert('c_2', { phone: '+49 30 1234567' })], deletes: [] });
    expect(created).toMatchObject({
      upserted: 2,
      deleted: 0,
      results: [
        { externalId: 'c_1', id: 'crm_contact_1', action: 'created' },
        { externalId: 'c_2', id: 'crm_contact_2', action: 'created' },
      ],
    });
    const updated = await bulkJson(s, token, {
      upserts: [upsert('c_1', { name: 'Ada Lovelace', status: 'inactive', sourceUpdatedAt: '2030-01-02T00:00:00Z' })],
      deletes: [],
    });
    expect(updated.results).toEqual([{ externalId: 'c_1', id: 'crm_contact_1', action: 'updated' }]);
    expect(s.crm.contacts()).toHaveLength(2);
    expect(s.crm.contactByExternalId('c_1')).toMatchObject({
      id: 'crm_contact_1',
      name: 'Ada Lovelace',
      status: 'inactive',
      sourceUpdatedAt: '2030-01-02T00:00:00Z',
    });
    const listed = await get(`${s.providerUrl('crm')}/contacts?externalId=c_2`, { authorization: `Bearer ${token}` });
    expect(await listed.json()).toMatchObject({ data: [{ id: 'crm_contact_2', externalId: 'c_2', phone: '+49 30 1234567' }] });
    const one = await get(`${s.providerUrl('crm')}/contacts/crm_contact_1`, { authorization: `Bearer ${token}` });
    expect(await one.json()).toMatchObject({ externalId: 'c_1', name: 'Ada Lovelace' });
    expect((await get(`${s.providerUrl('crm')}/contacts/crm_contact_9`, { authorization: `Bearer ${token}` })).status).toBe(404);
  });

  it('ignores an upsert older than the stored version (skipped_stale), also after a delete', async () => {
    const s = await start();
    const token = await crmToken(s);
    await bulkJson(s, token, { upserts: [upsert('c_1', { name: 'New', sourceUpdatedAt: '2030-01-02T00:00:00Z' })], deletes: [] });
    const stale = await bulkJson(s, token, { upserts: [upsert('c_1', { name: 'Old', sourceUpdatedAt: '2030-01-01T23:59:59.999Z' })], deletes: [] });
    expect(stale).toMatchObject({ upserted: 0, results: [{ externalId: 'c_1', id: 'crm_contact_1', action: 'skipped_stale' }] });
    expect(s.crm.contactByExternalId('c_1')?.name).toBe('New');
    // The same version again is not older: applied (an idempotent re-delivery).
    const same = await bulkJson(s, token, { upserts: [upsert('c_1', { name: 'New', sourceUpdatedAt: '2030-01-02T01:00:00+01:00' })], deletes: [] });
    expect(same.results).toEqual([{ externalId: 'c_1', id: 'crm_contact_1', action: 'updated' }]);

    await bulkJson(s, token, { upserts: [], deletes: ['c_1'] });
    const late = await bulkJson(s, token, { upserts: [upsert('c_1', { sourceUpdatedAt: '2030-01-01T00:00:00Z' })], deletes: [] });
    expect(late.results).toEqual([{ externalId: 'c_1', id: null, action: 'skipped_stale' }]);
    expect(s.crm.contacts()).toEqual([]);
  });

  it('deletes by externalId and reports unknown ones as not_found', async () => {
    const s = await start();
    const token = await crmToken(s);
    await bulkJson(s, token, { upserts: [upsert('c_1'), upsert('c_2')], deletes: [] });
    const result = await bulkJson(s, token, { upserts: [upsert('c_3')], deletes: ['c_1', 'c_404'] });
    expect(result).toEqual({
      upserted: 1,
      deleted: 1,
      batchId: 'crm_bulk_2',
      results: [
        { externalId: 'c_3', id: 'crm_contact_3', action: 'created' },
        { externalId: 'c_1', id: 'crm_contact_1', action: 'deleted' },
        { externalId: 'c_404', id: null, action: 'not_found' },
      ],
    });
    expect(s.crm.contacts().map((contact) => contact.externalId)).toEqual(['c_2', 'c_3']);
  });

  it('accepts 200 items, rejects 201 and an empty request with 400, listing every problem', async () => {
    const s = await start();
    const token = await crmToken(s);
    const upserts = Array.from({ length: 150 }, (_, i) => upsert(`c_${i}`));
    const deletes = Array.from({ length: 50 }, (_, i) => `gone_${i}`);
    expect((await bulkJson(s, token, { upserts, deletes })).upserted).toBe(150);

    const tooMany = await bulk(s, token, { upserts, deletes: [...deletes, 'one-more'] });
    expect(tooMany.status).toBe(400);
    expect(await tooMany.json()).toMatchObject({ error: { code: 'invalid_request', problems: [expect.stringContaining('at most 200')] } });
    const empty = await bulk(s, token, { upserts: [], deletes: [] });
    expect(empty.status).toBe(400);

    const invalid = await bulk(s, token, {
      upserts: [upsert('x', { email: 'nope', status: 'archived', sourceUpdatedAt: 'yesterday', phone: undefined, nickname: 'x' })],
      deletes: [''],
      dryRun: true,
    });
    expect(invalid.status).toBe(400);
    const problems = ((await invalid.json()) as { error: { problems: string[] } }).error.problems.join('\n');
    for (const field of ['upserts.0.email', 'upserts.0.status', 'upserts.0.sourceUpdatedAt', 'upserts.0.phone', 'nickname', 'deletes.0', 'dryRun']) {
      expect(problems).toContain(field);
    }
    expect(s.crm.contacts()).toHaveLength(150);
  });

  it('replays a bulk request for the same Idempotency-Key: applied once, one side effect', async () => {
    const s = await start();
    const token = await crmToken(s);
    const body = { upserts: [upsert('c_1')], deletes: [] };
    const first = await bulk(s, token, body, { 'idempotency-key': 'sync:page-1' });
    const second = await bulk(s, token, body, { 'idempotency-key': 'sync:page-1' });
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe(await first.text());
    expect(s.sideEffects('crm')).toMatchObject([{ type: 'contact_batch', id: 'crm_bulk_1', idempotencyKey: 'sync:page-1' }]);
    const reused = await bulk(s, token, { upserts: [upsert('c_2')], deletes: [] }, { 'idempotency-key': 'sync:page-1' });
    expect(reused.status).toBe(422);
    expect(s.crm.contacts()).toHaveLength(1);
  });

  it('needs contacts:write to write and contacts:read to read; a token without scope gets both', async () => {
    const s = await start();
    const filesOnly = (await (await requestCrmToken(s, undefined, 'grant_type=client_credentials&scope=files:write')).json()) as { access_token: string };
    const denied = await bulk(s, filesOnly.access_token, { upserts: [upsert('c_1')], deletes: [] });
    expect(denied.status).toBe(403);
    expect(await errorCode(denied)).toBe('insufficient_scope');
    const writeOnly = (await (await requestCrmToken(s, undefined, 'grant_type=client_credentials&scope=contacts:write')).json()) as { access_token: string };
    expect((await bulk(s, writeOnly.access_token, { upserts: [upsert('c_1')], deletes: [] })).status).toBe(200);
    expect((await get(`${s.providerUrl('crm')}/contacts`, { authorization: `Bearer ${writeOnly.access_token}` })).status).toBe(403);
    const all = await crmToken(s);
    expect((await get(`${s.providerUrl('crm')}/contacts`, { authorization: `Bearer ${all}` })).status).toBe(200);
    expect((await postJson(`${s.providerUrl('crm')}/contacts/bulk`, { upserts: [upsert('c_2')] })).status).toBe(401);
  });

  it('reset() forgets contacts and the stale-version memory', async () => {
    const s = await start();
    const token = await crmToken(s);
    await bulkJson(s, token, { upserts: [upsert('c_1', { sourceUpdatedAt: '2031-01-01T00:00:00Z' })] });
    s.reset();
    expect(s.crm.contacts()).toEqual([]);
    const again = await bulkJson(s, token, { upserts: [upsert('c_1')] });
    expect(again.results).toEqual([{ externalId: 'c_1', id: 'crm_contact_1', action: 'created' }]);
  });
});
