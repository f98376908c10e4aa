import { afterEach, describe, expect, it } from 'vitest';
import { type Sandbox, type SourceContact, startSandbox } from '../../../local/sandbox/index.js';
import { errorCode, get, getAs, manualClock } from './helpers.js';

let sandbox: Sandbox | undefined;
afterEach(async () => {
  await sandbox?.close();
  sandbox = undefined;
});

const START = '2030-01-01T00:00:00.000Z';

async function start(options: Parameters<typeof startSandbox>[0] = {}): Promise<Sandbox> {
  sandbox = await startSandbox({ seed: 42, ...options });
  return sandbox;
}

interface Page {
  contacts: SourceContact[];
  next_cursor: string | null;
  has_more: boolean;
}

async function page(s: Sandbox, query: Record<string, string>): Promise<Page> {
  const response = await getAs(s, 'contacts', `/changes?${new URLSearchParams(query).toString()}`);
  expect(response.status).toBe(200);
  return (await response.json()) as Page;
}

/** Follows next_cursor from `since` to the end; `between` runs after each page but the last. */
async function drain(s: Sandbox, since: string, limit: number, between?: (pageIndex: number) => void): Promise<Page[]> {
  const pages: Page[] = [];
  let cursor: string | null = null;
  do {
    const current = await page(s, { since, limit: String(limit), ...(cursor ? { cursor } : {}) });
    pages.push(current);
    cursor = current.next_cursor;
    if (cursor) between?.(pages.length - 1);
  } while (cursor);
  return pages;
}

const ids = (contacts: readonly SourceContact[]): string[] => contacts.map((contact) => contact.id);

describe('contacts source: seeding and changes through the accessor', () => {
  it('seeds contacts deterministically, with missing phones, missing names and display_name-only contacts', async () => {
    const s = await start();
    const seeded = s.contacts.seed(200, { startAt: START });
    const other = await startSandbox({ seed: 42 });
    try {
      expect(other.contacts.seed(200, { startAt: START })).toEqual(seeded);
    } finally {
      await other.close();
    }
    expect(seeded[0]).toMatchObject({ id: 'c_000001', updated_at: START, deleted: false });
    expect(seeded[1]?.updated_at).toBe('2030-01-01T00:00:01.000Z');
    expect(seeded.some((contact) => !('phone' in contact))).toBe(true);
    expect(seeded.some((contact) => contact.phone === null)).toBe(true);
    expect(seeded.some((contact) => !contact.first_name && !contact.last_name && !contact.display_name)).toBe(true);
    expect(seeded.some((contact) => !contact.first_name && !contact.last_name && contact.display_name)).toBe(true);
    expect(seeded.some((contact) => !('first_name' in contact))).toBe(true);
    expect(seeded.some((contact) => !contact.active)).toBe(true);
    expect(seeded.every((contact) => /^[^@\s]+@example\.com$/.test(contact.email_address))).toBe(true);
    s.reset();
    expect(s.contacts.all()).toEqual([]);
    expect(s.contacts.seed(200, { startAt: START })).toEqual(seeded);
  });

  it('gives every change a strictly later updated_at, even when the clock does not move', async () => {
    const clock = manualClock(Date.parse(START));
    const s = await start({ now: clock.now });
    const a = s.contacts.upsert({ email_address: 'a@example.com', first_name: 'A' });
    const b = s.contacts.upsert({ email_address: 'b@example.com' });
    const a2 = s.contacts.upsert({ id: a.id, phone: '+1 555 0100' });
    expect([a.updated_at, b.updated_at, a2.updated_at]).toEqual(['2030-01-01T00:00:00.000Z', '2030-01-01T00:00:00.001Z', '2030-01-01T00:00:00.002Z']);
    expect(a2).toMatchObject({ id: a.id, email_address: 'a@example.com', first_name: 'A', phone: '+1 555 0100' });
    clock.advance(10_000);
    const gone = s.contacts.delete(b.id);
    expect(gone).toMatchObject({ id: b.id, deleted: true, updated_at: '2030-01-01T00:00:10.000Z' });
    expect(s.contacts.delete(b.id)).toEqual(gone);
    expect(ids(s.contacts.all())).toEqual([a.id, b.id]);
    expect(ids(s.contacts.live())).toEqual([a.id]);
    const removedField = s.contacts.upsert({ id: a.id, first_name: undefined, last_name: null });
    expect('first_name' in removedField).toBe(false);
    expect(removedField.last_name).toBeNull();
    expect(() => s.contacts.delete('c_999999')).toThrow(/no contact/);
  });
});

