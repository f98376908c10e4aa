/**
 * Lambda entry of the circuit prober, invoked every minute by its EventBridge schedule while there is work (the
 * controller enables the schedule, the prober disables it when everything is closed and restored). The logic is in
 * circuit-probing.ts; the environment is described in ops-config.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import { findProviderProbe } from '../workflows/provider-probes.js';
import { SecretsManagerSecretSource } from '../runtime/secrets-manager-secret-source.js';
import { createRuntimeLogger, PowertoolsMetricsSink } from '../runtime/telemetry.js';
import { PowertoolsCircuitGauge } from './circuit-gauge.js';
import { CircuitProber, type ProbeRunReport } from './circuit-probing.js';
import { ProbeRunIncompleteError } from './errors.js';
import { EventBridgeProbeSchedule } from './eventbridge-probe-schedule.js';
import { LambdaEventSourceMappings } from './lambda-event-source-mappings.js';
import { loadAdapters } from './integration-adapters.js';
import { adapterNamesOf, proberConfigFromEnvironment } from './ops-config.js';
import { ssmParameterReader, withOpsCatalog } from './ops-catalog.js';
import { SSMClient } from '@aws-sdk/client-ssm';
import { answerAfterDeploy, isAfterDeployRequest, isReconcileRequest } from './after-deploy.js';
import { createProbeTargets } from './probe-targets.js';

// The bundle carries every adapter of functions/integrations/; only those the configuration names are imported.
// The circuits to watch are SSM parameters (functions/ops/ops-catalog.ts): the catalog outgrows an environment.
const env = await withOpsCatalog(process.env, 'prober', ssmParameterReader(new SSMClient({ endpoint: process.env.SSM_ENDPOINT || undefined })));
const adapters = await loadAdapters(adapterNamesOf(env.INTEGRATIONS));
const findAdapter = (name: string) => adapters.get(name);
const config = proberConfigFromEnvironment(env, findAdapter, findProviderProbe);
const logger = new Logger({ serviceName: 'integration-hub', persistentKeys: { function: 'circuit-prober' } });
const prober = new CircuitProber({
  targets: createProbeTargets(config, {
    adapters: findAdapter,
    providerProbes: findProviderProbe,
    dynamodb: new DynamoDBClient({ endpoint: config.endpoints.dynamodb }),
    secrets: new SecretsManagerSecretSource({
      client: new SecretsManagerClient({ endpoint: config.endpoints.secretsManager }),
      maxAgeSeconds: config.secretMaxAgeSeconds,
    }),
    logger: createRuntimeLogger,
    metrics: (integration) => new PowertoolsMetricsSink(integration),
  }),
  mappings: new LambdaEventSourceMappings(new LambdaClient({ endpoint: config.endpoints.lambda })),
  schedule: new EventBridgeProbeSchedule(new EventBridgeClient({ endpoint: config.endpoints.eventBridge }), config.probeRuleName),
  gauge: new PowertoolsCircuitGauge(),
  logger,
  restoreAfterMs: config.restoreAfterMs,
});

/**
 * The Lambda entry: the schedule's runs, and the stack's after-deploy custom resource (functions/ops/after-deploy.ts),
 * whose run also turns the schedule back on while work is left. Fails the invocation (Errors metric) when an
 * integration could not be checked.
 */
export async function handler(event: unknown, context: Context): Promise<ProbeRunReport | { reason: string }> {
  logger.addContext(context);
  if (isAfterDeployRequest(event)) {
    const answered = await answerAfterDeploy(event, async () => {
      const report = await prober.run(() => context.getRemainingTimeInMillis(), { ensureScheduled: true });
      if (report.integrations.some((integration) => integration.error)) throw new ProbeRunIncompleteError(report);
      return `Reconciled: schedule ${report.schedule}`;
    });
    if (answered.failure) throw answered.failure;
    return { reason: answered.reason };
  }
  const report = await prober.run(() => context.getRemainingTimeInMillis(), { ensureScheduled: isReconcileRequest(event) });
  if (report.integrations.some((integration) => integration.error)) throw new ProbeRunIncompleteError(report);
  return report;
}
