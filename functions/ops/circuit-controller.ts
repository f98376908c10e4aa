/**
 * Lambda entry of the circuit controller: consumes the circuits table's stream (DynamoDB stream event source with
 * ReportBatchItemFailures) and pauses / resumes the integrations' SQS event source mappings. The logic is in
 * circuit-control.ts; the environment is described in ops-config.ts.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { LambdaClient } from '@aws-sdk/client-lambda';
import { Logger } from '@aws-lambda-powertools/logger';
import type { Context, DynamoDBBatchResponse, DynamoDBStreamEvent } from 'aws-lambda';
import { DynamoDbCircuitStore } from '../runtime/dynamodb-circuit-store.js';
import { RUNTIME_DYNAMODB_CLIENT_CONFIG } from '../runtime/dynamodb-items.js';
import { CircuitController } from './circuit-control.js';
import { PowertoolsCircuitGauge } from './circuit-gauge.js';
import { EventBridgeProbeSchedule } from './eventbridge-probe-schedule.js';
import { LambdaEventSourceMappings } from './lambda-event-source-mappings.js';
import { SSMClient } from '@aws-sdk/client-ssm';
import { controllerConfigFromEnvironment } from './ops-config.js';
import { reloadingOpsCatalog, ssmParameterReader } from './ops-catalog.js';

const logger = new Logger({ serviceName: 'integration-hub', persistentKeys: { function: 'circuit-controller' } });

// The circuits to watch are SSM parameters (functions/ops/ops-catalog.ts: the catalog outgrows an environment), read
// again once a minute so that an integration stack deployed since is known.
const controllers = reloadingOpsCatalog({
  env: process.env,
  reader: 'controller',
  readParameters: ssmParameterReader(new SSMClient({ endpoint: process.env.SSM_ENDPOINT || undefined })),
  build: (env) => {
    const config = controllerConfigFromEnvironment(env);
    return new CircuitController({
      integrations: config.integrations,
      providers: config.providers,
      mappings: new LambdaEventSourceMappings(new LambdaClient({ endpoint: config.endpoints.lambda })),
      schedule: new EventBridgeProbeSchedule(new EventBridgeClient({ endpoint: config.endpoints.eventBridge }), config.probeRuleName),
      circuits: new DynamoDbCircuitStore({ tableName: config.circuitsTableName, client: new DynamoDBClient({ ...RUNTIME_DYNAMODB_CLIENT_CONFIG, endpoint: config.endpoints.dynamodb }) }),
      gauge: new PowertoolsCircuitGauge(),
      logger,
    });
  },
});
// An invalid catalog fails the init, with every problem listed.
await controllers.current();

/** The Lambda entry. */
export async function handler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  logger.addContext(context);
  const controller = await controllers.current();
  return controller.handleStream(event, () => context.getRemainingTimeInMillis());
}
