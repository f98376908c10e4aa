import { Metrics } from '@aws-lambda-powertools/metrics';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { OpsMetric, PowertoolsCircuitGauge } from '../../../functions/ops/circuit-gauge.js';
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

describe('CircuitOpen gauge', () => {
  it('publishes CircuitOpen 1 for a circuit that is not closed and 0 for a closed one, per integration, as EMF', () => {
    vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
    const gauge = new PowertoolsCircuitGauge(new Metrics({ namespace: METRICS_NAMESPACE, serviceName: 'integration-hub' }));

    const blobs = emitted(() => {
      gauge.record('crm', 'half_open');
      gauge.record('payments', 'closed');
      gauge.record('crm', 'isolated');
    });

    expect(blobs).toHaveLength(3);
    expect(blobs.map((b) => [b.integration, b[OpsMetric.CircuitOpen]])).toEqual([
      ['crm', 1],
      ['payments', 0],
      ['crm', 1],
    ]);
    const [first] = blobs as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] }; service: string }[];
    expect(first?._aws.CloudWatchMetrics[0]?.Namespace).toBe('IntegrationHub');
    expect(first?._aws.CloudWatchMetrics[0]?.Dimensions[0]?.sort()).toEqual(['integration', 'service']);
    expect(first?.service).toBe('integration-hub');
  });
});
