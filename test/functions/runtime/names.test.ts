import { describe, expect, it } from 'vitest';
import { isLowerKebabCase, nameProblem } from '../../../functions/runtime/names.js';

describe('the naming rule', () => {
  it.each(['crm', 'payments-eu', 'order-saga', 'a1', 'crm-2-b'])('accepts %j', (name) => {
    expect(isLowerKebabCase(name)).toBe(true);
    expect(nameProblem(name)).toBeUndefined();
  });

  it.each(['', 'CRM', 'Crm', '1crm', '-crm', 'crm-', 'crm--eu', 'crm_eu', 'crm eu', 'crm.eu'])('rejects %j', (name) => {
    expect(isLowerKebabCase(name)).toBe(false);
    expect(nameProblem(name, 'adapter')).toBe(`adapter must be lower-kebab-case like 'crm' or 'payments-eu' (got ${JSON.stringify(name)})`);
  });

  it('rejects what is not a string', () => {
    for (const value of [undefined, null, 42, {}, ['crm']]) expect(isLowerKebabCase(value)).toBe(false);
  });
});
