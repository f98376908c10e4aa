/**
 * How the operator CLI reaches the local hub of `npm start`: the hub serves its in-process {@link HubOperator} on
 * loopback ({@link serveHubOperator}), records where in `.hub/hub.json` ({@link writeHubInfo}), and the CLI calls it
 * through {@link LocalHubClient}, which is itself a HubOperator, so every command runs the same code on both targets.
 *
 * Wire format: `POST /operator/<method>` with a JSON array of the method's arguments; the answer is `{ "result": … }`
 * (200) or `{ "error": { "name", "message", …fields } }` with a 4xx/5xx status. Errors keep their class across the
 * wire: the client re-creates the OperatorError subclass named by `name` from its fields.
 */
import { mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import {
  CircuitNotClosedError,
  type CircuitView,
  type DeadLetterMessage,
  type HubDescription,
  type HubOperator,
  NotFoundError,
  OperatorError,
  type LedgerShowOptions,
  type RedriveOptions,
  type RedriveResult,
  type SendRequest,
  type SendResult,
  UnknownCircuitError,
  UnknownIntegrationError,
  type WorkflowExecutionView,
  type WorkflowListRequest,
  type WorkflowRedriveResult,
  type WebhookActivity,
  type WebhookListRequest,
  type RefreshTokenSetResult,
} from './hub-operator.js';
import type { LedgerEntry } from '../../functions/runtime/sync-ledger.js';

// ---------------------------------------------------------------- discovery

/** Where a running local hub records its address, relative to the project directory (git-ignored). */
export const HUB_INFO_FILE = join('.hub', 'hub.json');

/** What a running local hub records in {@link HUB_INFO_FILE}. */
export interface HubInfo {
  /** The base URL of {@link serveHubOperator}, e.g. `http://127.0.0.1:43121`. */
  readonly url: string;
  readonly pid: number;
  /** ISO 8601. */
  readonly startedAt: string;
}

/** What to tell an operator when no local hub can be reached. */
export const START_LOCAL_HUB_HINT = 'start one with `npm start -- --keep-running`';

/** Records a running hub in `<dir>/.hub/hub.json` (written to a temporary file then renamed, so a reader never sees half of it). Returns the path. */
export function writeHubInfo(dir: string, info: HubInfo): string {
  const path = join(dir, HUB_INFO_FILE);
  mkdirSync(dirname(path), { recursive: true });
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, `${JSON.stringify(info, null, 2)}\n`);
  renameSync(temporary, path);
  return path;
}

/** Reads `<dir>/.hub/hub.json`; throws an OperatorError saying how to start a hub when it is missing or unreadable. */
export function readHubInfo(dir: string): HubInfo {
  const path = join(dir, HUB_INFO_FILE);
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (error) {
    throw new OperatorError(`No local hub is running (no ${path}): ${START_LOCAL_HUB_HINT}, or pass --url <url>`, { cause: error });
  }
  let info: Partial<HubInfo>;
  try {
    info = JSON.parse(text) as Partial<HubInfo>;
  } catch (error) {
    throw new OperatorError(`${path} is not valid JSON (${(error as Error).message}): delete it and ${START_LOCAL_HUB_HINT}`, { cause: error });
  }
  if (typeof info?.url !== 'string' || typeof info.pid !== 'number' || typeof info.startedAt !== 'string') {
    throw new OperatorError(`${path} does not describe a hub (url, pid, startedAt): delete it and ${START_LOCAL_HUB_HINT}`);
  }
  return { url: info.url, pid: info.pid, startedAt: info.startedAt };
}

/**
 * Removes `<dir>/.hub/hub.json` when it still names `pid` (a hub stopping must not remove the record of a hub started
 * after it). Synchronous, so it can run in a process 'exit' handler. Never throws.
 */
export function removeHubInfo(dir: string, pid: number = process.pid): void {
  try {
    if (readHubInfo(dir).pid !== pid) return;
    rmSync(join(dir, HUB_INFO_FILE), { force: true });
  } catch {
    // Nothing recorded, or unreadable: nothing of ours to remove.
  }
}

// ---------------------------------------------------------------- server

/** Every method of the port; a compile error here means the port changed and the wire must follow. */
const OPERATOR_METHODS: Readonly<Record<keyof HubOperator, true>> = {
  describe: true,
  send: true,
  dlqList: true,
  dlqShow: true,
  dlqRedrive: true,
  circuitStatus: true,
  circuitIsolate: true,
  circuitReset: true,
  ledgerShow: true,
  workflowsList: true,
  workflowsRedrive: true,
  webhooksList: true,
  authSetRefreshToken: true,
};

/** Requests larger than this are refused (an event detail is at most 256 KB on EventBridge). */
const MAX_REQUEST_BYTES = 1024 * 1024;

/** Options of {@link serveHubOperator}. */
export interface ServeHubOperatorOptions {
  /** @default 0 (a free port) */
  readonly port?: number;
  /** Told about errors that are not OperatorErrors (bugs); they are answered with a 500. */
  readonly onUnexpectedError?: (error: unknown, method: string) => void;
}

