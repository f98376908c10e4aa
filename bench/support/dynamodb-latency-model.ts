/**
 * A DynamoDB latency model for `npm run bench:runtime`: an SDK request handler (the `requestHandler` of a
 * DynamoDBClient) that answers the DynamoDB JSON protocol from a minimal in-memory table after a fixed latency,
 * with a bounded number of requests in flight (later ones queue for a slot, as on a connection pool). Everything
 * above the handler is the real SDK stack (endpoint resolution, serialization, signing, retry, deserialization),
 * so the runtime is measured as deployed with only the network and the service replaced.
 *
 * The table is this file's own, not dynalite's: items are kept as DynamoDB JSON, and the operations the runtime
 * sends (functions/runtime/dynamodb-sync-ledger.ts, functions/runtime/dynamodb-circuit-store.ts) are answered as
 * DynamoDB answers them — UpdateItem, PutItem, GetItem, Query (key conditions `=` and `begins_with`), with
 * ConditionExpression, ReturnValues, and ReturnValuesOnConditionCheckFailure (which dynalite ignores). Expressions
 * cover top-level attributes: SET (`=`, `+`, `-`, if_not_exists, list_append), ADD (numbers), REMOVE, and
 * conditions with = <> < <= > >=, AND, OR, NOT, parentheses, attribute_exists, attribute_not_exists, begins_with.
 * Anything else is refused with a ValidationException, never answered wrongly.
 *
 * The handler's own synchronous work is timed ({@link DynamoDbLatencyModel.answeringMs}) so the benchmark can
 * take it out of the CPU it attributes to the runtime.
 */
import type { HttpRequest, HttpResponse } from '@smithy/types';

/** A DynamoDB attribute value in the JSON protocol's form (`{ S: '…' }`, `{ N: '1' }`, `{ L: [...] }`, …). */
export type AttributeValue = Record<string, unknown>;
/** An item: attribute name → value. */
export type Item = Record<string, AttributeValue>;

/** The key attributes of a table (string keys). */
export interface ModelTableKeys {
  readonly partitionKey: string;
  readonly sortKey?: string;
}

/** Options of {@link DynamoDbLatencyModel}. */
export interface DynamoDbLatencyModelOptions {
  /** Time from a request getting its slot to its answer. @default 5 */
  readonly latencyMs?: number;
  /** Requests answered at once; more wait for a slot. @default 10 */
  readonly maxInFlight?: number;
}

/** Thrown inside the model and answered as a DynamoDB error of that type. */
class ModelError extends Error {
  constructor(
    readonly type: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
  }
}

/** The request handler; pass it as `requestHandler` to a DynamoDBClient. */
export class DynamoDbLatencyModel {
  readonly latencyMs: number;
  readonly maxInFlight: number;
  readonly #tables = new Map<string, { keys: ModelTableKeys; items: Map<string, Item> }>();
  readonly #waiting: (() => void)[] = [];
  #inFlight = 0;
  #answeringMs = 0;
  /** Requests answered, by operation (UpdateItem, GetItem, …). */
  readonly counts = new Map<string, number>();

  constructor(options: DynamoDbLatencyModelOptions = {}) {
    this.latencyMs = options.latencyMs ?? 5;
    this.maxInFlight = options.maxInFlight ?? 10;
  }

  /** Creates an empty table (or empties an existing one). */
  createTable(name: string, keys: ModelTableKeys): void {
    this.#tables.set(name, { keys, items: new Map() });
  }

  /** Milliseconds the model spent answering (parsing, evaluating, serializing), synchronously. */
  get answeringMs(): number {
    return this.#answeringMs;
  }

  /** The smithy HttpHandler entry point. */
  async handle(request: HttpRequest): Promise<{ response: HttpResponse }> {
    await this.#slot();
    try {
      await new Promise((resolve) => setTimeout(resolve, this.latencyMs));
      const started = performance.now();
      const response = this.#answer(request);
      this.#answeringMs += performance.now() - started;
      return { response };
    } finally {
      this.#release();
    }
  }

  updateHttpClientConfig(): void {}

  httpHandlerConfigs(): Record<string, never> {
    return {};
  }

  destroy(): void {}

  async #slot(): Promise<void> {
    if (this.#inFlight < this.maxInFlight) {
      this.#inFlight += 1;
      return;
    }
    // The slot is handed over by #release, so the count never passes the bound.
    await new Promise<void>((resolve) => this.#waiting.push(resolve));
  }

