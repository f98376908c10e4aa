/**
 * EventBridge content filtering for the local hub: `compileEventPattern(pattern)` turns a rule's EventPattern into a
 * predicate over events. It implements a documented SUBSET of EventBridge's pattern language; anything outside it
 * throws at COMPILE time (the local hub fails loudly at start instead of silently routing differently from AWS).
 *
 * Supported subset
 * ----------------
 * - Pattern shape: a non-empty JSON object. Each key is a field of the event; its value is either a nested pattern
 *   object (matched against the event's sub-object) or a non-empty ARRAY of matchers (a "leaf"). All keys must
 *   match (AND); the matchers of one leaf are alternatives (OR).
 * - Exact values: strings, numbers, booleans and `null` — `{"source": ["a", "b"]}`. Comparison is by type and
 *   value: `"5"` does not match `5`, `[null]` matches a field present with the value null (not an absent field).
 * - `{"prefix": "str"}`, `{"suffix": "str"}` — string values only.
 * - `{"anything-but": "str" | number | ["a", "b"] | [1, 2] | {"prefix": "str"}}` — matches a PRESENT leaf value
 *   that is not one of the listed values (values of another type than the list count as "not listed"); the
 *   `{prefix}` form matches string values that do not start with the prefix. An absent field never matches.
 * - `{"numeric": [op, n]}` or `{"numeric": [lowerOp, n, upperOp, m]}` with op in `>`, `>=`, `<`, `<=`, `=`
 *   (`=` alone only; a range is one of `>`/`>=` followed by one of `<`/`<=`). Compares JSON numbers only: the
 *   string `"5"` never matches.
 * - `{"exists": true | false}` — a field exists when it has at least one leaf value (string, number, boolean,
 *   null); an object value or an empty array is not a leaf, so `exists: true` does not match it and
 *   `exists: false` does. `exists: false` matches an absent field, including when a parent object is absent.
 * - `{"equals-ignore-case": "str"}` — string values, case-insensitive.
 * - `"$or": [pattern, pattern, ...]` at any object level: the object matches when its other keys match AND at
 *   least one of the alternatives matches.
 * - Arrays in the event: a leaf matches when ANY element matches one of the matchers (nested arrays are
 *   flattened; object elements are not leaf values). A nested pattern over an array of objects matches when ONE
 *   element matches the whole nested pattern (EventBridge's array-consistent matching).
 *
 * Not supported (→ `UnsupportedPatternError` naming the operator and the path, at compile time): `wildcard`,
 * `cidr`, `anything-but` with `suffix` / `wildcard` / `equals-ignore-case`, `prefix` / `suffix` with a nested
 * `equals-ignore-case`, any other operator, and object keys starting with `$` other than `$or`.
 * Invalid shapes (a leaf that is not an array, empty arrays/objects, operator objects with several keys, bad
 * operand types) → `InvalidEventPatternError` with the path.
 */

export type EventPredicate = (event: object) => boolean;

/** Operators `compileEventPattern` understands; any other is rejected with `UnsupportedPatternError`. */
export const SUPPORTED_OPERATORS = ['prefix', 'suffix', 'anything-but', 'numeric', 'exists', 'equals-ignore-case', '$or'] as const;

/** An operator (or `$`-key) outside the supported subset. `path` is the dotted field path, e.g. `detail.ip`. */
export class UnsupportedPatternError extends Error {
  constructor(
    readonly operator: string,
    readonly path: string,
  ) {
    super(`Unsupported event pattern operator "${operator}" at ${path} (the local hub supports: ${SUPPORTED_OPERATORS.join(', ')}; see local/event-pattern.ts)`);
    this.name = 'UnsupportedPatternError';
  }
}

/** A pattern that is not a valid EventBridge pattern shape. */
export class InvalidEventPatternError extends Error {
  constructor(
    readonly path: string,
    readonly reason: string,
  ) {
    super(`Invalid event pattern at ${path}: ${reason}`);
    this.name = 'InvalidEventPatternError';
  }
}

type Leaf = string | number | boolean | null;
type LeafMatcher = { readonly kind: 'value'; test: (value: Leaf) => boolean } | { readonly kind: 'exists'; readonly exists: boolean };
type ObjectMatcher = (value: unknown) => boolean;