/** A running {@link serveHubOperator} server. */
export interface HubOperatorServer {
  /** `http://127.0.0.1:<port>` */
  readonly url: string;
  close(): Promise<void>;
}

/**
 * Serves `operator` on 127.0.0.1 (see the file comment for the wire format). Only loopback, only POST with a JSON
 * content type and a loopback Host header: a web page in a local browser cannot send such a request without a CORS
 * preflight (which is not answered), nor reach it through DNS rebinding.
 */
export async function serveHubOperator(operator: HubOperator, options: ServeHubOperatorOptions = {}): Promise<HubOperatorServer> {
  const server = createServer((request, response) => {
    handle(operator, request, response, options).catch((error: unknown) => {
      options.onUnexpectedError?.(error, request.url ?? '');
      if (!response.headersSent) reply(response, 500, { error: { name: 'Error', message: 'internal error of the local hub' } });
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.close((error) => (error ? reject(error) : resolve()));
        // Keep-alive connections of fetch would hold close() open.
        server.closeAllConnections();
      }),
  };
}

async function handle(operator: HubOperator, request: IncomingMessage, response: ServerResponse, options: ServeHubOperatorOptions): Promise<void> {
  const method = /^\/operator\/([A-Za-z]+)$/.exec(request.url ?? '')?.[1];
  if (request.method !== 'POST' || !method) {
    return reply(response, 404, wireError(new OperatorError(`Not an operator call: ${request.method} ${request.url} (POST /operator/<method>)`)));
  }
  if (!isLoopbackHost(request.headers.host)) return reply(response, 403, wireError(new OperatorError('Only loopback callers may operate the local hub')));
  if (!/^application\/json\b/i.test(request.headers['content-type'] ?? '')) {
    return reply(response, 415, wireError(new OperatorError('Operator calls are JSON: send Content-Type: application/json')));
  }
  if (!Object.hasOwn(OPERATOR_METHODS, method)) {
    return reply(response, 404, wireError(new OperatorError(`Unknown operator method '${method}'. Methods: ${Object.keys(OPERATOR_METHODS).join(', ')}`)));
  }
  let args: unknown;
  try {
    args = JSON.parse(await readBody(request));
  } catch (error) {
    const status = error instanceof RequestTooLarge ? 413 : 400;
    return reply(response, status, wireError(new OperatorError(`Bad operator request: ${(error as Error).message}`)));
  }
  if (!Array.isArray(args)) return reply(response, 400, wireError(new OperatorError('Bad operator request: the body must be a JSON array of arguments')));

  try {
    const call = operator[method as keyof HubOperator] as (...values: unknown[]) => Promise<unknown>;
    // JSON has no undefined: an omitted argument arrives as null, and no method takes null for a value.
    const result = await call.apply(operator, args.map((arg: unknown) => (arg === null ? undefined : arg)));
    reply(response, 200, { result: result ?? null });
  } catch (error) {
    if (error instanceof OperatorError) return reply(response, statusOf(error), wireError(error));
    options.onUnexpectedError?.(error, method);
    reply(response, 500, { error: { name: error instanceof Error ? error.name : 'Error', message: error instanceof Error ? error.message : String(error) } });
  }
}

/** The HTTP status of an operator error: the client keys on the body's `name`, the status is for humans and proxies. */
function statusOf(error: OperatorError): number {
  if (error instanceof UnknownIntegrationError || error instanceof UnknownCircuitError || error instanceof NotFoundError) return 404;
  if (error instanceof CircuitNotClosedError) return 409;
  return 400;
}

/** `{ error: { name, message, …own fields } }`: the fields let the client rebuild the subclass. */
function wireError(error: OperatorError): { error: Record<string, unknown> } {
  const fields: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(error)) {
    if (key !== 'name' && key !== 'message' && key !== 'stack' && key !== 'cause') fields[key] = value;
  }
  return { error: { ...fields, name: error.name, message: error.message } };
}

function isLoopbackHost(host: string | undefined): boolean {
  const hostname = host?.replace(/:\d+$/, '');
  return hostname === '127.0.0.1' || hostname === 'localhost' || hostname === '[::1]';
}

class RequestTooLarge extends Error {}

