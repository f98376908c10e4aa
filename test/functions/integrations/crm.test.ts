import { describe, expect, it } from 'vitest';
import { crm, fileUploadedSchema, toCrmFile } from '../../../functions/integrations/crm.js';

const event = fileUploadedSchema.parse({
  fileId: 'f-1',
  version: 3,
  name: 'Q4 report.pdf',
  mimeType: 'Application/PDF',
  sizeBytes: 2048,
  uploadedBy: { email: 'Ana@Example.COM', name: 'Ana' },
  uploadedAt: '2026-11-20T11:00:00+01:00',
  tags: [' Finance', 'finance', 'Q4'],
});

describe('crm adapter', () => {
  it('maps a file upload to the CRM file shape', () => {
    expect(toCrmFile(event)).toEqual({
      externalRef: 'f-1',
      version: 3,
      name: 'Q4 report.pdf',
      mimeType: 'application/pdf',
      sizeBytes: 2048,
      folder: '/',
      ownerEmail: 'ana@example.com',
      uploadedAt: '2026-11-20T10:00:00.000Z',
      tags: ['finance', 'q4'],
    });
  });

  it('derives the idempotency key and ledger entity from file id and version', () => {
    expect(crm.definition.idempotencyKey(event)).toBe('file:f-1:v3');
    expect(crm.definition.entity(event)).toEqual({ type: 'file', id: 'f-1', version: 3 });
  });

  it('rejects a malformed upload event', () => {
    const result = fileUploadedSchema.safeParse({ ...event, mimeType: 'pdf', uploadedBy: { email: 'nope' } });
    expect(result.success).toBe(false);
    expect(result.error?.issues.map((i) => i.path.join('.'))).toEqual(expect.arrayContaining(['mimeType', 'uploadedBy.email']));
  });
});
