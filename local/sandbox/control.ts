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
 * A provider of scheme oauth2_refresh_token (credential-schemes.ts oauth2RefreshToken) also has its grant here; any
 * other provider gets 400 { error: { code: 'unsupported_scheme' } }, an unknown one 404 unknown_provider:
 *   GET    /_sandbox/oauth/:provider            { refreshRequests, refreshesGranted, tokensIssued, reuseIntervalSeconds }
 *   POST   /_sandbox/oauth/:provider/revoke     { provider, revoked: true }: the customer disconnected the app
 *   POST   /_sandbox/oauth/:provider/authorize  { provider, credentials } with the refresh token of a new grant (the
 *                                            customer authorized again; the old grant is revoked)
 *   POST   /_sandbox/oauth/:provider/settings   { reuseIntervalSeconds } -> { provider, reuseIntervalSeconds };
 *                                            400 { error: { code: 'invalid_settings', problems } }
 *
 * Credentials are served here on purpose: the sandbox listens on loopback only and the local hub must be able to
 * put them into its secret store.
 */
import type { AuthScheme } from '../../functions/runtime/auth-config.js';
import type { FaultKind } from './faults.js';
import type { JournalFilter, JournalView, SideEffect } from './journal.js';
import { MAX_REUSE_INTERVAL_SECONDS, type RefreshTokenGrantControl } from './provider.js';

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
  /** The auth scheme a provider checks. */
  authScheme(name: string): AuthScheme;
  /** The refresh-token grant of a provider of scheme oauth2_refresh_token; undefined for any other. */
  refreshTokenGrant(name: string): RefreshTokenGrantControl | undefined;
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
  if (resource === 'oauth' && (parts.length === 2 || parts.length === 3)) {
    if (!knownProvider(argument)) return unknownProvider(argument);
    const grant = target.refreshTokenGrant(argument);
    if (!grant) {
      return failure(400, 'unsupported_scheme', `provider "${argument}" checks ${target.authScheme(argument)}, not oauth2_refresh_token: it has no grant to drive`);
    }
    return refreshTokenGrantRequest(grant, argument, parts[2], method, path, body);
  }
  return failure(404, 'not_found', `no control endpoint ${method} /_sandbox${path}`);
}

/** `/_sandbox/oauth/:provider[/<action>]` of a provider that has a refresh-token grant. */
function refreshTokenGrantRequest(
  grant: RefreshTokenGrantControl,
  provider: string,
  action: string | undefined,
  method: string,
  path: string,
  body: string,
): ControlAnswer {
  const expected = action === undefined ? 'GET' : 'POST';
  if (action !== undefined && !['revoke', 'authorize', 'settings'].includes(action)) {
    return failure(404, 'not_found', `no control endpoint ${method} /_sandbox${path} (actions: revoke, authorize, settings)`);
  }
  if (method !== expected) return notAllowed(method, path);
  switch (action) {
    case undefined:
      return ok({
        refreshRequests: grant.refreshRequests(),
        refreshesGranted: grant.refreshesGranted(),
        tokensIssued: grant.tokensIssued(),
        reuseIntervalSeconds: grant.reuseIntervalSeconds(),
      });
    case 'revoke':
      grant.revoke();
      return ok({ provider, revoked: true });
    case 'authorize':
      return ok({ provider, credentials: { ...grant.authorize() } });
    default: {
      const settings = parseJson(body);
      const problems = refreshTokenSettingsProblems(settings);
      if (problems.length > 0) return failure(400, 'invalid_settings', problems.join('; '), { problems });
      grant.setReuseIntervalSeconds((settings as { reuseIntervalSeconds: number }).reuseIntervalSeconds);
      return ok({ provider, reuseIntervalSeconds: grant.reuseIntervalSeconds() });
    }
  }
}

/** Every problem of a `/_sandbox/oauth/:provider/settings` body `{ reuseIntervalSeconds }`. */
function refreshTokenSettingsProblems(settings: unknown): string[] {
  if (!isRecord(settings)) return ['expected a JSON object { reuseIntervalSeconds }'];
  const problems: string[] = [];
  const unknown = Object.keys(settings).filter((key) => key !== 'reuseIntervalSeconds');
  if (unknown.length > 0) problems.push(`unknown setting(s) ${unknown.join(', ')} (known: reuseIntervalSeconds)`);
  const seconds = settings.reuseIntervalSeconds;
  if (!(typeof seconds === 'number' && Number.isInteger(seconds) && seconds >= 0 && seconds <= MAX_REUSE_INTERVAL_SECONDS)) {
    problems.push(`reuseIntervalSeconds must be an integer in 0..${MAX_REUSE_INTERVAL_SECONDS} (got ${JSON.stringify(seconds) ?? 'nothing'})`);
  }
  return problems;
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