async function readBody(request: IncomingMessage): Promise<string> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > MAX_REQUEST_BYTES) throw new RequestTooLarge(`the request is larger than ${MAX_REQUEST_BYTES} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks).toString('utf8');
}

function reply(response: ServerResponse, status: number, body: unknown): void {
  response.writeHead(status, { 'content-type': 'application/json; charset=utf-8' });
  response.end(JSON.stringify(body));
}

// ---------------------------------------------------------------- client

/** Rebuilds an operator error from the wire; keyed by class name because that is all a JSON body can carry. */
const REVIVERS: Readonly<Record<string, (error: WireError) => OperatorError>> = {
  [UnknownIntegrationError.name]: (e) => new UnknownIntegrationError(String(e.integration ?? ''), Array.isArray(e.known) ? e.known.map(String) : []),
  [UnknownCircuitError.name]: (e) => new UnknownCircuitError(String(e.circuit ?? ''), Array.isArray(e.known) ? e.known.map(String) : []),
  [CircuitNotClosedError.name]: (e) => new CircuitNotClosedError(String(e.integration ?? ''), String(e.state ?? 'open')),
  [NotFoundError.name]: (e) => new NotFoundError(e.message),
  [OperatorError.name]: (e) => new OperatorError(e.message),
};

interface WireError {
  readonly name: string;
  readonly message: string;
  readonly [field: string]: unknown;
}

/** Options of {@link LocalHubClient}. */
export interface LocalHubClientOptions {
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
  /** Per call. @default 60_000 */
  readonly timeoutMs?: number;
  /** Added to the "no hub answering" message, e.g. where the URL came from. */
  readonly origin?: string;
}

/** {@link HubOperator} over HTTP to a local hub's {@link serveHubOperator}: each method is one `POST /operator/<method>`. */
export class LocalHubClient implements HubOperator {
  readonly url: string;
  private readonly fetch: typeof fetch;
  private readonly timeoutMs: number;
  private readonly origin: string | undefined;

  constructor(url: string, options: LocalHubClientOptions = {}) {
    this.url = url.replace(/\/+$/, '');
    this.fetch = options.fetch ?? globalThis.fetch;
    this.timeoutMs = options.timeoutMs ?? 60_000;
    this.origin = options.origin;
  }

  describe(): Promise<HubDescription> {
    return this.call('describe', []);
  }
  send(request: SendRequest): Promise<SendResult> {
    return this.call('send', [request]);
  }
  dlqList(integration: string, options?: { readonly limit?: number }): Promise<DeadLetterMessage[]> {
    return this.call('dlqList', [integration, options]);
  }
  dlqShow(integration: string, messageId: string): Promise<DeadLetterMessage> {
    return this.call('dlqShow', [integration, messageId]);
  }
  dlqRedrive(integration: string, options?: RedriveOptions): Promise<RedriveResult> {
    return this.call('dlqRedrive', [integration, options]);
  }
  circuitStatus(integration?: string): Promise<CircuitView[]> {
    return this.call('circuitStatus', integration === undefined ? [] : [integration]);
  }
  circuitIsolate(integration: string, reason: string): Promise<CircuitView> {
    return this.call('circuitIsolate', [integration, reason]);
  }
  circuitReset(integration: string): Promise<CircuitView> {
    return this.call('circuitReset', [integration]);
  }
  ledgerShow(entityType: string, entityId: string, options?: LedgerShowOptions): Promise<LedgerEntry[]> {
    return this.call('ledgerShow', [entityType, entityId, options]);
  }
  workflowsList(request?: WorkflowListRequest): Promise<WorkflowExecutionView[]> {
    return this.call('workflowsList', [request]);
  }
  workflowsRedrive(execution: string): Promise<WorkflowRedriveResult> {
    return this.call('workflowsRedrive', [execution]);
  }
  webhooksList(request?: WebhookListRequest): Promise<WebhookActivity> {
    return this.call('webhooksList', [request]);
  }
  /** The token travels in the body of a POST to 127.0.0.1 only (the server refuses any other Host). */
  authSetRefreshToken(circuit: string, refreshToken: string): Promise<RefreshTokenSetResult> {
    return this.call('authSetRefreshToken', [circuit, refreshToken]);
  }

  private async call<T>(method: keyof HubOperator, args: unknown[]): Promise<T> {
    let response: Response;
    try {
      response = await this.fetch(`${this.url}/operator/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(withoutTrailingUndefined(args)),
        signal: AbortSignal.timeout(this.timeoutMs),
      });
    } catch (error) {
      if (error instanceof Error && error.name === 'TimeoutError') {
        throw new OperatorError(`The local hub at ${this.url} did not answer ${method} within ${this.timeoutMs / 1000} s`, { cause: error });
      }
      throw new OperatorError(`No local hub is answering at ${this.url}${this.origin ? ` (${this.origin})` : ''}: ${START_LOCAL_HUB_HINT}`, { cause: error });
    }
    let body: { result?: unknown; error?: WireError };
    try {
      body = (await response.json()) as typeof body;
    } catch (error) {
      throw new OperatorError(`${this.url} answered ${method} with HTTP ${response.status} and no JSON: is it a local hub?`, { cause: error });
    }
    if (body.error && typeof body.error.message === 'string') {
      const revive = Object.hasOwn(REVIVERS, body.error.name) ? REVIVERS[body.error.name]! : undefined;
      throw revive ? revive(body.error) : new OperatorError(`The local hub failed (${body.error.name}): ${body.error.message}`);
    }
    if (!response.ok) throw new OperatorError(`${this.url} answered ${method} with HTTP ${response.status}`);
    return (body.result ?? undefined) as T;
  }
}

/** Omitted optional arguments are left out rather than sent as null. */
function withoutTrailingUndefined(args: readonly unknown[]): unknown[] {
  let end = args.length;
  while (end > 0 && args[end - 1] === undefined) end--;
  return args.slice(0, end);
}
