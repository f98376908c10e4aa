/**
 * The sandbox server: one node:http server on 127.0.0.1 playing every provider in `providers.ts`, plus any generic
 * providers declared in `startSandbox({ generic })` (generic-api.ts), each under its own path prefix, plus the
 * control plane under `/_sandbox` (see control.ts).
 *
 * Per provider request, in order:
 *   read body -> fault decision (faults.ts; may answer, reset or hang here) -> route match (404/405)
 *   -> authentication (401/403) -> body parsing (415/400) -> Idempotency-Key (replay/422/409, or hold the key)
 *   -> latency -> route handler (side effect) -> save for idempotency -> malformed-body fault -> response.
 * Latency is added once, before whatever answer the request gets. Every request ends as exactly one journal entry.
 */
import { setMaxListeners } from 'node:events';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { performance } from 'node:perf_hooks';
import { setTimeout as delay } from 'node:timers/promises';
import { type AuthScheme, SECRET_FIELDS } from '../../functions/runtime/auth-config.js';
import { authScheme } from './auth.js';
import { CONTROL_PLANE_PREFIX, type ControlTarget, handleControlRequest, routedUrl } from './control.js';
import { type FaultOptions, ProviderFaults, truncateBody, validateFaultOptions } from './faults.js';
import {
  createGenericApi,
  type GenericApi,
  type GenericCredentials,
  genericDeclarationProblems,
  type GenericProviderDeclaration,
} from './generic-api.js';
import { credentialsOfSecret, DEDICATED_PROVIDER_AUTH, isDedicatedProvider, secretFieldProblems } from './hub-secrets.js';
import { IdempotencyStore, MAX_IDEMPOTENCY_KEY_LENGTH, requestFingerprint, type StoredResponse } from './idempotency.js';
import { type JournalEntry, type JournalView, RequestJournal, type SideEffect } from './journal.js';
import {
  type AnySandboxProvider,
  type CreatedResource,
  errorResponse,
  headerValue,
  matchPath,
  type ProviderContext,
  type ProviderRoute,
  type RouteResponse,
} from './provider.js';
import {
  type CredentialsOf,
  type FaultExtrasOf,
  PROVIDER_FACTORIES,
  PROVIDER_NAMES,
  type ProviderApi,
  type ProviderName,
  type ProviderOptionsOf,
} from './providers.js';
import { SeededRandom } from './random.js';

/** Options of {@link startSandbox}; `G` is the names of the generic providers declared in `generic`. */
export interface SandboxOptions<G extends string = never> {
  /** Seed of every random decision (faults, jitter, credentials, tokens). @default 1 */
  readonly seed?: number;
  /** Latency added to every provider request, ms (faults can add more). @default 0 */
  readonly latencyMs?: number;
  /** Port on 127.0.0.1. @default 0 (a free port) */
  readonly port?: number;
  /** The sandbox clock, epoch ms: token expiry, outage windows, timestamps, Retry-After dates. @default Date.now */
  readonly now?: () => number;
  /** Per-provider options, e.g. `{ crm: { tokenExpiresInSeconds: 60 } }`. */
  readonly providers?: { readonly [P in ProviderName]?: ProviderOptionsOf<P> };
  /** Faults to start with, by provider name (dedicated or generic). */
  readonly faults?: { readonly [P in ProviderName]?: ProviderFaultOptions<P> } & GenericFaults<NoInfer<G>>;
  /** Largest accepted request body, bytes; larger bodies get 413. @default 1 MiB */
  readonly maxBodyBytes?: number;
  /**
   * Generic providers to mount besides the dedicated ones, each under `/<name>` (generic-api.ts), e.g.
   * `[{ name: 'helpdesk', auth: 'bearer', routes: [{ method: 'POST', path: '/tickets' }] }]`. Names must be
   * lower-kebab-case and differ from every other provider's.
   */
  readonly generic?: readonly GenericProviderDeclaration<G>[];
  /**
   * Credentials to start with instead of the seeded ones, by provider name (dedicated or generic), each AS THE HUB'S
   * SECRET HOLDS IT: the fields of the provider's auth scheme (functions/runtime/auth-config.ts SECRET_FIELDS), e.g.
   * `{ payments: { token }, crm: { clientId, clientSecret }, helpdesk: { token } }`; hub-secrets.ts maps them to a
   * dedicated provider's own fields. Lets a sandbox accept the credentials of secrets that already exist (the try
   * stage, local/sandbox/function-url/). Rotation still works: it mints a new credential from the seeded stream. The
   * fields the runtime writes into a secret itself (RUNTIME_SECRET_FIELDS: an `oauth2_refresh_token` secret's access
   * token and its expiry) are accepted and ignored; its `refreshToken` becomes the current one of a new grant.
   */
  readonly credentials?: { readonly [provider: string]: Readonly<Record<string, string | number>> };
}

