/**
 * The circuit gauges, published together for an integration's circuit:
 * - `CircuitOpen`: 1 while the circuit is open, half-open or isolated, 0 when it is closed;
 * - `ReauthorizationNeeded`: 1 while it is isolated because the provider refused its OAuth grant (a person must put
 *   a new refresh token in the secret, docs/runbooks/reauthorization-needed.md), else 0 — the zeros only for circuits
 *   whose auth scheme can need it (ports.ts GaugeOptions), the only ones with an alarm on it.
 * Namespace: the stage's (`IntegrationHub/<stage>`, functions/runtime/telemetry.ts), dimensions `service` (integration-hub, added by Powertools like on every runtime
 * metric) and `integration`. The controller publishes them on every transition and the prober on every run, so
 * an alarm on their Maximum sees an outage as long as it lasts.
 */
import { MetricUnit, Metrics } from '@aws-lambda-powertools/metrics';
import { metricsNamespace } from '../runtime/telemetry.js';
import { type CircuitGauge, type GaugedCircuit, type GaugeOptions, isAwaitingReauthorization, isCircuitOpen } from './ports.js';

/** The metrics the ops functions publish. */
export const OpsMetric = {
  CircuitOpen: 'CircuitOpen',
  ReauthorizationNeeded: 'ReauthorizationNeeded',
} as const;

/** One of {@link OpsMetric}. */
export type OpsMetricName = (typeof OpsMetric)[keyof typeof OpsMetric];

/** The gauges published for a circuit: `CircuitOpen` always, `ReauthorizationNeeded` as {@link GaugeOptions} says. */
export type GaugeValues = { readonly [OpsMetric.CircuitOpen]: 0 | 1; readonly [OpsMetric.ReauthorizationNeeded]?: 0 | 1 };

/** The value of every gauge published for `circuit`; one function, so the published and the recorded values cannot differ. */
export function gaugeValues(circuit: GaugedCircuit, options: GaugeOptions = {}): GaugeValues {
  const awaiting = isAwaitingReauthorization(circuit);
  return {
    [OpsMetric.CircuitOpen]: isCircuitOpen(circuit.state) ? 1 : 0,
    ...(awaiting || options.reauthorizable === true ? { [OpsMetric.ReauthorizationNeeded]: awaiting ? 1 : 0 } : {}),
  };
}

/** The gauges as EMF through Powertools: one blob per data point, so each carries its own `integration` dimension. */
export class PowertoolsCircuitGauge implements CircuitGauge {
  readonly #metrics: Metrics;

  constructor(metrics?: Metrics) {
    this.#metrics = metrics ?? new Metrics({ namespace: metricsNamespace(), serviceName: 'integration-hub' });
  }

  record(integration: string, circuit: GaugedCircuit, options?: GaugeOptions): void {
    for (const [name, value] of Object.entries(gaugeValues(circuit, options))) {
      // A single metric is published (and its dimensions cleared) by addMetric: one per gauge.
      const single = this.#metrics.singleMetric();
      single.addDimensions({ integration });
      single.addMetric(name, MetricUnit.Count, value);
    }
  }
}

/** One recorded data point of every gauge published. */
export type GaugePoint = { readonly integration: string } & GaugeValues;

/** Keeps every data point in memory (tests). */
export class RecordingCircuitGauge implements CircuitGauge {
  readonly points: GaugePoint[] = [];

  record(integration: string, circuit: GaugedCircuit, options?: GaugeOptions): void {
    this.points.push({ integration, ...gaugeValues(circuit, options) });
  }

  /** The last value of `metric` published for `integration`. */
  last(integration: string, metric: OpsMetricName = OpsMetric.CircuitOpen): number | undefined {
    return this.points.filter((p) => p.integration === integration && metric in p).at(-1)?.[metric];
  }
}
