/**
 * The workflow catalog: the third-party providers the Step Functions workflows call, and the two workflows — the
 * order-fulfilment saga and the incremental contact sync — with their triggers, retry budgets, limits and alarms.
 * The stack, the local Step Functions harness and the docs read it (docs/workflows.md, docs/configuration.md).
 *
 * Providers are catalog-level: a provider either stands alone (its own base URL, auth scheme, secret and circuit)
 * or is an integration's provider (`integration: 'payments'`), sharing that integration's base URL (and its
 * `baseUrl:<integration>` override), secret and circuit, so one outage opens one circuit for the queue pipeline
 * and the workflow tasks alike.
 *
 * lib/ imports only the runtime's pure validation modules from functions/ (names, circuit settings, setting ranges),
 * not the task code: the task error names are restated below (test/lib/workflow-catalog.test.ts
 * keeps them equal to functions/workflows/workflow-contract.ts).
 */
import { Token } from 'aws-cdk-lib';
import { type AuthConfig, type AuthDeclaration, authConfigProblems, toAuthConfig } from '../functions/runtime/auth-config.js';
import { circuitBreakerSettingsProblems } from '../functions/runtime/circuit-settings.js';
import { nameProblem } from '../functions/runtime/names.js';
import { SETTING_RANGES } from '../functions/runtime/runtime-settings.js';
import { baseUrlProblem } from '../functions/runtime/base-url.js';
import { webhookEventSource } from '../functions/webhooks/webhook-declaration.js';
import {
  type CatalogCircuitSettings,
  type CatalogContext,
  CatalogError,
  type ResolvedIntegration,
} from './catalog.js';

/** The error names task Lambdas fail with (functions/workflows/workflow-contract.ts TASK_ERROR_NAMES). */
export const TASK_ERROR_NAMES = {
  transient: 'Integration.Transient',
  permanent: 'Integration.Permanent',
  circuitOpen: 'Integration.CircuitOpen',
} as const;

/**
 * Errors of the Lambda service itself (not of the function's code) that a synchronous invoke from Step Functions
 * can surface; always safe to retry (the function did not run, or ran idempotently).
 */
export const LAMBDA_SERVICE_ERRORS = [
  'Lambda.ServiceException',
  'Lambda.AWSLambdaException',
  'Lambda.SdkClientException',
  'Lambda.TooManyRequestsException',
] as const;

/** Step Functions' hard limit of events in one execution's history. */
export const EXECUTION_HISTORY_LIMIT = 25_000;

// ------------------------------------------------------------------ providers

/** A third party a workflow task calls. */
export interface ProviderEntry {
  /** Lower-kebab-case; the `baseUrl:<name>` context key and the default secret name. */
  readonly name: string;
  /** One sentence for the docs. */
  readonly description: string;
  /**
   * The integration whose provider this is: base URL (with its context override), auth scheme, secret and circuit
   * settings are that integration's, and the tasks share its circuit. Leave the fields below out.
   */
  readonly integration?: string;
  /** The provider's base URL (standalone providers). Override per deployment with context `baseUrl:<name>`. */
  readonly baseUrl?: string;
  /** The auth scheme of the provider's adapter (standalone providers). */
  readonly auth?: AuthDeclaration;
  /** The credentials secret: created with a generated placeholder by default, or imported by name. @default `integration-hub/<name>` */
  readonly secret?: { readonly name: string; readonly import?: boolean };
  /** Per-attempt HTTP timeout in the task. @default the integration's, else 5000 */
  readonly httpTimeoutMs?: number;
  /** HTTP attempts inside one task invocation (Step Functions retries on top). @default the integration's, else 3 */
  readonly maxAttempts?: number;
  /** Circuit breaker overrides (standalone providers). @default {} */
  readonly circuit?: CatalogCircuitSettings;
}

/** A provider with its integration's settings or the defaults applied. */
export interface ResolvedProvider {
  readonly name: string;
  readonly description: string;
  readonly baseUrl: string;
  readonly auth: AuthConfig;
  readonly secret: { readonly name: string; readonly import: boolean };
  readonly httpTimeoutMs?: number;
  readonly maxAttempts?: number;
  readonly circuit: CatalogCircuitSettings;
  /** The integration whose secret and circuit this provider shares, if any. */
  readonly integration?: string;
}

