import { describe, expect, it } from 'vitest';
import { compileEventPattern, InvalidEventPatternError, UnsupportedPatternError } from '../../local/event-pattern.js';

const matches = (pattern: unknown, event: object): boolean => compileEventPattern(pattern)(event);

const order = {
  version: '0',
  id: 'e-1',
  source: 'orders.service',
  'detail-type': 'OrderPlaced',
  account: '123456789012',
  region: 'us-east-1',
  resources: ['arn:aws:s3:::bucket-a', 'arn:aws:s3:::bucket-b'],
  detail: {
    status: 'PLACED',
    amount: 42.5,
    quantity: 3,
    express: true,
    coupon: null,
    tags: ['gift', 'priority'],
    items: [
      { sku: 'A-1', qty: 1 },
      { sku: 'B-2', qty: 5 },
    ],
    customer: { email: 'Jane@Example.COM', tier: 'gold' },
  },
};

describe('exact values', () => {
  it('matches a string in the value list and not one outside it', () => {
    expect(matches({ source: ['billing.service', 'orders.service'] }, order)).toBe(true);
    expect(matches({ source: ['billing.service'] }, order)).toBe(false);
  });

  it('matches numbers, booleans and null by type and value', () => {
    expect(matches({ detail: { quantity: [3] } }, order)).toBe(true);
    expect(matches({ detail: { quantity: ['3'] } }, order)).toBe(false);
    expect(matches({ detail: { express: [true] } }, order)).toBe(true);
    expect(matches({ detail: { express: [false] } }, order)).toBe(false);
    expect(matches({ detail: { coupon: [null] } }, order)).toBe(true);
    expect(matches({ detail: { status: [null] } }, order)).toBe(false);
  });

  it('ANDs fields and matches nested objects', () => {
    expect(matches({ source: ['orders.service'], 'detail-type': ['OrderPlaced'], detail: { customer: { tier: ['gold'] } } }, order)).toBe(true);
    expect(matches({ source: ['orders.service'], 'detail-type': ['OrderShipped'] }, order)).toBe(false);
    expect(matches({ detail: { customer: { tier: ['silver'] } } }, order)).toBe(false);
  });

  it('does not match a value list when the field is absent (also [null])', () => {
    expect(matches({ detail: { missing: ['x'] } }, order)).toBe(false);
    expect(matches({ detail: { missing: [null] } }, order)).toBe(false);
    expect(matches({ nothere: { deeper: ['x'] } }, order)).toBe(false);
  });

  it('does not treat an object value as a leaf', () => {
    expect(matches({ detail: { customer: ['gold'] } }, order)).toBe(false);
  });
});

describe('arrays in the event', () => {
  it('matches when any element matches', () => {
    expect(matches({ resources: ['arn:aws:s3:::bucket-b'] }, order)).toBe(true);
    expect(matches({ detail: { tags: ['priority', 'other'] } }, order)).toBe(true);
    expect(matches({ detail: { tags: ['none'] } }, order)).toBe(false);
  });

  it('matches a nested pattern against one element of an array of objects', () => {
    expect(matches({ detail: { items: { sku: ['B-2'], qty: [5] } } }, order)).toBe(true);
    // sku of one element, qty of another: not the same element.
    expect(matches({ detail: { items: { sku: ['A-1'], qty: [5] } } }, order)).toBe(false);
    expect(matches({ detail: { items: { qty: [{ numeric: ['>', 4] }] } } }, order)).toBe(true);
  });
});

describe('prefix and suffix', () => {
  it('prefix matches strings starting with it', () => {
    expect(matches({ source: [{ prefix: 'orders.' }] }, order)).toBe(true);
    expect(matches({ source: [{ prefix: 'billing.' }] }, order)).toBe(false);
    expect(matches({ detail: { quantity: [{ prefix: '3' }] } }, order)).toBe(false);
  });

  it('suffix matches strings ending with it', () => {
    expect(matches({ resources: [{ suffix: '-b' }] }, order)).toBe(true);
    expect(matches({ resources: [{ suffix: '-c' }] }, order)).toBe(false);
  });

  it('do not match an absent field', () => {
    expect(matches({ detail: { missing: [{ prefix: '' }] } }, order)).toBe(false);
  });
});

