import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { errorCode, get, getAs, postAs, postJson } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42, ...options });
  return sandbox;
}

function reservationBody(items: { sku: string; quantity: number }[] = [{ sku: 'SKU-1', quantity: 3 }], orderId = 'order-1'): Record<string, unknown> {
  return { orderId, items };
}

describe('inventory sandbox: reservations', () => {
  it('starts with SKU-1..SKU-5 at 100 units each', async () => {
    const s = await start();
    expect(s.inventory.stockLevels()).toEqual(['SKU-1', 'SKU-2', 'SKU-3', 'SKU-4', 'SKU-5'].map((sku) => ({ sku, available: 100, reserved: 0 })));
  });

  it('reserves stock with 201 and moves it from available to reserved', async () => {
    const s = await start();
    const items = [
      { sku: 'SKU-1', quantity: 3 },
      { sku: 'SKU-2', quantity: 1 },
    ];
    const response = await postAs(s, 'inventory', '/reservations', reservationBody(items));
    expect(response.status).toBe(201);
    expect(await response.json()).toMatchObject({ id: 'res_1', orderId: 'order-1', status: 'reserved', items });
    expect(s.inventory.stock('SKU-1')).toEqual({ sku: 'SKU-1', available: 97, reserved: 3 });
    const stock = await getAs(s, 'inventory', '/stock/SKU-2');
    expect(await stock.json()).toEqual({ sku: 'SKU-2', available: 99, reserved: 1 });
    const read = await getAs(s, 'inventory', '/reservations/res_1');
    expect(await read.json()).toMatchObject({ id: 'res_1', status: 'reserved', items });
    expect(s.sideEffects('inventory')).toMatchObject([{ type: 'reservation', id: 'res_1' }]);
  });

  it('refuses with 409 insufficient_stock when any SKU lacks stock, and reserves nothing', async () => {
    const s = await start();
    s.inventory.setStock('SKU-2', 1);
    const response = await postAs(s, 'inventory', '/reservations', reservationBody([
      { sku: 'SKU-1', quantity: 5 },
      { sku: 'SKU-2', quantity: 2 },
    ]));
    expect(response.status).toBe(409);
    const body = (await response.json()) as { error: { code: string; shortages: unknown[] } };
    expect(body.error.code).toBe('insufficient_stock');
    expect(body.error.shortages).toEqual([{ sku: 'SKU-2', requested: 2, available: 1 }]);
    expect(s.inventory.stock('SKU-1')).toMatchObject({ available: 100, reserved: 0 });
    expect(s.inventory.stock('SKU-2')).toMatchObject({ available: 1, reserved: 0 });
    expect(s.inventory.reservations()).toEqual([]);
    expect(s.sideEffects('inventory')).toEqual([]);
  });

  it('adds up the quantities of a SKU listed twice before checking stock', async () => {
    const s = await start();
    s.inventory.setStock('SKU-3', 5);
    const response = await postAs(s, 'inventory', '/reservations', reservationBody([
      { sku: 'SKU-3', quantity: 3 },
      { sku: 'SKU-3', quantity: 3 },
    ]));
    expect(response.status).toBe(409);
    expect(s.inventory.stock('SKU-3')).toMatchObject({ available: 5, reserved: 0 });
  });

  it('answers 400 unknown_sku for a SKU it does not stock, and reserves nothing', async () => {
    const s = await start();
    const response = await postAs(s, 'inventory', '/reservations', reservationBody([
      { sku: 'SKU-1', quantity: 1 },
      { sku: 'SKU-404', quantity: 1 },
    ]));
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ error: { code: 'unknown_sku', skus: ['SKU-404'] } });
    expect(s.inventory.stock('SKU-1')).toMatchObject({ available: 100, reserved: 0 });
  });

  it('rejects an invalid body with 400 invalid_request listing every problem', async () => {
    const s = await start();
    const response = await postAs(s, 'inventory', '/reservations', { items: [{ sku: 'SKU-1', quantity: 0 }, { sku: '', quantity: 1.5 }], note: 'x' });
    expect(response.status).toBe(400);
    const body = (await response.json()) as { error: { code: string; problems: string[] } };
    expect(body.error.code).toBe('invalid_request');
    const problems = body.error.problems.join('\n');
    for (const field of ['orderId', 'items.0.quantity', 'items.1.sku', 'items.1.quantity', 'note']) expect(problems).toContain(field);
    expect((await postAs(s, 'inventory', '/reservations', reservationBody([]))).status).toBe(400);
  });

  it('replays a reservation for the same Idempotency-Key: one reservation, stock moved once', async () => {
    const s = await start();
    const first = await postAs(s, 'inventory', '/reservations', reservationBody(), { 'idempotency-key': 'reserve:exec-1' });
    const second = await postAs(s, 'inventory', '/reservations', reservationBody(), { 'idempotency-key': 'reserve:exec-1' });
    expect(second.status).toBe(201);
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe(await first.text());
    expect(s.inventory.reservations()).toHaveLength(1);
    expect(s.inventory.stock('SKU-1')).toMatchObject({ available: 97, reserved: 3 });
    expect(s.sideEffects('inventory')).toHaveLength(1);
    const reused = await postAs(s, 'inventory', '/reservations', reservationBody(undefined, 'order-2'), { 'idempotency-key': 'reserve:exec-1' });
    expect(reused.status).toBe(422);
  });
});