/** The providers of the shipped workflows. */
export const PROVIDERS: readonly ProviderEntry[] = [
  {
    name: 'inventory',
    description: 'Warehouse stock: reservations and releases (API key).',
    baseUrl: 'https://inventory.example.com/v1',
    auth: 'api_key',
    httpTimeoutMs: 5000,
    maxAttempts: 2,
    circuit: { failureThreshold: 5, breakMs: 30_000 },
  },
  { name: 'payments', description: 'The card payment gateway of the payments integration.', integration: 'payments' },
  {
    name: 'shipping',
    description: 'The carrier: shipments and cancellations (HTTP basic auth).',
    baseUrl: 'https://shipping.example.com/v2',
    auth: 'basic',
    httpTimeoutMs: 8000,
    maxAttempts: 2,
    circuit: { failureThreshold: 5, breakMs: 30_000 },
  },
  {
    name: 'email',
    description: 'Transactional e-mail: order confirmations (bearer token).',
    baseUrl: 'https://email.example.com/v3',
    auth: 'bearer',
    httpTimeoutMs: 5000,
    maxAttempts: 2,
    circuit: { failureThreshold: 5, breakMs: 30_000 },
  },
  {
    name: 'contacts',
    description: 'The contacts source of the incremental contact sync: a change feed with a cursor (bearer token).',
    baseUrl: 'https://contacts.example.com/v1',
    auth: 'bearer',
    httpTimeoutMs: 10_000,
    maxAttempts: 2,
    circuit: { failureThreshold: 5, breakMs: 60_000 },
  },
  { name: 'crm', description: 'The CRM of the crm integration (bulk contact upserts and deletes).', integration: 'crm' },
];

// ------------------------------------------------------------------ workflows

/** One Step Functions retrier (`Retry` entry); FULL jitter is always on. Seconds. */
export interface RetryPolicy {
  /** Delay before the first retry. */
  readonly intervalSeconds: number;
  /** Each retry waits `backoffRate` times longer than the one before. */
  readonly backoffRate: number;
  /** Retries after the first attempt (Step Functions' MaxAttempts). */
  readonly maxAttempts: number;
  /** Cap of one delay (Step Functions' MaxDelaySeconds). */
  readonly maxDelaySeconds: number;
}

/** The two retriers of a task: transient failures, and an open circuit (retried later, with long intervals). */
export interface TaskRetryPolicies {
  /** `Integration.Transient` and the Lambda service errors. */
  readonly transient: RetryPolicy;
  /** `Integration.CircuitOpen`: the provider's shared circuit is open or throttled; wait and retry later. */
  readonly circuitOpen: RetryPolicy;
}

/** The order-fulfilment saga: ReserveInventory → ChargePayment → CreateShipment → SendConfirmation, compensated in reverse. */
export interface OrderSagaEntry {
  /** Lower-kebab-case: alarm names, metric dimensions, docs. */
  readonly name: string;
  readonly description: string;
  /** The task handlers' module (exports reserveInventory … releaseInventory), relative to the repository root. */
  readonly entry: string;
  /** The starter's module (exports `handler`: SQS → StartExecution named after the order id). */
  readonly starterEntry: string;
  /** The OrderPlaced events that start a saga, matched on the hub's bus. */
  readonly trigger: { readonly sources: readonly string[]; readonly detailTypes: readonly string[] };
  /** The provider of each step (catalog provider names). */
  readonly providers: { readonly inventory: string; readonly payments: string; readonly shipping: string; readonly email: string };
  /** Retries of the forward steps. `Integration.Permanent` is never retried: it compensates at once. */
  readonly retry: TaskRetryPolicies;
  /** Retries of the compensations: generous, since a compensation that gives up needs an operator. */
  readonly compensationRetry: TaskRetryPolicies;
  /** Task Lambda timeout, seconds. @default 30 */
  readonly functionTimeoutSeconds?: number;
  /** Task Lambda memory. @default 512 */
  readonly memoryMb?: number;
  /** Execution timeout; must exceed the worst-case retry budget of the longest path (checked). @default 1440 (24 h) */
  readonly executionTimeoutMinutes?: number;
  /** The starter's SQS event source. */
  readonly starter?: {
    /** @default 10 */
    readonly batchSize?: number;
    /** @default 5 */
    readonly maxConcurrency?: number;
    /** Deliveries before an OrderPlaced message goes to the starter's DLQ. @default 5 */
    readonly maxReceiveCount?: number;
  };
}

