/** The controller's Lambda entry, wired from its environment: dynalite for the circuits table, Lambda and EventBridge mocked. */
import { EnableRuleCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { DynamoDbCircuitStore } from '../../../functions/runtime/dynamodb-circuit-store.js';
import { lambdaContext } from '../../../local/lambda-events.js';
import { createTable } from '../../../local/local-dynamo.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { circuit, CRM_MAPPING, streamRecord } from './ops-test-support.js';

let dynamo: LocalDynamo;
const lambda = mockClient(LambdaClient);
const events = mockClient(EventBridgeClient);

beforeAll(async () => {
  dynamo = await startLocalDynamo();
  await createTable(dynamo.client, 'circuits', { partitionKey: 'circuitId' });
  vi.stubEnv('INTEGRATIONS', JSON.stringify([{ name: 'crm', mappingUuid: CRM_MAPPING }]));
  vi.stubEnv('CIRCUITS_TABLE_NAME', 'circuits');
  vi.stubEnv('PROBE_RULE_NAME', 'hub-prober');
  vi.stubEnv('DYNAMODB_ENDPOINT', dynamo.endpoint);
});
afterAll(async () => {
  vi.unstubAllEnvs();
  lambda.restore();
  events.restore();
  await dynamo.close();
});

describe('circuit controller Lambda entry', () => {
  it('pauses the mapping of a circuit that opened and enables the probe schedule', async () => {
    const store = new DynamoDbCircuitStore({ tableName: 'circuits', client: dynamo.client });
    const closed = await store.put(circuit('crm'), 0);
    const opened = await store.put(circuit('crm', { state: 'open', openUntil: Date.UTC(2030, 0, 1) }), 1);
    if (!closed.applied || !opened.applied) throw new Error('test setup failed');
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID: CRM_MAPPING, State: 'Enabled', ScalingConfig: { MaximumConcurrency: 5 } });
    lambda.on(UpdateEventSourceMappingCommand).resolves({});
    events.on(EnableRuleCommand).resolves({});

    const { handler } = await import('../../../functions/ops/circuit-controller.js');
    const response = await handler({ Records: [streamRecord(closed.record, opened.record)] }, lambdaContext('circuit-controller'));

    expect(response).toEqual({ batchItemFailures: [] });
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([{ UUID: CRM_MAPPING, Enabled: false }]);
    expect(events.commandCalls(EnableRuleCommand).map((c) => c.args[0].input)).toEqual([{ Name: 'hub-prober' }]);
  });
});
