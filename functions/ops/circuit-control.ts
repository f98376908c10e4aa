/**
 * The circuit controller's logic: it follows the circuits table's stream and keeps each integration's SQS event
 * source mapping in step with its circuit, so that during a provider outage messages wait in the queue without
 * being received (and burning their receive count), and come back carefully afterwards.
 *
 *   circuit becomes open / half_open / isolated → mapping disabled, prober schedule enabled (it probes the provider)
 *   circuit becomes closed                      → mapping enabled at MaximumConcurrency 2, prober schedule enabled
 *                                                 (the prober restores the catalog's concurrency on a later tick)
 *
 * A stream record is a trigger, not the truth: the controller acts on the circuit's CURRENT state (one consistent
 * read), so a replayed or late record can never undo a newer transition, and the mapping is only changed when it
 * is not already where it should be. Every action is idempotent. Records are handled in shard order; on the first
 * failure the rest of the batch is left for Lambda to retry from that record.
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent } from 'aws-lambda';
import { systemClock } from '../runtime/clock.js';
import { type CircuitState, type CircuitStore, isCircuitState } from '../runtime/circuit-store.js';
import type { Clock } from '../runtime/ports.js';
import { EventSourceMappingBusyError, EventSourceMappingNotFoundError } from './errors.js';
import type { ControlledIntegration } from './ops-config.js';
import {
  type CircuitGauge,
  type EventSourceMappings,
  type GaugedCircuit,
  isCircuitOpen,
  isPaused,
  isPolling,
  type MappingChange,
  type ProbeSchedule,
  RESUME_MAXIMUM_CONCURRENCY,
} from './ports.js';

/** A change of a circuit's `state`, read from a stream record. */
export interface CircuitTransition {
  readonly circuitId: string;
  /** The state before; undefined when the item was created by this write. */
  readonly from?: CircuitState;
  readonly to: CircuitState;
}

/** What a stream record amounts to. */
export type StreamRecordReading =
  | { readonly kind: 'transition'; readonly transition: CircuitTransition }
  | { readonly kind: 'ignored'; readonly reason: 'state_unchanged' | 'removed' | 'unreadable'; readonly circuitId?: string };

/** How the controller handled one record. */
export type ControlOutcome =
  | 'state_unchanged'
  | 'removed'
  | 'unreadable'
  | 'unknown_circuit'
  | 'paused'
  | 'already_paused'
  | 'resumed'
  | 'already_polling'
  | 'mapping_missing'
  | 'provider_recorded';

/** Options of {@link CircuitController}. */
export interface CircuitControllerOptions {
  /** The integrations whose mappings it controls; other circuit ids are logged and ignored. */
  readonly integrations: readonly ControlledIntegration[];
  /**
   * The standalone workflow providers' circuit ids: no mapping to pause, but a transition turns the prober's
   * schedule on (it probes them) and publishes the circuit gauges. @default none
   */
  readonly providers?: readonly string[];
  readonly mappings: EventSourceMappings;
  readonly schedule: ProbeSchedule;
  /** The circuits table, read for the current state. */
  readonly circuits: Pick<CircuitStore, 'get'>;
  readonly gauge: CircuitGauge;
  readonly logger: Logger;
  /** @default systemClock */
  readonly clock?: Clock;
  /**
   * While Lambda is still applying an earlier change to a mapping, the update is tried again after `delayMs`,
   * doubling, up to `attempts` tries in all, then the record fails (Lambda retries it). @default { attempts: 4, delayMs: 2000 }
   */
  readonly busyRetry?: { readonly attempts: number; readonly delayMs: number };
}

/** What nothing stored means: a closed circuit (one that never failed). */
const NEVER_FAILED: GaugedCircuit = { state: 'closed' };

/** Lambda time kept in reserve: no busy-retry wait starts with less than this left. */
const RESERVE_MS = 5_000;

/** Reacts to circuit transitions by pausing or resuming the integration's event source mapping. */
export class CircuitController {
  readonly #integrations: ReadonlyMap<string, ControlledIntegration>;
  readonly #options: CircuitControllerOptions;
  readonly #clock: Clock;
  readonly #busyRetry: { readonly attempts: number; readonly delayMs: number };

  constructor(options: CircuitControllerOptions) {
    this.#options = options;
    this.#integrations = new Map(options.integrations.map((integration) => [integration.name, integration]));
    this.#clock = options.clock ?? systemClock;
    this.#busyRetry = options.busyRetry ?? { attempts: 4, delayMs: 2_000 };
  }

  /**
   * Handles a batch of circuits-table stream records in order. Returns the partial batch response: the first record
   * that failed (Lambda resumes the shard from it; the records after it are retried with it).
   */
  async handleStream(event: DynamoDBStreamEvent, remainingTimeMs: () => number = () => 60_000): Promise<DynamoDBBatchResponse> {
    for (const record of event.Records) {
      try {
        await this.handleRecord(record, remainingTimeMs);
      } catch (error) {
        const sequenceNumber = record.dynamodb?.SequenceNumber;
        this.#options.logger.error('Circuit stream record failed; it will be retried', { error, sequenceNumber, eventID: record.eventID });
        // Without a sequence number Lambda cannot resume from the record: fail the whole batch instead.
        if (!sequenceNumber) throw error;
        return { batchItemFailures: [{ itemIdentifier: sequenceNumber }] };
      }
    }
    return { batchItemFailures: [] };
  }

