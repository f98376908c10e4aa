/**
 * The default demo of `npm start`: publishes the seeded mix of demo-events.ts through the local hub's bus, takes a
 * third party down in the middle (a sandbox outage window), samples the hub twice a second for the live view and
 * the report, waits until everything has settled, then accounts for EVERY event from the third parties' side:
 *
 * - a valid file / payment must exist exactly once at the CRM / gateway (by its business key), or still sit in its
 *   queue; an invalid one must be in the integration's DLQ; anything else is lost;
 * - an order must have one execution that succeeded (one charge, one reservation, one shipment, one e-mail) or was
 *   compensated (refunded and released), never two charges or two shipments;
 * - contact changes must all be in the CRM after the final sync.
 */
import { type CircuitState } from '../../functions/runtime/circuit-store.js';
import type { LocalQueue } from '../local-queue.js';
import type { Sandbox } from '../sandbox/index.js';
import { DEMO_ROUTES, type DemoEvent, planDemoEvents } from './demo-events.js';
import type { HubSample, IntegrationSample, IntegrationSummary, OutageWindow, RunSummary, WorkflowSample, WorkflowSummary } from './hub-timeline.js';
import type { LocalHub } from './local-hub.js';

/** `--outage <integration>:<duration>`. */
export interface OutageOption {
  /** A sandbox provider (crm, payments, inventory, shipping, email, contacts). */
  readonly provider: string;
  readonly durationMs: number;
}

/** Options of {@link runDemo}. */
export interface DemoOptions {
  readonly events: number;
  readonly seed: number;
  readonly outage?: OutageOption;
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

/** Parses `payments:20s` / `crm:1m` / `payments:15000ms` against the sandbox's providers. */
export function parseOutage(value: string, providers: readonly string[]): OutageOption {
  const match = /^([a-z][a-z0-9-]*):(\d+(?:\.\d+)?)(ms|s|m)?$/.exec(value.trim());
  if (!match) throw new DemoOptionError(`--outage must look like <integration>:<duration>, e.g. payments:20s (got '${value}')`);
  const [, provider, amount, unit = 's'] = match;
  if (!providers.includes(provider!)) throw new DemoOptionError(`--outage: unknown third party '${provider}'. Known: ${providers.join(', ')}`);
  const durationMs = Number(amount) * (unit === 'ms' ? 1 : unit === 'm' ? 60_000 : 1000);
  if (durationMs <= 0 || durationMs > 3_600_000) throw new DemoOptionError('--outage duration must be between 1 ms and 1 hour');
  return { provider: provider!, durationMs };
}

/** Pause between final contact syncs when one failed (the compressed schedule would run the next one about as soon). */
const FINAL_SYNC_RETRY_PAUSE_MS = 2_000;

/** Runs the demo against a started hub and its sandbox; see the file comment. */
export async function runDemo(hub: LocalHub, sandbox: Sandbox, options: DemoOptions): Promise<DemoResult> {
  const publishForMs = options.publishForMs ?? 30_000;
  const plan = planDemoEvents({ events: options.events, seed: options.seed, publishForMs });
  const startedAt = Date.now();
  const at = () => Date.now() - startedAt;
  const outages: OutageWindow[] = [];
  if (options.outage) {
    const fromMs = options.outageStartMs ?? Math.round(publishForMs / 3);
    const toMs = fromMs + options.outage.durationMs;
    sandbox.setFaults(options.outage.provider as never, { outage: { fromMs, toMs } } as never);
    outages.push({ integration: options.outage.provider, fromMs, toMs });
  }
  sandbox.contacts.seed(40);
  const initialSyncs = hub.executions.length;

  const timeline: HubSample[] = [];
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
    }
    const deadline = Date.now() + (options.settleTimeoutMs ?? 120_000);
    const outageEnd = outages.reduce((end, o) => Math.max(end, o.toMs), 0);
    const waitUntil = async (done: () => Promise<boolean> | boolean) => {
      while (Date.now() < deadline && !(await done())) await sleep(250);
    };
    await waitUntil(async () => at() >= outageEnd && (await isSettled(hub)));
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
    sampling = false;
    await sampler;
  }
  const last = await takeSample(hub, at());
  timeline.push(last);
  options.onSample?.(last, outages);

  const summary = await account(hub, sandbox, plan, {
    startedAt: new Date(startedAt).toISOString(),
    durationMs: at(),
    seed: options.seed,
    outages,
    contactSyncsBefore: initialSyncs,
  });
  return { summary, timeline };
}

