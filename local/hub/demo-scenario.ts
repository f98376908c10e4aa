/**
 * The default demo of `npm start`: publishes the seeded mix of demo-events.ts through the local hub's bus, takes a
 * third party down in the middle (a sandbox outage window), samples the hub twice a second for the live view and
 * the report, waits until everything has settled, then accounts for EVERY event from the third parties' side:
 *
 * - an integration's valid event must be exactly one side effect at the sandbox provider serving it
 *   (serving-provider.ts), found by the Idempotency-Key its call carries, or still sit in its queue; an invalid one
 *   must be in the integration's DLQ with the reason; anything else is lost. The same rule for every catalog
 *   integration, so a new one is accounted for with no edit here;
 * - an order must have one execution that succeeded (one charge, one reservation, one shipment, one e-mail) or was
 *   compensated (refunded and released), never two charges or two shipments;
 * - contact changes must all be in the CRM after the final sync;
 * - once the hub has settled, each integration declaring webhooks gets signed deliveries from its sandbox provider,
 *   some replayed, tampered or late (demo-webhooks.ts): nothing unverified may reach the bus, every accepted one must,
 *   once. What they route to (the payments ledger learning a charge was refunded) is processed before the end.
 */
import { SYNC_STATUS_CHANGED, type SyncStatusChanged } from '../../functions/outbox/sync-status-events.js';
import { type StatusEventSummary, summarizeStatusEvents } from './status-event-summary.js';
import { type CircuitState } from '../../functions/runtime/circuit-store.js';
import { refreshAtOf } from '../../functions/runtime/oauth2-token-endpoint.js';
import { INTEGRATIONS, type IntegrationEntry, resolveCatalog } from '../../lib/catalog.js';
import type { LocalQueue, ReceivedMessage } from '../local-queue.js';
import type { Sandbox, SandboxControl, SideEffect } from '../sandbox/index.js';
import { canonicalJson, type DemoEvent, type DemoIntegration, loadDemoIntegrations, ORDER_ROUTE, planDemoEvents } from './demo-events.js';
import { accountWebhooks, type DemoWebhookRun, sendDemoWebhooks } from './demo-webhooks.js';
import type {
  AccessTokenSummary,
  HubSample,
  IntegrationSample,
  IntegrationSummary,
  OutageWindow,
  RunSummary,
  WorkflowSample,
  WorkflowSummary,
} from './hub-timeline.js';
import type { LocalHub } from './local-hub.js';
import { servingProviderOf } from './serving-provider.js';

/** `--outage <provider>:<duration>`. */
export interface OutageOption {
  /** A sandbox provider: a dedicated one (local/sandbox/providers.ts) or a generic one mounted for an integration. */
  readonly provider: string;
  readonly durationMs: number;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  readonly events: number;
  readonly seed: number;
  readonly outage?: OutageOption;
  /**
   * Any sandbox fault on one provider for a window (bench/faults.ts): set at `fromMs` from the start of publishing,
   * cleared at `toMs`. The run waits for the hub to settle after `toMs` like after an outage.
   */
  readonly fault?: { readonly provider: string; readonly faults: Record<string, unknown>; readonly fromMs: number; readonly toMs: number };
  /** Every event published in this window (ms from the start) is published twice: duplicate delivery. */
  readonly duplicates?: { readonly fromMs: number; readonly toMs: number };
  /**
   * Done to the hub or its sandbox at these times (ms from the start of publishing): a hub fault set and cleared, a
   * credential rotated (bench/faults.ts). The run waits for the hub to settle after the last one, as after an outage.
   */
  readonly actions?: readonly DemoAction[];
  /** Events published besides the seeded plan (fault-events.ts: poison, versions out of order), accounted like it. */
  readonly extraEvents?: readonly DemoEvent[];
  /** Publishing window. @default 30 s */
  readonly publishForMs?: number;
  /** When the outage starts, from the start of publishing. @default a third of the publishing window */
  readonly outageStartMs?: number;
  /** Give up waiting for the hub to settle after this long past publishing (what is left counts as queued). @default 120 s */
  readonly settleTimeoutMs?: number;
  /** How often the hub is sampled. @default 500 */
  readonly sampleEveryMs?: number;
  /** Called with every sample (the live view). */
  readonly onSample?: (sample: HubSample, outages: readonly OutageWindow[]) => void;
  /**
   * The catalog the hub was started with (LocalHubOptions `integrations`): events are published for each of its
   * integrations. @default INTEGRATIONS (lib/catalog.ts)
   */
  readonly integrations?: readonly IntegrationEntry[];
  /**
   * Signed webhook deliveries each integration declaring webhooks gets from its sandbox provider once the hub has
   * settled (demo-webhooks.ts); 0 sends none. @default DEFAULT_WEBHOOK_DELIVERIES (10)
   */
  readonly webhookDeliveries?: number;
}

