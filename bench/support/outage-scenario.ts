/**
 * One run of the outage scenario for one strategy, identical for every strategy:
 *
 *   reset the sandbox → build the source queue (visibility, maxReceiveCount → DLQ) and the strategy's N instances
 *   behind one event source mapping (maximum concurrency N) → schedule the payments API's down phases of the fault
 *   shape (outage-shapes.ts: 503, hang or flapping; health included) from warm-up end over `outageMs` → produce at a
 *   steady rate from the start → after the API is back for good, keep producing until every message sent before that has left the source queue (or the cap) → stop
 *   producing, let the rest finish (bounded) → stop → read the sandbox journal and side effects → figures.
 */
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { lambdaContext, sqsEvent } from '../../local/lambda-events.js';
import { LocalEventSourceMapping } from '../../local/local-event-source.js';
import { LocalQueue } from '../../local/local-queue.js';
import { computeOutageFigures, type OutageFigures } from './outage-accounting.js';
import { InstancePool } from './outage-instance-pool.js';
import { businessKeyOf, chargeEvent, PREWARM_PREFIX } from './outage-messages.js';
import { SteadyProducer } from './outage-producer.js';
import { DeadLetterCollector, TrackedQueue } from './outage-queue-tracking.js';
import { SandboxControlClient } from './outage-sandbox-control.js';
import type { OutageSettings } from './outage-settings.js';
import { type CallsWhileDown, countCallsWhileDown, DEFAULT_FLAPPING, type DownPhase, downPhases, type FaultShape, type FlappingCycle } from './outage-shapes.js';
import type { OutageStrategy, OutageWindowTimes } from './outage-strategy.js';

/** Where the backends listen. */
export interface ScenarioBackends {
  readonly sandboxUrl: string;
  readonly dynamoEndpoint: string;
}

/** A sample of the run, once per second. */
export interface ScenarioSample {
  /** Seconds from the outage start (negative during warm-up). */
  t: number;
  produced: number;
  visible: number;
  inFlight: number;
  dlq: number;
  mappingEnabled: boolean;
  maximumConcurrency: number;
}

/** What one run produced. */
export interface ScenarioResult {
  readonly strategy: OutageStrategy['key'];
  /** How the API was down (outage-shapes.ts). */
  readonly shape: FaultShape;
  /** When it was down, ms from the outage start; the API is back for good at the end of the last one. */
  readonly downPhases: DownPhase[];
  /** Requests that arrived while it was down, operations and probes apart. */
  readonly callsWhileDown: CallsWhileDown;
  readonly name: string;
  readonly instances: number;
  readonly figures: OutageFigures;
  readonly details: Record<string, unknown>;
  readonly mapping: { invocations: number; failedInvocations: number; maxConcurrentInvocations: number };
  /** Invocations per instance: min / max (how evenly the pool was used). */
  readonly invocationsPerInstance: { min: number; max: number };
  /** How long invocations took (all of them), and records per invocation. */
  readonly invocationMs: { p50: number; p99: number; max: number; meanRecords: number };
  readonly wallSeconds: number;
  /** How loaded this process was: all instances share its event loop and one core. */
  readonly machine: { eventLoopDelayMs: { p50: number; p99: number; max: number }; cpuSecondsThisProcess: number };
  readonly timeline: ScenarioSample[];
}