/** Events on the hub's bus that start a workflow (an EventBridge rule's `source` and `detail-type` lists). */
export interface EventTrigger {
  readonly sources: readonly string[];
  readonly detailTypes: readonly string[];
}

/** The incremental contact sync: contacts source → CRM, page by page from a checkpoint, on a schedule and on events. */
export interface ContactSyncEntry {
  readonly name: string;
  readonly description: string;
  /** The task handler's module (exports `syncPage`), relative to the repository root. */
  readonly entry: string;
  /** The checkpoint key (checkpoints table `syncId`). */
  readonly syncId: string;
  /** Where changes are read (catalog provider name). */
  readonly source: string;
  /** Where they are written (catalog provider name). */
  readonly target: string;
  /** One execution every this many minutes (EventBridge rate). */
  readonly scheduleMinutes: number;
  /**
   * Events on the hub's bus that start a run as well (one EventBridge rule each), e.g. the CRM's `contact.updated`
   * webhook. Runs never overlap on the checkpoint: a run started while another holds the checkpoint's run lease ends
   * at once as skipped, and the holder does one more pass for it (docs/workflows.md). @default [] (schedule only)
   */
  readonly triggers?: readonly EventTrigger[];
  /** Pages one execution syncs at most before it ends (the next run resumes from the checkpoint). */
  readonly maxPagesPerExecution: number;
  /** Contacts per page (passed to the task as PAGE_SIZE; the CRM bulk endpoint takes at most 200). @default 100 */
  readonly pageSize?: number;
  readonly retry: TaskRetryPolicies;
  /** Task Lambda timeout, seconds. @default 60 */
  readonly functionTimeoutSeconds?: number;
  /** Task Lambda memory. @default 512 */
  readonly memoryMb?: number;
  /**
   * Execution timeout, and the run lease a run takes on the checkpoint (a run that crashed or timed out cannot keep
   * the others out for longer). With the function timeout it must fit in the schedule interval (checked), so a
   * crashed run's lease has run out by the next scheduled run, and runs started by the schedule alone never meet
   * a lease. @default scheduleMinutes − 2
   */
  readonly executionTimeoutMinutes?: number;
}

/** Every workflow the hub deploys. */
export interface WorkflowsCatalog {
  readonly orderSaga: OrderSagaEntry;
  readonly contactSync: ContactSyncEntry;
}

/** The shipped workflows. */
export const WORKFLOWS: WorkflowsCatalog = {
  orderSaga: {
    name: 'order-saga',
    description: 'Order fulfilment: reserve stock, charge, ship, confirm by e-mail; compensated in reverse on failure.',
    entry: 'functions/workflows/order-saga.ts',
    starterEntry: 'functions/workflows/order-saga-starter.ts',
    trigger: { sources: ['orders.service'], detailTypes: ['OrderPlaced'] },
    providers: { inventory: 'inventory', payments: 'payments', shipping: 'shipping', email: 'email' },
    retry: {
      transient: { intervalSeconds: 2, backoffRate: 2, maxAttempts: 4, maxDelaySeconds: 60 },
      circuitOpen: { intervalSeconds: 60, backoffRate: 2, maxAttempts: 6, maxDelaySeconds: 900 },
    },
    compensationRetry: {
      transient: { intervalSeconds: 5, backoffRate: 2, maxAttempts: 10, maxDelaySeconds: 300 },
      circuitOpen: { intervalSeconds: 60, backoffRate: 2, maxAttempts: 12, maxDelaySeconds: 900 },
    },
    functionTimeoutSeconds: 30,
    executionTimeoutMinutes: 1440,
    starter: { batchSize: 10, maxConcurrency: 5, maxReceiveCount: 5 },
  },
  contactSync: {
    name: 'contact-sync',
    description: 'Incremental contact sync: the contacts change feed into the CRM, resuming from a checkpoint.',
    entry: 'functions/workflows/contact-sync.ts',
    syncId: 'contacts-to-crm',
    source: 'contacts',
    target: 'crm',
    scheduleMinutes: 15,
    // A contact changed at the CRM is synced within seconds, not at the next schedule; a burst of webhooks costs one
    // run plus one extra pass (the run lease, docs/workflows.md).
    triggers: [{ sources: [webhookEventSource('crm')], detailTypes: ['contact.updated'] }],
    maxPagesPerExecution: 100,
    pageSize: 100,
    retry: {
      transient: { intervalSeconds: 2, backoffRate: 2, maxAttempts: 3, maxDelaySeconds: 30 },
      // Short: a sync that cannot reach a provider ends, and the next scheduled run resumes from the checkpoint.
      circuitOpen: { intervalSeconds: 60, backoffRate: 2, maxAttempts: 2, maxDelaySeconds: 120 },
    },
    functionTimeoutSeconds: 60,
    executionTimeoutMinutes: 13,
  },
};

