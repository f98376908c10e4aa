/**
 * CRM file sync: a file uploaded upstream becomes a file record in the CRM (OAuth2 client credentials).
 * The seed example of the adapter guide in the README.
 */
// zod/mini: functions take the schema (`z.optional(s)`, `s.check(z.minLength(1))`), so the bundler keeps only the zod
// code used — about 25 KB against 90 KB for classic zod's method-laden schemas (functions/runtime/schema.ts).
import * as z from 'zod/mini';
import { defineIntegration } from '../runtime/define-integration.js';

/** `FileUploaded` event, schemaVersion 1. */
export const fileUploadedSchema = z.object({
  schemaVersion: z.optional(z.literal('1')),
  fileId: z.string().check(z.minLength(1), z.maxLength(128)),
  /** Increments on every change of the file; older versions are never sent after newer ones. */
  version: z.int().check(z.nonnegative()),
  name: z.string().check(z.minLength(1), z.maxLength(255)),
  mimeType: z.string().check(z.regex(/^[\w.+-]+\/[\w.+-]+$/, 'must be a MIME type like application/pdf')),
  sizeBytes: z.int().check(z.nonnegative()),
  folder: z.optional(z.string().check(z.maxLength(1024))),
  uploadedBy: z.object({ email: z.email(), name: z.optional(z.string()) }),
  uploadedAt: z.iso.datetime({ offset: true }),
  tags: z.optional(z.array(z.string().check(z.minLength(1), z.maxLength(64))).check(z.maxLength(50))),
});

export type FileUploaded = z.infer<typeof fileUploadedSchema>;

/** The CRM's file resource as it accepts it. */
export interface CrmFile {
  externalRef: string;
  version: number;
  name: string;
  mimeType: string;
  sizeBytes: number;
  folder: string;
  ownerEmail: string;
  uploadedAt: string;
  tags: string[];
}

/** Maps the event to the CRM's file shape: normalised owner, root folder by default, unique lower-case tags. */
export function toCrmFile(event: FileUploaded): CrmFile {
  return {
    externalRef: event.fileId,
    version: event.version,
    name: event.name,
    mimeType: event.mimeType.toLowerCase(),
    sizeBytes: event.sizeBytes,
    folder: event.folder && event.folder.length > 0 ? event.folder : '/',
    ownerEmail: event.uploadedBy.email.toLowerCase(),
    uploadedAt: new Date(event.uploadedAt).toISOString(),
    tags: [...new Set((event.tags ?? []).map((tag) => tag.trim().toLowerCase()))],
  };
}

const crmFileCreated = z.object({ id: z.string().check(z.minLength(1)) });

export const crm = defineIntegration({
  input: fileUploadedSchema,
  idempotencyKey: (event) => `file:${event.fileId}:v${event.version}`,
  entity: (event) => ({ type: 'file', id: event.fileId, version: event.version }),
  async send(event, { http }) {
    // An answer without the file id fails the attempt (and counts against the CRM), not the message after it.
    const response = await http.post('/files', toCrmFile(event), { schema: crmFileCreated });
    return { externalId: response.body.id };
  },
  async probe({ http }) {
    await http.get('/health');
  },
  example: (n) => ({
    schemaVersion: '1',
    fileId: `file-${n}`,
    version: 1,
    name: `invoice-${n}.pdf`,
    mimeType: 'application/pdf',
    sizeBytes: 48_213 + n,
    folder: '/invoices',
    uploadedBy: { email: 'ana@example.com', name: 'Ana Lima' },
    uploadedAt: '2026-11-22T09:00:00Z',
    tags: ['invoice'],
  }),
});

/** The Lambda entry. */
export const handler = crm.sqsHandler;