describe('anything-but', () => {
  it('takes a single value', () => {
    expect(matches({ detail: { status: [{ 'anything-but': 'CANCELLED' }] } }, order)).toBe(true);
    expect(matches({ detail: { status: [{ 'anything-but': 'PLACED' }] } }, order)).toBe(false);
    expect(matches({ detail: { quantity: [{ 'anything-but': 3 }] } }, order)).toBe(false);
    expect(matches({ detail: { quantity: [{ 'anything-but': 4 }] } }, order)).toBe(true);
  });

  it('takes a list', () => {
    expect(matches({ detail: { status: [{ 'anything-but': ['CANCELLED', 'FAILED'] }] } }, order)).toBe(true);
    expect(matches({ detail: { status: [{ 'anything-but': ['CANCELLED', 'PLACED'] }] } }, order)).toBe(false);
  });

  it('takes a prefix', () => {
    expect(matches({ source: [{ 'anything-but': { prefix: 'billing.' } }] }, order)).toBe(true);
    expect(matches({ source: [{ 'anything-but': { prefix: 'orders.' } }] }, order)).toBe(false);
  });

  it('does not match when the field is absent', () => {
    expect(matches({ detail: { missing: [{ 'anything-but': 'x' }] } }, order)).toBe(false);
    expect(matches({ detail: { missing: [{ 'anything-but': { prefix: 'x' } }] } }, order)).toBe(false);
  });

  it('matches an array when any element is not excluded', () => {
    expect(matches({ detail: { tags: [{ 'anything-but': 'gift' }] } }, order)).toBe(true);
    expect(matches({ detail: { tags: [{ 'anything-but': ['gift', 'priority'] }] } }, order)).toBe(false);
  });
});

describe('numeric', () => {
  it('compares with one condition', () => {
    expect(matches({ detail: { amount: [{ numeric: ['>', 42] }] } }, order)).toBe(true);
    expect(matches({ detail: { amount: [{ numeric: ['>', 42.5] }] } }, order)).toBe(false);
    expect(matches({ detail: { amount: [{ numeric: ['>=', 42.5] }] } }, order)).toBe(true);
    expect(matches({ detail: { amount: [{ numeric: ['<', 42.5] }] } }, order)).toBe(false);
    expect(matches({ detail: { amount: [{ numeric: ['<=', 42.5] }] } }, order)).toBe(true);
    expect(matches({ detail: { quantity: [{ numeric: ['=', 3] }] } }, order)).toBe(true);
    expect(matches({ detail: { quantity: [{ numeric: ['=', 4] }] } }, order)).toBe(false);
  });

  it('compares with a range', () => {
    expect(matches({ detail: { amount: [{ numeric: ['>', 0, '<=', 100] }] } }, order)).toBe(true);
    expect(matches({ detail: { amount: [{ numeric: ['>=', 50, '<', 100] }] } }, order)).toBe(false);
  });

  it('compares numbers only, never numeric strings, and not absent fields', () => {
    expect(matches({ detail: { n: [{ numeric: ['>', 1] }] } }, { detail: { n: '5' } })).toBe(false);
    expect(matches({ detail: { missing: [{ numeric: ['>', 1] }] } }, order)).toBe(false);
  });

  it('rejects malformed conditions', () => {
    for (const numeric of [['>'], ['>', '1'], ['~', 1], ['<', 1, '>', 0], ['=', 1, '<', 2], '>1', ['>', 1, '<']]) {
      expect(() => compileEventPattern({ detail: { n: [{ numeric }] } }), JSON.stringify(numeric)).toThrow(InvalidEventPatternError);
    }
  });
});

describe('exists', () => {
  it('exists: true matches a present leaf value (including null) and not an absent field', () => {
    expect(matches({ detail: { status: [{ exists: true }] } }, order)).toBe(true);
    expect(matches({ detail: { coupon: [{ exists: true }] } }, order)).toBe(true);
    expect(matches({ detail: { missing: [{ exists: true }] } }, order)).toBe(false);
  });

  it('exists: true does not match an object (not a leaf) or an empty array', () => {
    expect(matches({ detail: { customer: [{ exists: true }] } }, order)).toBe(false);
    expect(matches({ detail: { list: [{ exists: true }] } }, { detail: { list: [] } })).toBe(false);
  });

  it('exists: false matches absence, including an absent parent, and not a present field', () => {
    expect(matches({ detail: { missing: [{ exists: false }] } }, order)).toBe(true);
    expect(matches({ nothere: { deeper: [{ exists: false }] } }, order)).toBe(true);
    expect(matches({ detail: { status: [{ exists: false }] } }, order)).toBe(false);
  });

  it('ORs with the other matchers of the list', () => {
    expect(matches({ detail: { missing: ['x', { exists: false }] } }, order)).toBe(true);
    expect(matches({ detail: { status: ['x', { exists: false }] } }, order)).toBe(false);
  });
});

describe('equals-ignore-case', () => {
  it('matches strings regardless of case', () => {
    expect(matches({ detail: { customer: { email: [{ 'equals-ignore-case': 'jane@example.com' }] } } }, order)).toBe(true);
    expect(matches({ detail: { customer: { email: [{ 'equals-ignore-case': 'john@example.com' }] } } }, order)).toBe(false);
    expect(matches({ detail: { missing: [{ 'equals-ignore-case': 'x' }] } }, order)).toBe(false);
  });
});

