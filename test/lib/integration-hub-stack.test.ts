import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { CatalogError, INTEGRATIONS } from '../../lib/catalog.js';
import { PROVIDERS } from '../../lib/workflow-catalog.js';
import { HubEventBus } from '../../lib/constructs/hub-event-bus.js';
import { HubTables } from '../../lib/constructs/hub-tables.js';
import { IntegrationPipeline, REPOSITORY_ROOT } from '../../lib/constructs/integration-pipeline.js';
import { ConstructPropsError } from '../../lib/props-validation.js';
import { type HubApp, logicalIdOf, newTestStack, synthesizeHub } from './hub-app.js';

describe('IntegrationHubStack', () => {
  let hub: HubApp;
  beforeAll(() => {
    hub = synthesizeHub();
  });

  it('deploys one pipeline per catalog integration, by name, in catalog order', () => {
    expect([...hub.stack.pipelines.keys()]).toEqual(INTEGRATIONS.map((entry) => entry.name));
    for (const pipeline of hub.stack.pipelines.values()) expect(pipeline).toBeInstanceOf(IntegrationPipeline);
    // Plus the circuit controller's two functions, its failed-records queue and its stream mapping, and the
    // workflows: 7 saga tasks + the starter (its queue, DLQ, mapping and OrderPlaced rule) + the sync task (its schedule).
    hub.template.resourceCountIs('AWS::Lambda::Function', 2 + INTEGRATIONS.length + 9);
    hub.template.resourceCountIs('AWS::SQS::Queue', 1 + 2 * INTEGRATIONS.length + 2);
    hub.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1 + INTEGRATIONS.length + 1);
    // One rule per route, plus the prober's schedule, plus OrderPlaced and the contact sync's schedule.
    hub.template.resourceCountIs('AWS::Events::Rule', 1 + INTEGRATIONS.flatMap((entry) => entry.routes).length + 2);
    hub.template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
  });

  it('deploys exactly the pipelines, controller and observability of before when the workflows are left out', () => {
    const { stack, template } = synthesizeHub({ workflows: null });
    template.resourceCountIs('AWS::Lambda::Function', 2 + INTEGRATIONS.length);
    template.resourceCountIs('AWS::SQS::Queue', 1 + 2 * INTEGRATIONS.length);
    template.resourceCountIs('AWS::Events::Rule', 1 + INTEGRATIONS.flatMap((entry) => entry.routes).length);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', INTEGRATIONS.length);
    expect(stack.workflowAlarms.size).toBe(0);
    expect(stack.orderSaga).toBeUndefined();
  });

  describe('tables', () => {
    const tableProps = (name: 'idempotency' | 'circuits' | 'ledger' | 'checkpoints') =>
      hub.template.toJSON().Resources[logicalIdOf(hub.stack.tables[name], hub.stack)];

    it('are on-demand, KMS-encrypted, with point-in-time recovery, and retained', () => {
      for (const name of ['idempotency', 'circuits', 'ledger', 'checkpoints'] as const) {
        expect(tableProps(name)).toMatchObject({
          Type: 'AWS::DynamoDB::Table',
          DeletionPolicy: 'Retain',
          UpdateReplacePolicy: 'Retain',
          Properties: {
            BillingMode: 'PAY_PER_REQUEST',
            // SSEEnabled without a key = KMS with the AWS managed key aws/dynamodb.
            SSESpecification: { SSEEnabled: true },
            PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
          },
        });
      }
    });

    it('have the keys the runtime uses; idempotency expires by TTL, circuits stream old and new images', () => {
      expect(tableProps('idempotency').Properties).toMatchObject({
        KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
        TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      });
      expect(tableProps('circuits').Properties).toMatchObject({
        KeySchema: [{ AttributeName: 'circuitId', KeyType: 'HASH' }],
        StreamSpecification: { StreamViewType: 'NEW_AND_OLD_IMAGES' },
      });
      expect(tableProps('ledger').Properties.KeySchema).toEqual([
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ]);
      expect(tableProps('checkpoints').Properties.KeySchema).toEqual([{ AttributeName: 'syncId', KeyType: 'HASH' }]);
    });
  });

  it('alarms on stream records the circuit controller gave up on, with actions and a runbook that exists', () => {
    const alarms = hub.template.findResources('AWS::CloudWatch::Alarm', {
      Properties: { AlarmName: 'IntegrationHub-circuit-controller-records-failed' },
    });
    const [alarm] = Object.values(alarms) as { Properties: Record<string, unknown> }[];
    expect(alarm?.Properties).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, TreatMissingData: 'notBreaching' });
    expect(alarm?.Properties.AlarmActions).toHaveLength(1);
    expect(alarm?.Properties.OKActions).toHaveLength(1);
    const runbook = /Runbook: (\S+)/.exec(String(alarm?.Properties.AlarmDescription))?.[1];
    expect(runbook).toBe('docs/runbooks/controller-records-failed.md');
    expect(existsSync(join(REPOSITORY_ROOT, runbook ?? 'missing'))).toBe(true);
  });

  it('archives every event of the bus for 30 days, for replay', () => {
    hub.template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [logicalIdOf(hub.stack.bus.bus, hub.stack), 'Arn'] },
      RetentionDays: 30,
      EventPattern: { account: [{ Ref: 'AWS::AccountId' }] },
    });
  });

  it('outputs the bus name, every queue and DLQ URL, and every table name', () => {
    const outputs = hub.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(outputs.EventBusName?.Value).toEqual({ Ref: logicalIdOf(hub.stack.bus.bus, hub.stack) });
    for (const [name, table] of [
      ['Idempotency', hub.stack.tables.idempotency],
      ['Circuits', hub.stack.tables.circuits],
      ['Ledger', hub.stack.tables.ledger],
      ['Checkpoints', hub.stack.tables.checkpoints],
    ] as const) {
      expect(outputs[`${name}TableName`]?.Value).toEqual({ Ref: logicalIdOf(table, hub.stack) });
    }
    expect(outputs.CrmQueueUrl?.Value).toEqual({ Ref: logicalIdOf(hub.stack.pipelines.get('crm')!.queue, hub.stack) });
    expect(outputs.PaymentsDeadLetterQueueUrl?.Value).toEqual({ Ref: logicalIdOf(hub.stack.pipelines.get('payments')!.deadLetterQueue, hub.stack) });
    // Plus the saga starter's queue and DLQ.
    expect(Object.keys(outputs).filter((key) => /QueueUrl$/.test(key))).toHaveLength(2 * INTEGRATIONS.length + 2);
    expect(outputs.OrderSagaStateMachineArn?.Value).toEqual({ Ref: logicalIdOf(hub.stack.orderSaga!.stateMachine, hub.stack) });
    expect(outputs.ContactSyncStateMachineArn?.Value).toEqual({ Ref: logicalIdOf(hub.stack.contactSync!.stateMachine, hub.stack) });
  });

  it("outputs every circuit — each integration's and each standalone workflow provider's — with the settings its callers use", () => {
    const outputs = hub.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    const value = outputs.CircuitSettings?.Value;
    expect(typeof value).toBe('string');
    const standalone = PROVIDERS.filter((provider) => provider.integration === undefined);
    expect(JSON.parse(value as string)).toEqual(
      Object.fromEntries([
        ...INTEGRATIONS.map((integration) => [integration.name, integration.circuit ?? {}]),
        ...standalone.map((provider) => [provider.name, provider.circuit ?? {}]),
      ]),
    );
    // What the deployed functions are given: the crm integration's CIRCUIT_SETTINGS is the output's crm entry.
    const resources = hub.template.toJSON().Resources as Record<string, { Properties: { Environment: { Variables: Record<string, string> } } }>;
    const crm = resources[logicalIdOf(hub.stack.pipelines.get('crm')!.function, hub.stack)];
    expect(JSON.parse(crm!.Properties.Environment.Variables.CIRCUIT_SETTINGS!)).toEqual(JSON.parse(value as string).crm);
  });

  it("alarms when a standalone workflow provider's circuit stays open, like an integration's", () => {
    for (const provider of PROVIDERS.filter((entry) => entry.integration === undefined)) {
      hub.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        AlarmName: `IntegrationHub-${provider.name}-circuit-open-too-long`,
        MetricName: 'CircuitOpen',
        Namespace: 'IntegrationHub',
        Dimensions: Match.arrayWith([{ Name: 'integration', Value: provider.name }]),
        EvaluationPeriods: 15,
        DatapointsToAlarm: 14,
        AlarmDescription: Match.stringLikeRegexp('Runbook: .*circuit-open-too-long'),
      });
    }
  });

  it('matches the snapshot (asset hashes normalised)', () => {
    const normalised = JSON.parse(JSON.stringify(hub.template.toJSON()).replace(/[0-9a-f]{64}/g, '<asset-hash>'));
    expect(normalised).toMatchSnapshot();
  });
});