/** Runs `strategy` through the outage scenario with `settings`. */
export async function runOutageScenario(
  strategy: OutageStrategy,
  settings: OutageSettings,
  backends: ScenarioBackends,
  options: {
    runId: string;
    log?: (line: string) => void;
    /** @default 'outage' (503 for the whole window) */
    shape?: FaultShape;
    /** The flapping shape's cycle. @default 3 s down / 3 s up */
    flapping?: FlappingCycle;
  },
): Promise<ScenarioResult> {
  const log = options.log ?? (() => undefined);
  const shape = options.shape ?? 'outage';
  let phases: DownPhase[] = [];
  const startedAt = Date.now();
  const sandbox = new SandboxControlClient(backends.sandboxUrl);
  await sandbox.reset();
  const paymentsSecretKey = await sandbox.paymentsSecretKey();

  const dlq = new LocalQueue({ name: `${options.runId}-payments-dlq`, messageRetentionSeconds: 1_209_600 });
  const queue = new TrackedQueue({
    name: `${options.runId}-payments`,
    visibilityTimeoutSeconds: settings.visibilityTimeoutSeconds,
    maxReceiveCount: settings.maxReceiveCount,
    deadLetterQueue: dlq,
  });
  const run = await strategy.prepare({
    settings,
    queue,
    dlq,
    sandbox,
    paymentsSecretKey,
    dynamoEndpoint: backends.dynamoEndpoint,
    runId: options.runId,
  });
  const pool = new InstancePool(run.instances);
  let invocationErrors = 0;
  const mapping = new LocalEventSourceMapping({
    queue,
    handler: pool.handler,
    batchSize: settings.batchSize,
    maximumConcurrency: settings.instances,
    functionName: 'payments',
    functionTimeoutMs: settings.functionTimeoutMs,
    pollIntervalMs: settings.pollIntervalMs,
    onInvocationError: () => {
      invocationErrors += 1;
    },
  });
  const collector = new DeadLetterCollector(dlq);
  const producer = new SteadyProducer(queue, options.runId, settings.eventsPerSecond);
  const timeline: ScenarioSample[] = [];
  let sampler: NodeJS.Timeout | undefined;
  // Every instance shares this process's event loop: its delay says when the machine, not the design, is the limit.
  const loopDelay = monitorEventLoopDelay({ resolution: 10 });
  let window: OutageWindowTimes | undefined;
  let prewarmFailures = 0;
  let cpuBefore = process.cpuUsage();
  const sample = () => {
    const stats = queue.stats();
    timeline.push({
      t: Math.round((Date.now() - (window?.outageStartAt ?? Date.now())) / 100) / 10,
      produced: producer.sent.length,
      visible: stats.visible,
      inFlight: stats.inFlight + stats.delayed,
      dlq: collector.sightings.length,
      mappingEnabled: mapping.enabled,
      maximumConcurrency: mapping.maximumConcurrency,
    });
  };

  try {
    await run.attach?.(mapping);

    // Every container exists and is warm before the measured traffic (see InstancePool.prewarm); its charges use
    // business keys of their own, which the accounting leaves out.
    prewarmFailures = await pool.prewarm(
      (index) => {
        const event = chargeEvent(`${PREWARM_PREFIX}${options.runId}`, index);
        return sqsEvent([{ body: JSON.stringify(event), attributes: { correlationId: event.paymentId }, queueArn: queue.arn }]);
      },
      () => lambdaContext('payments', settings.functionTimeoutMs),
      4,
    );
    log(`  ${settings.instances} instances warmed${prewarmFailures > 0 ? ` (${prewarmFailures} warm-up records failed)` : ''}`);

    const outageStartAt = Date.now() + settings.warmupMs;
    phases = downPhases(shape, outageStartAt, settings.outageMs, options.flapping ?? DEFAULT_FLAPPING);
    // "API back" is the end of the last down phase: recovery and drain are measured from there.
    window = { outageStartAt, outageEndAt: (phases.at(-1) as DownPhase).toMs };
    await sandbox.schedulePaymentsDownPhases(phases);

    sampler = setInterval(sample, 1000);
    loopDelay.enable();
    cpuBefore = process.cpuUsage();
    collector.start();
    mapping.start();
    producer.start();
    log(`  warm-up ${settings.warmupMs / 1000} s, ${shape} ${settings.outageMs / 1000} s (${phases.length} down phase${phases.length === 1 ? '' : 's'})`);
    await sleep(Math.max(0, window.outageEndAt - Date.now()));
    log(`  API back after ${Math.round((Date.now() - startedAt) / 1000)} s; waiting for the backlog to drain`);

    // Drained: every message sent before the API came back has been deleted or dead-lettered.
    const apiBackAt = window.outageEndAt;
    const gone = (messageId: string) => queue.deletedAt.has(messageId) || collector.sourceMessageIds.has(messageId);
    let pending = producer.sent.filter((m) => m.sentAt < apiBackAt).map((m) => m.messageId);
    const drainDeadline = apiBackAt + settings.drainCapMs;
    while (Date.now() < drainDeadline) {
      collector.collect();
      pending = pending.filter((id) => !gone(id));
      if (pending.length === 0) break;
      await sleep(100);
    }
    await producer.stop();
    log(pending.length === 0 ? '  drained; settling' : `  NOT drained within ${settings.drainCapMs / 1000} s (${pending.length} left)`);

    // Let what was produced meanwhile finish, so the end state is clean (bounded; what is left is reported).
    const settleDeadline = Date.now() + settings.settleCapMs;
    while (Date.now() < settleDeadline) {
      const stats = queue.stats();
      if (stats.visible + stats.inFlight + stats.delayed === 0) break;
      await sleep(100);
    }
  } finally {
    loopDelay.disable();
    if (sampler) clearInterval(sampler);
    await producer.stop();
    await mapping.stop();
    await run.stop();
    collector.stop();
  }
  if (!window) throw new Error('unreachable: the outage window is set before the run starts');
  sample();

  const [journal, sideEffects] = await Promise.all([sandbox.paymentsJournal(), sandbox.paymentsSideEffects()]);
  const stats = queue.stats();
  // The warm-up invocations ran before the measured traffic; their requests and charges are not part of it.
  const measuredJournal = journal.filter((entry) => !entry.correlationId?.startsWith(`pay-${PREWARM_PREFIX}`));
  const figures = computeOutageFigures({
    window,
    produced: producer.sent,
    deletedAt: queue.deletedAt,
    queueRemaining: stats.visible + stats.inFlight + stats.delayed,
    deadLetters: collector.sightings,
    journal: measuredJournal,
    sideEffects: sideEffects.filter((effect) => !effect.correlationId?.startsWith(`pay-${PREWARM_PREFIX}`)),
    keyOfBody: businessKeyOf,
  });
  const mappingStats = mapping.stats();
  const cpu = process.cpuUsage(cpuBefore);
  const outageStartAt = window.outageStartAt;
  return {
    strategy: strategy.key,
    shape,
    downPhases: phases.map((phase) => ({ ...phase, fromMs: phase.fromMs - outageStartAt, toMs: phase.toMs - outageStartAt })),
    callsWhileDown: countCallsWhileDown(phases, measuredJournal),
    name: strategy.name,
    instances: settings.instances,
    figures,
    details: { ...run.details(window), invocationErrors, prewarmFailures },
    machine: {
      eventLoopDelayMs: { p50: ms(loopDelay.percentile(50)), p99: ms(loopDelay.percentile(99)), max: ms(loopDelay.max) },
      cpuSecondsThisProcess: Math.round((cpu.user + cpu.system) / 1e5) / 10,
    },
    mapping: {
      invocations: mappingStats.invocations,
      failedInvocations: mappingStats.failedInvocations,
      maxConcurrentInvocations: mappingStats.maxConcurrentInvocations,
    },
    invocationsPerInstance: { min: Math.min(...pool.invocations), max: Math.max(...pool.invocations) },
    invocationMs: invocationSummary(pool.calls),
    wallSeconds: Math.round((Date.now() - startedAt) / 1000),
    timeline,
  };
}

/** Nanoseconds → milliseconds, one decimal. */
function ms(nanoseconds: number): number {
  return Math.round(nanoseconds / 1e5) / 10;
}

function invocationSummary(calls: readonly { ms: number; records: number }[]): ScenarioResult['invocationMs'] {
  const sorted = calls.map((c) => c.ms).sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0;
  const records = calls.reduce((sum, c) => sum + c.records, 0);
  return { p50: at(0.5), p99: at(0.99), max: sorted.at(-1) ?? 0, meanRecords: calls.length ? Math.round((records / calls.length) * 10) / 10 : 0 };
}
