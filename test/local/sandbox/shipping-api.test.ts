import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { basicAuth, errorCode, get, getAs, postAs, postJson, shipmentBody } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

async function start(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42, ...options });
  return sandbox;
}

describe('shipping sandbox: shipments', () => {
  it('creates a shipment with 201, a tracking number and a carrier', async () => {
    const s = await start();
    const response = await postAs(s, 'shipping', '/shipments', shipmentBody({}, { line2: 'Flat 3' }));
    expect(response.status).toBe(201);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({ id: 'shp_1', orderId: 'order-1001', status: 'created', carrier: 'sandbox-post' });
    expect(body.trackingNumber).toMatch(/^TRK\d{10}$/);
    expect(s.shipping.shipment('shp_1')).toMatchObject({ address: { line2: 'Flat 3', country: 'GB' }, items: [{ sku: 'SKU-1', quantity: 2 }] });
    const read = await getAs(s, 'shipping', '/shipments/shp_1');
    expect(await read.json()).toMatchObject({ id: 'shp_1', status: 'created', trackingNumber: body.trackingNumber });
    expect((await getAs(s, 'shipping', '/shipments/shp_9')).status).toBe(404);
  });

  it('derives tracking numbers from the seed, and repeats them after reset()', async () => {
    const s = await start();
    const numbers = async (): Promise<unknown[]> => {
      const out: unknown[] = [];
      for (let i = 0; i < 3; i++) out.push(((await (await postAs(s, 'shipping', '/shipments', shipmentBody())).json()) as { trackingNumber: string }).trackingNumber);
      return out;
    };
    const first = await numbers();
    expect(new Set(first).size).toBe(3);
    s.reset();
    expect(await numbers()).toEqual(first);
  });

  it('refuses postal code 00000 with 422 address_undeliverable and creates nothing', async () => {
    const s = await start();
    const response = await postAs(s, 'shipping', '/shipments', shipmentBody({}, { postalCode: '00000' }), { 'idempotency-key': 'ship:1' });
    expect(response.status).toBe(422);
    expect(await errorCode(response)).toBe('address_undeliverable');
    expect(s.shipping.shipments()).toEqual([]);
    // A business refusal is saved against the key like any executed request.
    const retry = await postAs(s, 'shipping', '/shipments', shipmentBody({}, { postalCode: '00000' }), { 'idempotency-key': 'ship:1' });
    expect(retry.status).toBe(422);
    expect(retry.headers.get('idempotent-replayed')).toBe('true');
  });

  it('rejects an invalid body with 400 invalid_request listing every problem', async () => {
    const s = await start();
    const response = await postAs(s, 'shipping', '/shipments', shipmentBody({ items: [], gift: true }, { country: 'GBR', city: undefined }));
    expect(response.status).toBe(400);
    const problems = ((await response.json()) as { error: { problems: string[] } }).error.problems.join('\n');
    for (const field of ['items', 'gift', 'address.country', 'address.city']) expect(problems).toContain(field);
    expect(s.shipping.shipments()).toEqual([]);
  });

  it('replays a shipment for the same Idempotency-Key: one shipment, one side effect', async () => {
    const s = await start();
    const first = await postAs(s, 'shipping', '/shipments', shipmentBody(), { 'idempotency-key': 'create-shipment:exec-1' });
    const second = await postAs(s, 'shipping', '/shipments', shipmentBody(), { 'idempotency-key': 'create-shipment:exec-1' });
    expect(second.headers.get('idempotent-replayed')).toBe('true');
    expect(await second.text()).toBe(await first.text());
    expect(s.shipping.shipments()).toHaveLength(1);
    expect(s.sideEffects('shipping')).toMatchObject([{ type: 'shipment', id: 'shp_1', idempotencyKey: 'create-shipment:exec-1' }]);
  });
});