describe('contacts source: GET /changes', () => {
  it('pages through every change exactly once, in (updated_at, id) order', async () => {
    const s = await start();
    s.contacts.seed(120, { startAt: START });
    const pages = await drain(s, '', 50);
    expect(pages.map((p) => [p.contacts.length, p.has_more, p.next_cursor === null])).toEqual([
      [50, true, false],
      [50, true, false],
      [20, false, true],
    ]);
    expect(pages.flatMap((p) => ids(p.contacts))).toEqual(ids(s.contacts.all()));
  });

  it('uses limit 50 by default and returns the stored records as they are', async () => {
    const s = await start();
    const seeded = s.contacts.seed(60, { startAt: START });
    const first = await page(s, {});
    expect(first.contacts).toHaveLength(50);
    expect(first.contacts).toEqual(seeded.slice(0, 50));
  });

  it('returns only changes strictly after since', async () => {
    const s = await start();
    const seeded = s.contacts.seed(20, { startAt: START });
    const since = seeded[9]?.updated_at ?? '';
    const after = await page(s, { since, limit: '200' });
    expect(ids(after.contacts)).toEqual(ids(seeded.slice(10)));
    const offset = await page(s, { since: '2030-01-01T01:00:09.500+01:00', limit: '200' });
    expect(ids(offset.contacts)).toEqual(ids(seeded.slice(10)));
    const everything = await page(s, { since: '', limit: '200' });
    expect(everything.contacts).toHaveLength(20);
    const none = await page(s, { since: seeded[19]?.updated_at ?? '' });
    expect(none).toEqual({ contacts: [], next_cursor: null, has_more: false });
  });

  it('never skips a change made between pages: changed contacts move behind the cursor and show up later', async () => {
    const clock = manualClock(Date.parse(START));
    const s = await start({ now: clock.now });
    const seeded = s.contacts.seed(30, { startAt: START });
    clock.advance(60_000);
    const [seen, unseen, deletedUnseen] = [seeded[4]!.id, seeded[24]!.id, seeded[14]!.id];
    const pages = await drain(s, '', 10, (index) => {
      if (index !== 0) return;
      s.contacts.upsert({ id: seen, phone: '+49 30 1111111' });
      s.contacts.upsert({ id: unseen, active: false });
      s.contacts.delete(deletedUnseen);
      s.contacts.upsert({ email_address: 'new@example.com' });
    });
    const order = pages.flatMap((p) => ids(p.contacts));
    // Page 1 saw the first 10 as seeded; the rest of the original rows, minus the moved ones, follow in order,
    // then the four changes in the order they were made.
    const untouched = ids(seeded.slice(10)).filter((id) => id !== unseen && id !== deletedUnseen);
    expect(order).toEqual([...ids(seeded.slice(0, 10)), ...untouched, seen, unseen, deletedUnseen, 'c_000031']);
    const tail = pages.flatMap((p) => p.contacts).slice(-4);
    expect(tail.map((c) => [c.id, c.deleted])).toEqual([
      [seen, false],
      [unseen, false],
      [deletedUnseen, true],
      ['c_000031', false],
    ]);
    expect(tail[0]?.phone).toBe('+49 30 1111111');
    // Every contact's latest state was delivered.
    const latest = new Map(pages.flatMap((p) => p.contacts).map((contact) => [contact.id, contact]));
    expect([...latest.values()].sort((a, b) => (a.id < b.id ? -1 : 1))).toEqual([...s.contacts.all()].sort((a, b) => (a.id < b.id ? -1 : 1)));
  });

  it('answers 400 invalid_cursor for a cursor it did not issue, and 400 invalid_request for bad since, limit or parameters', async () => {
    const s = await start();
    s.contacts.seed(5, { startAt: START });
    const url = (query: string): Promise<Response> => getAs(s, 'contacts', `/changes?${query}`);
    for (const cursor of ['garbage!', 'bm90LWpzb24', Buffer.from(JSON.stringify({ v: 1, t: 'x', id: 'c_1' })).toString('base64url')]) {
      const response = await url(`cursor=${encodeURIComponent(cursor)}`);
      expect(response.status).toBe(400);
      expect(await errorCode(response)).toBe('invalid_cursor');
    }
    for (const query of ['limit=0', 'limit=201', 'limit=ten', 'since=yesterday', 'since=2030-01-01T00:00:00', 'page=2', 'limit=5&limit=6']) {
      const response = await url(query);
      expect(response.status, query).toBe(400);
      expect(await errorCode(response)).toBe('invalid_request');
    }
    expect((await url('limit=200')).status).toBe(200);
    expect((await url('limit=1')).status).toBe(200);
  });

  it('has no side effects, requires the bearer token, and answers health without auth', async () => {
    const s = await start();
    s.contacts.seed(3, { startAt: START });
    await page(s, {});
    expect(s.sideEffects('contacts')).toEqual([]);
    expect(s.journal.entries({ provider: 'contacts' })).toMatchObject([{ sideEffect: false, status: 200 }]);
    const url = `${s.providerUrl('contacts')}/changes`;
    expect(await errorCode(await get(url))).toBe('missing_credentials');
    const old = s.credentials('contacts');
    s.rotateCredentials('contacts');
    expect(await errorCode(await get(url, { authorization: `Bearer ${old.token}` }))).toBe('invalid_credentials');
    expect((await get(`${s.providerUrl('contacts')}/health`)).status).toBe(200);
  });
});
