import { search } from '@aws-lambda-powertools/jmespath';
import { PowertoolsFunctions } from '@aws-lambda-powertools/jmespath/functions';
import { describe, expect, it } from 'vitest';
import { IdempotencyKeyFunctions } from '../../../functions/runtime/idempotency-key-functions.js';

describe('IdempotencyKeyFunctions', () => {
  const data = { key: 'crm:file:f-1:v1', payload: { fileId: 'f-1', tags: ['a', 'b'] }, body: '{"id":7,"nested":{"x":1}}' };
  const expressions = ['key', 'payload', 'payload.tags[1]', 'length(payload.tags)', 'powertools_json(body).nested.x', 'missing'];

  it('answers every search as Powertools\' default functions do, search after search', () => {
    const functions = new IdempotencyKeyFunctions();
    for (let round = 0; round < 3; round += 1) {
      for (const expression of expressions) {
        expect(search(expression, data, { customFunctions: functions })).toEqual(search(expression, data, { customFunctions: new PowertoolsFunctions() }));
      }
    }
  });

  it('lists its functions once and keeps the answer', () => {
    const functions = new IdempotencyKeyFunctions();
    const first = functions.introspectMethods();
    expect(first.has('funcPowertoolsJson')).toBe(true);
    expect(first.has('funcLength')).toBe(true);
    expect(functions.introspectMethods()).toBe(first);
    // A fresh default instance walks again and finds the same functions.
    expect([...new PowertoolsFunctions().introspectMethods()].sort()).toEqual([...first].sort());
  });
});