// ------------------------------------------------------------------ resolution

/** The order saga with defaults applied and its providers resolved. */
export interface ResolvedOrderSaga extends Omit<OrderSagaEntry, 'providers' | 'starter'> {
  readonly providers: { readonly inventory: ResolvedProvider; readonly payments: ResolvedProvider; readonly shipping: ResolvedProvider; readonly email: ResolvedProvider };
  readonly functionTimeoutSeconds: number;
  readonly memoryMb: number;
  readonly executionTimeoutMinutes: number;
  readonly starter: { readonly batchSize: number; readonly maxConcurrency: number; readonly maxReceiveCount: number };
}

/** The contact sync with defaults applied and its providers resolved. */
export interface ResolvedContactSync extends Omit<ContactSyncEntry, 'source' | 'target' | 'triggers'> {
  readonly source: ResolvedProvider;
  readonly target: ResolvedProvider;
  readonly triggers: readonly EventTrigger[];
  readonly pageSize: number;
  readonly functionTimeoutSeconds: number;
  readonly memoryMb: number;
  readonly executionTimeoutMinutes: number;
}

/** The workflows as deployed. */
export interface ResolvedWorkflows {
  readonly providers: ReadonlyMap<string, ResolvedProvider>;
  readonly orderSaga: ResolvedOrderSaga;
  readonly contactSync: ResolvedContactSync;
}


/**
 * Resolves the providers (integration-shared ones from `integrations`, i.e. `resolveCatalog`'s output; standalone
 * ones with the `baseUrl:<name>` context override) and the workflows, and validates everything: retry policies,
 * timeouts against the retry budget and the schedule, the history-event bound. Throws a {@link CatalogError}
 * listing every problem at once.
 */