/** The common and provider-specific fault options of provider `P`. */
export type ProviderFaultOptions<P extends ProviderName> = FaultOptions & FaultExtrasOf<P>;

/**
 * Initial faults of the generic providers `G`. When `G` is just `string` (options typed without knowing the names,
 * e.g. `Parameters<typeof startSandbox>[0]`), any name is allowed and must not refuse a dedicated provider's extras.
 */
type GenericFaults<G extends string> = string extends G
  ? { readonly [name: string]: { [P in ProviderName]: ProviderFaultOptions<P> }[ProviderName] | undefined }
  : { readonly [P in G]?: FaultOptions };

/** Thrown by `setFaults` (and `startSandbox`) on invalid fault options or credentials; lists every problem. */
export class SandboxConfigError extends Error {
  /** Every problem found. */
  readonly problems: readonly string[];

  constructor(problems: readonly string[]) {
    super(`invalid sandbox configuration: ${problems.join('; ')}`);
    this.name = 'SandboxConfigError';
    this.problems = problems;
  }
}

/**
 * What a running sandbox offers besides the per-provider accessors. Every method taking a provider takes a dedicated
 * provider's name (typed credentials and fault options) or the name of a generic provider `G`.
 */
export interface SandboxControl<G extends string = never> {
  /** `http://127.0.0.1:<port>`. */
  readonly baseUrl: string;
  /** The seed in use. */
  readonly seed: number;
  /** Every request to a provider. */
  readonly journal: JournalView;
  /** Base URL of one provider: `${baseUrl}/<provider>`. */
  providerUrl(provider: ProviderName | G): string;
  /**
   * The current credential of a provider. CRM: `{ clientId, clientSecret }`; payments: `{ secretKey }`; inventory:
   * `{ apiKey }`; shipping: `{ username, password }`; email and contacts: `{ token }`; a generic provider: the fields
   * of its scheme (generic-api.ts).
   */
  credentials<P extends ProviderName>(provider: P): CredentialsOf<P>;
  credentials(provider: G): GenericCredentials;
  /**
   * Issues a new credential; the old one (and client-credentials tokens issued with it) now gets 401
   * `invalid_credentials`. An `oauth2_refresh_token` provider changes its client secret and keeps the customer's grant
   * and its tokens (its grant is driven by `generic(name).refreshTokenGrant`).
   */
  rotateCredentials<P extends ProviderName>(provider: P): CredentialsOf<P>;
  rotateCredentials(provider: G): GenericCredentials;
  /** Replaces the faults of a provider; throws {@link SandboxConfigError} listing every problem. */
  setFaults<P extends ProviderName>(provider: P, faults: ProviderFaultOptions<P>): void;
  setFaults(provider: G, faults: FaultOptions): void;
  /** The faults currently set on a provider. */
  faults<P extends ProviderName>(provider: P): ProviderFaultOptions<P>;
  faults(provider: G): FaultOptions;
  /** Removes the faults of one provider, or of all. */
  clearFaults(provider?: ProviderName | G): void;
  /**
   * Side effects (resources created, or changed: a release, a cancellation, a contact batch), in order, of one provider
   * or all. Typed by `string` provider names so that a sandbox with generic providers is still a `Sandbox`.
   */
  sideEffects(provider?: ProviderName | G): readonly SideEffect[];
  /** The state accessor of a generic provider (`sandbox.generic('helpdesk').resources()`). */
  generic(provider: G): GenericApi;
  /**
   * Back to the state right after start: resources, idempotency records, journal, side effects and faults are
   * cleared and the random streams rewound. Credentials (and tokens issued with them) are kept.
   */
  reset(): void;
  /** Stops the server: releases hung requests, aborts pending latency, closes every socket. Idempotent. */
  close(): Promise<void>;
}

