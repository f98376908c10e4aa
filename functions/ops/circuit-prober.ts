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
import { RUNTIME_DYNAMODB_CLIENT_CONFIG } from '../runtime/dynamodb-items.js';
import { SecretsManagerSecretSource } from '../runtime/secrets-manager-secret-source.js';
import { createRuntimeLogger, PowertoolsMetricsSink } from '../runtime/telemetry.js';
import { PowertoolsCircuitGauge } from './circuit-gauge.js';
import { CircuitProber, type ProbeRunReport } from './circuit-probing.js';
import { ProbeRunIncompleteError } from './errors.js';
import { EventBridgeProbeSchedule } from './eventbridge-probe-schedule.js';
import { LambdaEventSourceMappings } from './lambda-event-source-mappings.js';
import { loadAdapters } from './integration-adapters.js';
import { adapterNamesOf, proberConfigFromEnvironment } from './ops-config.js';
import { reloadingOpsCatalog, ssmParameterReader } from './ops-catalog.js';
import { SSMClient } from '@aws-sdk/client-ssm';
import { answerAfterDeploy, isAfterDeployRequest, isReconcileRequest } from './after-deploy.js';
import { createProbeTargets } from './probe-targets.js';

const logger = new Logger({ serviceName: 'integration-hub', persistentKeys: { function: 'circuit-prober' } });

/**
 * The prober on the circuits the SSM parameters name (functions/ops/ops-catalog.ts: the catalog outgrows an
 * environment), rebuilt when they change. The bundle carries every adapter of functions/integrations/; only those the
 * configuration names are imported.
 */
async function buildProber(env: Record<string, string | undefined>): Promise<CircuitProber> {
  const adapters = await loadAdapters(adapterNamesOf(env.INTEGRATIONS));
  const findAdapter = (name: string) => adapters.get(name);
  const config = proberConfigFromEnvironment(env, findAdapter, findProviderProbe);
  return new CircuitProber({
    targets: createProbeTargets(config, {
    adapters: findAdapter,
    providerProbes: findProviderProbe,
    dynamodb: new DynamoDBClient({ ...RUNTIME_DYNAMODB_CLIENT_CONFIG, endpoint: config.endpoints.dynamodb }),
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
}

const probers = reloadingOpsCatalog({
  env: process.env,
  reader: 'prober',
  readParameters: ssmParameterReader(new SSMClient({ endpoint: process.env.SSM_ENDPOINT || undefined })),
  build: buildProber,
});
// An invalid catalog fails the init, with every problem listed.
await probers.current();

/**
 * The Lambda entry: the schedule's runs, and the stack's after-deploy custom resource (functions/ops/after-deploy.ts),
 * whose run also turns the schedule back on while work is left. Fails the invocation (Errors metric) when an
 * integration could not be checked.
 */
export async function handler(event: unknown, context: Context): Promise<ProbeRunReport | { reason: string }> {
  logger.addContext(context);
  if (isAfterDeployRequest(event)) {
    const answered = await answerAfterDeploy(event, async () => {
      // The deploy that sent this may have just changed the parameters: read them now.
      const prober = await probers.current(true);
      const report = await prober.run(() => context.getRemainingTimeInMillis(), { ensureScheduled: true });
      if (report.integrations.some((integration) => integration.error)) throw new ProbeRunIncompleteError(report);
      return `Reconciled: schedule ${report.schedule}`;
    });
    if (answered.failure) throw answered.failure;
    return { reason: answered.reason };
  }
  const reconcile = isReconcileRequest(event);
  const prober = await probers.current(reconcile);
  const report = await prober.run(() => context.getRemainingTimeInMillis(), { ensureScheduled: reconcile });
  if (report.integrations.some((integration) => integration.error)) throw new ProbeRunIncompleteError(report);
  return report;
}