/** Compiles an EventBridge event pattern (object or JSON string) into a predicate; throws on unsupported/invalid input. */
export function compileEventPattern(pattern: unknown): EventPredicate {
  const parsed = typeof pattern === 'string' ? parseJson(pattern) : pattern;
  const matcher = compileObject(parsed, '$');
  return (event: object) => matcher(event);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new InvalidEventPatternError('$', `not valid JSON (${(error as Error).message})`);
  }
}

const isPlainObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

const join = (path: string, key: string): string => (path === '$' ? key : `${path}.${key}`);

/** A nested pattern object → a matcher of the event value at that position (object, array of objects or absent). */
function compileObject(pattern: unknown, path: string): ObjectMatcher {
  if (!isPlainObject(pattern)) throw new InvalidEventPatternError(path, `a pattern must be a JSON object, got ${describe(pattern)}`);
  const keys = Object.keys(pattern);
  if (keys.length === 0) throw new InvalidEventPatternError(path, 'a pattern object must not be empty');
  const checks: ((object: Record<string, unknown>) => boolean)[] = [];
  for (const key of keys) {
    const value = pattern[key];
    const keyPath = join(path, key);
    if (key === '$or') {
      if (!Array.isArray(value) || value.length < 2) throw new InvalidEventPatternError(keyPath, '"$or" takes an array of at least two pattern objects');
      const alternatives = value.map((alternative, index) => compileObject(alternative, `${keyPath}[${index}]`));
      checks.push((object) => alternatives.some((alternative) => alternative(object)));
    } else if (key.startsWith('$')) {
      throw new UnsupportedPatternError(key, keyPath);
    } else if (Array.isArray(value)) {
      const leaf = compileLeaf(value, keyPath);
      checks.push((object) => leaf(leafValues(object[key])));
    } else if (isPlainObject(value)) {
      const nested = compileObject(value, keyPath);
      checks.push((object) => nested(object[key]));
    } else {
      throw new InvalidEventPatternError(keyPath, `a field's pattern must be an array of values/operators or a nested object, got ${describe(value)}`);
    }
  }
  const matchOne = (object: Record<string, unknown>): boolean => checks.every((check) => check(object));
  return (value) => {
    if (isPlainObject(value)) return matchOne(value);
    const objects = Array.isArray(value) ? flatten(value).filter(isPlainObject) : [];
    // An absent (or non-object) value has no sub-fields: value matchers fail, `exists: false` matches.
    return objects.length === 0 ? matchOne({}) : objects.some(matchOne);
  };
}

function flatten(values: readonly unknown[]): unknown[] {
  return values.flatMap((value) => (Array.isArray(value) ? flatten(value) : [value]));
}