/** Something done to the hub or its sandbox during a run; see {@link DemoOptions.actions}. */
export interface DemoAction {
  readonly atMs: number;
  run(hub: LocalHub, sandbox: Sandbox): void;
}

/** What a run produced. */
export interface DemoResult {
  readonly summary: RunSummary;
  readonly timeline: HubSample[];
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** The error of a `--outage` value, or of any demo option. */
export class DemoOptionError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DemoOptionError';
  }
}

/**
 * Parses `payments:20s` / `crm:1m` / `payments:15000ms`. With `providers` (the started sandbox's, see
 * {@link sandboxProviderNames}) the provider must be one of them; without, only the form is checked.
 */
export function parseOutage(value: string, providers?: readonly string[]): OutageOption {
  const match = /^([a-z][a-z0-9-]*):(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match) throw new DemoOptionError(`--outage must look like <provider>:<duration>, e.g. payments:20s (got '${value}')`);
  const [, provider, amount, unit = 's'] = match;
  const durationMs = Number(amount) * (unit === 'ms' ? 1 : unit === 'm' ? 60_000 : 1000);
  if (durationMs <= 0 || durationMs > 3_600_000) throw new DemoOptionError('--outage duration must be between 1 ms and 1 hour');
  const outage = { provider: provider!, durationMs };
  if (providers) checkOutageProvider(outage, providers);
  return outage;
}

/** Throws a {@link DemoOptionError} naming the known ones when the outage's provider is not one of `providers`. */
export function checkOutageProvider(outage: OutageOption, providers: readonly string[]): void {
  if (!providers.includes(outage.provider)) throw new DemoOptionError(`--outage: unknown third party '${outage.provider}'. Known: ${providers.join(', ')}`);
}

/**
 * The providers a started sandbox mounts, dedicated and generic, from its control plane (local/sandbox/control.ts
 * `GET /_sandbox/providers`): the sandbox, not a list kept here, says which third parties can be taken down.
 */
export async function sandboxProviderNames(sandbox: Pick<SandboxControl, 'baseUrl'>): Promise<string[]> {
  const response = await fetch(`${sandbox.baseUrl}/_sandbox/providers`);
  if (!response.ok) throw new Error(`the sandbox did not list its providers (HTTP ${response.status})`);
  const body = (await response.json()) as { providers: { name: string }[] };
  return body.providers.map((provider) => provider.name);
}

/**
 * Lifetime of the access tokens the demo's sandbox issues for OAuth2 integrations served by a generic provider
 * (local/hub/sandbox-wiring.ts `accessTokenLifetimeSeconds`), seconds on the sandbox clock, which is the wall clock in
 * `npm start`. Providers issue tokens for an hour or so; 20 s makes the 30 s publishing window outlive one: a token is
 * refreshed 2 s before it expires (functions/runtime/oauth2-token-endpoint.ts `refreshAtOf`), so at about 18 s, in
 * the middle of the traffic, and again at about 36 s if the traffic still runs then.
 */
export const DEMO_ACCESS_TOKEN_LIFETIME_SECONDS = 20;

/** Pause between final contact syncs when one failed (the compressed schedule would run the next one about as soon). */
const FINAL_SYNC_RETRY_PAUSE_MS = 2_000;

