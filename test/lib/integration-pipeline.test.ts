import type { Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { EventBus } from 'aws-cdk-lib/aws-events';
import { Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { beforeAll, describe, expect, it } from 'vitest';
import { resolveCircuitBreakerSettings } from '../../functions/runtime/circuit-settings.js';
import { SETTINGS_ENVIRONMENT, settingsFromEnvironment } from '../../functions/runtime/runtime-settings.js';
import { INTEGRATIONS, type IntegrationEntry, resolveCatalog } from '../../lib/catalog.js';
import { HubTables } from '../../lib/constructs/hub-tables.js';
import { SECRET_PLACEHOLDER } from '../../functions/runtime/auth-config.js';
import { IntegrationPipeline } from '../../lib/constructs/integration-pipeline.js';
import { ConstructPropsError } from '../../lib/props-validation.js';
import { fixtureIntegrations } from './fixture-catalog.js';
import { asArray, type HubApp, logicalIdOf, newTestStack, statementsOfRole, synthesizeHub } from './hub-app.js';

const catalog = resolveCatalog(INTEGRATIONS);

/** Every environment variable an integration function may carry: the runtime's settings, its circuit, the platform's. */
const KNOWN_ENVIRONMENT = new Set([...Object.keys(SETTINGS_ENVIRONMENT), 'CIRCUIT_SETTINGS', 'NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE']);

describe('IntegrationPipeline, for every integration in the catalog', () => {
  let hub: HubApp;
  let resources: Record<string, { Type: string; Properties: Record<string, any>; DeletionPolicy?: string }>;
  beforeAll(() => {
    hub = synthesizeHub();
    resources = hub.template.toJSON().Resources;
  });

  const parts = (name: string) => {
    const pipeline = hub.stack.pipelines.get(name)!;
    const id = (construct: { node: { defaultChild?: unknown } }) => logicalIdOf(construct, hub.stack);
    return {
      pipeline,
      queueId: id(pipeline.queue),
      dlqId: id(pipeline.deadLetterQueue),
      functionId: id(pipeline.function),
      roleId: id(pipeline.function.role as never),
      secretId: pipeline.secret ? id(pipeline.secret as never) : undefined,
    };
  };

  for (const integration of catalog) {
    describe(integration.name, () => {
      it('has a work queue redriving to its DLQ after the catalog maxReceiveCount', () => {
        const { queueId, dlqId } = parts(integration.name);
        expect(resources[queueId]?.Properties.RedrivePolicy).toEqual({
          deadLetterTargetArn: { 'Fn::GetAtt': [dlqId, 'Arn'] },
          maxReceiveCount: integration.maxReceiveCount,
        });
      });

      it('encrypts both queues and denies every request not made over TLS', () => {
        const { queueId, dlqId } = parts(integration.name);
        for (const id of [queueId, dlqId]) {
          expect(resources[id]?.Properties.SqsManagedSseEnabled).toBe(true);
          hub.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
            Queues: [{ Ref: id }],
            PolicyDocument: {
              Statement: Match.arrayWith([
                {
                  Effect: 'Deny',
                  Principal: { AWS: '*' },
                  Action: 'sqs:*',
                  Condition: { Bool: { 'aws:SecureTransport': 'false' } },
                  Resource: { 'Fn::GetAtt': [id, 'Arn'] },
                },
              ]),
            },
          });
        }
      });

      it('keeps dead letters 14 days', () => {
        expect(resources[parts(integration.name).dlqId]?.Properties.MessageRetentionPeriod).toBe(14 * 24 * 60 * 60);
      });

      it('sets the queue visibility timeout to at least 6 × the function timeout', () => {
        const { queueId, functionId } = parts(integration.name);
        const functionTimeout = resources[functionId]?.Properties.Timeout as number;
        expect(functionTimeout).toBe(integration.functionTimeoutSeconds);
        expect(resources[queueId]?.Properties.VisibilityTimeout).toBeGreaterThanOrEqual(6 * functionTimeout);
      });

      it('maps the queue to the function with partial batch responses, the catalog batch size and maximum concurrency', () => {
        const { queueId, functionId, pipeline } = parts(integration.name);
        expect(resources[logicalIdOf(pipeline.eventSourceMapping, hub.stack)]?.Properties).toEqual({
          FunctionName: { Ref: functionId },
          EventSourceArn: { 'Fn::GetAtt': [queueId, 'Arn'] },
          BatchSize: integration.batchSize,
          FunctionResponseTypes: ['ReportBatchItemFailures'],
          ScalingConfig: { MaximumConcurrency: integration.maxConcurrency },
        });
      });

      it('routes each catalog route from the hub bus to the queue, undeliverable events to the DLQ', () => {
        const { queueId, dlqId, pipeline } = parts(integration.name);
        expect(pipeline.rules).toHaveLength(integration.routes.length);
        const busId = logicalIdOf(hub.stack.bus.bus, hub.stack);
        integration.routes.forEach((route, index) => {
          expect(resources[logicalIdOf(pipeline.rules[index]!, hub.stack)]?.Properties).toMatchObject({
            EventBusName: { Ref: busId },
            EventPattern: { source: route.sources, 'detail-type': route.detailTypes },
            State: 'ENABLED',
            Targets: [{ Arn: { 'Fn::GetAtt': [queueId, 'Arn'] }, DeadLetterConfig: { Arn: { 'Fn::GetAtt': [dlqId, 'Arn'] } } }],
          });
        });
      });

      it('runs the catalog entry with the catalog timeout and memory', () => {
        expect(resources[parts(integration.name).functionId]?.Properties).toMatchObject({
          Runtime: 'nodejs22.x',
          Handler: 'index.handler',
          Timeout: integration.functionTimeoutSeconds,
          MemorySize: integration.memoryMb,
        });
      });

      it('configures every setting the runtime requires, and only settings the runtime knows', () => {
        const { functionId, dlqId, secretId } = parts(integration.name);
        const environment = resources[functionId]?.Properties.Environment.Variables as Record<string, unknown>;
        expect(environment).toMatchObject({
          BASE_URL: integration.baseUrl,
          LEDGER_TABLE_NAME: { Ref: logicalIdOf(hub.stack.tables.ledger, hub.stack) },
          CIRCUITS_TABLE_NAME: { Ref: logicalIdOf(hub.stack.tables.circuits, hub.stack) },
          DLQ_URL: { Ref: dlqId },
          SECRET_NAME: { Ref: secretId },
          RECORD_CONCURRENCY: String(integration.recordConcurrency),
          ...(integration.httpTimeoutMs ? { HTTP_TIMEOUT_MS: String(integration.httpTimeoutMs) } : {}),
          ...(integration.maxAttempts ? { HTTP_MAX_ATTEMPTS: String(integration.maxAttempts) } : {}),
        });
        expect(Object.keys(environment).filter((name) => !KNOWN_ENVIRONMENT.has(name))).toEqual([]);

        // The runtime's own parsers accept what the stack sets (deploy-time tokens stand in as strings).
        const asDeployed = Object.fromEntries(Object.entries(environment).map(([name, value]) => [name, typeof value === 'string' ? value : `deployed-${name}`]));
        expect(() => settingsFromEnvironment(asDeployed)).not.toThrow();
        const circuit = JSON.parse(asDeployed.CIRCUIT_SETTINGS!) as object;
        expect(circuit).toEqual(integration.circuit);
        expect(() => resolveCircuitBreakerSettings(circuit, integration.name)).not.toThrow();
      });

      it("lets the function read exactly its own secret, and no other secret (and write it only for the refresh-token scheme)", () => {
        const { roleId, secretId } = parts(integration.name);
        const secretStatements = statementsOfRole(hub.template, roleId).filter((statement) =>
          asArray(statement.Action).some((action) => action.startsWith('secretsmanager:')),
        );
        expect(secretStatements.length).toBeGreaterThan(0);
        // The refresh-token scheme stores rotated tokens as a new version of its own secret (docs/oauth-refresh-tokens.md).
        const writes = integration.auth.scheme === 'oauth2_refresh_token' ? ['secretsmanager:PutSecretValue'] : [];
        expect(secretStatements.flatMap((statement) => asArray(statement.Action)).sort()).toEqual(
          ['secretsmanager:DescribeSecret', 'secretsmanager:GetSecretValue', ...writes].sort(),
        );
        for (const statement of secretStatements) expect(asArray(statement.Resource)).toEqual([{ Ref: secretId }]);
      });

      it('grants no wildcard action and no "*" resource beyond X-Ray', () => {
        for (const statement of statementsOfRole(hub.template, parts(integration.name).roleId)) {
          expect(asArray(statement.Action).filter((action) => action.includes('*'))).toEqual([]);
          if (asArray(statement.Resource).includes('*')) {
            expect(asArray(statement.Action).sort()).toEqual(['xray:PutTelemetryRecords', 'xray:PutTraceSegments']);
          }
        }
      });

      it('lets the function send to its own DLQ and its own queue (hand-back), and change visibility on its own queue only', () => {
        const { roleId, queueId, dlqId } = parts(integration.name);
        const sqs = statementsOfRole(hub.template, roleId).filter((statement) => asArray(statement.Action).some((action) => action.startsWith('sqs:')));
        const on = (action: string) => sqs.filter((statement) => asArray(statement.Action).includes(action)).flatMap((statement) => asArray(statement.Resource));
        expect(on('sqs:SendMessage')).toEqual(expect.arrayContaining([{ 'Fn::GetAtt': [dlqId, 'Arn'] }, { 'Fn::GetAtt': [queueId, 'Arn'] }]));
        expect(on('sqs:SendMessage')).toHaveLength(2);
        expect(on('sqs:ChangeMessageVisibility')).toEqual([{ 'Fn::GetAtt': [queueId, 'Arn'] }]);
        expect(on('sqs:ReceiveMessage')).toEqual([{ 'Fn::GetAtt': [queueId, 'Arn'] }]);
      });

      it('creates its secret from a placeholder of the auth scheme fields, with the value generated, retained', () => {
        const secret = resources[parts(integration.name).secretId!];
        expect(secret?.DeletionPolicy).toBe('Retain');
        expect(secret?.Properties.Name).toBe(integration.secret.name);
        const generate = secret?.Properties.GenerateSecretString as { SecretStringTemplate: string; GenerateStringKey: string };
        const template = JSON.parse(generate.SecretStringTemplate) as Record<string, string>;
        expect(Object.values(template).every((value) => value === SECRET_PLACEHOLDER)).toBe(true);
        expect(secret?.Properties.SecretString).toBeUndefined();
      });
    });
  }
});

