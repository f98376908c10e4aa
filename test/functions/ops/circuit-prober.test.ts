/**
 * The prober's Lambda entry, wired from its environment: dynalite for the circuits table, the sandbox as the provider,
 * Secrets Manager, Lambda and EventBridge mocked.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { DisableRuleCommand, EnableRuleCommand, EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { GetEventSourceMappingCommand, LambdaClient, UpdateEventSourceMappingCommand } from '@aws-sdk/client-lambda';
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { mockClient } from 'aws-sdk-client-mock';
import { afterAll, beforeAll, beforeEach, describe, expect, it, vi } from 'vitest';
import { ProbeRunIncompleteError } from '../../../functions/ops/errors.js';
import { AFTER_DEPLOY_EVENT } from '../../../functions/ops/after-deploy.js';
import type { ProbeRunReport } from '../../../functions/ops/circuit-probing.js';
import { lambdaContext } from '../../../local/lambda-events.js';
import { createTable } from '../../../local/local-dynamo.js';
import { type Sandbox, startSandbox } from '../../../local/sandbox/index.js';
import { type LocalDynamo, startLocalDynamo } from '../../support/dynalite.js';
import { CRM_MAPPING } from './ops-test-support.js';
import { catalogIntegration } from '../../../lib/catalog.js';

let dynamo: LocalDynamo;
let sandbox: Sandbox;
const lambda = mockClient(LambdaClient);
const events = mockClient(EventBridgeClient);
const secrets = mockClient(SecretsManagerClient);

beforeAll(async () => {
  [dynamo, sandbox] = await Promise.all([startLocalDynamo(), startSandbox({ seed: 3 })]);
  await createTable(dynamo.client, 'circuits', { partitionKey: 'circuitId' });
  vi.stubEnv(
    'INTEGRATIONS',
    JSON.stringify([{ name: 'crm', mappingUuid: CRM_MAPPING, maxConcurrency: 5, baseUrl: sandbox.providerUrl('crm'), auth: catalogIntegration('crm').auth, secretName: 'integration-hub/crm' }]),
  );
  vi.stubEnv('CIRCUITS_TABLE_NAME', 'circuits');
  vi.stubEnv('PROBE_RULE_NAME', 'hub-prober');
  vi.stubEnv('DYNAMODB_ENDPOINT', dynamo.endpoint);
  secrets.on(GetSecretValueCommand).resolves({ Name: 'integration-hub/crm', SecretString: JSON.stringify(sandbox.credentials('crm')) });
});
beforeEach(() => {
  lambda.reset();
  events.reset();
});
afterAll(async () => {
  vi.unstubAllEnvs();
  lambda.restore();
  events.restore();
  secrets.restore();
  await Promise.all([dynamo.close(), sandbox.close()]);
});

describe('circuit prober Lambda entry', () => {
  it('disables its schedule when the circuit is closed and the mapping is at its maximum', async () => {
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID: CRM_MAPPING, State: 'Enabled', ScalingConfig: { MaximumConcurrency: 5 } });
    events.on(DisableRuleCommand).resolves({});

    const { handler } = await import('../../../functions/ops/circuit-prober.js');
    const report = await handler({}, lambdaContext('circuit-prober', 60_000));

    expect((report as ProbeRunReport).schedule).toBe('disabled');
    expect(events.commandCalls(DisableRuleCommand).map((c) => c.args[0].input)).toEqual([{ Name: 'hub-prober' }]);
    expect(lambda.commandCalls(UpdateEventSourceMappingCommand)).toEqual([]);
  });

  it("answers the stack's after-deploy custom resource: puts back a mapping the deploy changed, turns its schedule on, and answers SUCCESS", async () => {
    // The deploy re-created the state the prober must repair: a mapping disabled while its circuit is closed.
    lambda.on(GetEventSourceMappingCommand).resolves({ UUID: CRM_MAPPING, State: 'Disabled', ScalingConfig: { MaximumConcurrency: 5 } });
    lambda.on(UpdateEventSourceMappingCommand).resolves({});
    events.on(EnableRuleCommand).resolves({});
    const answers: unknown[] = [];
    const server = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk) => (body += chunk));
      request.on('end', () => {
        answers.push({ method: request.method, body: JSON.parse(body) });
        response.end();
      });
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const { port } = server.address() as AddressInfo;
      const request = {
        RequestType: 'Update',
        ResponseURL: `http://127.0.0.1:${port}/answer`,
        StackId: 'arn:aws:cloudformation:eu-west-1:1:stack/IntegrationHub/x',
        RequestId: 'req-1',
        LogicalResourceId: 'ReconcileAfterDeploy',
        PhysicalResourceId: 'circuit-reconcile-ReconcileAfterDeploy',
        ResourceProperties: { ...AFTER_DEPLOY_EVENT, fingerprint: 'f' },
      };
      const { handler } = await import('../../../functions/ops/circuit-prober.js');
      await handler(request, lambdaContext('circuit-prober', 60_000));

      expect(lambda.commandCalls(UpdateEventSourceMappingCommand).map((c) => c.args[0].input)).toEqual([
        { UUID: CRM_MAPPING, Enabled: true, ScalingConfig: { MaximumConcurrency: 2 } },
      ]);
      expect(events.commandCalls(EnableRuleCommand).map((c) => c.args[0].input)).toEqual([{ Name: 'hub-prober' }]);
      expect(answers).toEqual([
        { method: 'PUT', body: expect.objectContaining({ Status: 'SUCCESS', RequestId: 'req-1', PhysicalResourceId: request.PhysicalResourceId, Reason: 'Reconciled: schedule enabled' }) },
      ]);
    } finally {
      server.close();
    }
  });

  it('fails the invocation, keeping the schedule, when an integration cannot be checked', async () => {
    lambda.on(GetEventSourceMappingCommand).rejects(new Error('ServiceException: boom'));

    const { handler } = await import('../../../functions/ops/circuit-prober.js');
    const error = await handler({}, lambdaContext('circuit-prober', 60_000)).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProbeRunIncompleteError);
    expect((error as Error).message).toContain('crm');
    expect(events.commandCalls(DisableRuleCommand)).toEqual([]);
  });
});