/** The leaf values of an event field: arrays flattened, objects (and absence) contribute none. */
function leafValues(value: unknown): Leaf[] {
  if (value === undefined) return [];
  const values = Array.isArray(value) ? flatten(value) : [value];
  return values.filter((v): v is Leaf => v === null || typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean');
}

function compileLeaf(matchers: readonly unknown[], path: string): (values: Leaf[]) => boolean {
  if (matchers.length === 0) throw new InvalidEventPatternError(path, 'a value list must not be empty');
  const compiled = matchers.map((matcher) => compileMatcher(matcher, path));
  return (values) =>
    compiled.some((matcher) => (matcher.kind === 'exists' ? (values.length > 0) === matcher.exists : values.some((value) => matcher.test(value))));
}

function compileMatcher(matcher: unknown, path: string): LeafMatcher {
  if (matcher === null || typeof matcher === 'string' || typeof matcher === 'boolean') return { kind: 'value', test: (value) => value === matcher };
  if (typeof matcher === 'number') {
    if (!Number.isFinite(matcher)) throw new InvalidEventPatternError(path, `${matcher} is not a finite number`);
    return { kind: 'value', test: (value) => value === matcher };
  }
  if (Array.isArray(matcher)) throw new InvalidEventPatternError(path, 'value lists cannot contain arrays');
  if (!isPlainObject(matcher)) throw new InvalidEventPatternError(path, `unexpected matcher ${describe(matcher)}`);
  const keys = Object.keys(matcher);
  if (keys.length !== 1) throw new InvalidEventPatternError(path, `an operator object takes exactly one operator, got ${keys.length === 0 ? 'none' : keys.join(', ')}`);
  const operator = keys[0]!;
  const operand = matcher[operator];
  switch (operator) {
    case 'prefix':
    case 'suffix': {
      const text = stringOperand(operator, operand, path);
      return operator === 'prefix'
        ? { kind: 'value', test: (value) => typeof value === 'string' && value.startsWith(text) }
        : { kind: 'value', test: (value) => typeof value === 'string' && value.endsWith(text) };
    }
    case 'equals-ignore-case': {
      const text = foldCase(stringOperand(operator, operand, path));
      return { kind: 'value', test: (value) => typeof value === 'string' && foldCase(value) === text };
    }
    case 'exists':
      if (typeof operand !== 'boolean') throw new InvalidEventPatternError(path, `"exists" takes true or false, got ${describe(operand)}`);
      return { kind: 'exists', exists: operand };
    case 'anything-but':
      return { kind: 'value', test: compileAnythingBut(operand, path) };
    case 'numeric':
      return { kind: 'value', test: compileNumeric(operand, path) };
    default:
      throw new UnsupportedPatternError(operator, path);
  }
}

const foldCase = (text: string): string => text.toUpperCase().toLowerCase();

function stringOperand(operator: string, operand: unknown, path: string): string {
  if (isPlainObject(operand)) {
    const nested = Object.keys(operand);
    throw new UnsupportedPatternError(`${operator}: ${nested.length > 0 ? nested.join(', ') : '{}'}`, path);
  }
  if (typeof operand !== 'string') throw new InvalidEventPatternError(path, `"${operator}" takes a string, got ${describe(operand)}`);
  return operand;
}

function compileAnythingBut(operand: unknown, path: string): (value: Leaf) => boolean {
  if (isPlainObject(operand)) {
    const keys = Object.keys(operand);
    if (keys.length !== 1) throw new InvalidEventPatternError(path, '"anything-but" takes exactly one nested operator');
    const nested = keys[0]!;
    if (nested !== 'prefix') throw new UnsupportedPatternError(`anything-but: ${nested}`, path);
    const prefix = stringOperand('anything-but: prefix', operand[nested], path);
    return (value) => typeof value === 'string' && !value.startsWith(prefix);
  }
  const list = Array.isArray(operand) ? operand : [operand];
  if (list.length === 0) throw new InvalidEventPatternError(path, '"anything-but" takes a non-empty list');
  const allStrings = list.every((item) => typeof item === 'string');
  const allNumbers = list.every((item) => typeof item === 'number' && Number.isFinite(item));
  if (!allStrings && !allNumbers) throw new InvalidEventPatternError(path, `"anything-but" takes a string, a number, or a list of only strings or only numbers, got ${JSON.stringify(operand)}`);
  const excluded = new Set<unknown>(list);
  return (value) => !excluded.has(value);
}

const LOWER = new Set(['>', '>=']);
const UPPER = new Set(['<', '<=']);

function compileNumeric(operand: unknown, path: string): (value: Leaf) => boolean {
  const bad = (reason: string): never => {
    throw new InvalidEventPatternError(path, `"numeric" ${reason}, got ${JSON.stringify(operand)}`);
  };
  if (!Array.isArray(operand) || (operand.length !== 2 && operand.length !== 4)) return bad('takes [op, number] or [lowerOp, number, upperOp, number]');
  const conditions: ((n: number) => boolean)[] = [];
  for (let i = 0; i < operand.length; i += 2) {
    const op = operand[i] as unknown;
    const bound = operand[i + 1] as unknown;
    if (typeof bound !== 'number' || !Number.isFinite(bound)) return bad(`needs a finite number after "${String(op)}"`);
    if (operand.length === 4) {
      if (i === 0 && !LOWER.has(op as string)) return bad('range must start with ">" or ">="');
      if (i === 2 && !UPPER.has(op as string)) return bad('range must end with "<" or "<="');
    }
    switch (op) {
      case '>':
        conditions.push((n) => n > bound);
        break;
      case '>=':
        conditions.push((n) => n >= bound);
        break;
      case '<':
        conditions.push((n) => n < bound);
        break;
      case '<=':
        conditions.push((n) => n <= bound);
        break;
      case '=':
        conditions.push((n) => n === bound);
        break;
      default:
        return bad(`unknown comparison "${String(op)}" (use >, >=, <, <=, =)`);
    }
  }
  return (value) => typeof value === 'number' && conditions.every((condition) => condition(value));
}

function describe(value: unknown): string {
  if (value === undefined) return 'undefined';
  if (Array.isArray(value)) return 'an array';
  return value === null ? 'null' : `${typeof value} ${JSON.stringify(value)}`;
}