  #release(): void {
    const next = this.#waiting.shift();
    if (next) next();
    else this.#inFlight -= 1;
  }

  #answer(request: HttpRequest): HttpResponse {
    const target = String(request.headers['x-amz-target'] ?? '');
    const operation = target.slice(target.indexOf('.') + 1);
    this.counts.set(operation, (this.counts.get(operation) ?? 0) + 1);
    try {
      const input = JSON.parse(bodyText(request.body)) as Request;
      return respond(200, this.#operate(operation, input));
    } catch (error) {
      if (error instanceof ModelError) return respond(400, { __type: `com.amazonaws.dynamodb.v20120810#${error.type}`, message: error.message, ...error.extra });
      return respond(500, { __type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: (error as Error).message });
    }
  }

  #operate(operation: string, input: Request): Record<string, unknown> {
    switch (operation) {
      case 'GetItem':
        return this.#getItem(input);
      case 'PutItem':
        return this.#putItem(input);
      case 'UpdateItem':
        return this.#updateItem(input);
      case 'Query':
        return this.#query(input);
      default:
        throw new ModelError('UnknownOperationException', `The latency model does not answer ${operation}`);
    }
  }

  #table(name: string | undefined) {
    const table = name === undefined ? undefined : this.#tables.get(name);
    if (!table) throw new ModelError('ResourceNotFoundException', `Requested resource not found: Table: ${name} not found`);
    return table;
  }

  #getItem(input: Request): Record<string, unknown> {
    const table = this.#table(input.TableName);
    const item = table.items.get(keyString(table.keys, input.Key ?? {}));
    return item ? { Item: item } : {};
  }

  #putItem(input: Request): Record<string, unknown> {
    const table = this.#table(input.TableName);
    const item = input.Item ?? {};
    const key = keyString(table.keys, item);
    const existing = table.items.get(key);
    this.#checkCondition(input, existing);
    table.items.set(key, item);
    return input.ReturnValues === 'ALL_OLD' && existing ? { Attributes: existing } : {};
  }

  #updateItem(input: Request): Record<string, unknown> {
    const table = this.#table(input.TableName);
    const keyItem = input.Key ?? {};
    const key = keyString(table.keys, keyItem);
    const existing = table.items.get(key);
    this.#checkCondition(input, existing);
    const updated: Item = { ...(existing ?? keyItem) };
    if (input.UpdateExpression) applyUpdate(compileUpdate(input.UpdateExpression), updated, resolver(input));
    table.items.set(key, updated);
    switch (input.ReturnValues ?? 'NONE') {
      case 'ALL_NEW':
        return { Attributes: updated };
      case 'ALL_OLD':
        return existing ? { Attributes: existing } : {};
      case 'NONE':
        return {};
      default:
        throw new ModelError('ValidationException', `The latency model does not answer ReturnValues ${input.ReturnValues}`);
    }
  }

  #query(input: Request): Record<string, unknown> {
    const table = this.#table(input.TableName);
    if (!input.KeyConditionExpression) throw new ModelError('ValidationException', 'KeyConditionExpression is required');
    const condition = compileCondition(input.KeyConditionExpression);
    const resolve = resolver(input);
    const items = [...table.items.values()].filter((item) => evaluate(condition, item, resolve));
    const sortKey = table.keys.sortKey;
    if (sortKey) items.sort((a, b) => compareScalars(a[sortKey], b[sortKey]));
    if (input.ScanIndexForward === false) items.reverse();
    const limited = input.Limit !== undefined ? items.slice(0, input.Limit) : items;
    return { Items: limited, Count: limited.length, ScannedCount: limited.length };
  }

  #checkCondition(input: Request, existing: Item | undefined): void {
    if (!input.ConditionExpression) return;
    if (evaluate(compileCondition(input.ConditionExpression), existing ?? {}, resolver(input))) return;
    const extra = input.ReturnValuesOnConditionCheckFailure === 'ALL_OLD' && existing ? { Item: existing } : {};
    throw new ModelError('ConditionalCheckFailedException', 'The conditional request failed', extra);
  }
}

