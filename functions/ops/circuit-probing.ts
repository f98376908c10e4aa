/**
 * The circuit prober's logic, run every minute while its schedule is enabled (the controller enables it on every
 * circuit transition). For each integration, from a fresh read of its circuit and of its event source mapping:
 *
 *   open / half-open, break over → the adapter's probe() under the half-open lease (IntegrationRuntime.runProbe):
 *                                  a success closes the circuit (the controller then resumes the mapping at 2),
 *                                  a failure re-opens it for a longer break
 *   open / half-open / isolated  → the mapping is disabled if it is not (the controller missed it)
 *   closed, mapping disabled     → enabled at MaximumConcurrency 2 (the controller missed it)
 *   closed, mapping enabled below the catalog's maximum, closed for `restoreAfterMs` → the catalog's maximum
 *
 * A standalone workflow provider (no mapping) gets the probe only: its circuit is settled once closed.
 *
 * `CircuitOpen` and `ReauthorizationNeeded` (circuit-gauge.ts) are published for every circuit on every run. When
 * every circuit is closed and every mapping is back at its maximum, the prober disables its own schedule, then reads
 * the circuits once more: a circuit that changed meanwhile may have had its controller's EnableRule overtaken by that
 * DisableRule, so the schedule is enabled again (the next run settles it).
 */
import type { Logger } from '@aws-lambda-powertools/logger';
import { systemClock } from '../runtime/clock.js';
import type { CircuitStatus } from '../runtime/circuit-breaker.js';
import type { CircuitState } from '../runtime/circuit-store.js';
import type { ProbeOutcome } from '../runtime/integration-runtime.js';
import type { Clock } from '../runtime/ports.js';
import { canRequireReauthorization } from '../runtime/auth-config.js';
import { EventSourceMappingBusyError } from './errors.js';
import type { ProbedIntegration, ProbedProvider } from './ops-config.js';
import {
  type CircuitGauge,
  type EventSourceMappings,
  isAwaitingReauthorization,
  isCircuitOpen,
  isPaused,
  type MappingChange,
  type MappingState,
  type ProbeSchedule,
  RESUME_MAXIMUM_CONCURRENCY,
} from './ports.js';

/** One integration (or standalone workflow provider) as the prober sees it: its configuration, its circuit and its probe. */
export interface ProbeTarget {
  /** An integration, with its event source mapping, or a standalone workflow provider, without one. */
  readonly integration: ProbedIntegration | ProbedProvider;
  /** A fresh (consistent) read of the circuit. */
  status(): Promise<Pick<CircuitStatus, 'state' | 'effectiveState' | 'version' | 'stateSince' | 'stateReason'>>;
  /**
   * For a circuit isolated with "re-authorization needed" (an OAuth refresh token the provider refused): refreshes if
   * the secret holds a new refresh token, and then closes the circuit ('reauthorized'); 'waiting' while it holds the
   * refused one. Undefined for an auth scheme without refresh tokens.
   */
  reauthorize?(): Promise<ReauthorizationOutcome>;
  /** Runs the adapter's probe if one is due (the runtime's `runProbe`). */
  probe(remainingTimeMs: () => number): Promise<ProbeOutcome>;
  /** Publishes what the probe's calls recorded (CallFailed, CallLatency, CircuitOpened...). */
  flushMetrics?(): void;
}

/** Options of {@link CircuitProber}. */
export interface CircuitProberOptions {
  readonly targets: readonly ProbeTarget[];
  readonly mappings: EventSourceMappings;
  readonly schedule: ProbeSchedule;
  readonly gauge: CircuitGauge;
  readonly logger: Logger;
  /** How long a circuit must have been closed before its mapping's concurrency is restored. */
  readonly restoreAfterMs: number;
  /** @default systemClock */
  readonly clock?: Clock;
}

/** What a re-authorization attempt found (see {@link ProbeTarget.reauthorize}). */
export type ReauthorizationOutcome = 'reauthorized' | 'waiting' | 'refused';

/** What was done to the mapping of an integration in a run. */
export type MappingAction = 'paused' | 'resumed' | 'restored';

