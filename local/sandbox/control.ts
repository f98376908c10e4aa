/**
 * The control plane, under `/_sandbox` on the sandbox server, so the local hub (or a benchmark) can drive the
 * sandbox over HTTP the way tests drive it in-process. Control requests are not journaled and never faulted.
 *
 *   GET    /_sandbox/providers               { providers: [{ name, url }] } (dedicated, then generic providers)
 *   GET    /_sandbox/faults                  { faults: { <provider>: FaultOptions } }
 *   POST   /_sandbox/faults                  { provider, faults: {...} } replaces; { provider, faults: null } clears one;
 *                                            { faults: null } clears all. 400 { error: { code: 'invalid_faults', problems } }
 *   GET    /_sandbox/journal?provider=&path=&method=&route=&status=&idempotencyKey=&correlationId=&fault=&sideEffect=&replayed=
 *                                            { count, entries }
 *   DELETE /_sandbox/journal                 clears the journal
 *   GET    /_sandbox/side-effects?provider=  { count, sideEffects }
 *   POST   /_sandbox/reset                   see `Sandbox.reset`
 *   GET    /_sandbox/credentials/:provider   { provider, credentials }
 *   POST   /_sandbox/rotate/:provider        { provider, credentials } (the new ones)
 *
 * Credentials are served here on purpose: the sandbox listens on loopback only and the local hub must be able to
 * put them into its secret store.
 */
import type { FaultKind } from './faults.js';
import type { JournalFilter, JournalView, SideEffect } from './journal.js';

/** The first path segment of every control request. */
export const CONTROL_PLANE_PREFIX = '_sandbox';

/**
 * The URL the server routes a request target (`req.url`) by. A proxy that guards the control plane
 * (local/sandbox/function-url/function-url-proxy.ts) decides with the same parse, so a path that only becomes `/_sandbox/...`
 * once normalized (`/x/../_sandbox`, `%2e%2e`, backslashes) is still recognized as a control request.
 */
export function routedUrl(requestTarget: string): URL {
  return new URL(requestTarget, 'http://sandbox.invalid');
}

/** True when the server answers this request target (path and query, as sent) from the control plane. */
export function isControlPlaneRequest(requestTarget: string): boolean {
  return routedUrl(requestTarget).pathname.split('/')[1] === CONTROL_PLANE_PREFIX;
}

/** What the control plane needs from the running sandbox. */
export interface ControlTarget {
  /** Names of the mounted providers. */
  providerNames(): readonly string[];
  /** Base URL of a provider. */
  providerUrl(name: string): string;
  /** Validates and replaces the faults of a provider; returns every problem (nothing applied if any). */
  applyFaults(name: string, raw: unknown): readonly string[];
  /** The faults set on a provider. */
  faultsOf(name: string): Readonly<Record<string, unknown>>;
  /** Clears the faults of one provider, or all. */
  clearFaults(name?: string): void;
  /** The request journal. */
  readonly journal: JournalView;
  /** Created resources of one provider, or all. */
  sideEffects(name?: string): readonly SideEffect[];
  /** Resets the sandbox (see `Sandbox.reset`). */
  reset(): void;
  /** Current credentials of a provider. */
  credentials(name: string): object;
  /** Rotates and returns the new credentials of a provider. */
  rotateCredentials(name: string): object;
}

/** A control-plane answer (JSON body). */
export interface ControlAnswer {
  readonly status: number;
  readonly body: unknown;
}

const FAULT_KINDS: readonly FaultKind[] = ['outage', 'reset', 'hang', 'failNext', 'throttle', 'status', 'error', 'malformed'];

