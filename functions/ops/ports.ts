/**
 * The small interfaces the circuit controller and prober are written against. AWS SDK calls live in the adapters
 * (`lambda-event-source-mappings.ts`, `eventbridge-probe-schedule.ts`, `circuit-gauge.ts`); tests use fakes.
 */
import type { CircuitRecord, CircuitState } from '../runtime/circuit-store.js';
import { REAUTHORIZATION_NEEDED } from '../runtime/errors.js';

/**
 * Where an event source mapping is, as Lambda reports it (`State`, lower-cased). Only `enabled` and `disabled` are
 * at rest; Lambda refuses updates while a mapping is `creating`, `updating` or `deleting`.
 */
export type MappingState = 'creating' | 'enabling' | 'enabled' | 'disabling' | 'disabled' | 'updating' | 'deleting';

/** One event source mapping as the controller and prober need it. */
export interface MappingStatus {
  readonly uuid: string;
  readonly state: MappingState;
  /** `ScalingConfig.MaximumConcurrency`; undefined when the mapping has none (Lambda scales it freely). */
  readonly maximumConcurrency?: number;
}

/** What to change on a mapping; fields left out are not sent (so a concurrency change never re-enables a mapping). */
export interface MappingChange {
  readonly enabled?: boolean;
  readonly maximumConcurrency?: number;
}

/** The SQS event source mappings of the integration functions (Lambda GetEventSourceMapping / UpdateEventSourceMapping). */
export interface EventSourceMappings {
  /**
   * The mapping's current state. Throws EventSourceMappingNotFoundError when it does not exist, DependencyError
   * when Lambda cannot be asked.
   */
  get(uuid: string): Promise<MappingStatus>;
  /**
   * Applies `change`. Throws EventSourceMappingBusyError while Lambda is still applying an earlier change (try again
   * in a few seconds), EventSourceMappingNotFoundError, or DependencyError.
   */
  update(uuid: string, change: MappingChange): Promise<void>;
}

/** The prober's EventBridge schedule rule. Both calls are idempotent. */
export interface ProbeSchedule {
  enable(): Promise<void>;
  disable(): Promise<void>;
}

/** What the gauge reads of a circuit: its state, and why it is in it. */
export type GaugedCircuit = Pick<CircuitRecord, 'state' | 'stateReason'>;

/** What a gauge record knows of the circuit besides its state. */
export interface GaugeOptions {
  /**
   * The circuit's auth scheme can require re-authorization (functions/runtime/auth-config.ts
   * canRequireReauthorization): its `ReauthorizationNeeded` is published, 0 included. Otherwise only a 1 is: the
   * controller, which does not know the scheme, publishes the isolation that starts it, and the prober, which does,
   * every value after. A series of zeros for circuits no alarm watches would cost a custom metric each. @default false
   */
  readonly reauthorizable?: boolean;
}

/**
 * Publishes the circuit gauges of an integration (functions/ops/circuit-gauge.ts): `CircuitOpen` (1 while its circuit
 * is not closed, else 0) and `ReauthorizationNeeded` (1 while it waits for a new refresh token, else 0; see
 * {@link GaugeOptions}).
 */
export interface CircuitGauge {
  /** Records `integration`'s circuit as it is now. */
  record(integration: string, circuit: GaugedCircuit, options?: GaugeOptions): void;
}

/** The concurrency a mapping is resumed at: Lambda's minimum for SQS, so a recovering provider gets a trickle first. */
export const RESUME_MAXIMUM_CONCURRENCY = 2;

/** True when a mapping polls its queue, or is about to. */
export function isPolling(state: MappingState): boolean {
  return state === 'enabled' || state === 'enabling' || state === 'creating';
}

/** True when a mapping has stopped polling, or is stopping. */
export function isPaused(state: MappingState): boolean {
  return state === 'disabled' || state === 'disabling';
}

/** True while a circuit keeps calls away from the provider: open, half-open (probing) or isolated by an operator. */
export function isCircuitOpen(state: CircuitState): boolean {
  return state !== 'closed';
}

/**
 * True while a circuit is isolated because the provider refused its OAuth grant (functions/runtime/errors.ts
 * REAUTHORIZATION_NEEDED): only a new refresh token in the secret ends it.
 */
export function isAwaitingReauthorization(circuit: GaugedCircuit): boolean {
  return circuit.state === 'isolated' && circuit.stateReason?.startsWith(REAUTHORIZATION_NEEDED) === true;
}
