/**
 * The contacts source sandbox provider (`/contacts`): a source database of contacts exposing a change feed for
 * incremental syncs (into the CRM's bulk endpoint). Auth: bearer token. Read-only over HTTP; tests change the data
 * through the accessor (`sandbox.contacts.seed/upsert/delete`).
 *
 *   GET /contacts/health     200 { status: 'ok' }                                             no auth
 *   GET /contacts/changes?since=<ISO-8601 or empty>&cursor=<opaque>&limit=<1..200, default 50>
 *       -> 200 { contacts: Contact[], next_cursor: string | null, has_more: boolean }
 *       -> 400 invalid_cursor (a cursor this API did not issue) | 400 invalid_request (bad since/limit, unknown parameter)
 *
 * The feed holds every contact (tombstones of deleted ones included) with `updated_at > since`, ordered by
 * (`updated_at`, `id`). Every change gives the contact a new `updated_at` strictly after every earlier one (the
 * sandbox clock, or +1 ms when the clock has not moved), so a contact changed while a client pages moves behind
 * the client's position and shows up again on a later page: paging from a cursor never skips a change. The
 * cursor encodes the last (`updated_at`, `id`) returned; `next_cursor` is null when `has_more` is false.
 */
import * as z from 'zod';
import { bearerAuth } from './credential-schemes.js';
import {
  errorResponse,
  invalidRequest,
  type JsonObject,
  NO_FAULT_EXTRAS,
  type NoFaultExtras,
  type ProviderContext,
  type ProviderRoute,
  type RouteResponse,
  type SandboxProvider,
  HEALTH_ROUTE,
} from './provider.js';

/** The contacts source's API token, as a secret store would hold it. */
export interface ContactsCredentials {
  readonly token: string;
}

/** A contact as the source stores it (snake_case; optional fields may be missing or null). */
export interface SourceContact {
  readonly id: string;
  readonly email_address: string;
  readonly first_name?: string | null;
  readonly last_name?: string | null;
  readonly display_name?: string | null;
  readonly phone?: string | null;
  readonly active: boolean;
  /** ISO-8601 with milliseconds, UTC; strictly increasing across changes. */
  readonly updated_at: string;
  /** A tombstone: the contact was deleted (kept in the change feed). */
  readonly deleted: boolean;
}

/**
 * A change to a contact for {@link ContactsApi.upsert}: without `id` (or with an unknown one) a contact is created;
 * otherwise the given fields are merged in. A field given as `undefined` is removed (missing in the feed); `null`
 * keeps the key with a null value. Upserting a deleted contact brings it back unless `deleted: true` is given.
 */
export type ContactChange = { readonly id?: string } & {
  readonly [K in 'email_address' | 'first_name' | 'last_name' | 'display_name' | 'phone' | 'active' | 'deleted']?: SourceContact[K];
};

/** Options of {@link ContactsApi.seed}. */
export interface SeedOptions {
  /** `updated_at` of the first generated contact (ISO-8601 or epoch ms). @default the sandbox clock */
  readonly startAt?: string | number;
  /** Time between the generated contacts' `updated_at`, ms (>= 1). @default 1000 */
  readonly stepMs?: number;
}

/** Contacts has no provider-specific fault options. */
export type ContactsFaultExtras = NoFaultExtras;

/** The contacts source plus the accessor tests use to change its data. */
export interface ContactsApi extends SandboxProvider<ContactsCredentials, ContactsFaultExtras> {
  /**
   * Generates `count` contacts from the seeded stream (the same sandbox seed and call order give the same
   * contacts): most complete; some without a phone (missing or null), some without names, some with a
   * display_name only; about one in ten inactive. Returns them in change order.
   */
  seed(count: number, options?: SeedOptions): readonly SourceContact[];
  /** Creates or changes a contact (see {@link ContactChange}); bumps its `updated_at`. */
  upsert(change: ContactChange): SourceContact;
  /** Tombstones a contact and bumps its `updated_at` (already deleted: unchanged). Throws on an unknown id. */
  delete(id: string): SourceContact;
  /** One contact (tombstones included). */
  get(id: string): SourceContact | undefined;
  /** Every contact, tombstones included, in change order (`updated_at`, `id`). */
  all(): readonly SourceContact[];
  /** Contacts that are not deleted, in change order. */
  live(): readonly SourceContact[];
}

/** Largest `limit` of a change-feed page. */
export const MAX_CHANGES_LIMIT = 200;
/** `limit` when none is given. */
export const DEFAULT_CHANGES_LIMIT = 50;

const QUERY_PARAMETERS = ['since', 'cursor', 'limit'];
const isoDateTime = z.iso.datetime({ offset: true });

