/**
 * What a strategy of the outage benchmark provides: the simulated Lambda instances that handle the source queue,
 * and whatever runs beside them (the hub's circuit controller and prober). The scenario (outage-scenario.ts) owns
 * the queues, the mapping, the producer, the sandbox outage and the accounting, identical for every strategy.
 */
import type { LocalEventSourceMapping } from '../../local/local-event-source.js';
import type { LocalQueue } from '../../local/local-queue.js';
import type { SimulatedInstance } from './outage-instance-pool.js';
import type { SandboxControlClient } from './outage-sandbox-control.js';
import type { OutageSettings } from './outage-settings.js';

/** When the sandbox outage began and ended (the API back), epoch ms. */
export interface OutageWindowTimes {
  readonly outageStartAt: number;
  readonly outageEndAt: number;
}

/** The benchmark's strategies: (a) the hub, (b) per-instance breakers, (c) retries only. */
export type StrategyKey = 'a' | 'b' | 'c';

/** What a strategy is given to build its instances. */
export interface StrategyContext {
  readonly settings: OutageSettings;
  /** The source queue (the hub parks on it). */
  readonly queue: LocalQueue;
  /** The DLQ (the hub sends poison messages to it with the reason). */
  readonly dlq: LocalQueue;
  readonly sandbox: SandboxControlClient;
  /** The payments API's bearer secret key. */
  readonly paymentsSecretKey: string;
  /** dynalite's endpoint (the hub's tables). */
  readonly dynamoEndpoint: string;
  /** Unique per run: table names, business keys. */
  readonly runId: string;
}

/** A strategy set up for one run. */
export interface StrategyRun {
  readonly instances: readonly SimulatedInstance[];
  /** Called with the mapping before it starts (the hub's controller and prober drive it). */
  attach?(mapping: LocalEventSourceMapping): void | Promise<void>;
  /** Stops what runs beside the instances and releases clients; called after the mapping stopped. */
  stop(): Promise<void>;
  /** Strategy-specific figures for the report; times relative to the outage window. */
  details(window: OutageWindowTimes): Record<string, unknown>;
}

/** One strategy of the comparison. */
export interface OutageStrategy {
  readonly key: StrategyKey;
  readonly name: string;
  /** One sentence for the report. */
  readonly description: string;
  prepare(context: StrategyContext): Promise<StrategyRun>;
}