/** Handles one `/_sandbox/*` request; `path` is below `/_sandbox`. */
export function handleControlRequest(target: ControlTarget, method: string, path: string, query: URLSearchParams, body: string): ControlAnswer {
  const parts = path.split('/').filter(Boolean);
  const [resource, argument] = parts;
  const knownProvider = (name: string | undefined): name is string => name !== undefined && target.providerNames().includes(name);
  const unknownProvider = (name: string | undefined): ControlAnswer =>
    failure(404, 'unknown_provider', `unknown provider "${name ?? ''}" (known: ${target.providerNames().join(', ')})`);

  if (resource === 'providers' && parts.length === 1 && method === 'GET') {
    return ok({ providers: target.providerNames().map((name) => ({ name, url: target.providerUrl(name) })) });
  }
  if (resource === 'faults' && parts.length === 1) {
    if (method === 'GET') return ok({ faults: Object.fromEntries(target.providerNames().map((name) => [name, target.faultsOf(name)])) });
    if (method === 'POST') {
      const request = parseJson(body);
      if (!isRecord(request)) return failure(400, 'invalid_json', 'expected a JSON object { provider, faults }');
      const { provider, faults } = request;
      if (faults === null && provider === undefined) {
        target.clearFaults();
        return ok({ faults: {} });
      }
      if (typeof provider !== 'string') return failure(400, 'invalid_request', '"provider" is required');
      if (!knownProvider(provider)) return unknownProvider(provider);
      if (faults === null) {
        target.clearFaults(provider);
        return ok({ provider, faults: {} });
      }
      const problems = target.applyFaults(provider, faults);
      if (problems.length > 0) return failure(400, 'invalid_faults', problems.join('; '), { problems });
      return ok({ provider, faults: target.faultsOf(provider) });
    }
    return notAllowed(method, path);
  }
  if (resource === 'journal' && parts.length === 1) {
    if (method === 'GET') {
      const filter = journalFilter(query);
      if (typeof filter === 'string') return failure(400, 'invalid_filter', filter);
      const entries = target.journal.entries(filter);
      return ok({ count: entries.length, entries });
    }
    if (method === 'DELETE') {
      target.journal.clear();
      return ok({ cleared: true });
    }
    return notAllowed(method, path);
  }
  if (resource === 'side-effects' && parts.length === 1 && method === 'GET') {
    const provider = query.get('provider') ?? undefined;
    if (provider !== undefined && !knownProvider(provider)) return unknownProvider(provider);
    const sideEffects = target.sideEffects(provider);
    return ok({ count: sideEffects.length, sideEffects });
  }
  if (resource === 'reset' && parts.length === 1 && method === 'POST') {
    target.reset();
    return ok({ reset: true });
  }
  if (resource === 'credentials' && parts.length === 2 && method === 'GET') {
    if (!knownProvider(argument)) return unknownProvider(argument);
    return ok({ provider: argument, credentials: target.credentials(argument) });
  }
  if (resource === 'rotate' && parts.length === 2 && method === 'POST') {
    if (!knownProvider(argument)) return unknownProvider(argument);
    return ok({ provider: argument, credentials: target.rotateCredentials(argument) });
  }
  return failure(404, 'not_found', `no control endpoint ${method} /_sandbox${path}`);
}

function journalFilter(query: URLSearchParams): JournalFilter | string {
  const filter: { -readonly [K in keyof JournalFilter]: JournalFilter[K] } = {};
  for (const [name, value] of query) {
    switch (name) {
      case 'provider':
        filter.provider = value === 'null' ? null : value;
        break;
      case 'method':
        filter.method = value.toUpperCase();
        break;
      case 'path':
      case 'route':
      case 'idempotencyKey':
      case 'correlationId':
        filter[name] = value;
        break;
      case 'status':
        if (value === 'null') filter.status = null;
        else if (/^\d{3}$/.test(value)) filter.status = Number(value);
        else return `status must be a 3-digit number or "null"`;
        break;
      case 'fault':
        if (value === 'null') filter.fault = null;
        else if ((FAULT_KINDS as readonly string[]).includes(value)) filter.fault = value as FaultKind;
        else return `fault must be one of ${FAULT_KINDS.join(', ')} or "null"`;
        break;
      case 'sideEffect':
      case 'replayed':
        if (value !== 'true' && value !== 'false') return `${name} must be true or false`;
        filter[name] = value === 'true';
        break;
      default:
        return `unknown filter "${name}"`;
    }
  }
  return filter;
}

function ok(body: unknown): ControlAnswer {
  return { status: 200, body };
}

function failure(status: number, code: string, message: string, details: Record<string, unknown> = {}): ControlAnswer {
  return { status, body: { error: { code, message, ...details } } };
}

function notAllowed(method: string, path: string): ControlAnswer {
  return failure(405, 'method_not_allowed', `${method} not allowed on /_sandbox${path}`);
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