  /** Handles one stream record. Throws when it should be retried. */
  async handleRecord(record: DynamoDBRecord, remainingTimeMs: () => number = () => 60_000): Promise<ControlOutcome> {
    const reading = readCircuitStreamRecord(record);
    if (reading.kind === 'ignored') {
      const log = reading.reason === 'unreadable' ? 'warn' : 'debug';
      this.#options.logger[log]('Circuit stream record ignored', { reason: reading.reason, circuitId: reading.circuitId, eventID: record.eventID });
      return reading.reason;
    }
    return this.apply(reading.transition, remainingTimeMs);
  }

  /** Brings the integration's mapping and the prober schedule in line with the circuit's current state. */
  async apply(transition: CircuitTransition, remainingTimeMs: () => number = () => 60_000): Promise<ControlOutcome> {
    const { logger, circuits, schedule, gauge } = this.#options;
    const integration = this.#integrations.get(transition.circuitId);
    if (!integration && this.#options.providers?.includes(transition.circuitId)) {
      const circuit = (await circuits.get(transition.circuitId)) ?? NEVER_FAILED;
      const { state } = circuit;
      await schedule.enable();
      gauge.record(transition.circuitId, circuit);
      logger.info('Circuit transition of a workflow provider recorded', { provider: transition.circuitId, transition, currentState: state });
      return 'provider_recorded';
    }
    if (!integration) {
      logger.info('Transition of a circuit that no controlled integration or provider owns; ignored', { ...transition });
      return 'unknown_circuit';
    }
    const circuit = (await circuits.get(integration.name)) ?? NEVER_FAILED;
    const { state } = circuit;
    const context = { integration: integration.name, mappingUuid: integration.mappingUuid, transition, currentState: state };
    if (state !== transition.to) logger.info('The circuit has moved on since this record; acting on its current state', context);

    let outcome: ControlOutcome;
    try {
      outcome = isCircuitOpen(state) ? await this.#pause(integration, remainingTimeMs) : await this.#resume(integration, remainingTimeMs);
    } catch (error) {
      if (!(error instanceof EventSourceMappingNotFoundError)) throw error;
      // A configuration problem retrying cannot fix; the prober still needs to run for the circuit.
      logger.error('The integration has no such event source mapping: check the controller configuration', { ...context, error });
      outcome = 'mapping_missing';
    }
    // Either way the prober has work: probe an open circuit, or restore a resumed mapping's concurrency later.
    await schedule.enable();
    gauge.record(integration.name, circuit);
    logger.info('Circuit transition handled', { ...context, outcome });
    return outcome;
  }

  async #pause(integration: ControlledIntegration, remainingTimeMs: () => number): Promise<ControlOutcome> {
    const mapping = await this.#options.mappings.get(integration.mappingUuid);
    if (isPaused(mapping.state)) return 'already_paused';
    if (mapping.state === 'deleting') throw new EventSourceMappingNotFoundError(integration.mappingUuid);
    await this.#update(integration, { enabled: false }, remainingTimeMs);
    return 'paused';
  }

  async #resume(integration: ControlledIntegration, remainingTimeMs: () => number): Promise<ControlOutcome> {
    const mapping = await this.#options.mappings.get(integration.mappingUuid);
    // Already polling (the prober got there first, or a replay): leave its concurrency to the prober.
    if (isPolling(mapping.state)) return 'already_polling';
    if (mapping.state === 'deleting') throw new EventSourceMappingNotFoundError(integration.mappingUuid);
    await this.#update(integration, { enabled: true, maximumConcurrency: RESUME_MAXIMUM_CONCURRENCY }, remainingTimeMs);
    return 'resumed';
  }

  /** Updates the mapping, waiting out Lambda's "still applying the previous change" a few times. */
  async #update(integration: ControlledIntegration, change: MappingChange, remainingTimeMs: () => number): Promise<void> {
    let delayMs = this.#busyRetry.delayMs;
    for (let attempt = 1; ; attempt++) {
      try {
        await this.#options.mappings.update(integration.mappingUuid, change);
        return;
      } catch (error) {
        const busy = error instanceof EventSourceMappingBusyError;
        if (!busy || attempt >= this.#busyRetry.attempts || remainingTimeMs() - delayMs < RESERVE_MS) throw error;
        this.#options.logger.info('Event source mapping busy; trying again', { integration: integration.name, attempt, delayMs });
        await this.#clock.sleep(delayMs);
        delayMs *= 2;
      }
    }
  }
}

/**
 * Reads a circuits-table stream record (NEW_AND_OLD_IMAGES). Only a change of `state` is a transition; writes that
 * only move counters, leases or the window are ignored, and so are deletions and items that are not circuits.
 */
export function readCircuitStreamRecord(record: DynamoDBRecord): StreamRecordReading {
  const { Keys, NewImage, OldImage } = record.dynamodb ?? {};
  const circuitId = Keys?.circuitId?.S ?? NewImage?.circuitId?.S ?? OldImage?.circuitId?.S;
  if (record.eventName === 'REMOVE') return { kind: 'ignored', reason: 'removed', circuitId };
  const to = NewImage?.state?.S;
  const from = OldImage?.state?.S;
  if (!circuitId || !isCircuitState(to) || (from !== undefined && !isCircuitState(from))) return { kind: 'ignored', reason: 'unreadable', circuitId };
  // A missing item reads as closed, so an item created closed (its first failure) is no transition.
  if ((from ?? 'closed') === to) return { kind: 'ignored', reason: 'state_unchanged', circuitId };
  return { kind: 'transition', transition: from === undefined ? { circuitId, to } : { circuitId, from, to } };
}