describe('IntegrationHubStack configuration', () => {
  it('takes a base URL override from context baseUrl:<name>', () => {
    const { stack, template } = synthesizeHub({ context: { 'baseUrl:payments': 'https://sandbox.payments.example.com/v1' } });
    const environment = template.toJSON().Resources[logicalIdOf(stack.pipelines.get('payments')!.function, stack)].Properties.Environment.Variables;
    expect(environment.BASE_URL).toBe('https://sandbox.payments.example.com/v1');
    expect(stack.catalog.find((entry) => entry.name === 'payments')?.baseUrl).toBe('https://sandbox.payments.example.com/v1');
  });

  it('fails with every catalog problem when the catalog is invalid', () => {
    const broken = [
      { ...INTEGRATIONS[0]!, maxConcurrency: 1 },
      { ...INTEGRATIONS[1]!, baseUrl: 'nope' },
    ];
    expect(() => synthesizeHub({ integrations: broken })).toThrow(CatalogError);
    expect(() => synthesizeHub({ integrations: broken })).toThrow(/'crm': maxConcurrency[\s\S]*'payments': baseUrl/);
  });

  it('lets a dev stack destroy its stateful resources', () => {
    const { template } = synthesizeHub({ removalPolicy: RemovalPolicy.DESTROY });
    for (const type of ['AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup']) {
      for (const resource of Object.values(template.findResources(type))) expect(resource.DeletionPolicy).toBe('Delete');
    }
  });
});

