/**
 * The outage benchmark's figures, computed from what the queues and the sandbox observed — never from what a
 * handler reported:
 *
 *   produced               every message the producer sent (one business key each)
 *   succeededUnique        business keys with at least one charge in the sandbox (its side effects, keyed by the
 *                          X-Correlation-Id every strategy forwards)
 *   stillInQueue           produced messages neither deleted from the source queue nor dead-lettered (cross-checked
 *                          against the queue's own counters)
 *   validMessagesInDlq     messages found in the DLQ (every produced message is valid)
 *   lostMessages           produced − |succeeded ∪ in DLQ ∪ still in queue|: deleted without a charge, or expired
 *   duplicateSideEffects   charges beyond the first per business key
 *   callsDuringOutage      payments requests that ARRIVED inside the outage window (charges, retries and probes)
 *   recoverySeconds        API back → the first successful charge answered
 *   drainSeconds           API back → the last message sent before the API came back has left the source queue
 *                          (deleted or dead-lettered); null when that did not happen within the cap
 */
import type { JournalEntry, SideEffect } from '../../local/sandbox/index.js';
import type { DeadLetterSighting } from './outage-queue-tracking.js';
import type { OutageWindowTimes } from './outage-strategy.js';

/** A message the producer sent. */
export interface ProducedMessage {
  readonly messageId: string;
  readonly key: string;
  readonly sentAt: number;
}

/** What the run observed. */
export interface OutageObservations {
  readonly window: OutageWindowTimes;
  readonly produced: readonly ProducedMessage[];
  /** Source queue: message id → when a consumer deleted it. */
  readonly deletedAt: ReadonlyMap<string, number>;
  /** The source queue's own count of messages left (visible + in flight + delayed). */
  readonly queueRemaining: number;
  readonly deadLetters: readonly DeadLetterSighting[];
  /** Every payments request the sandbox journaled. */
  readonly journal: readonly JournalEntry[];
  /** Every payments side effect. */
  readonly sideEffects: readonly SideEffect[];
  /** Business key of a DLQ message body. */
  readonly keyOfBody: (body: string) => string | undefined;
}

/** The figures of one strategy run. */
export interface OutageFigures {
  produced: number;
  producedBeforeApiBack: number;
  succeededUnique: number;
  stillInQueue: number;
  /** The queue's own counters (should equal stillInQueue). */
  queueCountersRemaining: number;
  validMessagesInDlq: number;
  /** In the DLQ although its charge went through (the answer was lost): counted once in the union. */
  succeededButInDlq: number;
  lostMessages: number;
  duplicateSideEffects: number;
  callsDuringOutage: number;
  callsDuringOutageByPath: Record<string, number>;
  totalCalls: number;
  recoverySeconds: number | null;
  drainSeconds: number | null;
  drained: boolean;
  /** Charges whose correlation id is no produced business key (should be 0). */
  unattributedCharges: number;
}

/** Computes every figure; see the file comment for the definitions. */
export function computeOutageFigures(o: OutageObservations): OutageFigures {
  const { outageStartAt, outageEndAt } = o.window;
  const producedKeys = new Set(o.produced.map((m) => m.key));

  const chargesPerKey = new Map<string, number>();
  let unattributedCharges = 0;
  for (const effect of o.sideEffects) {
    if (effect.type !== 'charge') continue;
    const key = effect.correlationId ?? '';
    if (!producedKeys.has(key)) unattributedCharges += 1;
    chargesPerKey.set(key, (chargesPerKey.get(key) ?? 0) + 1);
  }
  const succeeded = new Set([...chargesPerKey.keys()].filter((key) => producedKeys.has(key)));
  const duplicateSideEffects = [...chargesPerKey.values()].reduce((sum, n) => sum + Math.max(0, n - 1), 0);

  const dlqKeys = new Set<string>();
  const dlqAtByMessageId = new Map<string, number>();
  for (const sighting of o.deadLetters) {
    const key = o.keyOfBody(sighting.body);
    if (key !== undefined) dlqKeys.add(key);
    const previous = dlqAtByMessageId.get(sighting.sourceMessageId);
    dlqAtByMessageId.set(sighting.sourceMessageId, previous === undefined ? sighting.seenAt : Math.min(previous, sighting.seenAt));
  }

  const resolvedAt = (m: ProducedMessage): number | undefined => {
    const times = [o.deletedAt.get(m.messageId), dlqAtByMessageId.get(m.messageId)].filter((t): t is number => t !== undefined);
    return times.length > 0 ? Math.min(...times) : undefined;
  };
  const inQueueKeys = new Set(o.produced.filter((m) => resolvedAt(m) === undefined).map((m) => m.key));
  const accounted = new Set([...succeeded, ...[...dlqKeys].filter((k) => producedKeys.has(k)), ...inQueueKeys]);

  const beforeApiBack = o.produced.filter((m) => m.sentAt < outageEndAt);
  const resolutions = beforeApiBack.map(resolvedAt);
  const drained = resolutions.every((t) => t !== undefined);
  const lastResolved = Math.max(outageEndAt, ...resolutions.filter((t): t is number => t !== undefined));

  const duringOutage = o.journal.filter((e) => e.at >= outageStartAt && e.at < outageEndAt);
  const byPath: Record<string, number> = {};
  for (const entry of duringOutage) byPath[entry.path] = (byPath[entry.path] ?? 0) + 1;
  const firstSuccess = o.journal
    .filter((e) => e.path === '/charges' && e.status !== null && e.status >= 200 && e.status < 300 && e.at >= outageEndAt)
    .map((e) => e.at + e.durationMs)
    .reduce((min, t) => Math.min(min, t), Number.POSITIVE_INFINITY);

  return {
    produced: o.produced.length,
    producedBeforeApiBack: beforeApiBack.length,
    succeededUnique: succeeded.size,
    stillInQueue: inQueueKeys.size,
    queueCountersRemaining: o.queueRemaining,
    validMessagesInDlq: o.deadLetters.length,
    succeededButInDlq: [...dlqKeys].filter((key) => succeeded.has(key)).length,
    lostMessages: producedKeys.size - accounted.size,
    duplicateSideEffects,
    callsDuringOutage: duringOutage.length,
    callsDuringOutageByPath: byPath,
    totalCalls: o.journal.length,
    recoverySeconds: Number.isFinite(firstSuccess) ? seconds(firstSuccess - outageEndAt) : null,
    drainSeconds: drained ? seconds(lastResolved - outageEndAt) : null,
    drained,
    unattributedCharges,
  };
}

function seconds(ms: number): number {
  return Math.round(ms / 100) / 10;
}
