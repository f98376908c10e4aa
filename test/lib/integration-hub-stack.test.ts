import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { Key } from 'aws-cdk-lib/aws-kms';
import { beforeAll, describe, expect, it } from 'vitest';
import { CatalogError, INTEGRATIONS, type IntegrationEntry, pascalCase, type ResolvedIntegration, resolveCatalog, SECRET_FIELDS } from '../../lib/catalog.js';
import { PROVIDERS, WORKFLOWS } from '../../lib/workflow-catalog.js';
import { HubEventBus } from '../../lib/constructs/hub-event-bus.js';
import { HubTables } from '../../lib/constructs/hub-tables.js';
import { SECRET_PLACEHOLDER } from '../../functions/runtime/auth-config.js';
import { IntegrationPipeline } from '../../lib/constructs/integration-pipeline.js';
import { ORDER_SAGA_TASKS } from '../../lib/constructs/order-saga-state-machine.js';
import { ConstructPropsError } from '../../lib/props-validation.js';
import { HUB_RUNBOOK_SLUGS, integrationRunbookSlugs, RUNBOOK_SLUGS, runbookPath, WORKFLOW_RUNBOOK_SLUGS } from '../../lib/runbooks.js';
import { METRICS_NAMESPACE, SERVICE_NAME } from '../../lib/telemetry.js';
import { authScheme, FIXTURE_REFRESH_TOKEN_AUTH, fixtureIntegrations } from './fixture-catalog.js';
import { asArray, flattenIntrinsics, type HubApp, logicalIdOf, newTestStack, opsCatalogOf, statementsOfRole, synthesizeHub } from './hub-app.js';

const REPOSITORY_ROOT = fileURLToPath(new URL('../../', import.meta.url));

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string };

/** The catalog the default hub deploys, resolved independently of the stack. */
const SHIPPED = resolveCatalog(INTEGRATIONS);
/** Workflow providers with a secret and a circuit of their own (the others share their integration's). */
const STANDALONE_PROVIDERS = PROVIDERS.filter((provider) => provider.integration === undefined);
/** Functions of the workflows: the saga's tasks, the saga starter and the contact sync's page task. */
const WORKFLOW_FUNCTIONS = ORDER_SAGA_TASKS.length + 2;

const resourcesOf = (hub: HubApp) => hub.template.toJSON().Resources as Record<string, Resource>;
const outputsOf = (hub: HubApp) => hub.template.toJSON().Outputs as Record<string, { Value: unknown }>;
const arnOf = (logicalId: string) => ({ 'Fn::GetAtt': [logicalId, 'Arn'] });

const flatten = flattenIntrinsics;

/** Whether an integration creates its secret (rather than importing it, or having none). */
const createsSecret = (integration: ResolvedIntegration) => !integration.secret.import && SECRET_FIELDS[authScheme(integration.auth)].length > 0;
/**
 * What the webhooks add to a hub of `catalog` (lib/constructs/hub-webhooks.ts): per integration that declares them a
 * function, a signing secret and a rejection alarm; once, the API's 5xx alarm and the delivery-id table.
 */
/** The alarms of the integrations of `catalog`: every integration alarm, reauthorization-needed only for `oauth2_refresh_token`. */
const integrationAlarms = (catalog: readonly ResolvedIntegration[]) =>
  catalog.reduce((count, integration) => count + integrationRunbookSlugs(authScheme(integration.auth)).length, 0);
/** The standalone providers' circuit alarms: circuit-open-too-long each, plus reauthorization-needed for `oauth2_refresh_token`. */
const PROVIDER_ALARMS = STANDALONE_PROVIDERS.reduce((count, provider) => count + (authScheme(provider.auth) === 'oauth2_refresh_token' ? 2 : 1), 0);
const webhookResources = (catalog: readonly ResolvedIntegration[]) => {
  const endpoints = catalog.filter((integration) => integration.webhooks !== undefined).length;
  return { functions: endpoints, secrets: endpoints, alarms: endpoints > 0 ? endpoints + 1 : 0, tables: endpoints > 0 ? 1 : 0 };
};

/**
 * Everything one catalog integration must get in the hub, each value derived from its resolved entry: work queue
 * and DLQ, function, event source mapping, a rule per route, secret, alarms and outputs.
 */
