/**
 * The typed catalog: the single source of truth for every integration the hub deploys — its handler, routes,
 * provider, limits, breaker settings and alarm thresholds. Adding an integration = one adapter file in
 * functions/integrations/ + one entry here. The stack, the dashboards, the local hub and the docs read it.
 *
 * lib/ imports only the runtime's pure validation modules from functions/ (names, circuit settings, errors), so synth
 * checks a setting with the same rule the function applies at run time. The handler is referenced by path (bundled
 * by esbuild), and a test checks that each entry agrees with its adapter (auth scheme).
 */
import { Token } from 'aws-cdk-lib';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type AuthConfig, type AuthDeclaration, type AuthScheme, authConfigProblems, toAuthConfig } from '../functions/runtime/auth-config.js';
import { circuitBreakerSettingsProblems, type CircuitBreakerSettingsInput } from '../functions/runtime/circuit-settings.js';
import { ConfigurationError } from '../functions/runtime/errors.js';
import { adapterModulePath, nameProblem } from '../functions/runtime/names.js';
import { SETTING_RANGES } from '../functions/runtime/runtime-settings.js';
import { baseUrlProblem } from '../functions/runtime/base-url.js';
import { type WebhookSchemeDeclaration, webhookEventSource, webhookSchemeProblems } from '../functions/webhooks/webhook-declaration.js';

/** The repository root: adapter and handler modules are given relative to it. */
export const REPOSITORY_ROOT = fileURLToPath(new URL('../', import.meta.url));

/** The auth schemes (functions/runtime/auth-config.ts). */
export type CatalogAuthScheme = AuthScheme;

export { SECRET_FIELDS } from '../functions/runtime/auth-config.js';

/** An EventBridge rule pattern routing events to an integration's queue. */
export interface EventRoute {
  /** `source` values to match (exact). */
  readonly sources: readonly string[];
  /** `detail-type` values to match (exact). */
  readonly detailTypes: readonly string[];
}

/**
 * Circuit breaker overrides (see docs/configuration.md); passed to the function as CIRCUIT_SETTINGS and checked at
 * synth by the runtime's own validator (functions/runtime/circuit-settings.ts).
 */
export type CatalogCircuitSettings = CircuitBreakerSettingsInput;

/**
 * Inbound webhooks of an integration's provider (docs/webhooks.md): the stack deploys an HTTPS endpoint
 * `POST /webhooks/<name>` that verifies each delivery with the scheme, drops replays, and forwards it to the bus as an
 * event of source `integration-hub.webhooks.<name>` whose detail-type is the provider's event type.
 */
export type WebhookEntry = WebhookSchemeDeclaration & {
  /** The provider's event types the hub expects (rules route them; others are forwarded too). At least one. */
  readonly events: readonly string[];
  /** Larger bodies get 413. @default 65536 (1 – 240000) */
  readonly maxBodyBytes?: number;
  /** How long a delivery id is remembered: longer than the provider's retry window. @default 3 (1 – 30) */
  readonly dedupeDays?: number;
  /** Steady requests per second the endpoint takes; more get 429 from API Gateway. @default 50 (1 – 10000) */
  readonly rateLimitPerSecond?: number;
  /** Requests the endpoint takes in a burst. @default 100 (1 – 5000) */
  readonly burstLimit?: number;
  /** Rejected deliveries in 5 minutes that raise the rejection alarm. @default 10 (1 – 100000) */
  readonly rejectionAlarmThreshold?: number;
  /**
   * The secret holding the signing secrets (`{"signingSecrets": [...]}`). By default the stack creates it with a
   * random placeholder (every delivery refused until the provider's is put in); `import: true` uses an existing one.
   * @default `integration-hub/<stage>/<name>-webhooks`, created
   */
  readonly secret?: { readonly name: string; readonly import?: boolean };
};

