/**
 * Strategy (a): the hub. Every instance is the real payments runtime built by `createLocalIntegration` (the same
 * `buildRuntimeDependencies` as a deployed function) with its own caches and DynamoDB client, sharing the circuits,
 * ledger/idempotency tables on dynalite; open-circuit messages are parked (ChangeMessageVisibility on the source
 * queue) and poison goes to the DLQ with its reason. Beside them run the real ops: the circuit controller fed by
 * the circuits table (scanned, dynalite has no streams) pauses and resumes the mapping, and the real prober runs on
 * its (compressed) schedule while the schedule is enabled, probing through `createProbeTargets`.
 */
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { Logger } from '@aws-lambda-powertools/logger';
import { payments } from '../../functions/integrations/payments.js';
import { CircuitController } from '../../functions/ops/circuit-control.js';
import { CircuitProber } from '../../functions/ops/circuit-probing.js';
import type { ProberConfig } from '../../functions/ops/ops-config.js';
import type { MappingChange } from '../../functions/ops/ports.js';
import { createProbeTargets } from '../../functions/ops/probe-targets.js';
import { DynamoDbCircuitStore } from '../../functions/runtime/dynamodb-circuit-store.js';
import { SecretsManagerSecretSource } from '../../functions/runtime/secrets-manager-secret-source.js';
import { RecordingMetricsSink, RuntimeMetric } from '../../functions/runtime/telemetry.js';
import { CircuitTableStream, LocalEventSourceMappings, LocalProbeSchedule, RecordingCircuitGaugeTimeline } from '../../local/local-circuit-ops.js';
import { localDynamoClient } from '../../local/local-dynamo.js';
import type { LocalEventSourceMapping } from '../../local/local-event-source.js';
import { createHubTables, createLocalIntegration } from '../../local/local-integration.js';
import { LocalDeadLetterQueue, LocalMessageParker } from '../../local/local-queue.js';
import { createLocalSecretsManager } from '../../local/local-secrets-manager.js';
import type { SimulatedInstance } from './outage-instance-pool.js';
import { PREWARM_PREFIX } from './outage-messages.js';
import type { OutageStrategy } from './outage-strategy.js';
import { catalogIntegration } from '../../lib/catalog.js';

const SECRET_NAME = 'integration-hub/payments';

/** The mappings port, remembering when each update was applied. */
class TimedEventSourceMappings extends LocalEventSourceMappings {
  readonly timeline: { at: number; change: MappingChange }[] = [];

  override async update(uuid: string, change: MappingChange): Promise<void> {
    await super.update(uuid, change);
    this.timeline.push({ at: Date.now(), change });
  }
}