describe('inventory sandbox: lookup by Idempotency-Key or order', () => {
  it('lists the reservations made with an Idempotency-Key (a replay adds none) or for an order, oldest first', async () => {
    const s = await start();
    await postAs(s, 'inventory', '/reservations', reservationBody(), { 'idempotency-key': 'reserve-inventory:exec-1' });
    await postAs(s, 'inventory', '/reservations', reservationBody(), { 'idempotency-key': 'reserve-inventory:exec-1' });
    await postAs(s, 'inventory', '/reservations', reservationBody(undefined, 'order-2'), { 'idempotency-key': 'reserve-inventory:exec-2' });
    await postAs(s, 'inventory', '/reservations', reservationBody(undefined, 'order-2'));
    expect(s.inventory.reservations().map((r) => [r.id, r.idempotencyKey])).toEqual([
      ['res_1', 'reserve-inventory:exec-1'],
      ['res_2', 'reserve-inventory:exec-2'],
      ['res_3', null],
    ]);

    const byKey = await getAs(s, 'inventory', `/reservations?idempotencyKey=${encodeURIComponent('reserve-inventory:exec-1')}`);
    expect(byKey.status).toBe(200);
    expect(await byKey.json()).toEqual({ data: [expect.objectContaining({ id: 'res_1', orderId: 'order-1', status: 'reserved', items: [{ sku: 'SKU-1', quantity: 3 }] })] });
    const byOrder = (await (await getAs(s, 'inventory', '/reservations?orderId=order-2')).json()) as { data: { id: string }[] };
    expect(byOrder.data.map((r) => r.id)).toEqual(['res_2', 'res_3']);
    const both = (await (await getAs(s, 'inventory', '/reservations?orderId=order-2&idempotencyKey=reserve-inventory:exec-2')).json()) as { data: { id: string }[] };
    expect(both.data.map((r) => r.id)).toEqual(['res_2']);
    expect(await (await getAs(s, 'inventory', '/reservations?idempotencyKey=reserve-inventory:never')).json()).toEqual({ data: [] });

    // A released reservation is still listed, with its status.
    await postAs(s, 'inventory', '/reservations/res_1/release', {});
    expect(await (await getAs(s, 'inventory', '/reservations?idempotencyKey=reserve-inventory:exec-1')).json()).toEqual({
      data: [expect.objectContaining({ id: 'res_1', status: 'released' })],
    });
    // A lookup is not a side effect.
    expect(s.sideEffects('inventory').map((effect) => effect.type)).toEqual(['reservation', 'reservation', 'reservation', 'release']);
  });

  it('answers 400 invalid_request without idempotencyKey or orderId, and 401 without the API key', async () => {
    const s = await start();
    const neither = await getAs(s, 'inventory', '/reservations');
    expect(neither.status).toBe(400);
    const body = (await neither.json()) as { error: { code: string; problems: string[] } };
    expect(body.error).toMatchObject({ code: 'invalid_request', problems: ['idempotencyKey or orderId: one is required'] });
    const anonymous = await get(`${s.providerUrl('inventory')}/reservations?orderId=order-1`);
    expect(anonymous.status).toBe(401);
    expect(await errorCode(anonymous)).toBe('missing_credentials');
  });
});

