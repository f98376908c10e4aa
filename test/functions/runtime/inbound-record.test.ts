import { describe, expect, it } from 'vitest';
import { eventVersionOf, readInboundRecord } from '../../../functions/runtime/inbound-record.js';
import { eventBridgeBody, sqsRecord } from '../../../local/lambda-events.js';

describe('readInboundRecord', () => {
  it('takes a raw JSON body as the payload and generates a correlation id', () => {
    const inbound = readInboundRecord(sqsRecord({ body: '{"a":1}', receiveCount: 3 }));
    expect(inbound).toMatchObject({ payload: { a: 1 }, envelope: 'raw', receiveCount: 3 });
    expect(inbound.correlationId).toMatch(/^[0-9a-f-]{36}$/);
    expect(inbound.unreadable).toBeUndefined();
  });

  it('unwraps an EventBridge event and uses its id as the correlation id', () => {
    const body = eventBridgeBody('FileUploaded', { fileId: 'f' });
    const inbound = readInboundRecord(sqsRecord({ body }));
    expect(inbound).toMatchObject({ payload: { fileId: 'f' }, envelope: 'eventbridge', detailType: 'FileUploaded' });
    expect(inbound.correlationId).toBe(JSON.parse(body).id);
  });

  it('prefers the correlationId message attribute', () => {
    const inbound = readInboundRecord(sqsRecord({ body: eventBridgeBody('X', {}), attributes: { correlationId: 'from-producer' } }));
    expect(inbound.correlationId).toBe('from-producer');
  });

  it('reports a body that is not JSON as poison', () => {
    const inbound = readInboundRecord(sqsRecord({ body: 'hello' }));
    expect(inbound.unreadable?.errorClass).toBe('InvalidJson');
  });

  it('reports a broken EventBridge envelope as poison', () => {
    const inbound = readInboundRecord(sqsRecord({ body: JSON.stringify({ 'detail-type': 'X', detail: {}, source: 's' }) }));
    expect(inbound.unreadable?.errorClass).toBe('ValidationFailed');
    expect(inbound.unreadable?.message).toContain('EventBridge envelope');
  });
});

describe('eventVersionOf', () => {
  it('reads schemaVersion, defaulting to 1', () => {
    expect(eventVersionOf({ schemaVersion: 2 })).toBe('2');
    expect(eventVersionOf({})).toBe('1');
    expect(eventVersionOf('text')).toBe('1');
  });
});