describe('HubEventBus', () => {
  it('keeps the archive for the configured retention', () => {
    const stack = newTestStack();
    new HubEventBus(stack, 'Events', { eventBusName: 'hub', archiveRetention: Duration.days(7) });
    const template = Template.fromStack(stack);
    template.hasResourceProperties('AWS::Events::EventBus', { Name: 'hub' });
    template.hasResourceProperties('AWS::Events::Archive', { RetentionDays: 7, EventPattern: Match.anyValue() });
  });

  it('rejects a retention that is not whole days within ten years', () => {
    expect(() => new HubEventBus(newTestStack(), 'Events', { archiveRetention: Duration.hours(36) })).toThrow(ConstructPropsError);
    expect(() => new HubEventBus(newTestStack(), 'Events', { archiveRetention: Duration.days(4000) })).toThrow(/whole days from 0/);
  });
});

describe('HubTables', () => {
  it('encrypts every table with a customer managed key when given one', () => {
    const stack = newTestStack();
    const key = new Key(stack, 'Key');
    new HubTables(stack, 'Tables', { encryptionKey: key });
    const tables = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(4);
    for (const table of tables) {
      expect(table.Properties.SSESpecification).toEqual({
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [logicalIdOf(key, stack), 'Arn'] },
      });
    }
  });
});
