import type { SQSBatchResponse } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { PoisonMessageError } from '../../../functions/runtime/errors.js';
import { defineIntegration, type Integration } from '../../../functions/runtime/define-integration.js';
import type { Upcaster } from '../../../functions/runtime/integration-definition.js';
import { SchemaEvolution } from '../../../functions/runtime/schema-evolution.js';
import { eventBridgeBody, type LocalMessage, lambdaContext, sqsEvent } from '../../../local/lambda-events.js';
import type { LocalIntegrationOptions } from '../../../local/local-integration.js';
import { useRuntimeTestBed } from '../../support/runtime-test-bed.js';
import type { RecordingDeadLetterQueue, RecordingMessageParker } from '../../../local/recording-queues.js';

/** Version 2 of a fixture "file uploaded" event: v1's `name` became `fileName`. */
const fileUploadedV2 = z.object({
  schemaVersion: z.literal('2'),
  fileId: z.string().min(1),
  version: z.number().int().nonnegative(),
  fileName: z.string().min(1),
  mimeType: z.string().min(1),
  sizeBytes: z.number().int().nonnegative(),
  uploadedAt: z.iso.datetime({ offset: true }),
});
type FileUploadedV2 = z.infer<typeof fileUploadedV2>;

const v1ToV2: Upcaster = ({ name, ...rest }) => {
  if (typeof name !== 'string') throw new Error('a version-1 file event needs a name to become a fileName');
  return { ...rest, fileName: name, schemaVersion: '2' };
};

/** A fixture adapter at version 2 that still reads version 1, against the sandbox CRM's file API. */
const files = defineIntegration({
  schemaVersion: '2',
  upcasters: { '1': v1ToV2 },
  input: fileUploadedV2,
  idempotencyKey: (event: FileUploadedV2) => `file:${event.fileId}:v${event.version}`,
  entity: (event: FileUploadedV2) => ({ type: 'file', id: event.fileId, version: event.version }),
  async send(event: FileUploadedV2, { http }) {
    const { fileId, fileName, version, mimeType, sizeBytes, uploadedAt } = event;
    const response = await http.post('/files', { externalRef: fileId, version, name: fileName, mimeType, sizeBytes, uploadedAt });
    return { externalId: (response.body as { id: string }).id };
  },
  example: (n) => ({ ...v1(`file-${n}`), fileName: `file-${n}.pdf`, schemaVersion: '2' }),
});

function v1(fileId: string, extra: Record<string, unknown> = {}) {
  return { fileId, version: 1, name: `${fileId}.pdf`, mimeType: 'application/pdf', sizeBytes: 10, uploadedAt: '2026-11-20T10:00:00Z', ...extra };
}

function v2(fileId: string, extra: Record<string, unknown> = {}) {
  return { schemaVersion: '2', fileId, version: 1, fileName: `${fileId}.pdf`, mimeType: 'application/pdf', sizeBytes: 10, uploadedAt: '2026-11-20T10:00:00Z', ...extra };
}

/** The fixture's declaration with the version parts replaced. */
function fixtureWith(versions: { schemaVersion?: string; upcasters?: Record<string, unknown>; supportedVersions?: string[] }) {
  const { schemaVersion: _version, upcasters: _upcasters, ...rest } = files.definition;
  return { ...rest, ...versions } as Parameters<typeof defineIntegration>[0];
}