/** One integration's part of a run. */
export interface IntegrationProbeReport {
  readonly integration: string;
  /** The circuit's stored state at the start of the run (undefined when it could not be read). */
  readonly circuit?: CircuitState;
  readonly mapping?: MappingState;
  readonly action?: MappingAction;
  /** Set when the circuit was open or half-open with its break over. */
  readonly probe?: ProbeOutcome;
  /** Set when the circuit was isolated for re-authorization. */
  readonly reauthorization?: ReauthorizationOutcome;
  /** True when nothing is left to do for it: circuit closed and mapping enabled at its maximum. */
  readonly settled: boolean;
  /** Why this integration could not be handled (the run goes on with the others). */
  readonly error?: string;
}

/** What a run did. */
export interface ProbeRunReport {
  readonly integrations: readonly IntegrationProbeReport[];
  /**
   * `disabled`: everything settled, the schedule is off; `reenabled`: a circuit changed right after disabling it;
   * `enabled`: work is left and the run was asked to make sure the schedule is on (after a deploy).
   */
  readonly schedule: 'kept' | 'disabled' | 'reenabled' | 'enabled';
}

/** Probes open circuits and resumes / restores event source mappings; see the file comment. */
export class CircuitProber {
  readonly #options: CircuitProberOptions;
  readonly #clock: Clock;

