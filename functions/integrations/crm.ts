/**
 * CRM file sync: a file uploaded upstream becomes a file record in the CRM (OAuth2 client credentials).
 * The seed example of the adapter guide in the README.
 */
// A namespace import: esbuild keeps only the zod code used. `import { z }` keeps all of zod, its locales included.
import * as z from 'zod';
import { defineIntegration } from '../runtime/define-integration.js';

/** `FileUploaded` event, schemaVersion 1. */
export const fileUploadedSchema = z.object({
  schemaVersion: z.literal('1').optional(),
  fileId: z.string().min(1).max(128),
  /** Increments on every change of the file; older versions are never sent after newer ones. */
  version: z.number().int().nonnegative(),
  name: z.string().min(1).max(255),
  mimeType: z.string().regex(/^[\w.+-]+\/[\w.+-]+$/, 'must be a MIME type like application/pdf'),
  sizeBytes: z.number().int().nonnegative(),
  folder: z.string().max(1024).optional(),
  uploadedBy: z.object({ email: z.email(), name: z.string().optional() }),
  uploadedAt: z.iso.datetime({ offset: true }),
  tags: z.array(z.string().min(1).max(64)).max(50).optional(),
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

const crmFileCreated = z.object({ id: z.string().min(1) });

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