describe('inventory sandbox: release', () => {
  it('releases a reservation with 200, returns the stock, and answers the same body when released again', async () => {
    const s = await start();
    await postAs(s, 'inventory', '/reservations', reservationBody());
    const first = await postAs(s, 'inventory', '/reservations/res_1/release', { reason: 'order_cancelled' });
    expect(first.status).toBe(200);
    const firstBody = (await first.json()) as Record<string, unknown>;
    expect(firstBody).toMatchObject({ id: 'res_1', status: 'released' });
    expect(s.inventory.stock('SKU-1')).toMatchObject({ available: 100, reserved: 0 });

    const again = await postAs(s, 'inventory', '/reservations/res_1/release', {});
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(firstBody);
    expect(s.inventory.stock('SKU-1')).toMatchObject({ available: 100, reserved: 0 });
    expect(s.inventory.reservation('res_1')).toMatchObject({ status: 'released', releaseReason: 'order_cancelled' });
    expect(s.sideEffects('inventory').map((effect) => effect.type)).toEqual(['reservation', 'release']);
  });

  it('takes a release without any body', async () => {
    const s = await start();
    await postAs(s, 'inventory', '/reservations', reservationBody());
    const response = await fetch(`${s.providerUrl('inventory')}/reservations/res_1/release`, {
      method: 'POST',
      headers: { 'x-api-key': s.credentials('inventory').apiKey },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ status: 'released' });
  });

  it('answers 404 for an unknown reservation and 400 for an unknown body field', async () => {
    const s = await start();
    const unknown = await postAs(s, 'inventory', '/reservations/res_99/release', {});
    expect(unknown.status).toBe(404);
    expect(await errorCode(unknown)).toBe('not_found');
    await postAs(s, 'inventory', '/reservations', reservationBody());
    expect((await postAs(s, 'inventory', '/reservations/res_1/release', { force: true })).status).toBe(400);
    expect(s.inventory.reservation('res_1')?.status).toBe('reserved');
    expect((await getAs(s, 'inventory', '/reservations/res_99')).status).toBe(404);
    expect((await getAs(s, 'inventory', '/stock/SKU-404')).status).toBe(404);
  });
});

describe('inventory sandbox: auth, health, reset', () => {
  it('requires the X-Api-Key header: none gives 401 missing_credentials, a wrong or rotated key 401 invalid_credentials', async () => {
    const s = await start();
    const none = await postJson(`${s.providerUrl('inventory')}/reservations`, reservationBody());
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toMatch(/^ApiKey/);
    expect(await errorCode(none)).toBe('missing_credentials');
    const wrong = await postJson(`${s.providerUrl('inventory')}/reservations`, reservationBody(), { 'x-api-key': 'inv_key_wrong' });
    expect(await errorCode(wrong)).toBe('invalid_credentials');

    const old = s.credentials('inventory');
    const rotated = s.rotateCredentials('inventory');
    expect(rotated.apiKey).toMatch(/^inv_key_\w{24}$/);
    const withOld = await postJson(`${s.providerUrl('inventory')}/reservations`, reservationBody(), { 'x-api-key': old.apiKey });
    expect(withOld.status).toBe(401);
    expect((await postAs(s, 'inventory', '/reservations', reservationBody())).status).toBe(201);
    expect(s.inventory.reservations()).toHaveLength(1);
    // The key is never journaled, only the scheme.
    expect(JSON.stringify(s.journal.entries())).not.toContain(rotated.apiKey);
    expect(s.journal.entries({ status: 201 })[0]?.authScheme).toBe('ApiKey');
  });

  it('answers the health probe without auth, and faults apply to it', async () => {
    const s = await start();
    const health = await get(`${s.providerUrl('inventory')}/health`);
    expect(await health.json()).toEqual({ status: 'ok' });
    s.setFaults('inventory', { status: 503 });
    expect((await get(`${s.providerUrl('inventory')}/health`)).status).toBe(503);
  });

  it('reset() restores the initial stock and forgets reservations; initialStock is configurable', async () => {
    const s = await start({ providers: { inventory: { initialStock: { 'SKU-A': 2 } } } });
    expect(s.inventory.stockLevels()).toEqual([{ sku: 'SKU-A', available: 2, reserved: 0 }]);
    await postAs(s, 'inventory', '/reservations', reservationBody([{ sku: 'SKU-A', quantity: 2 }]));
    s.inventory.setStock('SKU-B', 7);
    s.reset();
    expect(s.inventory.stockLevels()).toEqual([{ sku: 'SKU-A', available: 2, reserved: 0 }]);
    expect(s.inventory.reservations()).toEqual([]);
    expect(await (await postAs(s, 'inventory', '/reservations', reservationBody([{ sku: 'SKU-A', quantity: 1 }]))).json()).toMatchObject({ id: 'res_1' });
  });
});