describe('schema evolution declared by an adapter', () => {
  it('rejects a chain with gaps and cycles when the adapter is defined, listing every problem', () => {
    const step: Upcaster = (payload) => payload;
    const define = () => defineIntegration(fixtureWith({ schemaVersion: '5', upcasters: { '1': step, '3': step, '5': step, '6': step, one: step } }));

    expect(define).toThrow(TypeError);
    const problems = (() => {
      try {
        define();
        return [];
      } catch (error) {
        return (error as Error).message.split('\n- ').slice(1);
      }
    })();
    expect(problems).toEqual([
      expect.stringContaining("upcasters['5'] upcasts the current schemaVersion '5'"),
      expect.stringContaining("upcasters['6'] starts above the current schemaVersion '5'"),
      expect.stringContaining("upcasters['one']: a schemaVersion must be a whole number"),
      expect.stringContaining("missing upcasters['2']: the chain from schemaVersion '1' stops at '2'"),
      expect.stringContaining("missing upcasters['4']"),
    ]);
  });

  it('rejects a version both read as is and upcast, an upcaster that is not a function and a malformed schemaVersion', () => {
    expect(() => defineIntegration(fixtureWith({ schemaVersion: '2', upcasters: { '1': v1ToV2 }, supportedVersions: ['1', '2'] }))).toThrow(
      /schemaVersion '1' is both read as is \(supportedVersions\) and upcast \(upcasters\)/,
    );
    expect(() => defineIntegration(fixtureWith({ schemaVersion: '2', upcasters: { '1': 'v2' } }))).toThrow(/upcasters\['1'\] must be a function/);
    expect(() => defineIntegration(fixtureWith({ schemaVersion: 'v2' }))).toThrow(/schemaVersion must be a whole number in a string/);
  });

  it('says the current version is 1 when an adapter upcasts 1 without declaring schemaVersion', () => {
    expect(() => defineIntegration(fixtureWith({ upcasters: { '1': v1ToV2 } }))).toThrow(/schemaVersion is not declared, so the current version is '1'/);
  });

  it('upcasts along the whole chain, one version at a time', () => {
    const seen: string[] = [];
    const versions = new SchemaEvolution(
      {
        schemaVersion: '3',
        upcasters: {
          '1': ({ name, ...rest }) => (seen.push('1'), { ...rest, fileName: name, schemaVersion: '2' }),
          '2': ({ fileName, ...rest }) => (seen.push('2'), { ...rest, title: fileName, schemaVersion: '3' }),
        },
      },
      'files',
    );

    expect(versions.toCurrent({ name: 'a.pdf' })).toEqual({ payload: { title: 'a.pdf', schemaVersion: '3' } });
    expect(seen).toEqual(['1', '2']);
    expect(versions.toCurrent({ schemaVersion: 2, fileName: 'b.pdf' })).toEqual({ payload: { title: 'b.pdf', schemaVersion: '3' } });
    const v3 = { schemaVersion: '3', title: 'c.pdf' };
    expect(versions.toCurrent(v3)).toEqual({ payload: v3 });
    expect(versions.accepted).toEqual(['1', '2', '3']);
  });

  it('makes a message poison when an upcaster does not return the next version', () => {
    const versions = new SchemaEvolution({ schemaVersion: '2', upcasters: { '1': ({ ...rest }) => rest } }, 'files');

    const result = versions.toCurrent({ name: 'a.pdf' });

    expect(result).toBeInstanceOf(PoisonMessageError);
    expect(result).toMatchObject({ errorClass: 'UpcastFailed', message: expect.stringContaining("must return a payload with schemaVersion '2' (got no schemaVersion)") });
  });

  it('accepts only version 1 or no version from an adapter that declares neither schemaVersion nor upcasters', () => {
    const versions = new SchemaEvolution({}, 'legacy');

    expect(versions.toCurrent({ a: 1 })).toEqual({ payload: { a: 1 } });
    expect(versions.toCurrent({ schemaVersion: '1' })).toEqual({ payload: { schemaVersion: '1' } });
    expect(versions.toCurrent({ schemaVersion: '2' })).toMatchObject({ errorClass: 'UnsupportedEventVersion' });
  });
});