/** Runs the demo against a started hub and its sandbox; see the file comment. */
export async function runDemo(hub: LocalHub, sandbox: Sandbox, options: DemoOptions): Promise<DemoResult> {
  const publishForMs = options.publishForMs ?? 30_000;
  const catalog = resolveCatalog(options.integrations ?? INTEGRATIONS);
  const integrations = await loadDemoIntegrations(catalog);
  const notInHub = integrations.map((i) => i.entry.name).filter((name) => !hub.integration(name));
  if (notInHub.length > 0) throw new DemoOptionError(`the hub runs no integration called ${notInHub.join(', ')} (it runs ${[...hub.integrations.keys()].join(', ')})`);
  const seeded = planDemoEvents({ events: options.events, seed: options.seed, publishForMs, integrations });
  const plan = [...seeded, ...(options.extraEvents ?? [])].sort((a, b) => a.atMs - b.atMs);
  const startedAt = Date.now();
  const at = () => Date.now() - startedAt;
  const outages: OutageWindow[] = [];
  if (options.outage) {
    const fromMs = options.outageStartMs ?? Math.round(publishForMs / 3);
    const toMs = fromMs + options.outage.durationMs;
    sandbox.setFaults(options.outage.provider as never, { outage: { fromMs, toMs } } as never);
    outages.push({ integration: options.outage.provider, fromMs, toMs });
  }
  const faultTimers: NodeJS.Timeout[] = [];
  if (options.fault) {
    const { provider, faults, fromMs, toMs } = options.fault;
    faultTimers.push(setTimeout(() => sandbox.setFaults(provider as never, faults as never), fromMs));
    faultTimers.push(setTimeout(() => sandbox.clearFaults(provider as never), toMs));
    outages.push({ integration: provider, fromMs, toMs });
  }
  for (const action of options.actions ?? []) faultTimers.push(setTimeout(() => action.run(hub, sandbox), action.atMs));
  const lastActionAt = Math.max(0, ...(options.actions ?? []).map((action) => action.atMs));
  sandbox.contacts.seed(40);
  const initialSyncs = hub.executions.length;

  const timeline: HubSample[] = [];
  let webhookRuns: DemoWebhookRun[] = [];
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      const sample = await takeSample(hub, at());
      timeline.push(sample);
      options.onSample?.(sample, outages);
      await sleep(options.sampleEveryMs ?? 500);
    }
  })();

  try {
    for (const event of plan) {
      const wait = event.atMs - at();
      if (wait > 0) await sleep(wait);
      publish(hub, sandbox, event);
      const twice = options.duplicates && event.kind !== 'contact' && event.atMs >= options.duplicates.fromMs && event.atMs < options.duplicates.toMs;
      if (twice) publish(hub, sandbox, event);
    }
    const deadline = Date.now() + (options.settleTimeoutMs ?? 120_000);
    const outageEnd = outages.reduce((end, o) => Math.max(end, o.toMs), lastActionAt);
    const waitUntil = async (done: () => Promise<boolean> | boolean) => {
      while (Date.now() < deadline && !(await done())) await sleep(250);
    };
    await waitUntil(async () => at() >= outageEnd && (await isSettled(hub)));
    // After the sagas are done: the payments provider refunds some of their charges as a merchant would.
    if (options.webhookDeliveries !== 0) {
      webhookRuns = await sendDemoWebhooks(hub, sandbox, catalog, { seed: options.seed, ...(options.webhookDeliveries !== undefined ? { deliveries: options.webhookDeliveries } : {}) });
    }
    // Whatever changed in the contacts source is copied by a sync that starts after the last change and after the
    // outage: a sync run during it fails by design once its short circuit-open budget is spent (the next scheduled
    // run resumes from the checkpoint), so the demo plays that next run, again if it too fails, until the deadline.
    for (let run = 1; Date.now() < deadline; run += 1) {
      const finalSync = hub.startExecution('contact-sync', `demo-final-${startedAt}-${run}`, { source: 'integration-hub.demo', detail: {} });
      await waitUntil(() => finalSync.status !== 'RUNNING');
      if (finalSync.status !== 'FAILED') break;
      await sleep(FINAL_SYNC_RETRY_PAUSE_MS);
    }
    await waitUntil(() => isSettled(hub));
  } finally {
    for (const timer of faultTimers) clearTimeout(timer);
    sampling = false;
    await sampler;
  }
  const last = await takeSample(hub, at());
  timeline.push(last);
  options.onSample?.(last, outages);

  const summary = await account(hub, sandbox, plan, integrations, {
    startedAt: new Date(startedAt).toISOString(),
    durationMs: at(),
    seed: options.seed,
    outages,
    contactSyncsBefore: initialSyncs,
    webhookRuns,
  });
  return { summary, timeline };
}

