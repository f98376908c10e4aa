import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { errorCode, get, getAs, postAs, postJson } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42 });
  return sandbox;
}

const message = { to: 'ada@example.com', template: 'order-confirmation', data: { orderId: 'order-1', items: [{ sku: 'SKU-1' }] } };

describe('email sandbox', () => {
  it('queues a message with 202 and lists it', async () => {
    const s = await start();
    const response = await postAs(s, 'email', '/messages', message);
    expect(response.status).toBe(202);
    expect(await response.json()).toMatchObject({ id: 'msg_1', status: 'queued' });
    await postAs(s, 'email', '/messages', { to: 'grace@example.com', template: 'welcome' });
    const list = await getAs(s, 'email', '/messages');
    const { data } = (await list.json()) as { data: unknown[] };
    expect(data).toMatchObject([
      { id: 'msg_1', to: 'ada@example.com', template: 'order-confirmation', data: message.data, status: 'queued' },
      { id: 'msg_2', to: 'grace@example.com', template: 'welcome', data: {} },
    ]);
    expect(s.email.messages()).toHaveLength(2);
    expect(s.sideEffects('email')).toMatchObject([{ type: 'message', id: 'msg_1' }, { type: 'message', id: 'msg_2' }]);
  });

  it('refuses a recipient @invalid.example with 422 invalid_recipient and queues nothing', async () => {
    const s = await start();
    const response = await postAs(s, 'email', '/messages', { ...message, to: 'Nobody@Invalid.Example' });
    expect(response.status).toBe(422);
    expect(await errorCode(response)).toBe('invalid_recipient');
    expect(s.email.messages()).toEqual([]);
  });

  it('rejects an invalid body with 400 invalid_request listing every problem', async () => {
    const s = await start();
    const response = await postAs(s, 'email', '/messages', { to: 'not-an-address', template: '', data: 'x', cc: 'a@example.com' });
    expect(response.status).toBe(400);
    const problems = ((await response.json()) as { error: { problems: string[] } }).error.problems.join('\n');
    for (const field of ['to', 'template', 'data', 'cc']) expect(problems).toContain(field);
  });

  it('replays a message for the same Idempotency-Key: one message queued', async () => {
    const s = await start();
    const first = await postAs(s, 'email', '/messages', message, { 'idempotency-key': 'send-confirmation:exec-1' });
    const second = await postAs(s, 'email', '/messages', message, { 'idempotency-key': 'send-confirmation:exec-1' });
    expect(second.status).toBe(202);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe(await first.text());
    expect(s.email.messages()).toHaveLength(1);
    expect(s.sideEffects('email')).toHaveLength(1);
  });

  it('requires the bearer token, rotates it, and answers health without auth', async () => {
    const s = await start();
    const url = `${s.providerUrl('email')}/messages`;
    expect(await errorCode(await postJson(url, message))).toBe('missing_credentials');
    const old = s.credentials('email');
    s.rotateCredentials('email');
    const withOld = await postJson(url, message, { authorization: `Bearer ${old.token}` });
    expect(withOld.status).toBe(401);
    expect(await errorCode(withOld)).toBe('invalid_credentials');
    expect((await postAs(s, 'email', '/messages', message)).status).toBe(202);
    expect((await get(url)).status).toBe(401);
    expect(await (await get(`${s.providerUrl('email')}/health`)).json()).toEqual({ status: 'ok' });
  });
});