/** The request fields the model reads. */
interface Request {
  TableName?: string;
  Key?: Item;
  Item?: Item;
  UpdateExpression?: string;
  ConditionExpression?: string;
  KeyConditionExpression?: string;
  ExpressionAttributeNames?: Record<string, string>;
  ExpressionAttributeValues?: Record<string, AttributeValue>;
  ReturnValues?: string;
  ReturnValuesOnConditionCheckFailure?: string;
  ScanIndexForward?: boolean;
  Limit?: number;
}

function respond(statusCode: number, body: Record<string, unknown>): HttpResponse {
  return {
    statusCode,
    headers: { 'content-type': 'application/x-amz-json-1.0', 'x-amzn-requestid': 'latency-model' },
    body: Buffer.from(JSON.stringify(body)),
  } as HttpResponse;
}

function keyString(keys: ModelTableKeys, item: Item): string {
  const partition = item[keys.partitionKey];
  const sort = keys.sortKey ? item[keys.sortKey] : undefined;
  if (!partition || (keys.sortKey && !sort)) throw new ModelError('ValidationException', 'The provided key element does not match the schema');
  return JSON.stringify(keys.sortKey ? [partition, sort] : [partition]);
}

// ------------------------------------------------------------ expressions

/** Resolves `#name` and `:value` placeholders of one request. */
interface Resolver {
  name(token: string): string;
  value(token: string): AttributeValue;
}

function resolver(input: Request): Resolver {
  return {
    name: (token) => {
      if (!token.startsWith('#')) return token;
      const name = input.ExpressionAttributeNames?.[token];
      if (name === undefined) throw new ModelError('ValidationException', `An expression attribute name used in the document path is not defined: ${token}`);
      return name;
    },
    value: (token) => {
      const value = input.ExpressionAttributeValues?.[token];
      if (value === undefined) throw new ModelError('ValidationException', `An expression attribute value used in expression is not defined: ${token}`);
      return value;
    },
  };
}

type Operand =
  | { kind: 'path'; token: string }
  | { kind: 'value'; token: string }
  | { kind: 'call'; name: string; args: Operand[] }
  | { kind: 'arith'; op: '+' | '-'; left: Operand; right: Operand };

type Condition =
  | { kind: 'and' | 'or'; left: Condition; right: Condition }
  | { kind: 'not'; inner: Condition }
  | { kind: 'compare'; op: string; left: Operand; right: Operand }
  | { kind: 'function'; name: string; args: Operand[] };

interface Update {
  set: { path: string; value: Operand }[];
  add: { path: string; value: Operand }[];
  remove: string[];
}

const conditionCache = new Map<string, Condition>();
const updateCache = new Map<string, Update>();