describe('shipping sandbox: lookup by Idempotency-Key or order', () => {
  it('lists the shipments made with an Idempotency-Key (a replay adds none) or for an order, oldest first', async () => {
    const s = await start();
    await postAs(s, 'shipping', '/shipments', shipmentBody(), { 'idempotency-key': 'create-shipment:exec-1' });
    await postAs(s, 'shipping', '/shipments', shipmentBody(), { 'idempotency-key': 'create-shipment:exec-1' });
    await postAs(s, 'shipping', '/shipments', shipmentBody({ orderId: 'order-2' }), { 'idempotency-key': 'create-shipment:exec-2' });
    await postAs(s, 'shipping', '/shipments', shipmentBody({ orderId: 'order-2' }));
    expect(s.shipping.shipments().map((shipment) => [shipment.id, shipment.idempotencyKey])).toEqual([
      ['shp_1', 'create-shipment:exec-1'],
      ['shp_2', 'create-shipment:exec-2'],
      ['shp_3', null],
    ]);

    const byKey = await getAs(s, 'shipping', `/shipments?idempotencyKey=${encodeURIComponent('create-shipment:exec-1')}`);
    expect(byKey.status).toBe(200);
    const found = (await byKey.json()) as { data: Record<string, unknown>[] };
    expect(found).toEqual({ data: [expect.objectContaining({ id: 'shp_1', orderId: 'order-1001', status: 'created', trackingNumber: s.shipping.shipment('shp_1')?.trackingNumber })] });
    const byOrder = (await (await getAs(s, 'shipping', '/shipments?orderId=order-2')).json()) as { data: { id: string }[] };
    expect(byOrder.data.map((shipment) => shipment.id)).toEqual(['shp_2', 'shp_3']);
    const both = (await (await getAs(s, 'shipping', '/shipments?orderId=order-2&idempotencyKey=create-shipment:exec-2')).json()) as { data: { id: string }[] };
    expect(both.data.map((shipment) => shipment.id)).toEqual(['shp_2']);
    expect(await (await getAs(s, 'shipping', '/shipments?idempotencyKey=create-shipment:never')).json()).toEqual({ data: [] });

    // A cancelled shipment is still listed, with its status.
    await postAs(s, 'shipping', '/shipments/shp_1/cancel', {});
    expect(await (await getAs(s, 'shipping', '/shipments?idempotencyKey=create-shipment:exec-1')).json()).toEqual({
      data: [expect.objectContaining({ id: 'shp_1', status: 'cancelled' })],
    });
    // A lookup is not a side effect.
    expect(s.sideEffects('shipping').map((effect) => effect.type)).toEqual(['shipment', 'shipment', 'shipment', 'cancellation']);
  });

  it('answers 400 invalid_request without idempotencyKey or orderId, and 401 without credentials', async () => {
    const s = await start();
    const neither = await getAs(s, 'shipping', '/shipments');
    expect(neither.status).toBe(400);
    const body = (await neither.json()) as { error: { code: string; problems: string[] } };
    expect(body.error).toMatchObject({ code: 'invalid_request', problems: ['idempotencyKey or orderId: one is required'] });
    const anonymous = await get(`${s.providerUrl('shipping')}/shipments?orderId=order-1001`);
    expect(anonymous.status).toBe(401);
    expect(await errorCode(anonymous)).toBe('missing_credentials');
  });
});

describe('shipping sandbox: cancel', () => {
  it('cancels with 200 and answers the same body when cancelled again', async () => {
    const s = await start();
    await postAs(s, 'shipping', '/shipments', shipmentBody());
    const first = await postAs(s, 'shipping', '/shipments/shp_1/cancel', { reason: 'order_cancelled' });
    expect(first.status).toBe(200);
    const firstBody = (await first.json()) as Record<string, unknown>;
    expect(firstBody).toMatchObject({ id: 'shp_1', status: 'cancelled' });
    const again = await postAs(s, 'shipping', '/shipments/shp_1/cancel', {});
    expect(again.status).toBe(200);
    expect(await again.json()).toEqual(firstBody);
    expect(s.shipping.shipment('shp_1')).toMatchObject({ status: 'cancelled', cancelReason: 'order_cancelled' });
    expect(s.sideEffects('shipping').map((effect) => effect.type)).toEqual(['shipment', 'cancellation']);
  });

  it('answers 404 for an unknown shipment', async () => {
    const s = await start();
    const response = await postAs(s, 'shipping', '/shipments/shp_404/cancel', {});
    expect(response.status).toBe(404);
    expect(await errorCode(response)).toBe('not_found');
  });
});

describe('shipping sandbox: auth and health', () => {
  it('requires HTTP Basic: none gives 401 with a Basic challenge, a wrong or rotated password 401 invalid_credentials', async () => {
    const s = await start();
    const url = `${s.providerUrl('shipping')}/shipments`;
    const none = await postJson(url, shipmentBody());
    expect(none.status).toBe(401);
    expect(none.headers.get('www-authenticate')).toBe('Basic realm="shipping"');
    expect(await errorCode(none)).toBe('missing_credentials');
    const old = s.credentials('shipping');
    const bearer = await postJson(url, shipmentBody(), { authorization: `Bearer ${old.password}` });
    expect(await errorCode(bearer)).toBe('invalid_credentials');

    const rotated = s.rotateCredentials('shipping');
    expect(rotated.username).toBe(old.username);
    expect(rotated.password).not.toBe(old.password);
    const withOld = await postJson(url, shipmentBody(), { authorization: basicAuth(old.username, old.password) });
    expect(withOld.status).toBe(401);
    expect(await errorCode(withOld)).toBe('invalid_credentials');
    expect((await postAs(s, 'shipping', '/shipments', shipmentBody())).status).toBe(201);
    expect(s.shipping.shipments()).toHaveLength(1);
  });

  it('answers the health probe without auth', async () => {
    const s = await start();
    expect(await (await get(`${s.providerUrl('shipping')}/health`)).json()).toEqual({ status: 'ok' });
  });
});