function publish(hub: LocalHub, sandbox: Sandbox, event: DemoEvent): void {
  if (event.kind === 'contact') {
    if (event.change === 'delete' && sandbox.contacts.get(event.key) && !sandbox.contacts.get(event.key)!.deleted) sandbox.contacts.delete(event.key);
    else sandbox.contacts.upsert({ id: event.key, phone: `+3519${String(Math.floor(event.atMs)).padStart(8, '0').slice(-8)}`, deleted: false });
    return;
  }
  const route = DEMO_ROUTES[event.kind];
  hub.putEvents([{ source: route.source, detailType: route.detailType, detail: event.detail }]);
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
function peekAll(queue: LocalQueue): string[] {
  const bodies = new Map<string, string>();
  for (let round = 0; round < 1000; round++) {
    const batch = queue.receive(10, { visibilityTimeoutSeconds: 0 });
    const fresh = batch.filter((m) => !bodies.has(m.messageId));
    if (fresh.length === 0) break;
    for (const m of fresh) bodies.set(m.messageId, m.body);
  }
  return [...bodies.values()];
}

/** The business key inside a queued body (an EventBridge envelope). */
function keyOf(body: string): string | undefined {
  try {
    const detail = (JSON.parse(body) as { detail?: { fileId?: string; orderId?: string } }).detail;
    return detail?.fileId ?? detail?.orderId;
  } catch {
    return undefined;
  }
}

function countBy<T>(items: readonly T[], key: (item: T) => string | undefined): Map<string, number> {
  const counts = new Map<string, number>();
  for (const item of items) {
    const k = key(item);
    if (k !== undefined) counts.set(k, (counts.get(k) ?? 0) + 1);
  }
  return counts;
}

interface AccountingContext {
  readonly startedAt: string;
  readonly durationMs: number;
  readonly seed: number;
  readonly outages: readonly OutageWindow[];
  readonly contactSyncsBefore: number;
}

async function account(hub: LocalHub, sandbox: Sandbox, plan: readonly DemoEvent[], context: AccountingContext): Promise<RunSummary> {
  const problems: string[] = [];
  const integrationRows: IntegrationSummary[] = [];
  const delivered = {
    crm: countBy(sandbox.crm.files(), (f) => f.externalRef),
    // Charges of the payments integration carry the billing reference; the saga's carry the order id.
    payments: countBy(sandbox.payments.charges(), (c) => c.reference),
  } as Record<string, Map<string, number>>;

  for (const kind of ['file', 'payment'] as const) {
    const { integration } = DEMO_ROUTES[kind];
    const hubIntegration = hub.integration(integration)!;
    const events = plan.filter((e) => e.kind === kind);
    const inDlq = new Set(peekAll(hubIntegration.deadLetterQueue).map(keyOf));
    const queued = countBy(peekAll(hubIntegration.queue), keyOf);
    const inFlight = hubIntegration.queue.stats().inFlight;
    const onProvider = delivered[integration]!;
    let deliveredCount = 0;
    let invalidInDlq = 0;
    let validInDlq = 0;
    let lost = 0;
    let duplicates = 0;
    let stillQueued = 0;
    for (const event of events) {
      const times = onProvider.get(event.key) ?? 0;
      if (times > 0) deliveredCount += 1;
      if (times > 1) duplicates += times - 1;
      const dead = inDlq.has(event.key);
      if (dead && event.valid) validInDlq += 1;
      if (dead && !event.valid) invalidInDlq += 1;
      if (!event.valid && times > 0) problems.push(`${integration}: invalid event ${event.key} reached the third party`);
      if (times === 0 && !dead) {
        if ((queued.get(event.key) ?? 0) > 0) stillQueued += 1;
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
    if (stillQueued > 0) problems.push(`${integration}: ${stillQueued} message(s) still queued when the run ended (not lost; the hub did not settle in time)`);
    integrationRows.push({
      integration,
      published: events.length,
      delivered: deliveredCount,
      invalidInDlq,
      validInDlq,
      lost,
      duplicates,
      retried: hubIntegration.counters.retried,
      parked: hubIntegration.counters.parked,
      // Counted from the circuits table: a saga step calling the same provider may be the one that opened it.
      circuitOpened: hub.circuitTransitions.filter((t) => t.circuitId === integration && t.to === 'open' && t.from !== 'half_open').length,
    });
  }

  const workflowRows: WorkflowSummary[] = [accountOrders(hub, sandbox, plan, problems), accountContacts(hub, sandbox, context.contactSyncsBefore, problems)];
  return {
    startedAt: context.startedAt,
    durationMs: context.durationMs,
    seed: context.seed,
    events: plan.length,
    outages: context.outages,
    integrations: integrationRows,
    workflows: workflowRows,
    // Work still queued when the wait ran out is reported but is not a loss: only losses and duplicates fail the run.
    ok: problems.every((p) => p.includes('(not lost')),
    problems,
  };
}

function accountOrders(hub: LocalHub, sandbox: Sandbox, plan: readonly DemoEvent[], problems: string[]): WorkflowSummary {
  const orders = plan.filter((e) => e.kind === 'order');
  const executions = new Map(hub.executions.filter((e) => e.workflow === 'order-saga').map((e) => [e.name, e]));
  const charges = countBy(sandbox.payments.charges(), (c) => c.reference);
  const reservations = countBy(sandbox.inventory.reservations(), (r) => r.orderId);
  const shipments = countBy(sandbox.shipping.shipments(), (s) => s.orderId);
  let succeeded = 0;
  let compensated = 0;
  let failed = 0;
  let duplicates = 0;
  const starterQueue = [...hub.queues.values()].find((q) => q.deadLetterQueue && ![...hub.integrations.values()].some((i) => i.queue === q));
  const waiting = new Set(starterQueue ? peekAll(starterQueue).map(keyOf) : []);
  const deadStarts = new Set(starterQueue?.deadLetterQueue ? peekAll(starterQueue.deadLetterQueue).map(keyOf) : []);
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
  return { workflow: 'order-saga', started: executions.size, succeeded, compensated, failed, duplicates };
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
