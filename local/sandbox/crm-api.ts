/**
 * The CRM sandbox provider (`/crm`): OAuth2 client-credentials tokens, a file store and contacts.
 *
 *   GET  /crm/health           200 { status: 'ok' }                                  no auth
 *   POST /crm/oauth/token      form grant_type=client_credentials [&scope=...]       client id/secret: Basic or form fields
 *   POST /crm/files            JSON file metadata -> 201 { id, externalRef, version, createdAt }   scope files:write, idempotent
 *   GET  /crm/files[?externalRef=]   200 { data: CrmFile[] }                         scope files:read
 *   GET  /crm/files/:id        200 CrmFile | 404                                     scope files:read
 *   POST /crm/contacts/bulk    { upserts: [...], deletes: [externalId] } (1..200 items) -> 200 { upserted, deleted,
 *                              results: [{ externalId, id, action }], batchId }     scope contacts:write, idempotent
 *   GET  /crm/contacts[?externalId=] 200 { data: CrmContact[] }                      scope contacts:read
 *   GET  /crm/contacts/:id     200 CrmContact | 404                                  scope contacts:read
 *
 * Bulk contacts are keyed by `externalId` (the source's id): an upsert creates the contact or updates it in place
 * (its CRM id never changes), unless its `sourceUpdatedAt` is older than the newest one the CRM has seen for that
 * externalId (`skipped_stale`; a delete does not forget it, so a late stale upsert cannot resurrect a contact).
 * Upserts run in order, then deletes; a delete of an unknown externalId is `not_found` (with `id: null`).
 *
 * Rotating the credentials replaces the client secret (the client id stays, as in real CRMs) and revokes every
 * token issued before the rotation (credential-schemes.ts `oauth2ClientCredentials`).
 */
import * as z from 'zod';
import { oauth2ClientCredentials } from './credential-schemes.js';
import {
  describeIssue,
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

/** The CRM's client credentials, as a secret store would hold them. */
export interface CrmCredentials {
  readonly clientId: string;
  readonly clientSecret: string;
}

/** A file record in the CRM. */
export interface CrmFile {
  readonly id: string;
  readonly externalRef: string;
  readonly version: number;
  readonly name: string;
  readonly mimeType: string;
  readonly sizeBytes: number;
  readonly folder: string | null;
  readonly ownerEmail: string | null;
  readonly uploadedAt: string;
  readonly tags: readonly string[];
  /** ISO-8601, sandbox clock. */
  readonly createdAt: string;
}

/** Whether a CRM contact is active. */
export type CrmContactStatus = 'active' | 'inactive';

/** A contact in the CRM, written by the bulk endpoint. */
export interface CrmContact {
  readonly id: string;
  readonly externalId: string;
  readonly email: string;
  readonly name: string;
  readonly phone: string | null;
  readonly status: CrmContactStatus;
  /** The source's `updated_at` of the version stored (ISO-8601, as sent). */
  readonly sourceUpdatedAt: string;
  /** ISO-8601, sandbox clock. */
  readonly createdAt: string;
  /** ISO-8601, sandbox clock. */
  readonly updatedAt: string;
}

/** What a bulk request did to one item. */
export type CrmBulkAction = 'created' | 'updated' | 'skipped_stale' | 'deleted' | 'not_found';

/** Options of the CRM provider. */
export interface CrmApiOptions {
  /** `expires_in` of issued access tokens, in seconds (checked against the sandbox clock). @default 3600 */
  readonly tokenExpiresInSeconds?: number;
}

/** The CRM has no provider-specific fault options. */
export type CrmFaultExtras = NoFaultExtras;

/** The CRM provider plus state inspection for tests. */
export interface CrmApi extends SandboxProvider<CrmCredentials, CrmFaultExtras> {
  /** Every stored file, in creation order. */
  files(): readonly CrmFile[];
  /** One file by id. */
  file(id: string): CrmFile | undefined;
  /** Number of access tokens issued since start (tokens survive `reset`). */
  tokensIssued(): number;
  /** Every contact, in creation order. */
  contacts(): readonly CrmContact[];
  /** The contact with this externalId. */
  contactByExternalId(externalId: string): CrmContact | undefined;
}

/** Scopes a CRM token can carry; a token request without `scope` gets all of them. */
export const CRM_SCOPES: readonly string[] = ['files:read', 'files:write', 'contacts:read', 'contacts:write'];

/** Most items (upserts + deletes) one bulk request may carry. */
export const MAX_BULK_ITEMS = 200;

const fileSchema = z.strictObject({
  externalRef: z.string().min(1).max(256),
  version: z.int().nonnegative(),
  name: z.string().min(1).max(255),
  mimeType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, 'expected a MIME type like "application/pdf"'),
  sizeBytes: z.int().nonnegative(),
  folder: z.string().min(1).max(1024).optional(),
  ownerEmail: z.email().optional(),
  uploadedAt: z.iso.datetime({ offset: true }),
  tags: z.array(z.string().min(1).max(64)).max(50).optional(),
});