/** A webhook declaration with its defaults applied. */
export interface ResolvedWebhooks {
  /** The scheme and its options, as the endpoint's function gets them (`WEBHOOK_SCHEME`). */
  readonly scheme: WebhookSchemeDeclaration;
  readonly events: readonly string[];
  /** The forwarded events' source. */
  readonly eventSource: string;
  readonly maxBodyBytes: number;
  readonly dedupeSeconds: number;
  readonly rateLimitPerSecond: number;
  readonly burstLimit: number;
  readonly rejectionAlarmThreshold: number;
  /** The signing secret's name, when the catalog or the stage names one (else the stack's own, created). */
  readonly secret?: { readonly name: string; readonly import: boolean };
}

/** One integration: everything the stack needs to deploy it. Durations in seconds unless the name says otherwise. */
export interface IntegrationEntry {
  /** Lower-kebab-case; equals the adapter's `name` (circuit id, ledger integration, metric dimension). */
  readonly name: string;
  /** One sentence for the dashboard and docs. */
  readonly description: string;
  /**
   * The adapter this integration runs: the file functions/integrations/<adapter>.ts. Several integrations may use
   * one adapter (two accounts of one CRM, a payments gateway per region), each with its own queue, secret, circuit,
   * ledger rows and alarms. @default the integration's name
   */
  readonly adapter?: string;
  /** Events routed from the hub's bus to this integration's queue. At least one. */
  readonly routes: readonly EventRoute[];
  /** The provider's base URL. Override per deployment with context `baseUrl:<name>`. */
  readonly baseUrl: string;
  /**
   * How the provider is authenticated: a scheme (`'bearer'`, `'api_key'`, `'basic'`, `'none'`) or the whole
   * configuration (`{ scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' }`, `{ scheme: 'api_key',
   * headerName: 'X-Key' }`). Declared here only: the function gets it as `AUTH`, the secret's fields follow from it.
   */
  readonly auth: AuthDeclaration;
  /**
   * The Secrets Manager secret with the credentials. By default the stack creates it with a generated
   * placeholder (set the real value after deploy); `import: true` uses an existing secret of that name.
   */
  readonly secret?: { readonly name: string; readonly import?: boolean };
  /** Lambda timeout. @default 30 (1 – 900) */
  readonly functionTimeoutSeconds?: number;
  /** Lambda memory. @default 512 (128 – 10240) */
  readonly memoryMb?: number;
  /** Per-attempt HTTP timeout; must leave room inside the function timeout. @default adapter's */
  readonly httpTimeoutMs?: number;
  /** HTTP attempts per delivery. @default adapter's (1 – 20) */
  readonly maxAttempts?: number;
  /** SQS batch size. @default 10 (1 – 10 without a window, up to 100 with one) */
  readonly batchSize?: number;
  /** Batching window. @default 0 (0 – 300) */
  readonly batchWindowSeconds?: number;
  /** Event source mapping maximum concurrency. @default 5 (2 – 1000) */
  readonly maxConcurrency?: number;
  /** Records processed at once inside one batch. @default 10 (1 – 100) */
  readonly recordConcurrency?: number;
  /** Deliveries before SQS moves a message to the DLQ. @default 5 (1 – 1000) */
  readonly maxReceiveCount?: number;
  readonly circuit?: CatalogCircuitSettings;
  readonly alarms?: {
    /** Alarm when the oldest message is older than this. @default 900 */
    readonly oldestMessageAgeSeconds?: number;
    /** Alarm when the circuit stays open longer than this. @default 15 */
    readonly circuitOpenMinutes?: number;
    /** Alarm on this many function errors in 5 minutes. @default 1 */
    readonly functionErrors?: number;
  };
  /** The provider's inbound webhooks, when it sends any. */
  readonly webhooks?: WebhookEntry;
}

/** An entry with every default applied. */
export type ResolvedIntegration = Required<Omit<IntegrationEntry, 'auth' | 'secret' | 'circuit' | 'alarms' | 'httpTimeoutMs' | 'maxAttempts' | 'webhooks'>> & {
  /** The auth configuration (a bare scheme made an object). */
  readonly auth: AuthConfig;
  /** The adapter's module (functions/integrations/<adapter>.ts), relative to the repository root; it exports `handler`. */
  readonly entry: string;
  readonly secret: { readonly name: string; readonly import: boolean };
  readonly circuit: CatalogCircuitSettings;
  readonly alarms: Required<NonNullable<IntegrationEntry['alarms']>>;
  readonly httpTimeoutMs?: number;
  readonly maxAttempts?: number;
  readonly webhooks?: ResolvedWebhooks;
};

