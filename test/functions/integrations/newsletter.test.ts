import { describe, expect, it } from 'vitest';
import { parse, safeParse } from 'zod/mini';
import { customerSubscribedSchema, DEFAULT_LIST, newsletter, toNewsletterSubscriber } from '../../../functions/integrations/newsletter.js';
import { checkSchema } from '../../../functions/runtime/schema.js';
import { INTEGRATIONS } from '../../../lib/catalog.js';
import { sendWith } from '../../support/adapter-test-kit.js';

const event = parse(customerSubscribedSchema, {
  customerId: 'cus_ana',
  version: 2,
  email: 'Ana@Example.COM',
  list: 'weekly-digest',
  firstName: '  Ana ',
  subscribedAt: '2026-12-01T10:00:00+01:00',
});

describe('newsletter adapter', () => {
  it('maps a subscription to the platform subscriber: lower-case e-mail, trimmed name, consent time in UTC', () => {
    expect(toNewsletterSubscriber(event)).toEqual({
      externalRef: 'cus_ana',
      list: 'weekly-digest',
      email: 'ana@example.com',
      firstName: 'Ana',
      status: 'subscribed',
      consentedAt: '2026-12-01T09:00:00.000Z',
    });
  });

  it('subscribes to the default list when the event names none', () => {
    const { list: _list, firstName: _firstName, ...bare } = event;
    expect(toNewsletterSubscriber(bare)).toMatchObject({ list: DEFAULT_LIST, firstName: null });
    expect(newsletter.definition.idempotencyKey(bare)).toBe(`subscriber:${DEFAULT_LIST}:cus_ana:v2`);
  });

  it('keys each operation by list, customer and version, and records the subscription per list in the ledger', () => {
    expect(newsletter.definition.idempotencyKey(event)).toBe('subscriber:weekly-digest:cus_ana:v2');
    expect(newsletter.definition.idempotencyKey({ ...event, list: 'product-news' })).not.toBe(newsletter.definition.idempotencyKey(event));
    expect(newsletter.definition.entity(event)).toEqual({ type: 'subscriber', id: 'weekly-digest:cus_ana', version: 2 });
  });

  it('refuses an event without a valid e-mail or with a malformed list id (poison: DLQ with the reason)', () => {
    const result = safeParse(customerSubscribedSchema, { ...event, email: 'nope', list: 'Weekly Digest' });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((issue) => issue.path.join('.'))).toEqual(expect.arrayContaining(['email', 'list']));
  });

  it('posts the subscriber and keeps the platform id; a 2xx without an id is a malformed answer', async () => {
    const { result, requests } = await sendWith(newsletter.definition, event, { status: 201, body: { id: 'sub_1' } });
    expect(requests.map(({ schema: _schema, ...request }) => request)).toEqual([{ method: 'POST', path: '/subscribers', body: toNewsletterSubscriber(event) }]);
    expect(result).toEqual({ externalId: 'sub_1' });
    const schema = requests[0]?.schema;
    expect(checkSchema(schema!, { ok: true }).success).toBe(false);
  });

  it('is shipped on the refresh-token scheme, asking only for the scope that adds subscribers', () => {
    expect(INTEGRATIONS.find((entry) => entry.name === 'newsletter')?.auth).toEqual({
      scheme: 'oauth2_refresh_token',
      tokenUrl: '/oauth/token',
      scopes: ['subscribers:write'],
    });
  });
});