const bulkUpsertSchema = z.strictObject({
  externalId: z.string().min(1).max(256),
  email: z.email().max(254),
  name: z.string().min(1).max(512),
  phone: z.string().max(64).nullable(),
  status: z.enum(['active', 'inactive']),
  sourceUpdatedAt: z.iso.datetime({ offset: true }),
});

const bulkSchema = z.strictObject({
  upserts: z.array(bulkUpsertSchema).optional(),
  deletes: z.array(z.string().min(1).max(256)).optional(),
});

/** Builds the CRM provider. */
export function createCrmApi(context: ProviderContext, options: CrmApiOptions = {}): CrmApi {
  const secrets = context.random('credentials');
  const auth = oauth2ClientCredentials({
    realm: 'crm',
    tokenPath: '/oauth/token',
    mint: {
      clientId: () => `crm_client_${secrets.token(12)}`,
      clientSecret: () => `crm_secret_${secrets.token(32)}`,
      accessToken: () => `crm_at_${secrets.token(40)}`,
    },
    expiresInSeconds: options.tokenExpiresInSeconds ?? 3600,
    now: context.now,
    scopes: CRM_SCOPES,
  });
  const files = new Map<string, CrmFile>();
  let fileSeq = 0;
  /** Contacts by externalId; a deleted and re-created contact goes to the end, so Map order is creation order. */
  const contacts = new Map<string, CrmContact>();
  /** Newest sourceUpdatedAt (epoch ms) seen per externalId, kept after a delete. */
  const newestSource = new Map<string, number>();
  let contactSeq = 0;
  let bulkSeq = 0;

  const createFile = (body: unknown): RouteResponse => {
    const parsed = fileSchema.safeParse(body);
    if (!parsed.success) return invalidRequest(parsed.error.issues.map(describeIssue));
    const input = parsed.data;
    fileSeq++;
    const file: CrmFile = {
      id: `crm_file_${fileSeq}`,
      externalRef: input.externalRef,
      version: input.version,
      name: input.name,
      mimeType: input.mimeType,
      sizeBytes: input.sizeBytes,
      folder: input.folder ?? null,
      ownerEmail: input.ownerEmail ?? null,
      uploadedAt: input.uploadedAt,
      tags: input.tags ?? [],
      createdAt: new Date(context.now()).toISOString(),
    };
    files.set(file.id, file);
    return {
      status: 201,
      body: { id: file.id, externalRef: file.externalRef, version: file.version, createdAt: file.createdAt },
      sideEffect: { type: 'file', id: file.id },
    };
  };

  const bulkContacts = (body: unknown): RouteResponse => {
    const parsed = bulkSchema.safeParse(body);
    const problems = parsed.success ? [] : parsed.error.issues.map(describeIssue);
    const raw = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const length = (value: unknown): number => (Array.isArray(value) ? value.length : 0);
    const total = length(raw.upserts) + length(raw.deletes);
    if (total === 0) problems.push('at least one upsert or delete is required');
    if (total > MAX_BULK_ITEMS) problems.push(`at most ${MAX_BULK_ITEMS} items (upserts + deletes) per request, got ${total}`);
    if (!parsed.success || problems.length > 0) return invalidRequest(problems);
    const { upserts = [], deletes = [] } = parsed.data;
    const at = new Date(context.now()).toISOString();
    const results: JsonObject[] = [];
    let upserted = 0;
    let deleted = 0;
    for (const upsert of upserts) {
      const sourceTime = Date.parse(upsert.sourceUpdatedAt);
      const existing = contacts.get(upsert.externalId);
      const newest = newestSource.get(upsert.externalId);
      if (newest !== undefined && sourceTime < newest) {
        results.push({ externalId: upsert.externalId, id: existing?.id ?? null, action: 'skipped_stale' });
        continue;
      }
      newestSource.set(upsert.externalId, sourceTime);
      const fields = { email: upsert.email, name: upsert.name, phone: upsert.phone, status: upsert.status, sourceUpdatedAt: upsert.sourceUpdatedAt };
      const contact: CrmContact = existing
        ? { ...existing, ...fields, updatedAt: at }
        : { id: `crm_contact_${++contactSeq}`, externalId: upsert.externalId, ...fields, createdAt: at, updatedAt: at };
      contacts.set(upsert.externalId, contact);
      upserted++;
      results.push({ externalId: upsert.externalId, id: contact.id, action: existing ? 'updated' : 'created' });
    }
    for (const externalId of deletes) {
      const existing = contacts.get(externalId);
      if (!existing) {
        results.push({ externalId, id: null, action: 'not_found' });
        continue;
      }
      contacts.delete(externalId);
      deleted++;
      results.push({ externalId, id: existing.id, action: 'deleted' });
    }
    const batchId = `crm_bulk_${++bulkSeq}`;
    return {
      status: 200,
      body: { upserted, deleted, results, batchId },
      ...(upserted + deleted > 0 ? { sideEffect: { type: 'contact_batch', id: batchId } } : {}),
    };
  };

  const routes: ProviderRoute[] = [
    HEALTH_ROUTE,
    auth.tokenRoute,
    {
      method: 'POST',
      path: '/files',
      auth: 'required',
      requiredScope: 'files:write',
      body: 'json',
      idempotent: true,
      handle: (request) => createFile(request.body),
    },
    {
      method: 'GET',
      path: '/files',
      auth: 'required',
      requiredScope: 'files:read',
      handle: (request) => {
        const externalRef = request.query.get('externalRef');
        const data = [...files.values()].filter((file) => externalRef === null || file.externalRef === externalRef);
        return { status: 200, body: { data: data.map(fileJson) } };
      },
    },
    {
      method: 'GET',
      path: '/files/:id',
      auth: 'required',
      requiredScope: 'files:read',
      handle: (request) => {
        const file = files.get(request.params.id ?? '');
        return file ? { status: 200, body: fileJson(file) } : errorResponse(404, 'not_found', `no file "${request.params.id}"`);
      },
    },
    {
      method: 'POST',
      path: '/contacts/bulk',
      auth: 'required',
      requiredScope: 'contacts:write',
      body: 'json',
      idempotent: true,
      handle: (request) => bulkContacts(request.body),
    },
    {
      method: 'GET',
      path: '/contacts',
      auth: 'required',
      requiredScope: 'contacts:read',
      handle: (request) => {
        const externalId = request.query.get('externalId');
        const data = [...contacts.values()].filter((contact) => externalId === null || contact.externalId === externalId);
        return { status: 200, body: { data: data.map((contact) => ({ ...contact })) } };
      },
    },
    {
      method: 'GET',
      path: '/contacts/:id',
      auth: 'required',
      requiredScope: 'contacts:read',
      handle: (request) => {
        const contact = [...contacts.values()].find((candidate) => candidate.id === request.params.id);
        return contact ? { status: 200, body: { ...contact } } : errorResponse(404, 'not_found', `no contact "${request.params.id}"`);
      },
    },
  ];

  return {
    name: 'crm',
    routes,
    credentials: auth.credentials,
    rotateCredentials: auth.rotateCredentials,
    setCredentials: auth.setCredentials,
    authenticate: auth.authenticate,
    ...NO_FAULT_EXTRAS,
    reset() {
      files.clear();
      fileSeq = 0;
      contacts.clear();
      newestSource.clear();
      contactSeq = 0;
      bulkSeq = 0;
    },
    files: () => [...files.values()],
    file: (id) => files.get(id),
    tokensIssued: auth.tokensIssued,
    contacts: () => [...contacts.values()],
    contactByExternalId: (externalId) => contacts.get(externalId),
  };
}

function fileJson(file: CrmFile): JsonObject {
  return { ...file, tags: [...file.tags] };
}