/**
 * A running sandbox: control plus one state accessor per dedicated provider (`sandbox.crm.files()`,
 * `sandbox.inventory.setStock()`); generic providers `G` are reached by name (`sandbox.generic(name)`).
 */
export type Sandbox<G extends string = never> = SandboxControl<G> & { readonly [P in ProviderName]: ProviderApi<P> };

type ProviderApis = { readonly [P in ProviderName]: ProviderApi<P> };

interface MountedProvider {
  readonly name: string;
  readonly api: AnySandboxProvider;
  readonly faults: ProviderFaults;
  /** The options as last set, for `faults()` and the control plane. */
  current: Readonly<Record<string, unknown>>;
}

/** What the pipeline knows about a request so far; becomes its journal entry. */
interface RequestTrace {
  seq: number;
  provider: string | null;
  method: string;
  path: string;
  route: string | null;
  idempotencyKey: string | null;
  correlationId: string | null;
  authScheme: string | null;
  created: CreatedResource | null;
  replayed: boolean;
  fault: JournalEntry['fault'];
  injectedLatencyMs: number;
  at: number;
  startedAt: number;
  /** The pipeline is still running (it journals the request itself when it ends). */
  processing: boolean;
  recorded: boolean;
}

const JSON_CONTENT_TYPE = 'application/json; charset=utf-8';