  constructor(options: CircuitProberOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * One run. Never throws for one integration's failure: it is in the report (and keeps the schedule on). With
   * `ensureScheduled` (the run a deploy triggers: CloudFormation may have reset the schedule to disabled and
   * re-enabled paused mappings) an unsettled run also turns the schedule on.
   */
  async run(remainingTimeMs: () => number = () => 60_000, options: { ensureScheduled?: boolean } = {}): Promise<ProbeRunReport> {
    const { targets, schedule, logger } = this.#options;
    const versions = new Map<string, number>();
    const reports = await Promise.all(
      targets.map(async (target) => {
        try {
          return await this.#visit(target, remainingTimeMs, versions);
        } catch (error) {
          logger.error('Could not check the integration', { integration: target.integration.name, error });
          return { integration: target.integration.name, settled: false, error: error instanceof Error ? error.message : String(error) };
        } finally {
          target.flushMetrics?.();
        }
      }),
    );

    let scheduleOutcome: ProbeRunReport['schedule'] = 'kept';
    if (reports.every((report) => report.settled)) {
      await schedule.disable();
      scheduleOutcome = 'disabled';
      if (await this.#changedSince(versions)) {
        await schedule.enable();
        scheduleOutcome = 'reenabled';
      }
    } else if (options.ensureScheduled) {
      await schedule.enable();
      scheduleOutcome = 'enabled';
    }
    logger.info('Probe run finished', { integrations: reports, schedule: scheduleOutcome });
    return { integrations: reports, schedule: scheduleOutcome };
  }

  async #visit(target: ProbeTarget, remainingTimeMs: () => number, versions: Map<string, number>): Promise<IntegrationProbeReport> {
    const { mappings, gauge, logger } = this.#options;
    const circuit = await target.status();
    versions.set(target.integration.name, circuit.version);
    gauge.record(target.integration.name, circuit, { reauthorizable: canRequireReauthorization(target.integration.auth.scheme) });
    if (!isIntegration(target.integration)) {
      const base = { integration: target.integration.name, circuit: circuit.state };
      if (!isCircuitOpen(circuit.state)) return { ...base, settled: true };
      const probe = await this.#probeIfDue(target, circuit, remainingTimeMs);
      const reauthorization = await this.#reauthorizeIfNeeded(target, circuit);
      return { ...base, ...(probe ? { probe } : {}), ...(reauthorization ? { reauthorization } : {}), settled: false };
    }
    const integration = target.integration;
    const mapping = await mappings.get(integration.mappingUuid);
    const base = { integration: integration.name, circuit: circuit.state, mapping: mapping.state };

    if (isCircuitOpen(circuit.state)) {
      let action: MappingAction | undefined;
      // The controller should have done this on the transition; messages must not be received while open.
      if (!isPaused(mapping.state) && (await this.#update(integration, { enabled: false }))) {
        action = 'paused';
        logger.warn('Circuit not closed but its mapping was polling: disabled it', base);
      }
      const probe = await this.#probeIfDue(target, circuit, remainingTimeMs);
      const reauthorization = await this.#reauthorizeIfNeeded(target, circuit);
      return { ...base, ...(action ? { action } : {}), ...(probe ? { probe } : {}), ...(reauthorization ? { reauthorization } : {}), settled: false };
    }

    if (mapping.state === 'disabled') {
      if (!(await this.#update(integration, { enabled: true, maximumConcurrency: RESUME_MAXIMUM_CONCURRENCY }))) return { ...base, settled: false };
      logger.warn('Circuit closed but its mapping was disabled: enabled it at low concurrency', base);
      return { ...base, action: 'resumed', settled: false };
    }
    // Lambda is still moving it (enabling, updating, ...): look again next run.
    if (mapping.state !== 'enabled') return { ...base, settled: false };
    const reduced = mapping.maximumConcurrency !== undefined && mapping.maximumConcurrency < integration.maxConcurrency;
    if (!reduced) return { ...base, settled: true };
    const closedForMs = this.#clock.now() - (circuit.stateSince ?? 0);
    if (closedForMs < this.#options.restoreAfterMs) return { ...base, settled: false };
    // Only the concurrency is sent: had the circuit re-opened meanwhile, this must not re-enable a paused mapping.
    if (!(await this.#update(integration, { maximumConcurrency: integration.maxConcurrency }))) return { ...base, settled: false };
    logger.info('Circuit stayed closed: restored the mapping to its maximum concurrency', { ...base, maximumConcurrency: integration.maxConcurrency });
    return { ...base, action: 'restored', settled: true };
  }

  /** Probes when the break is over. An isolated circuit is an operator's decision: only a reset ends it, never a probe. */
  async #probeIfDue(target: ProbeTarget, circuit: Pick<CircuitStatus, 'state' | 'effectiveState'>, remainingTimeMs: () => number): Promise<ProbeOutcome | undefined> {
    const due = circuit.state !== 'isolated' && circuit.effectiveState === 'half_open';
    const probe = due ? await target.probe(remainingTimeMs) : undefined;
    if (probe) this.#options.logger.info('Probed the provider', { integration: target.integration.name, circuit: circuit.state, probe });
    return probe;
  }

  /**
   * The one isolation that ends by itself: "re-authorization needed" (errors.ts REAUTHORIZATION_NEEDED) is lifted
   * once a refresh with the secret's new refresh token succeeds (the controller then resumes the mapping).
   */
  async #reauthorizeIfNeeded(target: ProbeTarget, circuit: Pick<CircuitStatus, 'state' | 'stateReason'>): Promise<ReauthorizationOutcome | undefined> {
    if (!isAwaitingReauthorization(circuit) || !target.reauthorize) return undefined;
    const outcome = await target.reauthorize();
    const log = outcome === 'reauthorized' ? 'info' : outcome === 'refused' ? 'warn' : 'debug';
    this.#options.logger[log]('Re-authorization', { integration: target.integration.name, outcome });
    return outcome;
  }

  /** Applies a mapping change; false when Lambda is still applying an earlier one (the next run tries again). */
  async #update(integration: ProbedIntegration, change: MappingChange): Promise<boolean> {
    try {
      await this.#options.mappings.update(integration.mappingUuid, change);
      return true;
    } catch (error) {
      if (!(error instanceof EventSourceMappingBusyError)) throw error;
      this.#options.logger.info('Event source mapping busy; leaving it to the next run', { integration: integration.name, change });
      return false;
    }
  }

  /** True when any circuit was written since it was read in this run (or cannot be read now). */
  async #changedSince(versions: ReadonlyMap<string, number>): Promise<boolean> {
    const checks = await Promise.all(
      this.#options.targets.map(async (target) => {
        try {
          const circuit = await target.status();
          return circuit.version !== versions.get(target.integration.name) || isCircuitOpen(circuit.state);
        } catch (error) {
          this.#options.logger.warn('Could not re-read the circuit after disabling the schedule', { integration: target.integration.name, error });
          return true;
        }
      }),
    );
    return checks.some(Boolean);
  }
}

function isIntegration(target: ProbedIntegration | ProbedProvider): target is ProbedIntegration {
  return 'mappingUuid' in target;
}
