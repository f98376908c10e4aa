/**
 * The `CircuitOpen` metric: 1 while an integration's circuit is open, half-open or isolated, 0 when it is closed.
 * Namespace: the stage's (`IntegrationHub/<stage>`, functions/runtime/telemetry.ts), dimensions `service` (integration-hub, added by Powertools like on every runtime
 * metric) and `integration`. The controller publishes it on every transition and the prober on every run, so
 * an alarm on its Maximum sees an outage as long as it lasts.
 */
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import type { CircuitState } from '../runtime/circuit-store.js';
import { metricsNamespace } from '../runtime/telemetry.js';
import { type CircuitGauge, isCircuitOpen } from './ports.js';

/** The metrics the ops functions publish. */
export const OpsMetric = {
  CircuitOpen: 'CircuitOpen',
} as const;

/** `CircuitOpen` as EMF through Powertools: one blob per data point, so each carries its own `integration` dimension. */
export class PowertoolsCircuitGauge implements CircuitGauge {
  readonly #metrics: Metrics;

  constructor(metrics?: Metrics) {
    this.#metrics = metrics ?? new Metrics({ namespace: metricsNamespace(), serviceName: 'integration-hub' });
  }

  record(integration: string, state: CircuitState): void {
    const single = this.#metrics.singleMetric();
    single.addDimensions({ integration });
    single.addMetric(OpsMetric.CircuitOpen, MetricUnit.Count, isCircuitOpen(state) ? 1 : 0);
  }
}

/** Keeps every data point in memory (tests). */
export class RecordingCircuitGauge implements CircuitGauge {
  readonly points: { integration: string; value: number }[] = [];

  record(integration: string, state: CircuitState): void {
    this.points.push({ integration, value: isCircuitOpen(state) ? 1 : 0 });
  }

  /** The last value recorded for `integration`. */
  last(integration: string): number | undefined {
    return this.points.filter((p) => p.integration === integration).at(-1)?.value;
  }
}