export function resolveWorkflows(
  integrations: readonly ResolvedIntegration[],
  context: CatalogContext = {},
  workflows: WorkflowsCatalog = WORKFLOWS,
  providerEntries: readonly ProviderEntry[] = PROVIDERS,
): ResolvedWorkflows {
  const problems: string[] = [];
  const providers = resolveProviders(providerEntries, integrations, context, problems);
  const provider = (where: string, field: string, name: string): ResolvedProvider => {
    const found = providers.get(name);
    if (!found) problems.push(`${where}: ${field} names provider '${name}', which is not in the provider catalog`);
    return found ?? placeholderProvider(name);
  };

  // ---- order saga
  const saga = workflows.orderSaga;
  const sagaWhere = `workflow '${saga.name}'`;
  const sagaProblem = (text: string) => problems.push(`${sagaWhere}: ${text}`);
  const badSagaName = nameProblem(saga.name);
  if (badSagaName) sagaProblem(badSagaName);
  entryProblems(saga.entry, 'entry', sagaProblem);
  entryProblems(saga.starterEntry, 'starterEntry', sagaProblem);
  if (saga.trigger.sources.length === 0 || saga.trigger.detailTypes.length === 0) sagaProblem('trigger needs at least one source and one detail type');
  retryProblems(saga.retry, 'retry', sagaProblem);
  retryProblems(saga.compensationRetry, 'compensationRetry', sagaProblem);
  const sagaFunctionTimeout = saga.functionTimeoutSeconds ?? 30;
  integerProblem(sagaProblem, 'functionTimeoutSeconds', sagaFunctionTimeout, 1, 900);
  integerProblem(sagaProblem, 'memoryMb', saga.memoryMb, 128, 10_240);
  const sagaTimeout = saga.executionTimeoutMinutes ?? 1440;
  integerProblem(sagaProblem, 'executionTimeoutMinutes', sagaTimeout, 1, 525_600);
  const starter = {
    batchSize: saga.starter?.batchSize ?? 10,
    maxConcurrency: saga.starter?.maxConcurrency ?? 5,
    maxReceiveCount: saga.starter?.maxReceiveCount ?? 5,
  };
  integerProblem(sagaProblem, 'starter.batchSize', starter.batchSize, 1, 10);
  integerProblem(sagaProblem, 'starter.maxConcurrency', starter.maxConcurrency, 2, 1000);
  integerProblem(sagaProblem, 'starter.maxReceiveCount', starter.maxReceiveCount, 1, 1000);
  const sagaProviders = {
    inventory: provider(sagaWhere, 'providers.inventory', saga.providers.inventory),
    payments: provider(sagaWhere, 'providers.payments', saga.providers.payments),
    shipping: provider(sagaWhere, 'providers.shipping', saga.providers.shipping),
    email: provider(sagaWhere, 'providers.email', saga.providers.email),
  };
  for (const p of Object.values(sagaProviders)) httpTimeoutProblem(p, sagaFunctionTimeout, sagaProblem);
  const orderSaga: ResolvedOrderSaga = {
    ...saga,
    providers: sagaProviders,
    functionTimeoutSeconds: sagaFunctionTimeout,
    memoryMb: saga.memoryMb ?? 512,
    executionTimeoutMinutes: sagaTimeout,
    starter,
  };
  const sagaBudget = orderSagaWorstCaseSeconds(orderSaga);
  if (Number.isFinite(sagaBudget) && sagaBudget >= sagaTimeout * 60) {
    sagaProblem(
      `executionTimeoutMinutes (${sagaTimeout}) must exceed the worst-case retry budget of the longest path ` +
        `(${Math.ceil(sagaBudget / 60)} min): a saga that times out is never compensated`,
    );
  }

  // ---- contact sync
  const sync = workflows.contactSync;
  const syncWhere = `workflow '${sync.name}'`;
  const syncProblem = (text: string) => problems.push(`${syncWhere}: ${text}`);
  const badSyncName = nameProblem(sync.name);
  if (badSyncName) syncProblem(badSyncName);
  if (sync.name === saga.name) syncProblem('name is used by another workflow');
  entryProblems(sync.entry, 'entry', syncProblem);
  const triggers = sync.triggers ?? [];
  triggerProblems(triggers, integrations, syncProblem);
  if (!/^[A-Za-z0-9][A-Za-z0-9_.:-]{0,127}$/.test(sync.syncId ?? '')) syncProblem('syncId must be 1-128 letters, digits, _ . : -');
  retryProblems(sync.retry, 'retry', syncProblem);
  integerProblem(syncProblem, 'scheduleMinutes', sync.scheduleMinutes, 5, 1440);
  integerProblem(syncProblem, 'maxPagesPerExecution', sync.maxPagesPerExecution, 1, 1000);
  integerProblem(syncProblem, 'pageSize', sync.pageSize, 1, 200);
  const syncFunctionTimeout = sync.functionTimeoutSeconds ?? 60;
  integerProblem(syncProblem, 'functionTimeoutSeconds', syncFunctionTimeout, 1, 900);
  integerProblem(syncProblem, 'memoryMb', sync.memoryMb, 128, 10_240);
  const syncTimeout = sync.executionTimeoutMinutes ?? sync.scheduleMinutes - 2;
  integerProblem(syncProblem, 'executionTimeoutMinutes', syncTimeout, 1, 1440);
  // Overlap is the run lease's job (functions/workflows/checkpoint-store.ts); this bound keeps the schedule clear of
  // it: the lease of a run that crashed or timed out (= the execution timeout) has run out by the next scheduled run,
  // and a last invocation outliving its execution is over by then too.
  if (Number.isInteger(syncTimeout) && syncTimeout * 60 + syncFunctionTimeout > sync.scheduleMinutes * 60) {
    syncProblem(
      `executionTimeoutMinutes (${syncTimeout}) plus the function timeout (${syncFunctionTimeout} s) must fit in the schedule ` +
        `interval (${sync.scheduleMinutes} min), or the lease of a crashed run would still skip the next scheduled run`,
    );
  }
  const contactSync: ResolvedContactSync = {
    ...sync,
    triggers,
    source: provider(syncWhere, 'source', sync.source),
    target: provider(syncWhere, 'target', sync.target),
    pageSize: sync.pageSize ?? 100,
    functionTimeoutSeconds: syncFunctionTimeout,
    memoryMb: sync.memoryMb ?? 512,
    executionTimeoutMinutes: syncTimeout,
  };
  if (sync.source === sync.target) syncProblem('source and target must be different providers');
  for (const p of [contactSync.source, contactSync.target]) httpTimeoutProblem(p, syncFunctionTimeout, syncProblem);
  const bound = contactSyncHistoryBound(contactSync);
  if (Number.isFinite(bound.worstCase) && bound.worstCase > EXECUTION_HISTORY_LIMIT / 2) {
    syncProblem(
      `maxPagesPerExecution (${sync.maxPagesPerExecution}) × ${bound.perPageWorstCase} history events per page (worst case) + ` +
        `${bound.fixed + bound.failureTail} = ${bound.worstCase} exceeds half of Step Functions' ${EXECUTION_HISTORY_LIMIT}-event history limit`,
    );
  }

  if (problems.length > 0) throw new CatalogError(problems);
  return { providers, orderSaga, contactSync };
}