function publish(hub: LocalHub, sandbox: Sandbox, event: DemoEvent): void {
  if (event.kind === 'contact') {
    if (event.change === 'delete' && sandbox.contacts.get(event.key) && !sandbox.contacts.get(event.key)!.deleted) sandbox.contacts.delete(event.key);
    else sandbox.contacts.upsert({ id: event.key, phone: `+3519${String(Math.floor(event.atMs)).padStart(8, '0').slice(-8)}`, deleted: false });
    return;
  }
  if (event.kind === 'order') hub.putEvents([{ source: ORDER_ROUTE.source, detailType: ORDER_ROUTE.detailType, detail: event.detail }]);
  else hub.putEvents([{ source: event.source, detailType: event.detailType, detail: event.detail }]);
}

/** Everything is delivered or parked for good: no queue holds a message, no execution runs. */
async function isSettled(hub: LocalHub): Promise<boolean> {
  // The queues a mapping consumes: a DLQ, or the controller's on-failure queue, has no consumer to wait for.
  const consumed = new Set([...hub.blueprint.sqsMappings.values()].map((mapping) => mapping.queue));
  for (const [logicalId, queue] of hub.queues) {
    if (!consumed.has(logicalId)) continue;
    const stats = queue.stats();
    if (stats.visible + stats.inFlight + stats.delayed > 0) return false;
  }
  if (hub.executions.some((e) => e.status === 'RUNNING')) return false;
  for (const name of hub.integrations.keys()) if ((await hub.circuitState(name)) !== 'closed') return false;
  return true;
}

async function takeSample(hub: LocalHub, atMs: number): Promise<HubSample> {
  const integrations: Record<string, IntegrationSample> = {};
  for (const integration of hub.integrations.values()) {
    const queue = integration.queue.stats();
    const dlq = integration.deadLetterQueue.stats();
    integrations[integration.name] = {
      queued: queue.visible + queue.delayed,
      inFlight: queue.inFlight,
      delivered: integration.counters.delivered + integration.counters.replayed,
      retried: integration.counters.retried,
      parked: integration.counters.parked,
      dlq: dlq.visible + dlq.inFlight + dlq.delayed,
      circuit: await hub.circuitState(integration.name).catch((): CircuitState => 'closed'),
      mappingEnabled: integration.mapping.enabled,
    };
  }
  const workflows: Record<string, WorkflowSample> = {};
  for (const workflow of hub.workflows.keys()) {
    const executions = hub.executions.filter((e) => e.workflow === workflow);
    workflows[workflow] = {
      started: executions.length,
      running: executions.filter((e) => e.status === 'RUNNING').length,
      succeeded: executions.filter((e) => e.status === 'SUCCEEDED').length,
      failed: executions.filter((e) => e.status === 'FAILED' && !isCompensated(e.record?.error)).length,
      compensated: executions.filter((e) => e.status === 'FAILED' && isCompensated(e.record?.error)).length,
    };
  }
  const providerCircuits: Record<string, CircuitState> = {};
  for (const circuitId of hub.circuitIds) {
    if (!hub.integrations.has(circuitId)) providerCircuits[circuitId] = await hub.circuitState(circuitId).catch((): CircuitState => 'closed');
  }
  return { atMs, published: hub.published, integrations, workflows, providerCircuits };
}

/** The saga's Fail state after every completed step was undone. */
const isCompensated = (error: string | undefined) => error === 'OrderFailed';

// ---------------------------------------------------------------- accounting

/** Every message of a queue, read without losing any (receive with visibility 0, as a peek). */
function peekMessages(queue: LocalQueue): ReceivedMessage[] {
  const messages = new Map<string, ReceivedMessage>();
  for (let round = 0; round < 1000; round++) {
    const batch = queue.receive(10, { visibilityTimeoutSeconds: 0 });
    const fresh = batch.filter((m) => !messages.has(m.messageId));
    if (fresh.length === 0) break;
    for (const m of fresh) messages.set(m.messageId, m);
  }
  return [...messages.values()];
}

/** The bodies of every message of a queue (see {@link peekMessages}). */
function peekAll(queue: LocalQueue): string[] {
  return peekMessages(queue).map((m) => m.body);
}