export const hub: OutageStrategy = {
  key: 'a',
  name: 'hub (shared breaker + parking + mapping pause)',
  description:
    'the real payments runtime per instance (shared DynamoDB breaker, parking, DLQ with reason), the real circuit controller pausing/resuming the mapping and the real prober on its schedule',
  async prepare({ settings, queue, dlq, sandbox, paymentsSecretKey, dynamoEndpoint, runId }) {
    const silent = new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' });
    const outcomes: Record<string, number> = {};
    const opsClient = localDynamoClient(dynamoEndpoint);
    const tables = { ledger: `ledger-${runId}`, circuits: `circuits-${runId}` };
    await createHubTables({ client: opsClient }, tables);
    // One in-memory Secrets Manager; every instance reads it through its own cached secret source.
    const secretsManager = createLocalSecretsManager({ [SECRET_NAME]: { token: paymentsSecretKey } });
    const parker = new LocalMessageParker(queue);
    const deadLetters = new LocalDeadLetterQueue(dlq, 'payments');
    const clients: DynamoDBClient[] = [opsClient];
    const instanceMetrics: RecordingMetricsSink[] = [];

    const instances: SimulatedInstance[] = Array.from({ length: settings.instances }, () => {
      const client = localDynamoClient(dynamoEndpoint);
      clients.push(client);
      const metrics = new RecordingMetricsSink();
      instanceMetrics.push(metrics);
      const local = createLocalIntegration(payments, {
        name: 'payments',
        auth: catalogIntegration('payments').auth,
        dynamo: { client },
        tables,
        baseUrl: sandbox.paymentsUrl,
        secrets: new SecretsManagerSecretSource({ client: secretsManager.client }),
        secretName: SECRET_NAME,
        settings: {
          http: settings.http,
          parkJitterSeconds: settings.parkJitterSeconds,
          retryBaseDelaySeconds: settings.retryBaseDelaySeconds,
          retryMaxDelaySeconds: settings.retryMaxDelaySeconds,
        },
        circuit: settings.circuit,
        deadLetters,
        parker,
        metrics,
        logger: silent,
      });
      return {
        handle: (event, context) =>
          local.runtime.handleBatch(event, context, (record, outcome) => {
            if (record.messageAttributes.correlationId?.stringValue?.startsWith(`pay-${PREWARM_PREFIX}`)) return;
            outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
          }),
      };
    });

    const proberMetrics = new RecordingMetricsSink();
    const probes: { at: number; outcome: string }[] = [];
    let mappings: TimedEventSourceMappings | undefined;
    let stream: CircuitTableStream | undefined;
    let streamErrors = 0;
    let proberErrors = 0;
    let proberRuns = 0;
    let stopped = false;
    let proberLoop: Promise<void> | undefined;

    return {
      instances,
      attach(mapping: LocalEventSourceMapping) {
        const mappingUuid = randomUUID();
        mappings = new TimedEventSourceMappings(new Map([[mappingUuid, mapping]]));
        const schedule = new LocalProbeSchedule('disabled');
        const gauge = new RecordingCircuitGaugeTimeline();
        const controller = new CircuitController({
          integrations: [{ name: 'payments', mappingUuid }],
          mappings,
          schedule,
          circuits: new DynamoDbCircuitStore({ tableName: tables.circuits, client: opsClient }),
          gauge,
          logger: silent,
        });
        stream = new CircuitTableStream({
          dynamodb: opsClient,
          tableName: tables.circuits,
          controller,
          intervalMs: settings.streamIntervalMs,
          onError: () => {
            streamErrors += 1;
          },
        });
        const config: ProberConfig = {
          providers: [],
          integrations: [
            {
              name: 'payments',
              adapter: 'payments',
              auth: { scheme: 'bearer' },
              mappingUuid,
              maxConcurrency: Math.max(2, settings.restoredConcurrency),
              baseUrl: sandbox.paymentsUrl,
              secretName: SECRET_NAME,
              httpTimeoutMs: settings.http.timeoutMs,
              circuit: settings.circuit,
            },
          ],
          circuitsTableName: tables.circuits,
          probeRuleName: 'outage-bench-prober',
          restoreAfterMs: settings.restoreAfterMs,
          secretMaxAgeSeconds: 300,
          endpoints: {},
        };
        const prober = new CircuitProber({
          targets: createProbeTargets(config, {
            adapters: (adapter) => (adapter === 'payments' ? payments : undefined),
            dynamodb: opsClient,
            secrets: new SecretsManagerSecretSource({ client: secretsManager.client }),
            logger: () => silent,
            metrics: () => proberMetrics,
          }),
          mappings,
          schedule,
          gauge,
          logger: silent,
          restoreAfterMs: settings.restoreAfterMs,
        });
        stream.start();
        // EventBridge's schedule rule: a run per period while the rule is enabled.
        proberLoop = (async () => {
          while (!stopped) {
            if (schedule.enabled) {
              try {
                const report = await prober.run();
                proberRuns += 1;
                for (const integration of report.integrations) {
                  if (integration.probe && integration.probe !== 'not_due') probes.push({ at: Date.now(), outcome: integration.probe });
                }
              } catch {
                proberErrors += 1;
              }
            }
            await sleep(settings.proberIntervalMs);
          }
        })();
      },
      async stop() {
        stopped = true;
        await proberLoop;
        await stream?.stop();
        for (const client of clients) client.destroy();
      },
      details({ outageStartAt, outageEndAt }) {
        const total = (metric: string) => instanceMetrics.reduce((sum, sink) => sum + sink.total(metric), 0) + proberMetrics.total(metric);
        const seconds = (at: number) => Math.round((at - outageStartAt) / 100) / 10;
        const metricTotals: Record<string, number> = {};
        for (const sink of [...instanceMetrics, proberMetrics]) {
          for (const [name, count] of sink.counts) metricTotals[name] = (metricTotals[name] ?? 0) + count;
        }
        return {
          // How the measured records ended (the warm-up records left out).
          recordOutcomes: outcomes,
          // The runtime metrics of every instance and the prober, the warm-up charge of each instance included.
          metricTotals,
          circuitOpenedEvents: total(RuntimeMetric.CircuitOpened),
          messagesParked: total(RuntimeMetric.CircuitRejected) + total(RuntimeMetric.Throttled),
          idempotentReplays: total(RuntimeMetric.IdempotentReplay),
          proberRuns,
          probesDuringOutage: probes.filter((p) => p.at >= outageStartAt && p.at < outageEndAt).length,
          probes: probes.map((p) => ({ atSecondsFromOutageStart: seconds(p.at), outcome: p.outcome })),
          mappingUpdates: (mappings?.timeline ?? []).map((u) => ({ atSecondsFromOutageStart: seconds(u.at), ...u.change })),
          streamErrors,
          proberErrors,
        };
      },
    };
  },
};