function resolveProviders(
  entries: readonly ProviderEntry[],
  integrations: readonly ResolvedIntegration[],
  context: CatalogContext,
  problems: string[],
): Map<string, ResolvedProvider> {
  const resolved = new Map<string, ResolvedProvider>();
  for (const [index, entry] of entries.entries()) {
    const where = `provider ${entry.name ? `'${entry.name}'` : `#${index + 1}`}`;
    const problem = (text: string) => problems.push(`${where}: ${text}`);
    const badName = nameProblem(entry.name);
    if (badName) problem(badName);
    if (resolved.has(entry.name)) problem('name is used twice');
    integerProblem(problem, 'httpTimeoutMs', entry.httpTimeoutMs, ...SETTING_RANGES.HTTP_TIMEOUT_MS);
    integerProblem(problem, 'maxAttempts', entry.maxAttempts, ...SETTING_RANGES.HTTP_MAX_ATTEMPTS);

    if (entry.integration !== undefined) {
      const integration = integrations.find((candidate) => candidate.name === entry.integration);
      if (!integration) {
        problem(`integration '${entry.integration}' is not in the integration catalog`);
        continue;
      }
      for (const field of ['baseUrl', 'auth', 'secret', 'circuit'] as const) {
        if (entry[field] !== undefined) problem(`${field} comes from integration '${entry.integration}': leave it out`);
      }
      if (context[`baseUrl:${entry.name}`] !== undefined && entry.name !== integration.name) {
        problem(`context baseUrl:${entry.name} is ignored: the base URL is integration '${integration.name}''s (baseUrl:${integration.name})`);
      }
      resolved.set(entry.name, {
        name: entry.name,
        description: entry.description,
        baseUrl: integration.baseUrl,
        auth: integration.auth,
        secret: integration.secret,
        httpTimeoutMs: entry.httpTimeoutMs ?? integration.httpTimeoutMs,
        maxAttempts: entry.maxAttempts ?? integration.maxAttempts,
        circuit: integration.circuit,
        integration: integration.name,
      });
      continue;
    }

    const override = context[`baseUrl:${entry.name}`];
    const baseUrl = typeof override === 'string' && override.length > 0 ? override : entry.baseUrl;
    // A URL known only at deploy time (the try stage's sandbox, lib/constructs/sandbox-api.ts) is checked there.
    const badUrl = Token.isUnresolved(baseUrl) ? undefined : baseUrlProblem(baseUrl);
    if (badUrl) problem(badUrl);
    const authProblems = authConfigProblems(entry.auth);
    for (const authProblem of authProblems) problem(authProblem);
    const auth: AuthConfig = authProblems.length === 0 ? toAuthConfig(entry.auth!) : { scheme: 'none' };
    if (entry.secret?.import && auth.scheme === 'none') problem("secret.import makes no sense with auth 'none'");
    for (const circuitProblem of circuitBreakerSettingsProblems(entry.circuit)) problem(`circuit: ${circuitProblem}`);
    if (integrations.some((integration) => integration.name === entry.name)) {
      problem(`an integration is named '${entry.name}' too: set integration: '${entry.name}' to share its secret and circuit`);
    }
    resolved.set(entry.name, {
      name: entry.name,
      description: entry.description,
      baseUrl: baseUrl ?? '',
      auth,
      secret: { name: entry.secret?.name ?? `integration-hub/${entry.name}`, import: entry.secret?.import ?? false },
      httpTimeoutMs: entry.httpTimeoutMs,
      maxAttempts: entry.maxAttempts,
      circuit: entry.circuit ?? {},
    });
  }
  return resolved;
}