function expectIntegrationDeployed(hub: HubApp, integration: ResolvedIntegration): void {
  const { stack, template } = hub;
  const resources = resourcesOf(hub);
  const name = integration.name;
  const pipeline = stack.pipelines.get(name);
  expect(pipeline, `pipeline of ${name}`).toBeDefined();
  const id = (construct: { node: { defaultChild?: unknown } }) => logicalIdOf(construct, stack);
  const queueId = id(pipeline!.queue);
  const dlqId = id(pipeline!.deadLetterQueue);
  const functionId = id(pipeline!.function);
  const roleId = id(pipeline!.function.role as never);
  const secretId = createsSecret(integration) ? id(pipeline!.secret as never) : undefined;
  const topicRef = { Ref: id(stack.alarmTopic.topic) };

  // The work queue: encrypted, redriving to the DLQ after maxReceiveCount, visible 6 × the function timeout (plus
  // the batching window) so a message is not redelivered while a batch is still being processed, and keeping its
  // messages 14 days (SQS's maximum) so a paused mapping through a long outage loses none.
  expect(resources[queueId]?.Properties, `${name} queue`).toEqual({
    SqsManagedSseEnabled: true,
    MessageRetentionPeriod: 14 * 24 * 60 * 60,
    VisibilityTimeout: 6 * integration.functionTimeoutSeconds + integration.batchWindowSeconds,
    RedrivePolicy: { deadLetterTargetArn: arnOf(dlqId), maxReceiveCount: integration.maxReceiveCount },
  });
  expect(resources[dlqId]?.Properties, `${name} DLQ`).toEqual({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 24 * 60 * 60 });
  for (const queue of [queueId, dlqId]) {
    template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queue }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Resource: arnOf(queue) }),
        ]),
      },
    });
  }

  // The function: the catalog's timeout and memory, and the catalog's settings in the environment the runtime reads.
  const fn = resources[functionId]!.Properties;
  expect(fn, `${name} function`).toMatchObject({
    Runtime: 'nodejs22.x',
    Architectures: ['arm64'],
    Handler: 'index.handler',
    Timeout: integration.functionTimeoutSeconds,
    MemorySize: integration.memoryMb,
    TracingConfig: { Mode: 'Active' },
    Description: `integration-hub ${name}: ${integration.description}`,
  });
  const secretName = integration.secret.import ? integration.secret.name : secretId ? { Ref: secretId } : undefined;
  expect(fn.Environment.Variables, `${name} environment`).toMatchObject({
    NODE_OPTIONS: '--enable-source-maps',
    POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
    POWERTOOLS_METRICS_NAMESPACE: METRICS_NAMESPACE,
    BASE_URL: integration.baseUrl,
    // Where the catalog resolves auth to a configuration object, the function is given it whole.
    ...(typeof integration.auth === 'object' ? { AUTH: JSON.stringify(integration.auth) } : {}),
    RECORD_CONCURRENCY: String(integration.recordConcurrency),
    CIRCUIT_SETTINGS: JSON.stringify(integration.circuit),
    ...(integration.httpTimeoutMs !== undefined ? { HTTP_TIMEOUT_MS: String(integration.httpTimeoutMs) } : {}),
    ...(integration.maxAttempts !== undefined ? { HTTP_MAX_ATTEMPTS: String(integration.maxAttempts) } : {}),
    LEDGER_TABLE_NAME: { Ref: id(stack.tables.ledger) },
    CIRCUITS_TABLE_NAME: { Ref: id(stack.tables.circuits) },
    DLQ_URL: { Ref: dlqId },
    ...(secretName !== undefined ? { SECRET_NAME: secretName } : {}),
  });
  if (secretName === undefined) expect(fn.Environment.Variables.SECRET_NAME).toBeUndefined();
  if (integration.httpTimeoutMs === undefined) expect(fn.Environment.Variables.HTTP_TIMEOUT_MS).toBeUndefined();
  if (integration.maxAttempts === undefined) expect(fn.Environment.Variables.HTTP_MAX_ATTEMPTS).toBeUndefined();
  expect(resources[fn.LoggingConfig.LogGroup.Ref]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 } });

  // The mapping: the catalog's batch size, window and maximum concurrency, with partial batch responses.
  expect(resources[id(pipeline!.eventSourceMapping)]?.Properties, `${name} mapping`).toEqual({
    FunctionName: { Ref: functionId },
    EventSourceArn: arnOf(queueId),
    BatchSize: integration.batchSize,
    ...(integration.batchWindowSeconds > 0 ? { MaximumBatchingWindowInSeconds: integration.batchWindowSeconds } : {}),
    FunctionResponseTypes: ['ReportBatchItemFailures'],
    ScalingConfig: { MaximumConcurrency: integration.maxConcurrency },
  });

  // One rule per route, on the hub's bus, into this queue; undeliverable events into this DLQ.
  const rules = Object.values(template.findResources('AWS::Events::Rule')).filter((rule) => JSON.stringify(rule.Properties.Targets ?? []).includes(`"${queueId}"`));
  expect(rules.map((rule) => rule.Properties.EventPattern), `${name} rules`).toEqual(
    integration.routes.map((route) => ({ source: [...route.sources], 'detail-type': [...route.detailTypes] })),
  );
  for (const rule of rules) {
    expect(rule.Properties).toMatchObject({
      EventBusName: { Ref: id(stack.bus.bus) },
      State: 'ENABLED',
      Targets: [{ Arn: arnOf(queueId), DeadLetterConfig: { Arn: arnOf(dlqId) } }],
    });
  }

  // The secret: a placeholder of the auth scheme's fields with the last one generated, read by this function only.
  const secretReads = statementsOfRole(template, roleId)
    .filter((statement) => asArray(statement.Action).some((action) => action.startsWith('secretsmanager:')))
    .flatMap((statement) => asArray(statement.Resource));
  if (secretId) {
    const fields = SECRET_FIELDS[authScheme(integration.auth)];
    expect(resources[secretId], `${name} secret`).toMatchObject({
      Type: 'AWS::SecretsManager::Secret',
      DeletionPolicy: 'Retain',
      Properties: {
        Name: integration.secret.name,
        GenerateSecretString: {
          SecretStringTemplate: JSON.stringify(Object.fromEntries(fields.slice(0, -1).map((field) => [field, SECRET_PLACEHOLDER]))),
          GenerateStringKey: fields.at(-1),
        },
      },
    });
    expect(resources[secretId]?.Properties.SecretString).toBeUndefined();
    // One statement reading it, and for the refresh-token scheme one writing it (rotated tokens): its own secret only.
    expect(secretReads).toEqual(authScheme(integration.auth) === 'oauth2_refresh_token' ? [{ Ref: secretId }, { Ref: secretId }] : [{ Ref: secretId }]);
  } else if (!integration.secret.import) {
    expect(secretReads).toEqual([]);
  }

  // Its alarms, named after it, on its own queue, DLQ, function and circuit, with the catalog's thresholds.
  const alarm = (slug: (typeof RUNBOOK_SLUGS)[number]) => {
    const found = Object.values(template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: `IntegrationHub-${name}-${slug}` } }));
    expect(found, `alarm ${name}-${slug}`).toHaveLength(1);
    const properties = found[0]!.Properties;
    expect(properties.AlarmActions).toEqual([topicRef]);
    expect(properties.OKActions).toEqual([topicRef]);
    expect(properties.AlarmDescription).toContain(`Runbook: ${runbookPath(slug)}`);
    return properties;
  };
  const integrationDimension = { Name: 'integration', Value: name };
  expect(alarm('dlq-not-empty')).toMatchObject({ Threshold: 1, Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [dlqId, 'QueueName'] } }] });
  expect(alarm('oldest-message-too-old')).toMatchObject({
    Threshold: integration.alarms.oldestMessageAgeSeconds,
    Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
  });
  expect(alarm('circuit-open-too-long')).toMatchObject({
    EvaluationPeriods: integration.alarms.circuitOpenMinutes,
    DatapointsToAlarm: Math.max(1, integration.alarms.circuitOpenMinutes - 1),
    Dimensions: expect.arrayContaining([integrationDimension]),
  });
  expect(alarm('function-errors')).toMatchObject({ Threshold: integration.alarms.functionErrors, Dimensions: [{ Name: 'FunctionName', Value: { Ref: functionId } }] });
  expect(alarm('breaker-store-fallback')).toMatchObject({ Dimensions: expect.arrayContaining([integrationDimension]) });
  // Only a circuit whose grant the provider can revoke waits for a person: exactly one such alarm, or none.
  const reauthorizationAlarms = Object.values(
    template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'ReauthorizationNeeded', Dimensions: Match.arrayWith([integrationDimension]) } }),
  );
  if (authScheme(integration.auth) === 'oauth2_refresh_token') {
    expect(reauthorizationAlarms, `${name} reauthorization-needed`).toHaveLength(1);
    expect(alarm('reauthorization-needed')).toMatchObject({
      Namespace: METRICS_NAMESPACE,
      MetricName: 'ReauthorizationNeeded',
      Dimensions: [
        { Name: 'integration', Value: name },
        { Name: 'service', Value: SERVICE_NAME },
      ],
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      DatapointsToAlarm: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
  } else {
    expect(reauthorizationAlarms, `${name} reauthorization-needed`).toEqual([]);
  }

  // Its outputs.
  const outputs = outputsOf(hub);
  expect(outputs[`${pascalCase(name)}QueueUrl`]?.Value).toEqual({ Ref: queueId });
  expect(outputs[`${pascalCase(name)}DeadLetterQueueUrl`]?.Value).toEqual({ Ref: dlqId });
}

/** The circuit controller and prober know every integration of `catalog`, in order: its mapping, limits and secret. */
function expectCircuitControllerOf(hub: HubApp, catalog: readonly ResolvedIntegration[]): void {
  const { stack } = hub;
  const resources = resourcesOf(hub);
  const env = (fn: unknown) => resources[logicalIdOf(fn as never, stack)]!.Properties.Environment.Variables as Record<string, unknown>;
  const mappingRef = (name: string) => `<Ref:${logicalIdOf(stack.pipelines.get(name)!.eventSourceMapping, stack)}>`;
  const secretRef = (name: string) => {
    const integration = catalog.find((entry) => entry.name === name)!;
    if (integration.secret.import) return undefined;
    return createsSecret(integration) ? `<Ref:${logicalIdOf(stack.pipelines.get(name)!.secret as never, stack)}>` : undefined;
  };
  const fnId = (fn: unknown) => logicalIdOf(fn as never, stack);
  // The functions read one parameter per integration, in name order.
  const sorted = [...catalog].sort((a, b) => a.name.localeCompare(b.name));
  expect(opsCatalogOf(hub.template, fnId(stack.circuitController.controllerFunction), 'controller').integrations).toEqual(
    sorted.map((integration) => ({ name: integration.name, mappingUuid: mappingRef(integration.name) })),
  );
  const probed = opsCatalogOf(hub.template, fnId(stack.circuitController.proberFunction), 'prober').integrations;
  expect(probed.map((entry) => entry.name)).toEqual(sorted.map((integration) => integration.name));
  sorted.forEach((integration, index) => {
    const secret = secretRef(integration.name);
    expect(probed[index], integration.name).toMatchObject({
      mappingUuid: mappingRef(integration.name),
      maxConcurrency: integration.maxConcurrency,
      baseUrl: integration.baseUrl,
      circuit: integration.circuit,
      ...(integration.httpTimeoutMs !== undefined ? { httpTimeoutMs: integration.httpTimeoutMs } : {}),
      ...(secret !== undefined ? { secretName: secret } : {}),
    });
    if (integration.httpTimeoutMs === undefined) expect(probed[index]?.httpTimeoutMs).toBeUndefined();
  });
  // Both may pause and resume exactly these mappings.
  for (const fn of [stack.circuitController.controllerFunction, stack.circuitController.proberFunction]) {
    const mappings = statementsOfRole(hub.template, logicalIdOf(fn.role as never, stack))
      .filter((statement) => asArray(statement.Action).includes('lambda:UpdateEventSourceMapping'))
      .flatMap((statement) => asArray(statement.Resource))
      .map(flatten);
    // IAM policy minimization orders resources by their text, not by catalog order.
    expect(mappings).toHaveLength(catalog.length);
    expect(mappings).toEqual(expect.arrayContaining(catalog.map((integration) => expect.stringContaining(`:event-source-mapping:${mappingRef(integration.name)}`))));
  }
}

/** Per integration: a detail dashboard headed with its name, with graphs titled with it, named on the overview. */
function expectDashboardRows(hub: HubApp, catalog: readonly ResolvedIntegration[]): void {
  type Body = { widgets: { type: string; properties: { title?: string; markdown?: string } }[] };
  const resources = resourcesOf(hub);
  const bodyOf = (dashboard: { node: { defaultChild?: unknown } }) => JSON.parse(flatten(resources[logicalIdOf(dashboard, hub.stack)]!.Properties.DashboardBody)) as Body;
  hub.template.resourceCountIs('AWS::CloudWatch::Dashboard', 1 + catalog.length);
  const overview = bodyOf(hub.stack.dashboard.dashboard);
  for (const { name } of catalog) {
    const detail = hub.stack.integrationDashboards.get(name)!;
    const body = bodyOf(detail.dashboard);
    expect(body.widgets.some((widget) => widget.properties.markdown?.startsWith(`# ${name}\n`)), `detail dashboard header of ${name}`).toBe(true);
    expect(body.widgets.filter((widget) => widget.properties.title?.startsWith(`${name} · `)).length, `detail dashboard graphs of ${name}`).toBeGreaterThan(0);
    expect(overview.widgets[0]?.properties.markdown, `overview names ${name}'s dashboard`).toContain(`**${name}** (dashboard \``);
  }
}

/**
 * What the core deploys whatever the catalog: the circuit controller's and prober's functions and the status outbox's
 * enrichment; the controller's failed-records queue and the outbox pipe's dead-letter queue.
 */
const CORE_FUNCTIONS = 3;
const CORE_QUEUES = 2;

describe('IntegrationHubStack', () => {
  let hub: HubApp;
  beforeAll(() => {
    hub = synthesizeHub();
  });

  it('deploys one pipeline per catalog integration, by name, in catalog order', () => {
    expect([...hub.stack.pipelines.keys()]).toEqual(INTEGRATIONS.map((entry) => entry.name));
    expect(hub.stack.catalog).toEqual(SHIPPED);
    for (const pipeline of hub.stack.pipelines.values()) expect(pipeline).toBeInstanceOf(IntegrationPipeline);
    // Plus the circuit controller's two functions, its failed-records queue and its stream mapping, and the
    // workflows: the saga tasks + the starter (its queue, DLQ, mapping and OrderPlaced rule) + the sync task (its schedule).
    hub.template.resourceCountIs('AWS::Lambda::Function', CORE_FUNCTIONS + INTEGRATIONS.length + WORKFLOW_FUNCTIONS + webhookResources(SHIPPED).functions);
    hub.template.resourceCountIs('AWS::SQS::Queue', CORE_QUEUES + 2 * INTEGRATIONS.length + 2);
    hub.template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1 + INTEGRATIONS.length + 1);
    // One rule per route, plus the prober's schedule, plus OrderPlaced, the contact sync's schedule and its event triggers.
    hub.template.resourceCountIs('AWS::Events::Rule', 1 + INTEGRATIONS.flatMap((entry) => entry.routes).length + 2 + (WORKFLOWS.contactSync.triggers?.length ?? 0));
    hub.template.resourceCountIs('AWS::StepFunctions::StateMachine', 2);
    // A secret per integration that creates one, and per standalone workflow provider.
    hub.template.resourceCountIs('AWS::SecretsManager::Secret', SHIPPED.filter(createsSecret).length + STANDALONE_PROVIDERS.length + webhookResources(SHIPPED).secrets);
    // The integrations' alarms, the controller's, the workflows' (one per workflow runbook) and one per standalone provider's circuit.
    hub.template.resourceCountIs(
      'AWS::CloudWatch::Alarm',
      integrationAlarms(SHIPPED) + HUB_RUNBOOK_SLUGS.length + WORKFLOW_RUNBOOK_SLUGS.length + PROVIDER_ALARMS + webhookResources(SHIPPED).alarms,
    );
  });

  describe.each(SHIPPED.map((integration) => [integration.name, integration] as const))('integration %s', (_name, integration) => {
    it('gets its queue, DLQ, function, mapping, rules, secret, alarms and outputs from its catalog entry', () => {
      expectIntegrationDeployed(hub, integration);
    });
  });

  it('hands every integration to the circuit controller and the prober: its mapping, limits, base URL, secret and breaker', () => {
    expectCircuitControllerOf(hub, SHIPPED);
  });

  it('draws a dashboard section per integration', () => {
    expectDashboardRows(hub, SHIPPED);
  });

  it('describes itself, and runs every function on Node.js 22 / arm64, traced, logging to a log group of its own kept 30 days', () => {
    expect(hub.template.toJSON().Description).toBe('integration-hub: reliable event-driven integrations with third-party APIs (SQS + Lambda)');
    const resources = resourcesOf(hub);
    const functions = Object.values(hub.template.findResources('AWS::Lambda::Function'));
    for (const fn of functions) {
      expect(fn.Properties).toMatchObject({ Runtime: 'nodejs22.x', Architectures: ['arm64'], TracingConfig: { Mode: 'Active' } });
      expect(resources[fn.Properties.LoggingConfig.LogGroup.Ref]).toMatchObject({ Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 30 }, DeletionPolicy: 'Retain' });
    }
    expect(new Set(functions.map((fn) => fn.Properties.LoggingConfig.LogGroup.Ref)).size).toBe(functions.length);
  });

  it('encrypts every queue and refuses non-TLS access to each', () => {
    const queues = Object.keys(hub.template.findResources('AWS::SQS::Queue'));
    expect(queues.length).toBeGreaterThan(0);
    for (const queue of queues) {
      expect(resourcesOf(hub)[queue]?.Properties.SqsManagedSseEnabled, queue).toBe(true);
      hub.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: queue }],
        PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Resource: arnOf(queue) })]) },
      });
    }
  });

  it('fixes no physical name of a queue, function, table, role, topic or state machine (several stages share an account)', () => {
    for (const [type, property] of [
      ['AWS::SQS::Queue', 'QueueName'],
      ['AWS::Lambda::Function', 'FunctionName'],
      ['AWS::DynamoDB::Table', 'TableName'],
      ['AWS::IAM::Role', 'RoleName'],
      ['AWS::SNS::Topic', 'TopicName'],
      ['AWS::StepFunctions::StateMachine', 'StateMachineName'],
    ] as const) {
      const resources = Object.values(hub.template.findResources(type));
      expect(resources.length, type).toBeGreaterThan(0);
      for (const resource of resources) expect(resource.Properties[property], type).toBeUndefined();
    }
  });

  it('attaches no managed policy to any role', () => {
    for (const role of Object.values(hub.template.findResources('AWS::IAM::Role'))) expect(role.Properties.ManagedPolicyArns).toBeUndefined();
  });

  it('sends every alarm and its recovery to the alarm topic', () => {
    const topicRef = { Ref: logicalIdOf(hub.stack.alarmTopic.topic, hub.stack) };
    for (const alarm of Object.values(hub.template.findResources('AWS::CloudWatch::Alarm'))) {
      expect(alarm.Properties.AlarmActions, alarm.Properties.AlarmName).toEqual([topicRef]);
      expect(alarm.Properties.OKActions, alarm.Properties.AlarmName).toEqual([topicRef]);
    }
  });

  it('deploys exactly the pipelines, controller and observability of before when the workflows are left out', () => {
    const { stack, template } = synthesizeHub({ workflows: null });
    template.resourceCountIs('AWS::Lambda::Function', CORE_FUNCTIONS + INTEGRATIONS.length + webhookResources(SHIPPED).functions);
    template.resourceCountIs('AWS::SQS::Queue', CORE_QUEUES + 2 * INTEGRATIONS.length);
    template.resourceCountIs('AWS::Events::Rule', 1 + INTEGRATIONS.flatMap((entry) => entry.routes).length);
    template.resourceCountIs('AWS::StepFunctions::StateMachine', 0);
    template.resourceCountIs('AWS::SecretsManager::Secret', SHIPPED.filter(createsSecret).length + webhookResources(SHIPPED).secrets);
    template.resourceCountIs('AWS::CloudWatch::Alarm', integrationAlarms(SHIPPED) + HUB_RUNBOOK_SLUGS.length + webhookResources(SHIPPED).alarms);
    expect(stack.workflowAlarms.size).toBe(0);
    expect(stack.orderSaga).toBeUndefined();
  });

  describe('tables', () => {
    const tableProps = (name: 'circuits' | 'ledger' | 'checkpoints') =>
      hub.template.toJSON().Resources[logicalIdOf(hub.stack.tables[name], hub.stack)];

    it('are on-demand, KMS-encrypted, with point-in-time recovery, and retained', () => {
      for (const name of ['circuits', 'ledger', 'checkpoints'] as const) {
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

    it('have the keys the runtime uses, circuits stream old and new images, and no table is deployed that nothing uses', () => {
      // The idempotency records live in the ledger item of their entity: a separate table would be an unused resource.
      // The webhooks' delivery ids have a table of their own (other keys, a TTL), deployed only with webhooks.
      hub.template.resourceCountIs('AWS::DynamoDB::Table', Object.keys(hub.stack.tables.all).length + webhookResources(SHIPPED).tables);
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

  it("alarms on the hub's own machinery, each with actions and a runbook that exists", () => {
    const alarmNamed = (slug: string) => {
      const found = Object.values(hub.template.findResources('AWS::CloudWatch::Alarm', { Properties: { AlarmName: `IntegrationHub-${slug}` } }));
      expect(found, slug).toHaveLength(1);
      return (found[0] as { Properties: Record<string, unknown> }).Properties;
    };
    for (const slug of HUB_RUNBOOK_SLUGS) {
      const alarm = alarmNamed(slug);
      expect(alarm).toMatchObject({ TreatMissingData: 'notBreaching', ComparisonOperator: 'GreaterThanOrEqualToThreshold' });
      expect(alarm.AlarmActions).toHaveLength(1);
      expect(alarm.OKActions).toHaveLength(1);
      const runbook = /Runbook: (\S+)/.exec(String(alarm.AlarmDescription))?.[1];
      expect(runbook).toBe(runbookPath(slug));
      expect(existsSync(join(REPOSITORY_ROOT, runbook ?? 'missing')), runbook).toBe(true);
    }
    const fn = (construct: unknown) => ({ Name: 'FunctionName', Value: { Ref: logicalIdOf(construct as never, hub.stack) } });
    const { controllerFunction, proberFunction } = hub.stack.circuitController;
    expect(alarmNamed('controller-records-failed')).toMatchObject({ MetricName: 'ApproximateNumberOfMessagesVisible', Threshold: 1, EvaluationPeriods: 1 });
    expect(alarmNamed('circuit-controller-errors')).toMatchObject({ MetricName: 'Errors', Threshold: 1, Period: 300, Dimensions: [fn(controllerFunction)] });
    // Three failed runs in a row: one failed minute is retried by the next scheduled run.
    expect(alarmNamed('circuit-prober-errors')).toMatchObject({ MetricName: 'Errors', Threshold: 1, Period: 60, EvaluationPeriods: 3, DatapointsToAlarm: 3, Dimensions: [fn(proberFunction)] });
    expect(alarmNamed('controller-stream-behind')).toMatchObject({ MetricName: 'IteratorAge', Statistic: 'Maximum', Threshold: 60_000, EvaluationPeriods: 3, Dimensions: [fn(controllerFunction)] });
  });

  it('archives every event of the bus for 30 days, for replay', () => {
    hub.template.hasResourceProperties('AWS::Events::Archive', {
      SourceArn: { 'Fn::GetAtt': [logicalIdOf(hub.stack.bus.bus, hub.stack), 'Arn'] },
      RetentionDays: 30,
      EventPattern: { account: [{ Ref: 'AWS::AccountId' }] },
    });
  });

  it('outputs the bus name, every queue and DLQ URL, and every table name', () => {
    const outputs = outputsOf(hub);
    expect(outputs.EventBusName?.Value).toEqual({ Ref: logicalIdOf(hub.stack.bus.bus, hub.stack) });
    for (const [name, table] of [
      ['Circuits', hub.stack.tables.circuits],
      ['Ledger', hub.stack.tables.ledger],
      ['Checkpoints', hub.stack.tables.checkpoints],
    ] as const) {
      expect(outputs[`${name}TableName`]?.Value).toEqual({ Ref: logicalIdOf(table, hub.stack) });
    }
    for (const [name, pipeline] of hub.stack.pipelines) {
      expect(outputs[`${pascalCase(name)}QueueUrl`]?.Value).toEqual({ Ref: logicalIdOf(pipeline.queue, hub.stack) });
      expect(outputs[`${pascalCase(name)}DeadLetterQueueUrl`]?.Value).toEqual({ Ref: logicalIdOf(pipeline.deadLetterQueue, hub.stack) });
    }
    // Plus the saga starter's queue and DLQ.
    expect(Object.keys(outputs).filter((key) => /QueueUrl$/.test(key))).toHaveLength(2 * INTEGRATIONS.length + 2);
    expect(outputs.OrderSagaStateMachineArn?.Value).toEqual({ Ref: logicalIdOf(hub.stack.orderSaga!.stateMachine, hub.stack) });
    expect(outputs.ContactSyncStateMachineArn?.Value).toEqual({ Ref: logicalIdOf(hub.stack.contactSync!.stateMachine, hub.stack) });
  });

  it("outputs every circuit — each integration's and each standalone workflow provider's — with the settings its callers use", () => {
    const outputs = outputsOf(hub);
    const value = outputs.CircuitSettings?.Value;
    expect(typeof value).toBe('string');
    const circuits = JSON.parse(value as string) as Record<string, unknown>;
    expect(circuits).toEqual(
      Object.fromEntries([
        ...INTEGRATIONS.map((integration) => [integration.name, integration.circuit ?? {}]),
        ...STANDALONE_PROVIDERS.map((provider) => [provider.name, provider.circuit ?? {}]),
      ]),
    );
    // What the deployed functions are given: each integration's CIRCUIT_SETTINGS is the output's entry of that name.
    const resources = resourcesOf(hub);
    for (const [name, pipeline] of hub.stack.pipelines) {
      const fn = resources[logicalIdOf(pipeline.function, hub.stack)];
      expect(JSON.parse(fn!.Properties.Environment.Variables.CIRCUIT_SETTINGS), name).toEqual(circuits[name]);
    }
  });

  it("alarms when a standalone workflow provider's circuit stays open, like an integration's", () => {
    for (const provider of STANDALONE_PROVIDERS) {
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
});

describe('IntegrationHubStack with a made-up catalog', () => {
  const entries: IntegrationEntry[] = fixtureIntegrations(3);
  const fixture = resolveCatalog(entries);
  let hub: HubApp;
  beforeAll(() => {
    // The workflows' providers name shipped integrations: left out here.
    hub = synthesizeHub({ integrations: entries, workflows: null });
  });

  it('deploys exactly the fixture integrations, each with a queue, DLQ, function, mapping, rules, secret and alarms of its own', () => {
    expect(fixture).toHaveLength(3);
    expect([...hub.stack.pipelines.keys()]).toEqual(entries.map((entry) => entry.name));
    const { template } = hub;
    const routes = fixture.flatMap((integration) => integration.routes).length;
    expect(routes).toBeGreaterThan(fixture.length);
    template.resourceCountIs('AWS::Lambda::Function', CORE_FUNCTIONS + fixture.length + webhookResources(fixture).functions);
    template.resourceCountIs('AWS::SQS::Queue', CORE_QUEUES + 2 * fixture.length);
    template.resourceCountIs('AWS::Lambda::EventSourceMapping', 1 + fixture.length);
    template.resourceCountIs('AWS::Events::Rule', 1 + routes);
    expect(fixture.filter(createsSecret)).toHaveLength(fixture.length);
    template.resourceCountIs('AWS::SecretsManager::Secret', fixture.length + webhookResources(fixture).secrets);
    template.resourceCountIs('AWS::CloudWatch::Alarm', integrationAlarms(fixture) + HUB_RUNBOOK_SLUGS.length + webhookResources(fixture).alarms);
    for (const integration of fixture) expectIntegrationDeployed(hub, integration);

    // Nothing is shared between two integrations.
    const pipelines = [...hub.stack.pipelines.values()];
    for (const part of ['queue', 'deadLetterQueue', 'function', 'eventSourceMapping', 'secret'] as const) {
      expect(new Set(pipelines.map((pipeline) => logicalIdOf(pipeline[part] as never, hub.stack))).size, part).toBe(fixture.length);
    }
  });

  it('wires the circuit controller, the dashboard and the circuit settings to the fixture integrations', () => {
    expectCircuitControllerOf(hub, fixture);
    expectDashboardRows(hub, fixture);
    expect(JSON.parse(outputsOf(hub).CircuitSettings!.Value as string)).toEqual(Object.fromEntries(fixture.map((integration) => [integration.name, integration.circuit])));
  });

  it('deploys nothing named after a shipped integration', () => {
    const template = hub.template.toJSON() as { Resources: Record<string, unknown> };
    const text = JSON.stringify(template);
    /** Where a name shows in a template: alarm names, secret names, function descriptions, logical ids. */
    const tracesOf = (name: string) => [
      ...[`IntegrationHub-${name}-`, `integration-hub/${name}"`, `integration-hub ${name}:`].filter((marker) => text.includes(marker)),
      ...Object.keys(template.Resources).filter((id) => id.startsWith(`Integrations${pascalCase(name)}`)),
    ];
    for (const { name } of fixture) expect(tracesOf(name).length, name).toBeGreaterThanOrEqual(4);
    for (const { name } of INTEGRATIONS) expect(tracesOf(name), name).toEqual([]);
  });
});

describe('IntegrationHubStack with oauth2_refresh_token integrations', () => {
  // The fixture, with its last two entries switched to the refresh-token scheme.
  const entries: IntegrationEntry[] = fixtureIntegrations(5).map((entry, index) => (index >= 3 ? { ...entry, auth: FIXTURE_REFRESH_TOKEN_AUTH } : entry));
  const fixture = resolveCatalog(entries);
  const refreshing = fixture.filter((integration) => authScheme(integration.auth) === 'oauth2_refresh_token');
  let hub: HubApp;
  beforeAll(() => {
    hub = synthesizeHub({ integrations: entries, workflows: null });
  });

  it('gives exactly one reauthorization-needed alarm to each oauth2_refresh_token circuit and none to the others', () => {
    expect(refreshing).toHaveLength(2);
    const alarms = Object.values(hub.template.findResources('AWS::CloudWatch::Alarm', { Properties: { MetricName: 'ReauthorizationNeeded' } }));
    const circuits = alarms.map((alarm) => (alarm.Properties.Dimensions as { Name: string; Value: string }[]).find((d) => d.Name === 'integration')?.Value).sort();
    expect(circuits).toEqual(refreshing.map((integration) => integration.name).sort());
    for (const { Properties } of alarms) {
      expect(Properties.AlarmDescription).toContain(`Runbook: ${runbookPath('reauthorization-needed')}`);
      expect(existsSync(join(REPOSITORY_ROOT, runbookPath('reauthorization-needed')))).toBe(true);
    }
    hub.template.resourceCountIs('AWS::CloudWatch::Alarm', integrationAlarms(fixture) + HUB_RUNBOOK_SLUGS.length + webhookResources(fixture).alarms);
    for (const integration of fixture) expectIntegrationDeployed(hub, integration);
  });
});

describe('IntegrationHubStack configuration', () => {
  it('takes a base URL override from context baseUrl:<name>', () => {
    const entries = fixtureIntegrations(2);
    const [overridden, untouched] = entries;
    const url = `https://sandbox.${overridden!.name}.example.com/v9`;
    const { stack, template } = synthesizeHub({ integrations: entries, workflows: null, context: { [`baseUrl:${overridden!.name}`]: url } });
    const environment = (name: string) => template.toJSON().Resources[logicalIdOf(stack.pipelines.get(name)!.function, stack)].Properties.Environment.Variables;
    expect(environment(overridden!.name).BASE_URL).toBe(url);
    expect(stack.catalog.find((entry) => entry.name === overridden!.name)?.baseUrl).toBe(url);
    expect(environment(untouched!.name).BASE_URL).toBe(untouched!.baseUrl);
  });

  it('fails with every catalog problem when the catalog is invalid', () => {
    const [first, second] = fixtureIntegrations(2);
    const broken = [
      { ...first!, maxConcurrency: 1 },
      { ...second!, baseUrl: 'nope' },
    ];
    expect(() => synthesizeHub({ integrations: broken, workflows: null })).toThrow(CatalogError);
    expect(() => synthesizeHub({ integrations: broken, workflows: null })).toThrow(new RegExp(`'${first!.name}': maxConcurrency[\\s\\S]*'${second!.name}': baseUrl`));
  });

  it('lets a dev stack destroy its stateful resources', () => {
    const { template } = synthesizeHub({ removalPolicy: RemovalPolicy.DESTROY });
    for (const type of ['AWS::DynamoDB::Table', 'AWS::SecretsManager::Secret', 'AWS::Logs::LogGroup']) {
      const resources = Object.values(template.findResources(type));
      expect(resources.length, type).toBeGreaterThan(0);
      for (const resource of resources) expect(resource.DeletionPolicy).toBe('Delete');
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
    const hubTables = new HubTables(stack, 'Tables', { encryptionKey: key });
    const tables = Object.values(Template.fromStack(stack).findResources('AWS::DynamoDB::Table'));
    expect(tables).toHaveLength(Object.keys(hubTables.all).length);
    for (const table of tables) {
      expect(table.Properties.SSESpecification).toEqual({
        SSEEnabled: true,
        SSEType: 'KMS',
        KMSMasterKeyId: { 'Fn::GetAtt': [logicalIdOf(key, stack), 'Arn'] },
      });
    }
  });
});