/** Starts the sandbox on 127.0.0.1 and resolves once it is listening. */
export async function startSandbox<const G extends string = never>(options: SandboxOptions<G> = {}): Promise<Sandbox<G>> {
  const seed = options.seed ?? 1;
  if (!Number.isInteger(seed)) throw new SandboxConfigError(['seed must be an integer']);
  if (options.latencyMs !== undefined && !(Number.isFinite(options.latencyMs) && options.latencyMs >= 0)) {
    throw new SandboxConfigError(['latencyMs must be a number of ms >= 0']);
  }
  const declarations: readonly GenericProviderDeclaration<G>[] = options.generic ?? [];
  const declarationProblems = genericProblems(declarations);
  if (declarationProblems.length > 0) throw new SandboxConfigError(declarationProblems);
  const now = options.now ?? Date.now;
  const maxBodyBytes = options.maxBodyBytes ?? 1024 * 1024;
  const journal = new RequestJournal();
  const idempotency = new IdempotencyStore();
  const shutdown = new AbortController();
  // Every request in its latency listens on this signal; hundreds at once is normal load, not a leak.
  setMaxListeners(0, shutdown.signal);
  // Requests without an answer yet, so close() can journal and release them.
  const inFlight = new Map<ServerResponse, RequestTrace>();
  let sideEffects: SideEffect[] = [];

  const mounted = new Map<string, MountedProvider>();
  /** Every provider's seeded streams are derived from its name, so adding a generic provider shifts no other stream. */
  const mount = <T extends AnySandboxProvider>(name: string, build: (context: ProviderContext) => T): T => {
    const api = build({ seed, now, random: (label) => new SeededRandom(seed, `${name}:${label}`) });
    mounted.set(name, {
      name,
      api,
      faults: new ProviderFaults(new SeededRandom(seed, `${name}:faults`), options.latencyMs ?? 0),
      current: {},
    });
    return api;
  };
  const apis = {} as Record<ProviderName, AnySandboxProvider>;
  for (const name of PROVIDER_NAMES) {
    // Each factory takes its own options type; the map in providers.ts keeps `options.providers` typed per name.
    const factory = PROVIDER_FACTORIES[name] as (ctx: ProviderContext, providerOptions: unknown) => AnySandboxProvider;
    apis[name] = mount(name, (context) => factory(context, options.providers?.[name]));
  }
  const genericApis = new Map<string, GenericApi>();
  for (const declaration of declarations) genericApis.set(declaration.name, mount(declaration.name, (context) => createGenericApi(context, declaration)));
  /** Dedicated providers first (in PROVIDER_NAMES order), then the generic ones in declaration order. */
  const providerNames: readonly string[] = [...mounted.keys()];
  const unknownProvider = (name: string): string => `unknown provider "${name}" (known: ${providerNames.join(', ')})`;
  /** The scheme a mounted provider checks. */
  const schemeOf = (name: string): AuthScheme | undefined => (isDedicatedProvider(name) ? DEDICATED_PROVIDER_AUTH[name].scheme : genericApis.get(name)?.scheme);

  const mountedProvider = (name: string): MountedProvider => {
    const provider = mounted.get(name);
    if (!provider) throw new SandboxConfigError([unknownProvider(name)]);
    return provider;
  };

  /** Validates and applies untyped fault options; returns the problems (nothing applied when there are any). */
  const applyFaults = (name: string, raw: unknown): readonly string[] => {
    const provider = mounted.get(name);
    if (!provider) return [unknownProvider(name)];
    const common = validateFaultOptions(raw, provider.api.faultExtraKeys);
    const extras = provider.api.validateFaultExtras(common.extras);
    const problems = [...common.problems, ...(extras.ok ? [] : extras.problems)];
    if (problems.length > 0 || !extras.ok) return problems;
    provider.faults.set(common.options, now());
    provider.api.setFaultExtras(extras.extras);
    provider.current = { ...common.options, ...extras.extras };
    return [];
  };

  /** Replaces the seeded credentials with the given ones; returns every problem (then the sandbox is not started). */
  const setInitialCredentials = (given: Readonly<Record<string, unknown>>): string[] => {
    const problems: string[] = [];
    for (const [name, secret] of Object.entries(given)) {
      const provider = mounted.get(name);
      const scheme = schemeOf(name);
      if (!provider || scheme === undefined) {
        problems.push(`credentials: ${unknownProvider(name)}`);
        continue;
      }
      const found = secretFieldProblems(scheme, secret);
      problems.push(...found.map((problem) => `credentials.${name}: ${problem}`));
      if (found.length > 0) continue;
      // Only the scheme's own fields: what the runtime wrote into the secret (RUNTIME_SECRET_FIELDS) is not a credential.
      const fields = Object.fromEntries(SECRET_FIELDS[scheme].map((field) => [field, (secret as Readonly<Record<string, string>>)[field] ?? '']));
      provider.api.setCredentials(isDedicatedProvider(name) ? credentialsOfSecret(name, fields) : fields);
    }
    return problems;
  };

  const clearFaults = (name?: string): void => {
    for (const provider of name === undefined ? mounted.values() : [mountedProvider(name)]) {
      provider.faults.clear();
      provider.api.setFaultExtras({});
      provider.current = {};
    }
  };

  const sleep = async (ms: number): Promise<void> => {
    if (ms > 0) await delay(ms, undefined, { signal: shutdown.signal });
  };

  // ------------------------------------------------------------------ the request pipeline

  const record = (trace: RequestTrace, status: number | null, clientAborted: boolean): void => {
    if (trace.recorded) return;
    trace.recorded = true;
    journal.record({
      seq: trace.seq,
      provider: trace.provider,
      method: trace.method,
      path: trace.path,
      route: trace.route,
      status,
      idempotencyKey: trace.idempotencyKey,
      correlationId: trace.correlationId,
      authScheme: trace.authScheme,
      sideEffect: trace.created !== null,
      created: trace.created,
      replayed: trace.replayed,
      fault: trace.fault,
      injectedLatencyMs: trace.injectedLatencyMs,
      clientAborted,
      at: trace.at,
      durationMs: Math.round((performance.now() - trace.startedAt) * 100) / 100,
    });
  };

  const send = (
    res: ServerResponse,
    trace: RequestTrace,
    answer: { status: number; contentType: string; body: string; headers?: Readonly<Record<string, string>> },
  ): void => {
    const clientGone = res.destroyed;
    if (!clientGone && !res.headersSent) {
      res.writeHead(answer.status, {
        ...answer.headers,
        'content-type': answer.contentType,
        'content-length': Buffer.byteLength(answer.body),
        'x-request-id': `req_${trace.seq}`,
        ...(trace.correlationId ? { 'x-correlation-id': trace.correlationId } : {}),
      });
      res.end(answer.body);
    }
    record(trace, clientGone ? null : answer.status, clientGone);
  };

  const sendRoute = (res: ServerResponse, trace: RequestTrace, response: RouteResponse, malformed = false): void => {
    const body = JSON.stringify(response.body);
    const mangle = malformed && response.status >= 200 && response.status < 300;
    if (mangle) trace.fault = 'malformed';
    send(res, trace, {
      status: response.status,
      contentType: JSON_CONTENT_TYPE,
      body: mangle ? truncateBody(body) : body,
      ...(response.headers ? { headers: response.headers } : {}),
    });
  };

  const handleProviderRequest = async (
    req: IncomingMessage,
    res: ServerResponse,
    provider: MountedProvider,
    trace: RequestTrace,
    url: URL,
  ): Promise<void> => {
    const body = await readBody(req, maxBodyBytes);
    const method = trace.method;
    const candidates = provider.api.routes
      .map((route) => ({ route, params: matchPath(route.path, trace.path) }))
      .filter((candidate): candidate is { route: ProviderRoute; params: Record<string, string> } => candidate.params !== undefined);
    const matched = candidates.find((candidate) => candidate.route.method === method);
    trace.route = matched?.route.path ?? null;
    const decision = provider.faults.decide(now(), trace.path);
    trace.injectedLatencyMs = decision.action === 'hang' ? 0 : decision.latencyMs;
    // The latency is paid once, right before the answer (or before the route runs, holding an idempotency key).
    let paused = false;
    const pause = async (): Promise<void> => {
      if (paused) return;
      paused = true;
      await sleep(decision.latencyMs);
    };

    if (decision.action === 'hang') {
      // Nothing more to do: the socket's close (client abort, or close()) journals the request.
      trace.fault = decision.fault;
      return;
    }
    if (decision.action === 'reset') {
      await pause();
      trace.fault = decision.fault;
      record(trace, null, false);
      resetSocket(req.socket);
      return;
    }
    if (decision.action === 'answer') {
      await pause();
      trace.fault = decision.fault;
      send(res, trace, decision.answer);
      return;
    }
    if (body === TOO_LARGE) {
      await pause();
      sendRoute(res, trace, errorResponse(413, 'payload_too_large', `request bodies are limited to ${maxBodyBytes} bytes`), false);
      return;
    }

    if (!matched) {
      await pause();
      if (candidates.length > 0) {
        const allow = [...new Set(candidates.map((candidate) => candidate.route.method))].join(', ');
        sendRoute(res, trace, errorResponse(405, 'method_not_allowed', `${method} not allowed on ${trace.path}`, { headers: { allow } }));
      } else {
        sendRoute(res, trace, errorResponse(404, 'not_found', `no route ${method} ${trace.path}`));
      }
      return;
    }
    const { route, params } = matched;

    let principal: string | null = null;
    if (route.auth === 'required') {
      const auth = provider.api.authenticate(req.headers, route);
      if (!auth.ok) {
        await pause();
        const challenge = provider.api.authChallenge ?? `Bearer realm="${provider.name}", error="invalid_token"`;
        const headers: Record<string, string> = auth.status === 401 ? { 'www-authenticate': challenge } : {};
        sendRoute(res, trace, errorResponse(auth.status, auth.code, auth.message, { headers }));
        return;
      }
      principal = auth.principal;
    }

    const parsed = parseBody(route, req, body);
    if (!parsed.ok) {
      await pause();
      sendRoute(res, trace, parsed.response);
      return;
    }

    const run = async (): Promise<RouteResponse> =>
      route.handle({ method: route.method, path: trace.path, params, query: url.searchParams, headers: req.headers, body: parsed.value, principal });
    const noteSideEffect = (response: RouteResponse): void => {
      if (!response.sideEffect) return;
      trace.created = { type: response.sideEffect.type, id: response.sideEffect.id };
      sideEffects.push({
        provider: provider.name,
        type: response.sideEffect.type,
        id: response.sideEffect.id,
        idempotencyKey: trace.idempotencyKey,
        correlationId: trace.correlationId,
        at: now(),
      });
    };

    const key = route.idempotent ? trace.idempotencyKey : null;
    if (key === null) {
      await pause();
      const response = await run();
      noteSideEffect(response);
      sendRoute(res, trace, response, decision.malformed);
      return;
    }
    if (key.length === 0 || key.length > MAX_IDEMPOTENCY_KEY_LENGTH) {
      await pause();
      sendRoute(res, trace, errorResponse(400, 'invalid_idempotency_key', `Idempotency-Key must be 1..${MAX_IDEMPOTENCY_KEY_LENGTH} characters`));
      return;
    }
    const scope = provider.name;
    const check = idempotency.begin(scope, key, requestFingerprint(route.method, trace.path, parsed.value), now());
    if (check.outcome === 'replay') {
      await pause();
      trace.replayed = true;
      const stored = check.response;
      const mangle = decision.malformed && stored.status >= 200 && stored.status < 300;
      if (mangle) trace.fault = 'malformed';
      send(res, trace, {
        status: stored.status,
        contentType: stored.contentType,
        body: mangle ? truncateBody(stored.body) : stored.body,
        headers: { ...stored.headers, 'idempotent-replayed': 'true' },
      });
      return;
    }
    if (check.outcome === 'reused') {
      await pause();
      sendRoute(res, trace, errorResponse(422, 'idempotency_key_reused', 'this Idempotency-Key was used with a different request'));
      return;
    }
    if (check.outcome === 'in_progress') {
      await pause();
      sendRoute(res, trace, errorResponse(409, 'idempotency_in_progress', 'a request with this Idempotency-Key is still being processed'));
      return;
    }
    let response: RouteResponse;
    try {
      await pause();
      response = await run();
    } catch (error) {
      idempotency.release(scope, key);
      throw error;
    }
    noteSideEffect(response);
    if (response.saveForIdempotency === false) {
      idempotency.release(scope, key);
    } else {
      const stored: StoredResponse = {
        status: response.status,
        contentType: JSON_CONTENT_TYPE,
        body: JSON.stringify(response.body),
        headers: response.headers ?? {},
      };
      idempotency.complete(scope, key, stored, now());
    }
    sendRoute(res, trace, response, decision.malformed);
  };

  const handleRequest = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = routedUrl(req.url ?? '/');
    const segments = url.pathname.split('/');
    const prefix = segments[1] ?? '';
    if (prefix === CONTROL_PLANE_PREFIX) {
      const body = await readBody(req, maxBodyBytes);
      const answer = handleControlRequest(control, req.method ?? 'GET', `/${segments.slice(2).join('/')}`, url.searchParams, body === TOO_LARGE ? '' : body);
      const text = answer.body === undefined ? '' : JSON.stringify(answer.body);
      res.writeHead(answer.status, { 'content-type': JSON_CONTENT_TYPE, 'content-length': Buffer.byteLength(text) });
      res.end(text);
      return;
    }
    const provider = mounted.get(prefix);
    const trace: RequestTrace = {
      seq: journal.reserveSeq(),
      provider: provider?.name ?? null,
      method: req.method ?? 'GET',
      path: provider ? `/${segments.slice(2).join('/')}` : url.pathname,
      route: null,
      idempotencyKey: headerValue(req.headers, 'idempotency-key') ?? null,
      correlationId: headerValue(req.headers, 'x-correlation-id') ?? null,
      authScheme: authScheme(req.headers, provider?.api.apiKeyHeader),
      created: null,
      replayed: false,
      fault: null,
      injectedLatencyMs: 0,
      at: now(),
      startedAt: performance.now(),
      processing: true,
      recorded: false,
    };
    // A request that ends without a response is journaled when its socket closes, unless the pipeline is still
    // running: a client that gave up does not stop the server from processing (and creating things), as in reality.
    inFlight.set(res, trace);
    res.on('close', () => {
      inFlight.delete(res);
      if (!trace.processing) record(trace, null, !shutdown.signal.aborted);
    });
    try {
      if (!provider) {
        sendRoute(res, trace, errorResponse(404, 'not_found', `no provider at ${url.pathname}; known: ${providerNames.join(', ')}`));
        return;
      }
      await handleProviderRequest(req, res, provider, trace, url);
    } catch (error) {
      if (shutdown.signal.aborted || res.destroyed) {
        res.destroy();
        return;
      }
      const message = error instanceof Error ? error.message : String(error);
      sendRoute(res, trace, errorResponse(500, 'internal_error', `sandbox bug: ${message}`));
    } finally {
      trace.processing = false;
      if (res.destroyed) record(trace, null, !shutdown.signal.aborted);
    }
  };

  // ------------------------------------------------------------------ control plane and public object

  const control: ControlTarget = {
    providerNames: () => providerNames,
    providerUrl: (name) => `${baseUrl}/${name}`,
    applyFaults,
    faultsOf: (name) => ({ ...mountedProvider(name).current }),
    clearFaults,
    journal,
    sideEffects: (name) => sideEffects.filter((effect) => name === undefined || effect.provider === name),
    reset: () => resetAll(),
    credentials: (name) => ({ ...mountedProvider(name).api.credentials() }),
    rotateCredentials: (name) => ({ ...mountedProvider(name).api.rotateCredentials() }),
    authScheme: (name) => schemeOf(name) ?? 'none',
    refreshTokenGrant: (name) => mountedProvider(name).api.refreshTokenGrant,
  };

  const resetAll = (): void => {
    for (const provider of mounted.values()) {
      provider.api.reset();
      provider.faults.reset();
      provider.current = {};
    }
    idempotency.clear();
    journal.clear();
    sideEffects = [];
  };

  const credentialProblems = setInitialCredentials(options.credentials ?? {});
  if (credentialProblems.length > 0) throw new SandboxConfigError(credentialProblems);

  const initialFaults: Readonly<Record<string, unknown>> = options.faults ?? {};
  for (const name of providerNames) {
    const initial = initialFaults[name];
    if (initial !== undefined) {
      const problems = applyFaults(name, initial);
      if (problems.length > 0) throw new SandboxConfigError(problems.map((problem) => `${name}: ${problem}`));
    }
  }

  const server: Server = createServer({ keepAlive: true, keepAliveTimeout: 5_000 }, (req, res) => {
    handleRequest(req, res).catch(() => res.destroy());
  });
  // Sockets that are open (idle keep-alive or busy) are tracked so close() never waits on a client.
  const sockets = new Set<Socket>();
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  server.on('clientError', (_error, socket) => socket.destroy());
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 0, '127.0.0.1', () => {
      server.off('error', reject);
      resolve();
    });
  });
  const { port } = server.address() as AddressInfo;
  const baseUrl = `http://127.0.0.1:${port}`;

  let closing: Promise<void> | undefined;
  const close = (): Promise<void> => {
    closing ??= new Promise<void>((resolve) => {
      shutdown.abort();
      server.close(() => resolve());
      for (const [res, trace] of inFlight) {
        record(trace, null, false);
        res.destroy();
      }
      inFlight.clear();
      server.closeAllConnections();
      for (const socket of sockets) socket.destroy();
    });
    return closing;
  };

  // The overloads of SandboxControl only narrow the types; every method works by name on any mounted provider.
  type Control = SandboxControl<G>;
  const sandbox: Control = {
    baseUrl,
    seed,
    journal,
    providerUrl: (provider) => `${baseUrl}/${provider}`,
    credentials: ((provider: string) => ({ ...mountedProvider(provider).api.credentials() })) as Control['credentials'],
    rotateCredentials: ((provider: string) => ({ ...mountedProvider(provider).api.rotateCredentials() })) as Control['rotateCredentials'],
    setFaults: ((provider: string, faults: unknown) => {
      const problems = applyFaults(provider, faults);
      if (problems.length > 0) throw new SandboxConfigError(problems);
    }) as Control['setFaults'],
    faults: ((provider: string) => ({ ...mountedProvider(provider).current })) as Control['faults'],
    clearFaults,
    sideEffects: (provider) => sideEffects.filter((effect) => provider === undefined || effect.provider === provider),
    generic: (provider) => {
      const api = genericApis.get(provider);
      if (!api) throw new SandboxConfigError([`unknown generic provider "${provider}" (known: ${[...genericApis.keys()].join(', ') || 'none'})`]);
      return api;
    },
    reset: resetAll,
    close,
  };
  for (const name of PROVIDER_NAMES) {
    if (name in sandbox) throw new Error(`provider name "${name}" clashes with a Sandbox member`);
  }
  return Object.assign(sandbox, apis as unknown as ProviderApis);
}