function tokenize(expression: string): string[] {
  const tokens = expression.match(/<>|<=|>=|[=<>(),+-]|[#:]?[A-Za-z0-9_.\[\]]+|\S/g) ?? [];
  for (const token of tokens) {
    if (/[.\[\]]/.test(token) && !/^:/.test(token)) throw new ModelError('ValidationException', `The latency model answers top-level attributes only: ${token}`);
  }
  return tokens;
}

class Tokens {
  #at = 0;
  constructor(readonly list: string[]) {}
  peek(): string | undefined {
    return this.list[this.#at];
  }
  next(): string {
    const token = this.list[this.#at++];
    if (token === undefined) throw new ModelError('ValidationException', 'Invalid expression: unexpected end');
    return token;
  }
  expect(token: string): void {
    const found = this.next();
    if (found !== token) throw new ModelError('ValidationException', `Invalid expression: expected ${token}, found ${found}`);
  }
  done(): boolean {
    return this.#at >= this.list.length;
  }
}

function compileCondition(expression: string): Condition {
  let compiled = conditionCache.get(expression);
  if (!compiled) {
    const tokens = new Tokens(tokenize(expression));
    compiled = parseOr(tokens);
    if (!tokens.done()) throw new ModelError('ValidationException', `Invalid ConditionExpression: unexpected ${tokens.peek()}`);
    conditionCache.set(expression, compiled);
  }
  return compiled;
}

function parseOr(tokens: Tokens): Condition {
  let left = parseAnd(tokens);
  while (tokens.peek()?.toUpperCase() === 'OR') {
    tokens.next();
    left = { kind: 'or', left, right: parseAnd(tokens) };
  }
  return left;
}

function parseAnd(tokens: Tokens): Condition {
  let left = parseNot(tokens);
  while (tokens.peek()?.toUpperCase() === 'AND') {
    tokens.next();
    left = { kind: 'and', left, right: parseNot(tokens) };
  }
  return left;
}

function parseNot(tokens: Tokens): Condition {
  if (tokens.peek()?.toUpperCase() === 'NOT') {
    tokens.next();
    return { kind: 'not', inner: parseNot(tokens) };
  }
  if (tokens.peek() === '(') {
    tokens.next();
    const inner = parseOr(tokens);
    tokens.expect(')');
    return inner;
  }
  const left = parseOperand(tokens);
  const op = tokens.peek();
  if (op && ['=', '<>', '<', '<=', '>', '>='].includes(op)) {
    tokens.next();
    return { kind: 'compare', op, left, right: parseOperand(tokens) };
  }
  if (left.kind === 'call' && ['attribute_exists', 'attribute_not_exists', 'begins_with'].includes(left.name)) {
    return { kind: 'function', name: left.name, args: left.args };
  }
  throw new ModelError('ValidationException', `Invalid ConditionExpression near ${op ?? 'the end'}`);
}

function parseOperand(tokens: Tokens): Operand {
  const token = tokens.next();
  if (tokens.peek() === '(') {
    tokens.next();
    const args: Operand[] = [];
    while (tokens.peek() !== ')') {
      args.push(parseValue(tokens));
      if (tokens.peek() === ',') tokens.next();
    }
    tokens.expect(')');
    if (!['attribute_exists', 'attribute_not_exists', 'begins_with', 'if_not_exists', 'list_append'].includes(token)) {
      throw new ModelError('ValidationException', `The latency model does not answer the function ${token}`);
    }
    return { kind: 'call', name: token, args };
  }
  if (token.startsWith(':')) return { kind: 'value', token };
  if (/^#?[A-Za-z_][A-Za-z0-9_]*$/.test(token)) return { kind: 'path', token };
  throw new ModelError('ValidationException', `Invalid expression: unexpected ${token}`);
}

/** An operand, or `a + b` / `a - b` (SET only). */
function parseValue(tokens: Tokens): Operand {
  const left = parseOperand(tokens);
  const op = tokens.peek();
  if (op === '+' || op === '-') {
    tokens.next();
    return { kind: 'arith', op, left, right: parseOperand(tokens) };
  }
  return left;
}

function compileUpdate(expression: string): Update {
  let compiled = updateCache.get(expression);
  if (compiled) return compiled;
  const tokens = new Tokens(tokenize(expression));
  const update: Update = { set: [], add: [], remove: [] };
  while (!tokens.done()) {
    const section = tokens.next().toUpperCase();
    do {
      const path = tokens.next();
      if (!/^#?[A-Za-z_][A-Za-z0-9_]*$/.test(path)) throw new ModelError('ValidationException', `Invalid UpdateExpression: unexpected ${path}`);
      if (section === 'SET') {
        tokens.expect('=');
        update.set.push({ path, value: parseValue(tokens) });
      } else if (section === 'ADD') {
        update.add.push({ path, value: parseOperand(tokens) });
      } else if (section === 'REMOVE') {
        update.remove.push(path);
      } else {
        throw new ModelError('ValidationException', `The latency model does not answer the ${section} clause`);
      }
    } while (tokens.peek() === ',' && tokens.next());
  }
  updateCache.set(expression, update);
  return update;
}

function applyUpdate(update: Update, item: Item, resolve: Resolver): void {
  // Every value is read from the item as it was before the update, as DynamoDB does.
  const before = { ...item };
  const paths = new Set<string>();
  const claim = (path: string) => {
    if (paths.has(path)) throw new ModelError('ValidationException', `Invalid UpdateExpression: Two document paths overlap: ${path}`);
    paths.add(path);
    return path;
  };
  for (const { path, value } of update.set) item[claim(resolve.name(path))] = operandValue(value, before, resolve) ?? missing(path);
  for (const { path, value } of update.add) {
    const name = claim(resolve.name(path));
    const addend = operandValue(value, before, resolve);
    const current = before[name];
    if (!addend || typeof addend.N !== 'string' || (current && typeof current.N !== 'string')) {
      throw new ModelError('ValidationException', 'The latency model answers ADD on numbers only');
    }
    item[name] = { N: String(Number(current?.N ?? 0) + Number(addend.N)) };
  }
  for (const path of update.remove) delete item[claim(resolve.name(path))];
}

function missing(path: string): never {
  throw new ModelError('ValidationException', `The provided expression refers to an attribute that does not exist in the item: ${path}`);
}

function operandValue(operand: Operand, item: Item, resolve: Resolver): AttributeValue | undefined {
  switch (operand.kind) {
    case 'path':
      return item[resolve.name(operand.token)];
    case 'value':
      return resolve.value(operand.token);
    case 'arith': {
      const left = operandValue(operand.left, item, resolve);
      const right = operandValue(operand.right, item, resolve);
      if (typeof left?.N !== 'string' || typeof right?.N !== 'string') throw new ModelError('ValidationException', 'An operand in the update expression has an incorrect data type');
      return { N: String(operand.op === '+' ? Number(left.N) + Number(right.N) : Number(left.N) - Number(right.N)) };
    }
    case 'call': {
      const [first, second] = operand.args;
      if (operand.name === 'if_not_exists' && first?.kind === 'path' && second) return item[resolve.name(first.token)] ?? operandValue(second, item, resolve);
      if (operand.name === 'list_append' && first && second) {
        const left = operandValue(first, item, resolve);
        const right = operandValue(second, item, resolve);
        if (!Array.isArray(left?.L) || !Array.isArray(right?.L)) throw new ModelError('ValidationException', 'An operand in the update expression has an incorrect data type');
        return { L: [...left.L, ...right.L] };
      }
      throw new ModelError('ValidationException', `Invalid use of ${operand.name} in an update expression`);
    }
  }
}

function evaluate(condition: Condition, item: Item, resolve: Resolver): boolean {
  switch (condition.kind) {
    case 'and':
      return evaluate(condition.left, item, resolve) && evaluate(condition.right, item, resolve);
    case 'or':
      return evaluate(condition.left, item, resolve) || evaluate(condition.right, item, resolve);
    case 'not':
      return !evaluate(condition.inner, item, resolve);
    case 'function': {
      const [first, second] = condition.args;
      if (first?.kind !== 'path') throw new ModelError('ValidationException', `${condition.name} takes an attribute path first`);
      const value = item[resolve.name(first.token)];
      if (condition.name === 'attribute_exists') return value !== undefined;
      if (condition.name === 'attribute_not_exists') return value === undefined;
      const prefix = second ? operandValue(second, item, resolve) : undefined;
      return typeof value?.S === 'string' && typeof prefix?.S === 'string' && value.S.startsWith(prefix.S);
    }
    case 'compare': {
      const left = operandValue(condition.left, item, resolve);
      const right = operandValue(condition.right, item, resolve);
      // A missing attribute compares false with anything (and `<>` too), as in DynamoDB.
      if (left === undefined || right === undefined) return false;
      if (condition.op === '=') return sameValue(left, right);
      if (condition.op === '<>') return !sameValue(left, right);
      if (!comparable(left, right)) return false;
      const order = compareScalars(left, right);
      return condition.op === '<' ? order < 0 : condition.op === '<=' ? order <= 0 : condition.op === '>' ? order > 0 : order >= 0;
    }
  }
}

function comparable(a: AttributeValue, b: AttributeValue): boolean {
  return (typeof a.N === 'string' && typeof b.N === 'string') || (typeof a.S === 'string' && typeof b.S === 'string');
}

function compareScalars(a: AttributeValue | undefined, b: AttributeValue | undefined): number {
  if (typeof a?.N === 'string' && typeof b?.N === 'string') return Number(a.N) - Number(b.N);
  const left = String(a?.S ?? '');
  const right = String(b?.S ?? '');
  return left < right ? -1 : left > right ? 1 : 0;
}

function sameValue(a: AttributeValue, b: AttributeValue): boolean {
  if (typeof a.N === 'string' && typeof b.N === 'string') return Number(a.N) === Number(b.N);
  return JSON.stringify(a) === JSON.stringify(b);
}

/** The request body as text: the SDK serializes JSON into bytes (a Uint8Array that also acts as a string). */
function bodyText(body: unknown): string {
  if (typeof body === 'string') return body;
  if (body instanceof Uint8Array) return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
  throw new ModelError('SerializationException', 'The latency model reads string or byte bodies only');
}