/** The order id inside a queued body (an EventBridge envelope of OrderPlaced). */
function orderIdOf(body: string): string | undefined {
  try {
    return (JSON.parse(body) as { detail?: { orderId?: string } }).detail?.orderId;
  } catch {
    return undefined;
  }
}

/** The `detail` of a queued EventBridge envelope, as {@link canonicalJson}; undefined when the body is not one. */
function detailOf(body: string): string | undefined {
  try {
    const envelope = JSON.parse(body) as { detail?: unknown };
    return envelope.detail === undefined ? undefined : canonicalJson(envelope.detail);
  } catch {
    return undefined;
  }
}

function countBy<T>(items: readonly T[], key: (item: T) => string | undefined | null): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    if (k !== undefined && k !== null) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

/**
 * The side effects of any sandbox provider, dedicated or generic, by name. The `Sandbox` type only names the
 * dedicated ones; the sandbox itself answers for every provider it mounts (local/sandbox/server.ts).
 */
function sideEffectsAt(sandbox: Sandbox, provider: string): readonly SideEffect[] {
  return (sandbox as unknown as SandboxControl<string>).sideEffects(provider);
}

interface AccountingContext {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly seed: number;
  readonly outages: readonly OutageWindow[];
  readonly contactSyncsBefore: number;
  readonly webhookRuns: readonly DemoWebhookRun[];
}

async function account(
  hub: LocalHub,
  sandbox: Sandbox,
  plan: readonly DemoEvent[],
  integrations: readonly DemoIntegration[],
  context: AccountingContext,
): Promise<RunSummary> {
  const problems: string[] = [];
  const integrationRows = integrations.map(({ entry }) => accountIntegration(hub, sandbox, entry, plan, problems));
  const workflowRows: WorkflowSummary[] = [
    accountOrders(hub, sandbox, plan, integrations, problems),
    accountContacts(hub, sandbox, context.contactSyncsBefore, problems),
  ];
  const webhookRows = accountWebhooks(hub, context.webhookRuns, problems);
  const accessTokenRows = accountAccessTokens(hub, sandbox, integrations, integrationRows, problems);
  const statusRows = await accountStatusEvents(hub, integrations.map(({ entry }) => entry.name), problems);
  return {
    startedAt: context.startedAt,
    durationMs: context.durationMs,
    seed: context.seed,
    events: plan.length,
    outages: context.outages,
    integrations: integrationRows,
    workflows: workflowRows,
    ...(webhookRows.length > 0 ? { webhooks: webhookRows } : {}),
    statusEvents: statusRows,
    ...(accessTokenRows.length > 0 ? { accessTokens: accessTokenRows } : {}),
    // Work still queued when the wait ran out is reported but is not a loss: only losses and duplicates fail the run.
    ok: problems.every((p) => p.includes('(not lost')),
    problems,
  };
}

/**
 * The access-token refreshes of every integration served by a generic sandbox provider of scheme
 * `oauth2_refresh_token`, from the provider's side: its grant's counters and its request journal. A refused refresh
 * (a rotated refresh token lost, or presented twice) or more refreshes than the traffic's token lifetimes allow (the
 * instances refreshing on their own instead of once for all) is a problem of the run.
 */