/** Every problem of the generic declarations, each prefixed with where it is; names must not clash with any other. */
function genericProblems(declarations: readonly GenericProviderDeclaration[]): string[] {
  if (!Array.isArray(declarations)) return ['generic must be an array of provider declarations'];
  const problems: string[] = [];
  const taken = new Set<string>(PROVIDER_NAMES);
  declarations.forEach((declaration, index) => {
    if (typeof declaration !== 'object' || declaration === null) {
      problems.push(`generic[${index}] must be an object { name, auth, routes? }`);
      return;
    }
    const label = `generic[${index}]${typeof declaration.name === 'string' ? ` (${declaration.name})` : ''}`;
    problems.push(...genericDeclarationProblems(declaration).map((problem) => `${label}: ${problem}`));
    if (taken.has(declaration.name)) problems.push(`${label}: a provider named "${declaration.name}" is already mounted`);
    taken.add(declaration.name);
  });
  return problems;
}

// ------------------------------------------------------------------ helpers

const TOO_LARGE = Symbol('too large');

async function readBody(req: IncomingMessage, limit: number): Promise<string | typeof TOO_LARGE> {
  const chunks: Buffer[] = [];
  let size = 0;
  let tooLarge = false;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    // Keep draining so the connection stays usable, but stop buffering.
    if (size > limit) tooLarge = true;
    else chunks.push(buffer);
  }
  return tooLarge ? TOO_LARGE : Buffer.concat(chunks).toString('utf8');
}

