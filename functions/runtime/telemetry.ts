import { Logger } from '@aws-lambda-powertools/logger';
import type { LogAttributes, LogItemExtraInput, LogItemMessage } from '@aws-lambda-powertools/logger/types';
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';

/** Every metric the runtime emits (namespace `IntegrationHub`, dimension `integration`). */
export const RuntimeMetric = {
  CallSucceeded: 'CallSucceeded',
  CallFailed: 'CallFailed',
  CallLatency: 'CallLatency',
  RetryAttempts: 'RetryAttempts',
  CircuitOpened: 'CircuitOpened',
  CircuitRejected: 'CircuitRejected',
  Throttled: 'Throttled',
  IdempotentReplay: 'IdempotentReplay',
  PoisonMessage: 'PoisonMessage',
  StaleSkipped: 'StaleSkipped',
  BreakerStoreFallback: 'BreakerStoreFallback',
  /** A message that only waited (circuit open, throttled) sent back to its queue with a fresh receive count. */
  HandedBack: 'HandedBack',
  /** Inbound webhooks (functions/webhooks/webhook-ingress.ts): received, refused (by reason), replays, forwarded. */
  WebhookReceived: 'WebhookReceived',
  WebhookRejected: 'WebhookRejected',
  /** The same rejections with their reason as the `errorClass` dimension (the dashboard's breakdown). */
  WebhookRejectedByReason: 'WebhookRejectedByReason',
  WebhookDuplicate: 'WebhookDuplicate',
  WebhookForwarded: 'WebhookForwarded',
  WebhookForwardFailed: 'WebhookForwardFailed',
  /** Incremental syncs (functions/workflows/contact-sync.ts): a run that found another run holding the lease and ended at once. */
  SyncRunSkipped: 'SyncRunSkipped',
  /** A run that did one more pass because a skipped run asked for it while this one held the lease. */
  SyncPassRepeated: 'SyncPassRepeated',
} as const;

export type RuntimeMetricName = (typeof RuntimeMetric)[keyof typeof RuntimeMetric];

/** Where the runtime reports its counters; Powertools EMF in Lambda, a recorder in tests and benchmarks. */
export interface MetricsSink {
  /** Adds one data point. `errorClass` becomes a second dimension (CallFailed by class). */
  count(name: RuntimeMetricName, value?: number, errorClass?: string): void;
  /** Adds a latency data point in milliseconds. */
  latency(name: RuntimeMetricName, milliseconds: number): void;
  /** Flushes buffered metrics; called once at the end of each batch. */
  flush(): void;
}

/** The namespace of every metric of an unstaged hub; dashboards and alarms (lib/) use the same string. */
export const METRICS_NAMESPACE = 'IntegrationHub';

/**
 * The namespace this function publishes to: the stack sets POWERTOOLS_METRICS_NAMESPACE to its stage's
 * (`IntegrationHub/<stage>`, lib/hub-naming.ts), so two stages never feed each other's alarms.
 */
export function metricsNamespace(env: Record<string, string | undefined> = process.env): string {
  return env.POWERTOOLS_METRICS_NAMESPACE?.trim() || METRICS_NAMESPACE;
}

/** EMF metrics through Powertools, with the `integration` dimension on every data point. */
export class PowertoolsMetricsSink implements MetricsSink {
  readonly #metrics: Metrics;

  constructor(integration: string, metrics?: Metrics) {
    this.#metrics =
      metrics ??
      new Metrics({
        namespace: metricsNamespace(),
        serviceName: 'integration-hub',
        defaultDimensions: { integration },
      });
  }

  count(name: RuntimeMetricName, value = 1, errorClass?: string): void {
    if (errorClass === undefined) {
      this.#metrics.addMetric(name, MetricUnit.Count, value);
      return;
    }
    // A per-class dimension must not leak onto the batch's other metrics, so it goes out as its own EMF blob.
    const single = this.#metrics.singleMetric();
    // The single metric inherits the default dimensions (integration): adding it again would warn on every call.
    single.addDimension('errorClass', errorClass);
    single.addMetric(name, MetricUnit.Count, value);
  }

  latency(name: RuntimeMetricName, milliseconds: number): void {
    this.#metrics.addMetric(name, MetricUnit.Milliseconds, milliseconds);
  }

  flush(): void {
    // A batch whose metrics all went out as single metrics (error classes) has nothing stored: publishing would only warn.
    if (this.#metrics.hasStoredMetrics()) this.#metrics.publishStoredMetrics();
  }
}

/** Keeps every data point in memory: used by tests, the local hub's summary and the benchmarks. */
export class RecordingMetricsSink implements MetricsSink {
  readonly counts = new Map<string, number>();
  readonly latencies = new Map<string, number[]>();
  flushes = 0;

  count(name: RuntimeMetricName, value = 1, errorClass?: string): void {
    for (const key of errorClass === undefined ? [name] : [name, `${name}:${errorClass}`]) {
      this.counts.set(key, (this.counts.get(key) ?? 0) + value);
    }
  }

  latency(name: RuntimeMetricName, milliseconds: number): void {
    const values = this.latencies.get(name) ?? [];
    values.push(milliseconds);
    this.latencies.set(name, values);
  }

  flush(): void {
    this.flushes += 1;
  }

  /** The total of a metric, or of one error class of it (`CallFailed:Timeout`). */
  total(key: string): number {
    return this.counts.get(key) ?? 0;
  }
}

/** The runtime's root logger: JSON lines, service `integration-hub`, level from POWERTOOLS_LOG_LEVEL (default INFO). */
export function createRuntimeLogger(integration: string): Logger {
  return new Logger({ serviceName: 'integration-hub', persistentKeys: { integration } });
}

/**
 * What code handling one record (or one probe) logs through: the runtime logger's levels with the record's keys
 * attached to every line. An adapter's `send` gets one (integration-definition.ts); the root `Logger` satisfies it too.
 */
export interface RecordLogger {
  debug(input: LogItemMessage, ...extraInput: LogItemExtraInput): void;
  info(input: LogItemMessage, ...extraInput: LogItemExtraInput): void;
  warn(input: LogItemMessage, ...extraInput: LogItemExtraInput): void;
  error(input: LogItemMessage, ...extraInput: LogItemExtraInput): void;
  /** Adds keys to every later line of this record only. */
  appendKeys(keys: LogAttributes): void;
}

/**
 * A logger for one record: writes through `root` with `keys` merged under each line's own attributes (the line's
 * win on a clash, as Powertools has them over persistent keys). Not `root.createChild()`: a child is a new
 * Logger — a new Console and the environment read again — and costs more CPU than the rest of a record's
 * bookkeeping (bench/runtime.ts's profile); keys cannot go on the root either, since a batch's records run
 * concurrently.
 */
export function recordLogger(root: Logger, keys: LogAttributes): RecordLogger {
  let attached: LogAttributes = { ...keys };
  const withKeys = (input: LogItemMessage): LogItemMessage => (typeof input === 'string' ? { ...attached, message: input } : { ...attached, ...input });
  return {
    debug: (input, ...extraInput) => root.debug(withKeys(input), ...extraInput),
    info: (input, ...extraInput) => root.info(withKeys(input), ...extraInput),
    warn: (input, ...extraInput) => root.warn(withKeys(input), ...extraInput),
    error: (input, ...extraInput) => root.error(withKeys(input), ...extraInput),
    appendKeys: (more) => {
      attached = { ...attached, ...more };
    },
  };
}