describe('schema evolution in the integration runtime against dynalite and the sandbox', () => {
  const bed = useRuntimeTestBed({ seed: 11, tablePrefix: 'evolution-' });

  function build<T>(integration: Integration<T>, overrides: Partial<LocalIntegrationOptions> = {}) {
    return bed.build(integration, { name: 'crm-files', provider: 'crm', auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' }, ...overrides });
  }


  function deliver<T>(local: ReturnType<typeof build<T>>, messages: LocalMessage[]): Promise<SQSBatchResponse> {
    return local.runtime.handleBatch(sqsEvent(messages), lambdaContext('test', 60_000));
  }

  const raw = (payload: unknown, extra: Partial<LocalMessage> = {}): LocalMessage => ({ body: JSON.stringify(payload), ...extra });
  const deadLetters = (local: { deadLetters: unknown }) => (local.deadLetters as RecordingDeadLetterQueue).messages;

  it('upcasts a version-1 event to version 2 and delivers it', async () => {
    const local = build(files);

    const response = await deliver(local, [raw(v1('old')), { body: eventBridgeBody('FileUploaded', v1('old-bus', { schemaVersion: '1' })) }]);

    expect(response.batchItemFailures).toEqual([]);
    expect(deadLetters(local)).toEqual([]);
    expect(bed.sandbox.crm.files().map((file) => [file.externalRef, file.name]).sort()).toEqual([
      ['old', 'old.pdf'],
      ['old-bus', 'old-bus.pdf'],
    ]);
    const keys = bed.sandbox.journal.entries({ provider: 'crm', path: '/files' }).map((call) => call.idempotencyKey);
    expect(keys.sort()).toEqual(['crm-files:file:old-bus:v1', 'crm-files:file:old:v1']);
  });

  it('delivers a version-2 event as it is', async () => {
    const local = build(files);

    const response = await deliver(local, [raw(v2('new', { fileName: 'renamed.pdf' }))]);

    expect(response.batchItemFailures).toEqual([]);
    expect(bed.sandbox.crm.files().map((file) => [file.externalRef, file.name])).toEqual([['new', 'renamed.pdf']]);
  });

  it('sends an event of a version nobody reads to the DLQ, naming the version and the accepted ones', async () => {
    const local = build(files);

    const response = await deliver(local, [raw(v2('future', { schemaVersion: '3' }), { messageId: 'm-v3' })]);

    expect(response.batchItemFailures).toEqual([]);
    const [letter] = deadLetters(local);
    expect(letter?.message.messageId).toBe('m-v3');
    expect(letter?.reason.errorClass).toBe('UnsupportedEventVersion');
    expect(letter?.reason.errorMessage).toMatch(/schemaVersion "3" is not supported .*\(accepted: 1, 2\)/);
    expect(bed.sandbox.journal.count({ provider: 'crm' })).toBe(0);
    expect(local.metrics.total('PoisonMessage')).toBe(1);
  });

  it("sends an event whose upcaster throws to the DLQ with the upcaster's message, without retrying it", async () => {
    const local = build(files);
    const { name: _name, ...nameless } = v1('nameless');

    const response = await deliver(local, [raw(nameless, { messageId: 'm-nameless' })]);

    expect(response.batchItemFailures).toEqual([]);
    const [letter] = deadLetters(local);
    expect(letter?.reason.errorClass).toBe('UpcastFailed');
    expect(letter?.reason.errorMessage).toContain("from schemaVersion '1' to '2' failed: a version-1 file event needs a name to become a fileName");
    expect(bed.sandbox.journal.count({ provider: 'crm' })).toBe(0);
    expect((local.parker as RecordingMessageParker).parked).toEqual([]);
  });

  it('makes one provider call for a version-1 and a version-2 event of the same operation', async () => {
    const local = build(files);
    await deliver(local, [raw(v1('same'))]);

    const response = await deliver(local, [raw(v2('same'))]);

    expect(response.batchItemFailures).toEqual([]);
    expect(deadLetters(local)).toEqual([]);
    expect(bed.sandbox.journal.count({ provider: 'crm', path: '/files' })).toBe(1);
    expect(bed.sandbox.crm.files()).toHaveLength(1);
    expect(local.metrics.total('IdempotentReplay')).toBe(1);
  });
});