describe('IntegrationPipeline variants', () => {
  /** The entry the variants start from: a made-up one, so nothing here rests on a shipped integration. */
  const [base] = fixtureIntegrations(1);
  const build = (overrides: Partial<IntegrationEntry>, extend?: (stack: Stack, pipeline: IntegrationPipeline) => void) => {
    const stack = newTestStack();
    const tables = new HubTables(stack, 'Tables');
    const [integration] = resolveCatalog([{ ...base!, ...overrides }]);
    const pipeline = new IntegrationPipeline(stack, 'Pipeline', {
      integration: integration!,
      bus: new EventBus(stack, 'Bus'),
      ledgerTable: tables.ledger,
      circuitsTable: tables.circuits,
    });
    extend?.(stack, pipeline);
    return { stack, pipeline, template: Template.fromStack(stack) };
  };

  it('imports an existing secret by name when the catalog says import, and grants that name only', () => {
    const secretName = `vendor/${base!.name}`;
    const { stack, pipeline, template } = build({ secret: { name: secretName, import: true } });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    const environment = template.toJSON().Resources[logicalIdOf(pipeline.function, stack)].Properties.Environment.Variables;
    expect(environment.SECRET_NAME).toBe(secretName);
    const secretResources = statementsOfRole(template, logicalIdOf(pipeline.function.role as never, stack))
      .filter((statement) => asArray(statement.Action).some((action) => action.startsWith('secretsmanager:')))
      .flatMap((statement) => asArray(statement.Resource));
    expect(secretResources).toHaveLength(1);
    expect(JSON.stringify(secretResources[0])).toContain(`:secret:${secretName}-??????"`);
  });

  it('creates no secret and sets no SECRET_NAME for auth none', () => {
    const { stack, pipeline, template } = build({ auth: 'none' });
    template.resourceCountIs('AWS::SecretsManager::Secret', 0);
    expect(pipeline.secret).toBeUndefined();
    const environment = template.toJSON().Resources[logicalIdOf(pipeline.function, stack)].Properties.Environment.Variables;
    expect(environment.SECRET_NAME).toBeUndefined();
  });

  it('generates the single field of a bearer secret with an empty template', () => {
    const { template } = build({ auth: 'bearer' });
    template.hasResourceProperties('AWS::SecretsManager::Secret', {
      GenerateSecretString: { SecretStringTemplate: '{}', GenerateStringKey: 'token' },
    });
  });

  it('adds the batching window to the visibility timeout and the mapping', () => {
    const { template } = build({ batchWindowSeconds: 20, batchSize: 50, functionTimeoutSeconds: 60, httpTimeoutMs: 5000 });
    template.hasResourceProperties('AWS::SQS::Queue', { VisibilityTimeout: 6 * 60 + 20, RedrivePolicy: Match.anyValue() });
    template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { BatchSize: 50, MaximumBatchingWindowInSeconds: 20 });
  });

  it('lets the circuit controller toggle this mapping only', () => {
    let controller!: Role;
    const { stack, pipeline, template } = build({}, (scope, built) => {
      controller = new Role(scope, 'Controller', { assumedBy: new ServicePrincipal('lambda.amazonaws.com') });
      built.grantEventSourceControl(controller);
    });
    const statements = statementsOfRole(template, logicalIdOf(controller, stack));
    expect(statements).toEqual([
      expect.objectContaining({
        Action: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
        Resource: expect.objectContaining({ 'Fn::Join': expect.anything() }),
      }),
    ]);
    expect(JSON.stringify(statements[0]!.Resource)).toContain(logicalIdOf(pipeline.eventSourceMapping, stack));
  });

  it('rejects props it cannot honour, listing every problem at once', () => {
    const stack = newTestStack();
    const tables = new HubTables(stack, 'Tables');
    const [integration] = resolveCatalog([base!]);
    let error: unknown;
    try {
      new IntegrationPipeline(stack, 'Pipeline', {
        // Built by hand: resolveCatalog would have refused these already.
        integration: { ...integration!, entry: 'functions/integrations/missing.ts', routes: [], batchSize: 100 },
        bus: new EventBus(stack, 'Bus'),
        ledgerTable: tables.ledger,
        circuitsTable: tables.circuits,
        queueProps: { fifo: true },
      });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConstructPropsError);
    expect((error as ConstructPropsError).problems).toEqual([
      expect.stringMatching(/entry functions\/integrations\/missing\.ts does not exist/),
      expect.stringMatching(/needs at least one route/),
      expect.stringMatching(/a batch size above 10 needs a batching window/),
      expect.stringMatching(/FIFO work queues are not supported/),
    ]);
  });
});