type ParsedBody = { ok: true; value: unknown } | { ok: false; response: RouteResponse };

function parseBody(route: ProviderRoute, req: IncomingMessage, body: string): ParsedBody {
  if (route.body === undefined) return { ok: true, value: undefined };
  // Like Stripe, an action endpoint with only optional parameters takes a POST without any body.
  if (route.optionalBody && body.length === 0) return { ok: true, value: {} };
  const contentType = (headerValue(req.headers, 'content-type') ?? '').split(';', 1)[0]?.trim().toLowerCase() ?? '';
  if (route.body === 'json') {
    if (contentType !== 'application/json' && !contentType.endsWith('+json')) {
      return { ok: false, response: errorResponse(415, 'unsupported_media_type', 'expected Content-Type: application/json') };
    }
    try {
      return { ok: true, value: JSON.parse(body) as unknown };
    } catch {
      return { ok: false, response: errorResponse(400, 'invalid_json', 'the request body is not valid JSON') };
    }
  }
  if (contentType !== 'application/x-www-form-urlencoded') {
    return { ok: false, response: errorResponse(415, 'unsupported_media_type', 'expected Content-Type: application/x-www-form-urlencoded') };
  }
  const fields: Record<string, string> = {};
  for (const [name, value] of new URLSearchParams(body)) {
    if (name in fields) return { ok: false, response: errorResponse(400, 'invalid_request', `parameter "${name}" is repeated`) };
    fields[name] = value;
  }
  return { ok: true, value: fields };
}

/** Destroys a socket with a TCP RST where the platform allows it (what a crashing proxy does). */
function resetSocket(socket: Socket): void {
  if (typeof socket.resetAndDestroy === 'function') socket.resetAndDestroy();
  else socket.destroy();
}
