import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OpsMetric, PowertoolsCircuitGauge, RecordingCircuitGauge } from '../../../functions/ops/circuit-gauge.js';
import { REAUTHORIZATION_NEEDED } from '../../../functions/runtime/errors.js';
import { METRICS_NAMESPACE } from '../../../functions/runtime/telemetry.js';

afterEach(() => {
  vi.unstubAllEnvs();
  vi.restoreAllMocks();
});

/** The EMF blobs written to stdout while `fn` runs. */
function emitted(fn: () => void): Record<string, unknown>[] {
  const lines: string[] = [];
  vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
    lines.push(String(chunk));
    return true;
  });
  fn();
  vi.restoreAllMocks();
  return lines.flatMap((line) => line.split('\n')).filter((line) => line.includes('_aws')).map((line) => JSON.parse(line));
}

type Blob = Record<string, unknown> & { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][]; Metrics: { Name: string }[] }[] }; service: string };

describe('circuit gauges', () => {
  it('publishes CircuitOpen 1 for a circuit that is not closed and 0 for a closed one, per integration, as EMF', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const gauge = new PowertoolsCircuitGauge(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'integration-hub' }));

    const blobs = emitted(() => {
      gauge.record('crm', { state: 'half_open' });
      gauge.record('payments', { state: 'closed' });
      gauge.record('crm', { state: 'isolated', stateReason: 'provider maintenance' });
    }) as Blob[];

    const circuitOpen = blobs.filter((b) => OpsMetric.CircuitOpen in b);
    expect(circuitOpen.map((b) => [b.integration, b[OpsMetric.CircuitOpen]])).toEqual([
      ['crm', 1],
      ['payments', 0],
      ['crm', 1],
    ]);
    const [first] = circuitOpen;
    expect(first?._aws.CloudWatchMetrics[0]?.Namespace).toBe('IntegrationHub');
    expect(first?._aws.CloudWatchMetrics[0]?.Dimensions[0]?.sort()).toEqual(['integration', 'service']);
    expect(first?.service).toBe('integration-hub');
  });

  it('publishes ReauthorizationNeeded 1 only while the circuit is isolated for re-authorization, next to CircuitOpen with the same dimensions', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const gauge = new PowertoolsCircuitGauge(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'integration-hub' }));
    const refused = `${REAUTHORIZATION_NEEDED}: Token endpoint crm.example.com/oauth/token rejected the grant: 400 invalid_grant`;
    const reauthorizable = { reauthorizable: true };

    const blobs = emitted(() => {
      gauge.record('crm', { state: 'isolated', stateReason: refused }, reauthorizable);
      gauge.record('payments', { state: 'isolated', stateReason: 'provider maintenance' }, reauthorizable);
      // Only an isolation ends by a new refresh token; the reason alone on another state is not one.
      gauge.record('shipping', { state: 'open', stateReason: refused }, reauthorizable);
      gauge.record('crm', { state: 'closed', stateReason: refused }, reauthorizable);
    }) as Blob[];

    // One blob per gauge and record, each with its own integration dimension.
    expect(blobs).toHaveLength(8);
    const reauthorization = blobs.filter((b) => OpsMetric.ReauthorizationNeeded in b);
    expect(reauthorization.map((b) => [b.integration, b[OpsMetric.ReauthorizationNeeded]])).toEqual([
      ['crm', 1],
      ['payments', 0],
      ['shipping', 0],
      ['crm', 0],
    ]);
    for (const blob of reauthorization) {
      const [directive] = blob._aws.CloudWatchMetrics;
      expect(directive?.Namespace).toBe('IntegrationHub');
      expect(directive?.Metrics.map((m) => m.Name)).toEqual(['ReauthorizationNeeded']);
      expect(directive?.Dimensions[0]?.sort()).toEqual(['integration', 'service']);
      expect(blob.service).toBe('integration-hub');
    }
  });

  it('publishes no ReauthorizationNeeded zeros for a circuit whose scheme cannot need it (no alarm reads them), a 1 whoever records it', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const gauge = new PowertoolsCircuitGauge(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'integration-hub' }));

    const blobs = emitted(() => {
      gauge.record('payments', { state: 'open' });
      gauge.record('payments', { state: 'closed' }, { reauthorizable: false });
      // The controller does not know the scheme: the isolation that starts a wait is published all the same.
      gauge.record('crm', { state: 'isolated', stateReason: `${REAUTHORIZATION_NEEDED}: invalid_grant` });
    }) as Blob[];

    expect(blobs.map((b) => Object.keys(b).filter((key) => key in OpsMetric))).toEqual([['CircuitOpen'], ['CircuitOpen'], ['CircuitOpen'], ['ReauthorizationNeeded']]);
  });

  it('records the same values in memory as it publishes', () => {
    const gauge = new RecordingCircuitGauge();
    gauge.record('crm', { state: 'isolated', stateReason: `${REAUTHORIZATION_NEEDED}: 401 right after a fresh access token` });
    gauge.record('payments', { state: 'half_open' });
    gauge.record('crm', { state: 'open' });

    expect(gauge.points).toEqual([
      { integration: 'crm', CircuitOpen: 1, ReauthorizationNeeded: 1 },
      { integration: 'payments', CircuitOpen: 1 },
      { integration: 'crm', CircuitOpen: 1 },
    ]);
    expect(gauge.last('crm', OpsMetric.ReauthorizationNeeded)).toBe(1);
    expect(gauge.last('payments', OpsMetric.ReauthorizationNeeded)).toBeUndefined();
    expect(gauge.last('crm')).toBe(1);
  });
});
