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
import { CircuitController } from './circuit-control.js';
import { PowertoolsCircuitGauge } from './circuit-gauge.js';
import { EventBridgeProbeSchedule } from './eventbridge-probe-schedule.js';
import { LambdaEventSourceMappings } from './lambda-event-source-mappings.js';
import { SSMClient } from '@aws-sdk/client-ssm';
import { controllerConfigFromEnvironment } from './ops-config.js';
import { ssmParameterReader, withOpsCatalog } from './ops-catalog.js';

// The circuits to watch are SSM parameters (functions/ops/ops-catalog.ts): the catalog outgrows an environment.
const env = await withOpsCatalog(process.env, 'controller', ssmParameterReader(new SSMClient({ endpoint: process.env.SSM_ENDPOINT || undefined })));
const config = controllerConfigFromEnvironment(env);
const logger = new Logger({ serviceName: 'integration-hub', persistentKeys: { function: 'circuit-controller' } });
const controller = new CircuitController({
  integrations: config.integrations,
  providers: config.providers,
  mappings: new LambdaEventSourceMappings(new LambdaClient({ endpoint: config.endpoints.lambda })),
  schedule: new EventBridgeProbeSchedule(new EventBridgeClient({ endpoint: config.endpoints.eventBridge }), config.probeRuleName),
  circuits: new DynamoDbCircuitStore({ tableName: config.circuitsTableName, client: new DynamoDBClient({ endpoint: config.endpoints.dynamodb }) }),
  gauge: new PowertoolsCircuitGauge(),
  logger,
});

/** The Lambda entry. */
export async function handler(event: DynamoDBStreamEvent, context: Context): Promise<DynamoDBBatchResponse> {
  logger.addContext(context);
  return controller.handleStream(event, () => context.getRemainingTimeInMillis());
}
