/**
 * The Function URL side of the try stage's sandbox: one Function URL request (payload v2) in, the same request to the
 * sandbox on 127.0.0.1 out, its answer back. Provider routes are answered as the sandbox answers them (each checks
 * its own credentials); the control plane (`/_sandbox/...`, local/sandbox/control.ts) injects faults and hands out
 * credentials, so it also needs the control token in `x-sandbox-control-token`.
 *
 * The sandbox is started on the first request (startTrySandbox, sandbox-startup.ts) and kept for the life of the
 * execution environment; a failed start is answered 503 and tried again on the next request.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { isControlPlaneRequest } from '../index.js';
import { ConfigurationError } from '../../../functions/runtime/errors.js';

/** The header carrying the control token on control-plane requests. */
export const CONTROL_TOKEN_HEADER = 'x-sandbox-control-token';

/** Where a started sandbox listens, and the token its control plane needs. */
export interface SandboxEndpoint {
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  readonly controlToken: string;
}

/** A Function URL request as the sandbox gets it. */
export interface SandboxRequest {
  readonly url: URL;
  readonly init: RequestInit & { readonly headers: Record<string, string> };
  /** The sandbox answers it from its control plane (decided exactly as the sandbox server routes it). */
  readonly controlPlane: boolean;
}

/** Options of {@link createSandboxProxy}. */
export interface SandboxProxyOptions {
  /** Starts the sandbox: on the first request, and again on the next one after a failed start. */
  readonly start: () => Promise<SandboxEndpoint>;
  /** Told why a start failed (the request is answered 503 either way). */
  readonly onStartFailure: (error: unknown) => void;
  /** @default the global fetch */
  readonly fetch?: typeof fetch;
}

/** Answers one Function URL request; `signal` ends a request the sandbox holds (a hang fault) before Lambda's timeout. */
export type SandboxProxy = (event: APIGatewayProxyEventV2, options?: { readonly signal?: AbortSignal }) => Promise<APIGatewayProxyStructuredResultV2>;

// RFC 9110 §7.6.1: these describe one connection, not the message, so they never cross a proxy.
const HOP_BY_HOP = ['connection', 'keep-alive', 'proxy-authenticate', 'proxy-authorization', 'te', 'trailer', 'transfer-encoding', 'upgrade'];
// fetch sets the host and length of what it sends; the control token is for this proxy only.
const NOT_FORWARDED = new Set([...HOP_BY_HOP, 'host', 'content-length', CONTROL_TOKEN_HEADER]);
// Lambda sets the length of what it returns, and fetch has already decoded any content encoding.
const NOT_RETURNED = new Set([...HOP_BY_HOP, 'content-length', 'content-encoding', 'set-cookie']);
const METHODS_WITHOUT_BODY = ['GET', 'HEAD'];

/** The proxy: starts the sandbox once (retrying a failed start), guards the control plane, forwards the rest. */
export function createSandboxProxy(options: SandboxProxyOptions): SandboxProxy {
  const sandbox = onceSuccessful(options.start);
  const fetchFn = options.fetch ?? fetch;
  return async (event, requestOptions = {}) => {
    let endpoint: SandboxEndpoint;
    try {
      endpoint = await sandbox();
    } catch (error) {
      options.onStartFailure(error);
      return startFailureResult(error);
    }
    const request = sandboxRequest(event, endpoint.baseUrl);
    if (request === undefined) return errorResult(400, 'invalid_path', `the request path ${JSON.stringify(event.rawPath)} is not a path below the sandbox`);
    if (request.controlPlane && !controlTokenMatches(headerOf(event, CONTROL_TOKEN_HEADER), endpoint.controlToken)) {
      return errorResult(403, 'forbidden', `the sandbox control plane needs the control token in the ${CONTROL_TOKEN_HEADER} header`);
    }
    let response: Response;
    try {
      response = await fetchFn(request.url, { ...request.init, ...(requestOptions.signal ? { signal: requestOptions.signal } : {}) });
    } catch (error) {
      // The sandbox's hang and reset faults end here: answered as a gateway in front of a provider would.
      if (requestOptions.signal?.aborted) return errorResult(504, 'sandbox_timeout', 'the sandbox did not answer before the function timed out');
      return errorResult(502, 'sandbox_connection_failed', `the sandbox closed the connection without an answer (${errorName(error)})`);
    }
    return functionUrlResult(response);
  };
}