interface StoredContact {
  contact: SourceContact;
  /** `updated_at` as epoch ms. */
  stamp: number;
}

const FIRST_NAMES = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'Ken', 'Margaret', 'Linus', 'Radia', 'Tim'];
const LAST_NAMES = ['Lovelace', 'Hopper', 'Turing', 'Dijkstra', 'Liskov', 'Knuth', 'Allen', 'Thompson', 'Hamilton', 'Torvalds', 'Perlman', 'Berners-Lee'];
const CONTACT_KEYS = ['email_address', 'first_name', 'last_name', 'display_name', 'phone', 'active', 'deleted'] as const;

/** Builds the contacts source provider. */
export function createContactsApi(context: ProviderContext): ContactsApi {
  const secrets = context.random('credentials');
  const auth = bearerAuth({ field: 'token', mint: () => `cs_${secrets.token(32)}`, principal: 'contacts-source' });
  const generator = context.random('seed');
  const contacts = new Map<string, StoredContact>();
  let lastStamp = Number.NEGATIVE_INFINITY;
  let idSeq = 0;

  /** The next change time: the sandbox clock, but always strictly after the previous change. */
  const nextStamp = (atLeast = context.now()): number => {
    lastStamp = Math.max(atLeast, lastStamp + 1);
    return lastStamp;
  };
  const newId = (): string => {
    let id: string;
    do id = `c_${String(++idSeq).padStart(6, '0')}`;
    while (contacts.has(id));
    return id;
  };
  const store = (contact: Omit<SourceContact, 'updated_at'>, stamp: number): SourceContact => {
    const stored: SourceContact = { ...contact, updated_at: new Date(stamp).toISOString() };
    contacts.set(stored.id, { contact: stored, stamp });
    return stored;
  };
  const ordered = (): StoredContact[] => [...contacts.values()].sort(compareChanges);

  const changes = (query: URLSearchParams): RouteResponse => {
    const problems: string[] = [];
    for (const name of new Set(query.keys())) {
      if (!QUERY_PARAMETERS.includes(name)) problems.push(`unknown query parameter "${name}"`);
      else if (query.getAll(name).length > 1) problems.push(`query parameter "${name}" is repeated`);
    }
    const sinceText = query.get('since') ?? '';
    let since = Number.NEGATIVE_INFINITY;
    if (sinceText !== '') {
      if (isoDateTime.safeParse(sinceText).success) since = Date.parse(sinceText);
      else problems.push('since: expected an ISO-8601 date-time with a time zone, e.g. "2030-01-01T00:00:00.000Z"');
    }
    const limitText = query.get('limit') ?? '';
    const limit = limitText === '' ? DEFAULT_CHANGES_LIMIT : /^\d{1,4}$/.test(limitText) ? Number(limitText) : Number.NaN;
    if (!(limit >= 1 && limit <= MAX_CHANGES_LIMIT)) problems.push(`limit: expected an integer in 1..${MAX_CHANGES_LIMIT}`);
    if (problems.length > 0) return invalidRequest(problems);
    const cursorText = query.get('cursor') ?? '';
    const after = cursorText === '' ? undefined : decodeCursor(cursorText);
    if (after === null) return errorResponse(400, 'invalid_cursor', 'the cursor is not one this API issued');

    const matching = ordered().filter(
      (entry) => entry.stamp > since && (after === undefined || compareChanges(entry, { stamp: after.stamp, contact: { id: after.id } }) > 0),
    );
    const page = matching.slice(0, limit);
    const hasMore = matching.length > page.length;
    const last = page.at(-1);
    return {
      status: 200,
      body: {
        contacts: page.map((entry) => contactJson(entry.contact)),
        next_cursor: hasMore && last ? encodeCursor(last.stamp, last.contact.id) : null,
        has_more: hasMore,
      },
    };
  };

  const generate = (index: number): Omit<SourceContact, 'updated_at' | 'id'> => {
    const shape = generator.float();
    const phoneDraw = generator.float();
    const activeDraw = generator.float();
    const first = FIRST_NAMES[generator.int(FIRST_NAMES.length)] ?? 'Ada';
    const last = LAST_NAMES[generator.int(LAST_NAMES.length)] ?? 'Lovelace';
    const digits = String(generator.int(10_000_000)).padStart(7, '0');
    const phone = phoneDraw < 0.15 ? {} : phoneDraw < 0.25 ? { phone: null } : { phone: `+49 30 ${digits}` };
    const active = activeDraw >= 0.1;
    if (shape < 0.15) {
      // display_name only: first/last missing or null.
      const names = shape < 0.075 ? {} : { first_name: null, last_name: null };
      return { email_address: `contact${index}@example.com`, ...names, display_name: `${first} ${last}`, ...phone, active, deleted: false };
    }
    if (shape < 0.25) {
      // No names at all: only the e-mail address identifies the person.
      const names = shape < 0.2 ? {} : { first_name: null, last_name: null, display_name: null };
      return { email_address: `contact${index}@example.com`, ...names, ...phone, active, deleted: false };
    }
    const email = `${first}.${last}${index}@example.com`.toLowerCase();
    const display = shape < 0.6 ? { display_name: `${first} ${last}` } : {};
    return { email_address: email, first_name: first, last_name: last, ...display, ...phone, active, deleted: false };
  };

  const routes: ProviderRoute[] = [
    HEALTH_ROUTE,
    { method: 'GET', path: '/changes', auth: 'required', handle: (request) => changes(request.query) },
  ];

  return {
    name: 'contacts',
    routes,
    ...auth,
    ...NO_FAULT_EXTRAS,
    reset() {
      contacts.clear();
      lastStamp = Number.NEGATIVE_INFINITY;
      idSeq = 0;
      generator.restart();
    },
    seed(count, options = {}) {
      if (!(Number.isInteger(count) && count >= 0)) throw new RangeError('seed count must be an integer >= 0');
      const stepMs = options.stepMs ?? 1000;
      if (!(Number.isInteger(stepMs) && stepMs >= 1)) throw new RangeError('seed stepMs must be an integer >= 1');
      const startAt = options.startAt === undefined ? context.now() : typeof options.startAt === 'number' ? options.startAt : Date.parse(options.startAt);
      if (!Number.isFinite(startAt)) throw new RangeError(`seed startAt "${String(options.startAt)}" is not a date`);
      const created: SourceContact[] = [];
      for (let i = 0; i < count; i++) {
        const id = newId();
        created.push(store({ id, ...generate(idSeq) }, nextStamp(startAt + i * stepMs)));
      }
      return created;
    },
    upsert(change) {
      const existing = change.id === undefined ? undefined : contacts.get(change.id);
      const id = change.id ?? newId();
      const merged: Record<string, unknown> = existing
        ? { ...existing.contact, deleted: false }
        : { id, email_address: `${id}@example.com`, active: true, deleted: false };
      delete merged.updated_at;
      for (const key of CONTACT_KEYS) {
        if (!(key in change)) continue;
        const value = change[key];
        if (value === undefined) {
          if (key === 'email_address' || key === 'active' || key === 'deleted') throw new TypeError(`contact field "${key}" cannot be removed`);
          delete merged[key];
        } else {
          merged[key] = value;
        }
      }
      // Every key was taken from SourceContact fields above.
      return store(merged as unknown as Omit<SourceContact, 'updated_at'>, nextStamp());
    },
    delete(id) {
      const existing = contacts.get(id);
      if (!existing) throw new RangeError(`no contact "${id}"`);
      if (existing.contact.deleted) return existing.contact;
      const { updated_at: _previous, ...rest } = existing.contact;
      return store({ ...rest, deleted: true }, nextStamp());
    },
    get: (id) => contacts.get(id)?.contact,
    all: () => ordered().map((entry) => entry.contact),
    live: () => ordered().flatMap((entry) => (entry.contact.deleted ? [] : [entry.contact])),
  };
}