function accountAccessTokens(
  hub: LocalHub,
  sandbox: Sandbox,
  integrations: readonly DemoIntegration[],
  integrationRows: readonly IntegrationSummary[],
  problems: string[],
): AccessTokenSummary[] {
  const control = sandbox as unknown as SandboxControl<string>;
  return integrations.flatMap(({ entry }): AccessTokenSummary[] => {
    const provider = servingProviderOf(entry);
    if (!provider.generic) return [];
    const api = control.generic(provider.name);
    const grant = api.refreshTokenGrant;
    if (!grant || api.tokenExpiresInSeconds === undefined) return [];
    const journal = sandbox.journal.entries({ provider: provider.name });
    const refreshCallTimes = journal.filter((e) => e.path === api.tokenPath).map((e) => e.at);
    const apiCalls = journal.filter((e) => e.path !== api.tokenPath && e.authScheme === 'Bearer');
    const firstRefreshAt = refreshCallTimes.length > 0 ? Math.min(...refreshCallTimes) : undefined;
    const lastCallAt = apiCalls.length > 0 ? Math.max(...apiCalls.map((e) => e.at)) : undefined;
    const trafficMs = firstRefreshAt !== undefined && lastCallAt !== undefined ? Math.max(0, lastCallAt - firstRefreshAt) : 0;
    // Refresh k+1 comes no sooner than token k is due (refreshAtOf), so one refresh per lifetime allows at most this many.
    const lifetimeMs = api.tokenExpiresInSeconds * 1000;
    const maxRefreshes = firstRefreshAt === undefined ? 0 : Math.floor(trafficMs / refreshAtOf(0, lifetimeMs)) + 1;
    const refreshCalls = grant.refreshRequests();
    const refreshesGranted = grant.refreshesGranted();
    const refused = refreshCalls - refreshesGranted;
    const beyondOnePerLifetime = Math.max(0, refreshesGranted - maxRefreshes);
    const name = entry.name;
    if (refused > 0) problems.push(`${name}: ${refused} access-token refresh call(s) refused by the provider (a rotated refresh token lost or presented twice)`);
    if (beyondOnePerLifetime > 0) {
      problems.push(
        `${name}: ${refreshesGranted} access-token refreshes where one per token lifetime allows ${maxRefreshes} over ${(trafficMs / 1000).toFixed(1)} s of traffic (instances refreshed on their own)`,
      );
    }
    return [
      {
        integration: name,
        delivered: integrationRows.find((row) => row.integration === name)?.delivered ?? 0,
        lifetimeSeconds: api.tokenExpiresInSeconds,
        trafficMs,
        instances: hub.integration(name)?.containers ?? 0,
        refreshCalls,
        refreshesGranted,
        onExpiry: Math.max(0, refreshesGranted - 1),
        maxRefreshes,
        refused,
        beyondOnePerLifetime,
        unauthorized: apiCalls.filter((e) => e.status === 401).length,
      },
    ];
  });
}

/**
 * The SyncStatusChanged events the status outbox put on the bus, checked against each entity's audit log: an event
 * missing, extra, out of order or repeated is a problem of the run.
 */
async function accountStatusEvents(hub: LocalHub, integrations: readonly string[], problems: string[]): Promise<StatusEventSummary[]> {
  const events = hub.pipeEvents.filter((event) => event.detailType === SYNC_STATUS_CHANGED).map((event) => event.detail as SyncStatusChanged);
  const rows = await summarizeStatusEvents(events, integrations, (type, id, integration) => hub.ledger.auditLog(type, id, integration));
  for (const row of rows) {
    if (row.mismatched > 0) problems.push(`${row.integration}: the status events of ${row.mismatched} entit${row.mismatched === 1 ? 'y differ' : 'ies differ'} from their ledger audit log`);
    if (row.repeated > 0) problems.push(`${row.integration}: ${row.repeated} status event(s) published twice`);
  }
  return rows;
}

/**
 * One integration's events, from its provider's side: delivered = a side effect carries the event's Idempotency-Key,
 * duplicated = more than one does; else in the DLQ, still queued, or lost.
 */