/** The integrations the hub deploys. */
export const INTEGRATIONS: readonly IntegrationEntry[] = [
  {
    name: 'crm',
    description: 'Files uploaded upstream become CRM file records (OAuth2 client credentials).',
    routes: [{ sources: ['files.service'], detailTypes: ['FileUploaded'] }],
    baseUrl: 'https://crm.example.com/api',
    auth: { scheme: 'oauth2_client_credentials', tokenUrl: '/oauth/token' },
    functionTimeoutSeconds: 30,
    httpTimeoutMs: 5000,
    maxAttempts: 3,
    batchSize: 10,
    maxConcurrency: 5,
    maxReceiveCount: 5,
    circuit: { failureThreshold: 5, breakMs: 30_000 },
    // The CRM signs its webhooks the Standard Webhooks way (docs/webhooks.md).
    webhooks: { scheme: 'standard-webhooks', events: ['contact.updated'] },
  },
  {
    name: 'payments',
    description: 'Charges and refunds through the card payment gateway (bearer secret key).',
    routes: [
      { sources: ['orders.service', 'billing.service'], detailTypes: ['PaymentRequested', 'RefundRequested'] },
      // The gateway's own webhooks, forwarded by the hub's endpoint: the adapter records the charge's state (docs/webhooks.md).
      { sources: [webhookEventSource('payments')], detailTypes: ['charge.succeeded', 'charge.refunded'] },
    ],
    baseUrl: 'https://payments.example.com/v1',
    auth: 'bearer',
    functionTimeoutSeconds: 30,
    httpTimeoutMs: 8000,
    maxAttempts: 3,
    batchSize: 10,
    maxConcurrency: 10,
    maxReceiveCount: 5,
    circuit: { failureThreshold: 5, breakMs: 30_000 },
    alarms: { oldestMessageAgeSeconds: 300 },
    // The gateway signs with its own `t=…,v1=…` header (docs/webhooks.md).
    webhooks: { scheme: 'timestamped-hmac', header: 'payments-signature', events: ['charge.succeeded', 'charge.refunded'] },
  },
  {
    name: 'newsletter',
    description: "Customers who subscribe upstream become list subscribers on the e-mail marketing platform, on the customer's account (OAuth2 refresh token).",
    routes: [{ sources: ['accounts.service'], detailTypes: ['CustomerSubscribed'] }],
    baseUrl: 'https://api.newsletter.example.com/v1',
    // The customer authorized the hub's app once; only the scope that adds subscribers is asked for (docs/oauth-refresh-tokens.md).
    auth: { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token', scopes: ['subscribers:write'] },
    functionTimeoutSeconds: 30,
    httpTimeoutMs: 5000,
    maxAttempts: 3,
    batchSize: 10,
    maxConcurrency: 5,
    maxReceiveCount: 5,
    circuit: { failureThreshold: 5, breakMs: 30_000 },
  },
];

/** Context overrides, e.g. `{ 'baseUrl:crm': 'https://sandbox.crm.example.com' }` from `cdk deploy -c`. */
export type CatalogContext = Readonly<Record<string, unknown>>;

/** Thrown when the catalog is invalid; lists every problem. */
export class CatalogError extends ConfigurationError {
  constructor(problems: readonly string[]) {
    super(`The integration catalog is invalid:\n- ${problems.join('\n- ')}`, problems);
    this.name = 'CatalogError';
  }
}

/**
 * Applies defaults and context overrides, and validates every entry. Throws a {@link CatalogError} listing every
 * problem at once (synth fails with the whole list).
 */
export function resolveCatalog(entries: readonly IntegrationEntry[] = INTEGRATIONS, context: CatalogContext = {}): ResolvedIntegration[] {
  const problems: string[] = [];
  const seen = new Set<string>();
  const resolved = entries.map((entry, index) => {
    const where = `integration ${entry.name ? `'${entry.name}'` : `#${index + 1}`}`;
    const problem = (text: string) => problems.push(`${where}: ${text}`);
    const inRange = (field: string, value: number | undefined, min: number, max: number) => {
      if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
        problem(`${field} must be an integer from ${min} to ${max} (got ${value})`);
      }
    };

    const badName = nameProblem(entry.name);
    if (badName) problem(badName);
    if (seen.has(entry.name)) problem('name is used twice');
    seen.add(entry.name);
    const adapter = entry.adapter ?? entry.name;
    const adapterProblem = nameProblem(adapter, 'adapter');
    if (adapterProblem) problem(adapterProblem);
    else if (!existsSync(join(REPOSITORY_ROOT, adapterModulePath(adapter)))) {
      problem(`adapter '${adapter}' has no module ${adapterModulePath(adapter)} (write it, or name an existing adapter)`);
    }
    if (!entry.routes || entry.routes.length === 0) problem('needs at least one route');
    for (const [i, route] of (entry.routes ?? []).entries()) {
      if (route.sources.length === 0 || route.detailTypes.length === 0) problem(`route ${i + 1} needs at least one source and one detail type`);
    }
    const override = context[`baseUrl:${entry.name}`];
    const baseUrl = typeof override === 'string' && override.length > 0 ? override : entry.baseUrl;
    // A URL known only at deploy time (the try stage's sandbox, lib/constructs/sandbox-api.ts) is checked there.
    const badUrl = Token.isUnresolved(baseUrl) ? undefined : baseUrlProblem(baseUrl);
    if (badUrl) problem(badUrl);
    for (const authProblem of authConfigProblems(entry.auth)) problem(authProblem);
    const auth: AuthConfig = authConfigProblems(entry.auth).length === 0 ? toAuthConfig(entry.auth) : { scheme: 'none' };

    const functionTimeoutSeconds = entry.functionTimeoutSeconds ?? 30;
    inRange('functionTimeoutSeconds', functionTimeoutSeconds, 1, 900);
    inRange('memoryMb', entry.memoryMb, 128, 10_240);
    inRange('httpTimeoutMs', entry.httpTimeoutMs, ...SETTING_RANGES.HTTP_TIMEOUT_MS);
    if (entry.httpTimeoutMs !== undefined && entry.httpTimeoutMs >= functionTimeoutSeconds * 1000) {
      problem(`httpTimeoutMs (${entry.httpTimeoutMs}) must be shorter than the function timeout (${functionTimeoutSeconds} s)`);
    }
    inRange('maxAttempts', entry.maxAttempts, ...SETTING_RANGES.HTTP_MAX_ATTEMPTS);
    const batchWindowSeconds = entry.batchWindowSeconds ?? 0;
    inRange('batchWindowSeconds', batchWindowSeconds, 0, 300);
    inRange('batchSize', entry.batchSize, 1, batchWindowSeconds > 0 ? 10_000 : 10);
    inRange('maxConcurrency', entry.maxConcurrency, 2, 1000);
    inRange('recordConcurrency', entry.recordConcurrency, ...SETTING_RANGES.RECORD_CONCURRENCY);
    inRange('maxReceiveCount', entry.maxReceiveCount, 1, 1000);
    // SQS caps a visibility timeout at 12 hours; the queue's is 6 × the function timeout.
    if (functionTimeoutSeconds * 6 > 43_200) problem('functionTimeoutSeconds × 6 exceeds the SQS visibility timeout limit (12 h)');
    inRange('alarms.oldestMessageAgeSeconds', entry.alarms?.oldestMessageAgeSeconds, 60, 1_209_600);
    inRange('alarms.circuitOpenMinutes', entry.alarms?.circuitOpenMinutes, 1, 1440);
    inRange('alarms.functionErrors', entry.alarms?.functionErrors, 1, 100_000);
    if (entry.secret?.import && auth.scheme === 'none') problem("secret.import makes no sense with auth 'none'");
    for (const circuitProblem of circuitBreakerSettingsProblems(entry.circuit)) problem(`circuit: ${circuitProblem}`);
    const webhooks = entry.webhooks === undefined ? undefined : resolveWebhooks(entry.name, entry.webhooks, problem);

    return {
      name: entry.name,
      description: entry.description,
      adapter,
      entry: adapterModulePath(adapter),
      routes: entry.routes,
      baseUrl,
      auth,
      secret: { name: entry.secret?.name ?? `integration-hub/${entry.name}`, import: entry.secret?.import ?? false },
      functionTimeoutSeconds,
      memoryMb: entry.memoryMb ?? 512,
      httpTimeoutMs: entry.httpTimeoutMs,
      maxAttempts: entry.maxAttempts,
      batchSize: entry.batchSize ?? 10,
      batchWindowSeconds,
      maxConcurrency: entry.maxConcurrency ?? 5,
      recordConcurrency: entry.recordConcurrency ?? 10,
      maxReceiveCount: entry.maxReceiveCount ?? 5,
      circuit: entry.circuit ?? {},
      alarms: {
        oldestMessageAgeSeconds: entry.alarms?.oldestMessageAgeSeconds ?? 900,
        circuitOpenMinutes: entry.alarms?.circuitOpenMinutes ?? 15,
        functionErrors: entry.alarms?.functionErrors ?? 1,
      },
      ...(webhooks ? { webhooks } : {}),
    } satisfies ResolvedIntegration;
  });
  if (problems.length > 0) throw new CatalogError(problems);
  return resolved;
}