/**
 * The sandbox request of a Function URL event: method, raw path and query string, headers (hop-by-hop, host and the
 * control token removed; cookies put back into `cookie`) and body (base64-decoded when `isBase64Encoded`). Undefined
 * when the path would leave the sandbox's origin.
 */
export function sandboxRequest(event: APIGatewayProxyEventV2, baseUrl: string): SandboxRequest | undefined {
  const base = new URL(baseUrl);
  const query = event.rawQueryString ? `?${event.rawQueryString}` : '';
  let url: URL;
  try {
    url = new URL(`${base.origin}${event.rawPath}${query}`);
  } catch {
    return undefined;
  }
  if (!event.rawPath.startsWith('/') || url.origin !== base.origin) return undefined;
  const method = event.requestContext.http.method.toUpperCase();
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(event.headers ?? {})) {
    if (value !== undefined && !NOT_FORWARDED.has(name.toLowerCase())) headers[name.toLowerCase()] = value;
  }
  // Function URLs hand cookies over separately from the headers.
  if (event.cookies && event.cookies.length > 0) headers.cookie = event.cookies.join('; ');
  // One connection per request: a kept-alive socket idling while the execution environment is frozen can be closed by
  // the server's keep-alive timer the moment the environment thaws, just as the next request is sent on it.
  headers.connection = 'close';
  const body = event.body === undefined || METHODS_WITHOUT_BODY.includes(method) ? undefined : event.isBase64Encoded ? Buffer.from(event.body, 'base64') : event.body;
  return {
    url,
    init: { method, headers, ...(body === undefined ? {} : { body }), redirect: 'manual' },
    // fetch sends the URL's normalized path and query; the sandbox routes by parsing exactly that.
    controlPlane: isControlPlaneRequest(`${url.pathname}${url.search}`),
  };
}

/** The Function URL answer of a sandbox response: status, headers, cookies and body (base64 unless textual). */
export async function functionUrlResult(response: Response): Promise<APIGatewayProxyStructuredResultV2> {
  const headers: Record<string, string> = {};
  response.headers.forEach((value, name) => {
    if (!NOT_RETURNED.has(name)) headers[name] = value;
  });
  const cookies = response.headers.getSetCookie();
  const body = Buffer.from(await response.arrayBuffer());
  const textual = isTextual(response.headers.get('content-type'));
  return {
    statusCode: response.status,
    headers,
    ...(cookies.length > 0 ? { cookies } : {}),
    body: textual ? body.toString('utf8') : body.toString('base64'),
    isBase64Encoded: !textual,
  };
}

/** Constant-time comparison of the presented control token with the expected one (hashed first: lengths differ). */
export function controlTokenMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined || expected === '') return false;
  const digest = (value: string) => createHash('sha256').update(value, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

/** A JSON error answer in the sandbox providers' shape, `{ error: { code, message, ... } }`. */
export function errorResult(statusCode: number, code: string, message: string, details: Record<string, unknown> = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify({ error: { code, message, ...details } }),
    isBase64Encoded: false,
  };
}

/** 503 with the reason the sandbox did not start, every problem listed when it is a configuration error. */
export function startFailureResult(error: unknown): APIGatewayProxyStructuredResultV2 {
  const message = error instanceof Error ? error.message : String(error);
  const problems = error instanceof ConfigurationError ? error.problems : [];
  return errorResult(503, 'sandbox_not_started', message, problems.length > 0 ? { problems } : {});
}

/** `start`, run once and shared; a rejected start is forgotten, so the next call starts again. */
export function onceSuccessful<T>(start: () => Promise<T>): () => Promise<T> {
  let started: Promise<T> | undefined;
  return () => {
    started ??= start().catch((error: unknown) => {
      started = undefined;
      throw error;
    });
    return started;
  };
}

// ------------------------------------------------------------------ helpers

function headerOf(event: APIGatewayProxyEventV2, name: string): string | undefined {
  // Function URLs deliver header names in lower case; a hand-made event may not.
  const entry = Object.entries(event.headers ?? {}).find(([key]) => key.toLowerCase() === name);
  return entry?.[1];
}

function isTextual(contentType: string | null): boolean {
  const type = (contentType ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  return type === '' || type.startsWith('text/') || type === 'application/json' || type.endsWith('+json') || type === 'application/x-www-form-urlencoded';
}

function errorName(error: unknown): string {
  const cause = error instanceof Error && error.cause instanceof Error ? error.cause : error;
  return cause instanceof Error ? ('code' in cause && typeof cause.code === 'string' ? cause.code : cause.name) : String(cause);
}