/**
 * Each trigger needs a source and a detail type; a trigger on an integration's webhook source (webhookEventSource)
 * must name event types that integration's webhooks declare, or its rule would never match.
 */
function triggerProblems(triggers: readonly EventTrigger[], integrations: readonly ResolvedIntegration[], problem: (text: string) => void): void {
  for (const [index, trigger] of triggers.entries()) {
    const at = `triggers[${index}]`;
    if (!(trigger?.sources?.length > 0 && trigger.detailTypes?.length > 0)) {
      problem(`${at} needs at least one source and one detail type`);
      continue;
    }
    for (const value of [...trigger.sources, ...trigger.detailTypes]) {
      if (typeof value !== 'string' || value.trim() === '') problem(`${at}: sources and detail types must be non-empty strings (got ${JSON.stringify(value)})`);
    }
    for (const source of trigger.sources) {
      const integration = integrations.find((candidate) => candidate.webhooks?.eventSource === source || webhookEventSource(candidate.name) === source);
      if (!integration) continue;
      const declared = integration.webhooks?.events ?? [];
      const unknown = trigger.detailTypes.filter((type) => !declared.includes(type));
      if (unknown.length > 0) {
        problem(
          `${at}: integration '${integration.name}' forwards no webhook event ${unknown.map((type) => `'${type}'`).join(', ')} ` +
            `(its webhooks declare ${declared.length > 0 ? declared.map((type) => `'${type}'`).join(', ') : 'none'})`,
        );
      }
    }
  }
}

function placeholderProvider(name: string): ResolvedProvider {
  return { name, description: '', baseUrl: '', auth: { scheme: 'none' }, secret: { name, import: false }, circuit: {} };
}

function entryProblems(entry: string | undefined, field: string, problem: (text: string) => void): void {
  if (!entry?.startsWith('functions/workflows/') || !entry.endsWith('.ts')) {
    problem(`${field} must be a .ts file under functions/workflows/ (got ${JSON.stringify(entry)})`);
  }
}

function integerProblem(problem: (text: string) => void, field: string, value: number | undefined, min: number, max: number): void {
  if (value !== undefined && (!Number.isInteger(value) || value < min || value > max)) {
    problem(`${field} must be an integer from ${min} to ${max} (got ${value})`);
  }
}

function httpTimeoutProblem(provider: ResolvedProvider, functionTimeoutSeconds: number, problem: (text: string) => void): void {
  if (provider.httpTimeoutMs !== undefined && provider.httpTimeoutMs >= functionTimeoutSeconds * 1000) {
    problem(`provider '${provider.name}': httpTimeoutMs (${provider.httpTimeoutMs}) must be shorter than the task function timeout (${functionTimeoutSeconds} s)`);
  }
}