/** (stamp, id) order of the change feed. */
function compareChanges(a: { stamp: number; contact: { id: string } }, b: { stamp: number; contact: { id: string } }): number {
  if (a.stamp !== b.stamp) return a.stamp - b.stamp;
  return a.contact.id < b.contact.id ? -1 : a.contact.id > b.contact.id ? 1 : 0;
}

function encodeCursor(stamp: number, id: string): string {
  return Buffer.from(JSON.stringify({ v: 1, t: stamp, id })).toString('base64url');
}

/** The position a cursor encodes, or null when it is not a cursor this API issued. */
function decodeCursor(cursor: string): { stamp: number; id: string } | null {
  if (!/^[A-Za-z0-9_-]+$/.test(cursor)) return null;
  try {
    const value = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8')) as unknown;
    if (typeof value !== 'object' || value === null) return null;
    const { v, t, id } = value as Record<string, unknown>;
    if (v !== 1 || typeof t !== 'number' || !Number.isSafeInteger(t) || typeof id !== 'string' || id === '') return null;
    // Only the canonical encoding is accepted, so an edited cursor is refused rather than half-understood.
    return encodeCursor(t, id) === cursor ? { stamp: t, id } : null;
  } catch {
    return null;
  }
}

function contactJson(contact: SourceContact): JsonObject {
  // Missing optional fields stay missing (never `undefined`): the object is JSON as stored.
  return { ...contact } as JsonObject;
}