function accountIntegration(
  hub: LocalHub,
  sandbox: Sandbox,
  entry: DemoIntegration['entry'],
  plan: readonly DemoEvent[],
  problems: string[],
): IntegrationSummary {
  const integration = entry.name;
  const hubIntegration = hub.integration(integration)!;
  const events = plan.flatMap((e) => (e.kind === 'integration' && e.integration === integration ? [e] : []));
  // Only this integration's keys: the order saga charges the payments gateway under its own, and two integrations
  // running one adapter may share a provider (serving-provider.ts).
  const prefix = `${integration}:`;
  const onProvider = countBy(sideEffectsAt(sandbox, servingProviderOf(entry).name), (effect) =>
    effect.idempotencyKey?.startsWith(prefix) ? effect.idempotencyKey : undefined,
  );
  const keyByDetail = new Map(events.map((e) => [canonicalJson(e.detail), e.key]));
  const keyOf = (body: string) => keyByDetail.get(detailOf(body) ?? '');
  const deadLetters = peekMessages(hubIntegration.deadLetterQueue);
  const inDlq = new Set(deadLetters.map((m) => keyOf(m.body)));
  // The runtime sends a message it refuses to the DLQ with the reason as attributes (local/local-queue.ts
  // LocalDeadLetterQueue); one redriven there by SQS after maxReceiveCount has none.
  const withoutReason = new Set(deadLetters.filter((m) => !m.attributes.errorMessage).map((m) => keyOf(m.body)));
  const queued = countBy(peekAll(hubIntegration.queue), keyOf);
  const inFlight = hubIntegration.queue.stats().inFlight;
  const versions = accountVersions(integration, events, sideEffectsAt(sandbox, servingProviderOf(entry).name), problems);
  let deliveredCount = 0;
  let skippedStale = 0;
  let invalidInDlq = 0;
  let validInDlq = 0;
  let lost = 0;
  let duplicates = 0;
  let stillQueued = 0;
  let invalidWithoutReason = 0;
  for (const event of events) {
    const times = onProvider.get(event.key) ?? 0;
    if (times > 0) deliveredCount += 1;
    if (times > 1) duplicates += times - 1;
    const dead = inDlq.has(event.key);
    if (dead && event.valid) validInDlq += 1;
    if (dead && !event.valid) invalidInDlq += 1;
    if (dead && !event.valid && withoutReason.has(event.key)) invalidWithoutReason += 1;
    if (!event.valid && times > 0) problems.push(`${integration}: invalid event ${event.key} reached the third party`);
    if (times === 0 && !dead) {
      if ((queued.get(event.key) ?? 0) > 0) stillQueued += 1;
      else if (event.entity && (versions.get(event.entity.id) ?? -Infinity) > event.entity.version) skippedStale += 1;
      else lost += 1;
    }
  }
  // Messages in flight cannot be peeked: they are neither lost nor proven delivered yet.
  const unexplained = Math.max(0, lost - inFlight);
  stillQueued += lost - unexplained;
  lost = unexplained;
  if (lost > 0) problems.push(`${integration}: ${lost} message(s) lost (not at the third party, not queued, not in the DLQ)`);
  if (duplicates > 0) problems.push(`${integration}: ${duplicates} duplicate side effect(s)`);
  if (validInDlq > 0) problems.push(`${integration}: ${validInDlq} valid message(s) in the DLQ`);
  if (invalidWithoutReason > 0) problems.push(`${integration}: ${invalidWithoutReason} invalid message(s) in the DLQ without a reason (redriven, not refused)`);
  if (stillQueued > 0) problems.push(`${integration}: ${stillQueued} message(s) still queued when the run ended (not lost; the hub did not settle in time)`);
  return {
    integration,
    published: events.length,
    delivered: deliveredCount,
    invalidInDlq,
    validInDlq,
    lost,
    duplicates,
    skippedStale,
    retried: hubIntegration.counters.retried,
    parked: hubIntegration.counters.parked,
    // Counted from the circuits table: a saga step calling the same provider may be the one that opened it.
    // Times it left closed for open: a scan that first saw the circuit already half-open (the controller's handling of
    // the open record failed, or came late, on a loaded machine) still counts the opening it implies.
    circuitOpened: hub.circuitTransitions.filter((t) => t.circuitId === integration && (t.from === undefined || t.from === 'closed') && (t.to === 'open' || t.to === 'half_open')).length,
  };
}

/**
 * The newest version of each entity that reached the provider, for the events that carry one; and a problem for
 * every side effect of an older version made after a newer one's (a stale overwrite), in the provider's order.
 */
function accountVersions(
  integration: string,
  events: readonly Extract<DemoEvent, { kind: 'integration' }>[],
  effects: readonly SideEffect[],
  problems: string[],
): Map<string, number> {
  const entityOf = new Map(events.flatMap((event) => (event.entity ? [[event.key, event.entity] as const] : [])));
  const newest = new Map<string, number>();
  for (const effect of effects) {
    const entity = entityOf.get(effect.idempotencyKey ?? '');
    if (!entity) continue;
    const before = newest.get(entity.id);
    if (before !== undefined && before > entity.version) problems.push(`${integration}: version ${entity.version} of ${entity.id} reached the third party after version ${before} (stale overwrite)`);
    newest.set(entity.id, Math.max(before ?? -Infinity, entity.version));
  }
  return newest;
}