describe('$or', () => {
  it('matches when any alternative matches, ANDed with the sibling fields', () => {
    const pattern = { source: ['orders.service'], $or: [{ detail: { status: ['CANCELLED'] } }, { detail: { amount: [{ numeric: ['>', 40] }] } }] };
    expect(matches(pattern, order)).toBe(true);
    expect(matches({ ...pattern, source: ['billing.service'] }, order)).toBe(false);
    expect(matches({ $or: [{ detail: { status: ['CANCELLED'] } }, { 'detail-type': ['OrderShipped'] }] }, order)).toBe(false);
  });

  it('works nested inside an object', () => {
    expect(matches({ detail: { $or: [{ status: ['X'] }, { customer: { tier: ['gold'] } }] } }, order)).toBe(true);
    expect(matches({ detail: { $or: [{ status: ['X'] }, { customer: { tier: ['silver'] } }] } }, order)).toBe(false);
  });

  it('needs at least two pattern objects', () => {
    expect(() => compileEventPattern({ $or: [{ source: ['a'] }] })).toThrow(InvalidEventPatternError);
    expect(() => compileEventPattern({ $or: { source: ['a'] } })).toThrow(InvalidEventPatternError);
    expect(() => compileEventPattern({ $or: [{ source: ['a'] }, ['b']] })).toThrow(/\$or\[1\]/);
  });
});

describe('unsupported operators throw at compile time with the operator and path', () => {
  const cases: [string, unknown, string, string][] = [
    ['wildcard', { detail: { file: [{ wildcard: '*.png' }] } }, 'wildcard', 'detail.file'],
    ['cidr', { detail: { ip: [{ cidr: '10.0.0.0/24' }] } }, 'cidr', 'detail.ip'],
    ['an unknown operator', { source: [{ regex: '.*' }] }, 'regex', 'source'],
    ['anything-but suffix', { source: [{ 'anything-but': { suffix: 'x' } }] }, 'anything-but: suffix', 'source'],
    ['anything-but wildcard', { source: [{ 'anything-but': { wildcard: 'x*' } }] }, 'anything-but: wildcard', 'source'],
    ['anything-but equals-ignore-case', { source: [{ 'anything-but': { 'equals-ignore-case': 'x' } }] }, 'anything-but: equals-ignore-case', 'source'],
    ['prefix with equals-ignore-case', { source: [{ prefix: { 'equals-ignore-case': 'x' } }] }, 'prefix: equals-ignore-case', 'source'],
    ['suffix with equals-ignore-case', { source: [{ suffix: { 'equals-ignore-case': 'x' } }] }, 'suffix: equals-ignore-case', 'source'],
    ['a $-key other than $or', { detail: { $and: [{ a: ['b'] }, { c: ['d'] }] } }, '$and', 'detail.$and'],
    ['an operator inside an $or alternative', { $or: [{ source: ['a'] }, { detail: { ip: [{ cidr: '10.0.0.0/8' }] } }] }, 'cidr', '$or[1].detail.ip'],
  ];
  for (const [name, pattern, operator, path] of cases) {
    it(`rejects ${name}`, () => {
      let error: unknown;
      try {
        compileEventPattern(pattern);
      } catch (caught) {
        error = caught;
      }
      expect(error).toBeInstanceOf(UnsupportedPatternError);
      expect(error).toMatchObject({ operator, path });
      expect((error as Error).message).toContain(operator);
      expect((error as Error).message).toContain(path);
    });
  }
});

describe('invalid pattern shapes', () => {
  it('rejects a leaf that is not an array, with its path', () => {
    expect(() => compileEventPattern({ source: 'orders.service' })).toThrow(InvalidEventPatternError);
    expect(() => compileEventPattern({ detail: { status: 'x' } })).toThrow(/detail\.status/);
    expect(() => compileEventPattern({ detail: { n: 5 } })).toThrow(/array/);
  });

  it('rejects non-object patterns, empty objects, empty lists, nested arrays and multi-key operators', () => {
    for (const pattern of [null, [], 'x', 5, {}, { detail: {} }, { source: [] }, { source: [['a']] }, { source: [{ prefix: 'a', suffix: 'b' }] }, { source: [{}] }]) {
      expect(() => compileEventPattern(pattern), JSON.stringify(pattern)).toThrow(InvalidEventPatternError);
    }
  });

  it('rejects bad operand types', () => {
    for (const matcher of [{ prefix: 1 }, { exists: 'yes' }, { 'equals-ignore-case': 1 }, { 'anything-but': [] }, { 'anything-but': ['a', 1] }, { 'anything-but': true }]) {
      expect(() => compileEventPattern({ source: [matcher] }), JSON.stringify(matcher)).toThrow(InvalidEventPatternError);
    }
  });

  it('accepts the pattern as a JSON string and rejects invalid JSON', () => {
    expect(compileEventPattern('{"source":["orders.service"]}')(order)).toBe(true);
    expect(() => compileEventPattern('{"source":')).toThrow(InvalidEventPatternError);
  });
});