/** A webhook declaration with its defaults; its problems go to `problem`. */
function resolveWebhooks(name: string, entry: WebhookEntry, problem: (text: string) => void): ResolvedWebhooks {
  const { events, maxBodyBytes, dedupeDays, rateLimitPerSecond, burstLimit, rejectionAlarmThreshold, secret, ...scheme } = entry;
  if (secret !== undefined && (typeof secret.name !== 'string' || secret.name.length === 0)) problem('webhooks.secret.name must be a secret name or ARN');
  for (const schemeProblem of webhookSchemeProblems(scheme)) problem(`webhooks: ${schemeProblem}`);
  if (!Array.isArray(events) || events.length === 0 || events.some((type) => typeof type !== 'string' || !/^[\w.:/-]{1,128}$/.test(type))) {
    problem('webhooks.events: at least one event type (1-128 letters, digits, . : / _ -)');
  }
  const within = (field: string, value: number | undefined, fallback: number, min: number, max: number): number => {
    if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) problem(`webhooks.${field} must be an integer from ${min} to ${max} (got ${value})`);
    return value ?? fallback;
  };
  return {
    scheme: scheme as WebhookSchemeDeclaration,
    events: events ?? [],
    eventSource: webhookEventSource(name),
    maxBodyBytes: within('maxBodyBytes', maxBodyBytes, 65_536, 1, 240_000),
    dedupeSeconds: within('dedupeDays', dedupeDays, 3, 1, 30) * 86_400,
    rateLimitPerSecond: within('rateLimitPerSecond', rateLimitPerSecond, 50, 1, 10_000),
    burstLimit: within('burstLimit', burstLimit, 100, 1, 5_000),
    rejectionAlarmThreshold: within('rejectionAlarmThreshold', rejectionAlarmThreshold, 10, 1, 100_000),
    ...(secret ? { secret: { name: secret.name, import: secret.import ?? false } } : {}),
  };
}

/** The resolved entry of integration `name`; throws naming the known ones when there is none. */
export function catalogIntegration(name: string, entries: readonly IntegrationEntry[] = INTEGRATIONS): ResolvedIntegration {
  const found = resolveCatalog(entries).find((entry) => entry.name === name);
  if (!found) throw new CatalogError([`no integration is called '${name}' (known: ${entries.map((entry) => entry.name).join(', ')})`]);
  return found;
}

/** `payments` → `Payments`, `order-sync` → `OrderSync`: construct ids and output names from catalog names. */
export function pascalCase(name: string): string {
  return name
    .split(/[^a-zA-Z0-9]+/)
    .filter(Boolean)
    .map((part) => part[0]!.toUpperCase() + part.slice(1))
    .join('');
}