function accountOrders(
  hub: LocalHub,
  sandbox: Sandbox,
  plan: readonly DemoEvent[],
  integrations: readonly DemoIntegration[],
  problems: string[],
): WorkflowSummary {
  const orders = plan.filter((e) => e.kind === 'order');
  const executions = new Map(hub.executions.filter((e) => e.workflow === ORDER_ROUTE.workflow).map((e) => [e.name, e]));
  // The saga's charges only: an integration's example may charge under an order reference too (payments' does), so
  // the charges made under an integration's Idempotency-Key (accounted above) are left out.
  const prefixes = integrations.map(({ entry }) => `${entry.name}:`);
  const integrationCharges = new Set(
    sandbox.sideEffects('payments').flatMap((effect) => (prefixes.some((p) => effect.idempotencyKey?.startsWith(p)) ? [effect.id] : [])),
  );
  const charges = countBy(sandbox.payments.charges().filter((c) => !integrationCharges.has(c.id)), (c) => c.reference);
  const reservations = countBy(sandbox.inventory.reservations(), (r) => r.orderId);
  const shipments = countBy(sandbox.shipping.shipments(), (s) => s.orderId);
  let succeeded = 0;
  let compensated = 0;
  let failed = 0;
  let duplicates = 0;
  const starterQueue = [...hub.queues.values()].find((q) => q.deadLetterQueue && ![...hub.integrations.values()].some((i) => i.queue === q));
  const waiting = new Set(starterQueue ? peekAll(starterQueue).map(orderIdOf) : []);
  const deadStarts = new Set(starterQueue?.deadLetterQueue ? peekAll(starterQueue.deadLetterQueue).map(orderIdOf) : []);
  for (const order of orders) {
    for (const counts of [charges, reservations, shipments]) {
      const times = counts.get(order.key) ?? 0;
      if (times > 1) duplicates += times - 1;
    }
    const execution = executions.get(order.key);
    if (!execution) {
      if (deadStarts.has(order.key)) problems.push(`order-saga: order ${order.key} was not started (its event is in the starter's DLQ)`);
      else if (waiting.has(order.key)) problems.push(`order-saga: order ${order.key} still waits in the starter queue (not lost; the hub did not settle in time)`);
      else problems.push(`order-saga: order ${order.key} lost (no execution, not queued, not in the DLQ)`);
      failed += 1;
      continue;
    }
    if (execution.status === 'SUCCEEDED') succeeded += 1;
    else if (execution.status === 'FAILED' && isCompensated(execution.record?.error)) compensated += 1;
    else {
      failed += 1;
      problems.push(`order-saga: order ${order.key} ended ${execution.status}${execution.record?.error ? ` (${execution.record.error})` : ''}`);
    }
  }
  if (duplicates > 0) problems.push(`order-saga: ${duplicates} duplicate side effect(s) (charge, reservation or shipment made twice)`);
  return { workflow: ORDER_ROUTE.workflow, started: executions.size, succeeded, compensated, failed, duplicates };
}

function accountContacts(hub: LocalHub, sandbox: Sandbox, before: number, problems: string[]): WorkflowSummary {
  const executions = hub.executions.filter((e) => e.workflow === 'contact-sync').slice(before);
  const crm = new Map(sandbox.crm.contacts().map((c) => [c.externalId, c]));
  let missing = 0;
  let stale = 0;
  let resurrected = 0;
  for (const contact of sandbox.contacts.all()) {
    const copy = crm.get(contact.id);
    if (contact.deleted) {
      if (copy) resurrected += 1;
    } else if (!copy) missing += 1;
    else if (copy.phone !== (contact.phone ?? null)) stale += 1;
  }
  const duplicates = sandbox.crm.contacts().length - crm.size;
  if (missing + stale + resurrected > 0) problems.push(`contact-sync: CRM not in step with the source (${missing} missing, ${stale} stale, ${resurrected} deleted but present)`);
  if (duplicates > 0) problems.push(`contact-sync: ${duplicates} duplicate CRM contact(s)`);
  return {
    workflow: 'contact-sync',
    started: executions.length,
    succeeded: executions.filter((e) => e.status === 'SUCCEEDED').length,
    compensated: 0,
    failed: executions.filter((e) => e.status === 'FAILED').length,
    duplicates: Math.max(0, duplicates),
  };
}
