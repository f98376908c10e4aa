import { describe, expect, it } from 'vitest';
import { type ContactChange, nextPosition, pageIdempotencyKey, toCrmBatch, toCrmContact } from '../../../functions/workflows/contact-sync.js';

const change = (overrides: Partial<ContactChange> & { id: string }): ContactChange => ({
  email_address: 'ada.lovelace@example.com',
  active: true,
  updated_at: '2030-01-01T00:00:00.000Z',
  deleted: false,
  ...overrides,
});

describe('contact mapping', () => {
  it('maps the source fields to the CRM contact', () => {
    expect(toCrmContact(change({ id: 'c1', first_name: 'Ada', last_name: 'Lovelace', phone: '+44 1', active: false }))).toEqual({
      externalId: 'c1',
      email: 'ada.lovelace@example.com',
      name: 'Ada Lovelace',
      phone: '+44 1',
      status: 'inactive',
      sourceUpdatedAt: '2030-01-01T00:00:00.000Z',
    });
  });

  it('names a contact by first and last name, else display name, else the e-mail local part', () => {
    expect(toCrmContact(change({ id: 'c', first_name: 'Ada', last_name: null, display_name: 'A. L.' }))?.name).toBe('Ada');
    expect(toCrmContact(change({ id: 'c', first_name: null, last_name: ' ', display_name: 'A. L.' }))?.name).toBe('A. L.');
    expect(toCrmContact(change({ id: 'c', display_name: null }))?.name).toBe('ada.lovelace');
  });

  it('sends null for a missing or empty phone', () => {
    expect(toCrmContact(change({ id: 'c' }))?.phone).toBeNull();
    expect(toCrmContact(change({ id: 'c', phone: null }))?.phone).toBeNull();
    expect(toCrmContact(change({ id: 'c', phone: '' }))?.phone).toBeNull();
  });

  it('splits tombstones into deletes and keeps only the latest change of a contact in one page', () => {
    const batch = toCrmBatch([
      change({ id: 'c1', updated_at: '2030-01-01T00:00:01.000Z' }),
      change({ id: 'c2', deleted: true, email_address: null }),
      change({ id: 'c1', updated_at: '2030-01-01T00:00:02.000Z', deleted: true }),
      change({ id: 'c3', email_address: '' }),
    ]);

    expect(batch).toEqual({ upserts: [], deletes: ['c1', 'c2'], unmappable: ['c3'] });
  });
});

describe('checkpoint positions', () => {
  const changes = [change({ id: 'a', updated_at: '2030-01-01T00:00:05.000Z' }), change({ id: 'b', updated_at: '2030-01-01T00:00:09.000Z' })];

  it('keeps the watermark and moves the cursor while the source has more', () => {
    expect(nextPosition({ since: '2030-01-01T00:00:00.000Z', cursor: null, version: 1 }, { changes, hasMore: true, nextCursor: 'c-2' })).toEqual({
      since: '2030-01-01T00:00:00.000Z',
      cursor: 'c-2',
      highWater: '2030-01-01T00:00:09.000Z',
    });
  });

  it('moves the watermark to the newest change of the whole pass when it ends', () => {
    const position = nextPosition(
      { since: '', cursor: 'c-2', highWater: '2030-01-01T00:00:20.000Z', version: 2 },
      { changes, hasMore: false, nextCursor: null },
    );
    expect(position).toEqual({ since: '2030-01-01T00:00:20.000Z', cursor: null });
  });

  it('keeps the watermark when a pass read nothing', () => {
    expect(nextPosition({ since: '2030-01-01T00:00:00.000Z', cursor: null, version: 4 }, { changes: [], hasMore: false, nextCursor: null })).toEqual({
      since: '2030-01-01T00:00:00.000Z',
      cursor: null,
    });
  });

  it('keys a page by execution name and position, hashing positions unfit for a header', () => {
    expect(pageIdempotencyKey('run-1', { since: '', cursor: null, version: 0 })).toBe('contact-sync:run-1:since=');
    expect(pageIdempotencyKey('run-1', { since: '', cursor: 'eyJ2IjoxfQ', version: 1 })).toBe('contact-sync:run-1:eyJ2IjoxfQ');
    expect(pageIdempotencyKey('run-1', { since: '', cursor: 'a b\u00e9', version: 1 })).toMatch(/^contact-sync:run-1:[0-9a-f]{32}$/);
  });
});
