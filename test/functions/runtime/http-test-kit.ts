/**
 * Test helpers for the HTTP client, credentials and backoff tests: a deterministic clock, a guard that records
 * what the client reports, a scriptable loopback HTTP server, and an error serializer for "no secret leaked" checks.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { inspect } from 'node:util';
import { CircuitOpenError, type IntegrationError, type NotAttemptedError } from '../../../functions/runtime/errors.js';
import type { CallGuard, CallPermit, Clock, CredentialsProvider, HeadersOptions } from '../../../functions/runtime/ports.js';

// ---------------------------------------------------------------- clock

/** Virtual time: sleep resolves at once but advances `now`; random is a seeded PRNG (mulberry32). */
export class FakeClock implements Clock {
  readonly sleeps: number[] = [];
  private state: number;

  constructor(
    public nowMs = Date.UTC(2030, 0, 1, 12, 0, 0),
    seed = 42,
  ) {
    this.state = seed >>> 0;
  }

  now(): number {
    return this.nowMs;
  }

  async sleep(ms: number): Promise<void> {
    this.sleeps.push(ms);
    this.nowMs += Math.max(0, ms);
  }

  random(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  advance(ms: number): void {
    this.nowMs += ms;
  }
}

// ---------------------------------------------------------------- guard

export type GuardCall =
  | { type: 'acquire' }
  | { type: 'succeeded'; latencyMs: number }
  | { type: 'failed'; error: IntegrationError; latencyMs: number }
  | { type: 'throttle'; untilMs: number }
  | { type: 'isolate'; reason: string };

/** Records acquire/succeeded/failed/throttle; `deny` makes acquire throw (e.g. a CircuitOpenError). */
export class RecordingGuard implements CallGuard {
  readonly calls: GuardCall[] = [];
  /** Thrown by acquire() when set; a function receives the 1-based acquire count. */
  deny?: Error | ((acquireCount: number) => Error | undefined);
  /** Makes permit reports reject, to check that a failing breaker store does not change outcomes. */
  failReports = false;

  async acquire(): Promise<CallPermit> {
    this.calls.push({ type: 'acquire' });
    const count = this.count('acquire');
    const denial = typeof this.deny === 'function' ? this.deny(count) : this.deny;
    if (denial) throw denial;
    return {
      isProbe: false,
      succeeded: async (latencyMs) => {
        this.calls.push({ type: 'succeeded', latencyMs });
        if (this.failReports) throw new Error('circuit table unavailable');
      },
      failed: async (error, latencyMs) => {
        this.calls.push({ type: 'failed', error, latencyMs });
        if (this.failReports) throw new Error('circuit table unavailable');
      },
    };
  }

  async throttle(untilMs: number): Promise<void> {
    this.calls.push({ type: 'throttle', untilMs });
    if (this.failReports) throw new Error('circuit table unavailable');
  }

  async isolateAndRefuse(reason: string): Promise<NotAttemptedError> {
    this.calls.push({ type: 'isolate', reason });
    return new CircuitOpenError('recording-guard', 0, `isolated: ${reason}`);
  }

  count(type: GuardCall['type']): number {
    return this.calls.filter((call) => call.type === type).length;
  }

  /** The permit reports only, in order: 'succeeded' | 'failed'. */
  reports(): Array<'succeeded' | 'failed'> {
    return this.calls.flatMap((call) => (call.type === 'succeeded' || call.type === 'failed' ? [call.type] : []));
  }
}

// ---------------------------------------------------------------- credentials

/** A CredentialsProvider that returns fixed headers (a new token after each fresh fetch) and records calls. */
export class RecordingCredentials implements CredentialsProvider {
  readonly calls: Array<{ fresh: boolean }> = [];
  /** The headers each fresh call said were refused. */
  readonly refused: Array<Readonly<Record<string, string>> | undefined> = [];
  fail?: Error;

  constructor(private readonly tokens: string[] = ['token-1', 'token-2', 'token-3']) {}

  async headers(options?: HeadersOptions): Promise<Record<string, string>> {
    this.calls.push({ fresh: options?.fresh === true });
    if (options?.fresh) this.refused.push(options.refused);
    if (this.fail) throw this.fail;
    const freshCount = this.calls.filter((call) => call.fresh).length;
    return { Authorization: `Bearer ${this.tokens[Math.min(freshCount, this.tokens.length - 1)]}` };
  }

  get freshCalls(): number {
    return this.calls.filter((call) => call.fresh).length;
  }
}

// ---------------------------------------------------------------- loopback server

export interface RecordedRequest {
  method: string;
  /** Path and query as received. */
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** What the server does with the next request. */
export type Reply =
  | { status: number; headers?: Record<string, string>; body?: string | object }
  /** Destroys the socket before any response. */
  | { kind: 'reset' }
  /** Never answers. */
  | { kind: 'hang' }
  /** Sends headers and part of a body, then stalls. */
  | { kind: 'stall-body' };

export interface LoopbackServer {
  readonly url: string;
  readonly requests: RecordedRequest[];
  /** Replies used in order; when exhausted, `fallback` answers. */
  readonly replies: Reply[];
  fallback: Reply;
  close(): Promise<void>;
}

/** Starts a scriptable HTTP server on 127.0.0.1 with an ephemeral port. */
export async function startLoopbackServer(): Promise<LoopbackServer> {
  const requests: RecordedRequest[] = [];
  const replies: Reply[] = [];
  const state = { fallback: { status: 200, body: {} } as Reply };

  const server: Server = createServer((req: IncomingMessage, res: ServerResponse) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      requests.push({ method: req.method ?? '', url: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
      const reply = replies.shift() ?? state.fallback;
      if ('kind' in reply) {
        if (reply.kind === 'reset') req.socket.destroy();
        if (reply.kind === 'stall-body') {
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '100' });
          res.write('{"partial":');
        }
        return; // hang: keep the socket open until close()
      }
      const body = reply.body === undefined ? '' : typeof reply.body === 'string' ? reply.body : JSON.stringify(reply.body);
      const headers: Record<string, string> = { ...(reply.headers ?? {}) };
      if (typeof reply.body === 'object' && !Object.keys(headers).some((name) => name.toLowerCase() === 'content-type')) {
        headers['content-type'] = 'application/json';
      }
      res.writeHead(reply.status, headers);
      res.end(body);
    });
  });

  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    replies,
    get fallback() {
      return state.fallback;
    },
    set fallback(reply: Reply) {
      state.fallback = reply;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A port on 127.0.0.1 where nothing listens (bound, then released). */
export async function unusedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

// ---------------------------------------------------------------- error inspection

/** Everything an error could reveal when logged: name, message, stack, own properties and the whole cause chain. */
export function serializeError(error: unknown): string {
  const parts: string[] = [inspect(error, { depth: 20, showHidden: true, getters: true })];
  let current: unknown = error;
  for (let depth = 0; depth < 20 && current !== undefined && current !== null; depth += 1) {
    if (current instanceof Error) {
      parts.push(current.name, current.message, current.stack ?? '');
      try {
        parts.push(JSON.stringify(current, Object.getOwnPropertyNames(current)));
      } catch {
        // circular: inspect() above already covers it
      }
      current = current.cause;
    } else {
      parts.push(String(current));
      current = undefined;
    }
  }
  return parts.join('\n');
}

/** Awaits a promise that must reject, returning the rejection. */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error('expected the promise to reject, but it resolved');
}