function retryProblems(policies: TaskRetryPolicies, field: string, problem: (text: string) => void): void {
  for (const kind of ['transient', 'circuitOpen'] as const) {
    const policy = policies?.[kind];
    const at = `${field}.${kind}`;
    if (!policy) {
      problem(`${at} is required`);
      continue;
    }
    integerProblem(problem, `${at}.intervalSeconds`, policy.intervalSeconds, 1, 99_999_999);
    integerProblem(problem, `${at}.maxAttempts`, policy.maxAttempts, 0, 99_999_999);
    integerProblem(problem, `${at}.maxDelaySeconds`, policy.maxDelaySeconds, 1, 31_622_400);
    if (!(typeof policy.backoffRate === 'number' && policy.backoffRate >= 1 && policy.backoffRate <= 10)) {
      problem(`${at}.backoffRate must be a number from 1 to 10 (got ${policy.backoffRate})`);
    }
    if (Number.isInteger(policy.maxDelaySeconds) && policy.maxDelaySeconds < policy.intervalSeconds) {
      problem(`${at}.maxDelaySeconds must not be shorter than intervalSeconds`);
    }
  }
}

// ------------------------------------------------------------------ budgets

/** The longest time a retrier can wait in total (every delay at its cap, before jitter), seconds. */
export function retryDelayBudgetSeconds(policy: RetryPolicy): number {
  let total = 0;
  for (let retry = 0; retry < policy.maxAttempts; retry += 1) {
    total += Math.min(policy.intervalSeconds * policy.backoffRate ** retry, policy.maxDelaySeconds);
  }
  return total;
}

/** Invocations of one task state at most: the first attempt plus every retrier's retries (they count separately). */
export function maxInvocationsPerState(policies: TaskRetryPolicies): number {
  return 1 + policies.transient.maxAttempts + policies.circuitOpen.maxAttempts;
}

/** The worst-case time one task state can take: every retry used, every delay at its cap, every invocation timing out. */
export function stateWorstCaseSeconds(policies: TaskRetryPolicies, functionTimeoutSeconds: number): number {
  return (
    retryDelayBudgetSeconds(policies.transient) +
    retryDelayBudgetSeconds(policies.circuitOpen) +
    maxInvocationsPerState(policies) * functionTimeoutSeconds
  );
}

/** The saga's longest path: four forward steps (the last one failing) and three compensations. */
export function orderSagaWorstCaseSeconds(saga: Pick<ResolvedOrderSaga, 'retry' | 'compensationRetry' | 'functionTimeoutSeconds'>): number {
  return 4 * stateWorstCaseSeconds(saga.retry, saga.functionTimeoutSeconds) + 3 * stateWorstCaseSeconds(saga.compensationRetry, saga.functionTimeoutSeconds);
}

/**
 * History events of one contact sync execution (Step Functions standard workflow, Lambda task by ARN):
 * - fixed: ExecutionStarted, PassStateEntered/Exited, SucceedStateEntered/Exited, ExecutionSucceeded = 6 (a skipped
 *   run: these 6 + one page);
 * - per page: TaskStateEntered, LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded,
 *   TaskStateExited, ChoiceStateEntered, ChoiceStateExited = 7 (a pass repeated for a skipped run is more pages,
 *   still within maxPagesPerExecution);
 * - per retried invocation: LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionFailed = 3;
 * - a failed run's tail: the caught page's TaskStateExited, ReleaseRun (TaskStateEntered, 3 Lambda events,
 *   TaskStateExited, 3 per retry), FailStateEntered, ExecutionFailed = 8 + 3 × retries.
 */
export function contactSyncHistoryBound(sync: Pick<ResolvedContactSync, 'maxPagesPerExecution' | 'retry'>): {
  fixed: number;
  perPage: number;
  perPageWorstCase: number;
  failureTail: number;
  typical: number;
  worstCase: number;
} {
  const fixed = 6;
  const perPage = 7;
  const retries = sync.retry.transient.maxAttempts + sync.retry.circuitOpen.maxAttempts;
  const perPageWorstCase = perPage + 3 * retries;
  const failureTail = 8 + 3 * retries;
  return {
    fixed,
    perPage,
    perPageWorstCase,
    failureTail,
    typical: fixed + perPage * sync.maxPagesPerExecution,
    worstCase: fixed + perPageWorstCase * sync.maxPagesPerExecution + failureTail,
  };
}
