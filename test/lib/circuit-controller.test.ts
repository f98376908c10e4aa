import { App, Duration, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { INTEGRATIONS, type IntegrationEntry, resolveCatalog } from '../../lib/catalog.js';
import { CircuitController, type CircuitControllerProps, type CircuitProbedProvider } from '../../lib/constructs/circuit-controller.js';
import type { ResolvedProvider } from '../../lib/workflow-catalog.js';
import { fixtureIntegrations, resolvedAuth } from './fixture-catalog.js';
import { opsCatalogOf } from './hub-app.js';
import type { OpsCatalogReader } from '../../functions/ops/ops-catalog.js';
import { marshall } from '@aws-sdk/util-dynamodb';
import { refreshLeaseKey } from '../../functions/runtime/refresh-token-credentials.js';
import { compileEventPattern } from '../../local/event-pattern.js';

interface Built {
  stack: Stack;
  template: Template;
  controller: CircuitController;
  /** Per catalog integration, in catalog order. */
  mappings: lambda.EventSourceMapping[];
  secrets: secretsmanager.Secret[];
}

/** A small stack: a circuits table with a stream, an SQS-mapped function per catalog integration, and the controller. */
function build(
  overrides: Partial<CircuitControllerProps> = {},
  providers?: (stack: Stack) => CircuitProbedProvider[],
  entries: readonly IntegrationEntry[] = INTEGRATIONS,
): Built {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'CircuitControllerTest', { env: { account: '111111111111', region: 'eu-west-1' } });
  const circuitsTable = new dynamodb.Table(stack, 'Circuits', {
    partitionKey: { name: 'circuitId', type: dynamodb.AttributeType.STRING },
    stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
  });
  const mappings: lambda.EventSourceMapping[] = [];
  const secrets: secretsmanager.Secret[] = [];
  const pipelines = resolveCatalog(entries).map((integration) => {
    const queue = new sqs.Queue(stack, `${integration.name}-queue`);
    const handler = new lambda.Function(stack, `${integration.name}-handler`, {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
    });
    const mapping = new lambda.EventSourceMapping(stack, `${integration.name}-mapping`, {
      target: handler,
      eventSourceArn: queue.queueArn,
      maxConcurrency: integration.maxConcurrency,
    });
    mappings.push(mapping);
    const secret = new secretsmanager.Secret(stack, `${integration.name}-secret`, { secretName: integration.secret.name });
    secrets.push(secret);
    return { integration, eventSourceMappingId: mapping.eventSourceMappingId, eventSourceMappingArn: mapping.eventSourceMappingArn, secret };
  });
  const controller = new CircuitController(stack, 'CircuitController', { circuitsTable, pipelines, ...(providers ? { providers: providers(stack) } : {}), ...overrides });
  return { stack, template: Template.fromStack(stack), controller, mappings, secrets };
}

type Statement = { Action: string | string[]; Resource: unknown; Effect: string; Sid?: string };

/** Every statement of the policies attached to a function's role. */
function statementsOf(built: Built, fn: lambda.IFunction): Statement[] {
  const roleId = built.stack.getLogicalId(fn.role?.node.defaultChild as never);
  const policies = built.template.findResources('AWS::IAM::Policy', { Properties: { Roles: [{ Ref: roleId }] } });
  return Object.values(policies).flatMap((policy) => (policy as { Properties: { PolicyDocument: { Statement: Statement[] } } }).Properties.PolicyDocument.Statement);
}

const actionsOf = (s: Statement) => (Array.isArray(s.Action) ? s.Action : [s.Action]);
const resourcesOf = (s: Statement) => (Array.isArray(s.Resource) ? s.Resource : [s.Resource]);

function logicalIdOf(built: Built, construct: { node: { defaultChild?: unknown } }): string {
  return built.stack.getLogicalId(construct.node.defaultChild as never);
}

/** The physical name of the probe schedule rule, as written in the template. */
function ruleNameOf(built: Built): string {
  const resource = built.template.toJSON().Resources[logicalIdOf(built, built.controller.probeSchedule as never)];
  return resource.Properties.Name;
}

function envOf(built: Built, fn: lambda.IFunction): Record<string, unknown> {
  const resource = built.template.toJSON().Resources[logicalIdOf(built, fn as never)];
  return resource.Properties.Environment.Variables;
}

/** Renders a value whose tokens are Refs / GetAtts (in an Fn::Join or alone) as text with placeholders. */
function textOf(value: unknown): string {
  const placeholder = (token: unknown) => `<${JSON.stringify(token).replace(/["\\]/g, '')}>`;
  if (typeof value === 'string') return value;
  if (!(value as Record<string, unknown>)['Fn::Join']) return placeholder(value);
  const [separator, parts] = (value as { 'Fn::Join': [string, unknown[]] })['Fn::Join'];
  return parts.map((part) => (typeof part === 'string' ? part : placeholder(part))).join(separator);
}

/** What the controller or the prober of `built` reads from its SSM parameters. */
function opsCatalog(built: Built, reader: OpsCatalogReader) {
  const fn = reader === 'controller' ? built.controller.controllerFunction : built.controller.proberFunction;
  return opsCatalogOf(built.template, logicalIdOf(built, fn as never), reader, textOf);
}

describe('CircuitController construct', () => {
  it('lets both functions get and update exactly the mappings of the catalog integrations, and no other lambda resource', () => {
    const built = build();
    expect(built.mappings).toHaveLength(INTEGRATIONS.length);
    const expectedArns = built.mappings.map((m) => built.stack.resolve(m.eventSourceMappingArn));
    for (const fn of [built.controller.controllerFunction, built.controller.proberFunction]) {
      const lambdaStatements = statementsOf(built, fn).filter((s) => actionsOf(s).some((a) => a.startsWith('lambda:')));
      expect(lambdaStatements).toHaveLength(1);
      const [statement] = lambdaStatements;
      expect(actionsOf(statement!).sort()).toEqual(['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping']);
      expect(resourcesOf(statement!)).toEqual(expectedArns);
      expect(resourcesOf(statement!)).not.toContain('*');
    }
    // The ARN is the mapping's own: arn:<partition>:lambda:<region>:<account>:event-source-mapping:<uuid>.
    expect(JSON.stringify(expectedArns[0])).toContain(':event-source-mapping:');
  });

  it('creates the prober schedule as rate(1 minute), disabled, targeting the prober', () => {
    const built = build();
    built.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 minute)',
      State: 'DISABLED',
      Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [logicalIdOf(built, built.controller.proberFunction as never), 'Arn'] } })],
    });
  });

  it('lets the controller only enable the schedule and the prober enable and disable it, on exactly that rule', () => {
    const built = build();
    const ruleName = ruleNameOf(built);
    const ruleArnSuffix = `:rule/${ruleName}`;
    const eventsStatements = (fn: lambda.IFunction) => statementsOf(built, fn).filter((s) => actionsOf(s).some((a) => a.startsWith('events:')));

    const [controllerStatement, ...moreController] = eventsStatements(built.controller.controllerFunction);
    expect(moreController).toEqual([]);
    expect(actionsOf(controllerStatement!)).toEqual(['events:EnableRule']);
    const [proberStatement, ...moreProber] = eventsStatements(built.controller.proberFunction);
    expect(moreProber).toEqual([]);
    expect(actionsOf(proberStatement!).sort()).toEqual(['events:DisableRule', 'events:EnableRule']);
    for (const statement of [controllerStatement!, proberStatement!]) {
      expect(resourcesOf(statement)).toHaveLength(1);
      expect(JSON.stringify(resourcesOf(statement)[0])).toContain(ruleArnSuffix);
    }
  });

  it('subscribes the controller to the circuits stream with state-change filters, bounded retries, bisection and an on-failure queue', () => {
    const built = build();
    const queueId = logicalIdOf(built, built.controller.failedRecordsQueue as never);
    built.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalIdOf(built, built.controller.controllerFunction as never) },
      EventSourceArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('^Circuits'), 'StreamArn'] },
      StartingPosition: 'LATEST',
      BatchSize: 10,
      MaximumRetryAttempts: 10,
      BisectBatchOnFunctionError: true,
      ParallelizationFactor: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      DestinationConfig: { OnFailure: { Destination: { 'Fn::GetAtt': [queueId, 'Arn'] } } },
      FilterCriteria: { Filters: Match.anyValue() },
    });
    const mapping = Object.values(built.template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { StartingPosition: 'LATEST' } }))[0] as {
      Properties: { FilterCriteria: { Filters: { Pattern: string }[] } };
    };
    const patterns = mapping.Properties.FilterCriteria.Filters.map((f) => JSON.parse(f.Pattern));
    expect(patterns).toContainEqual({
      eventName: ['MODIFY'],
      dynamodb: { NewImage: { state: { S: ['open'] } }, OldImage: { state: { S: [{ 'anything-but': ['open'] }] } } },
    });
    expect(patterns).toContainEqual({
      eventName: ['MODIFY'],
      dynamodb: { NewImage: { state: { S: ['closed'] } }, OldImage: { state: { S: [{ 'anything-but': ['closed'] }] } } },
    });
    expect(patterns).toContainEqual({ eventName: ['INSERT'], dynamodb: { NewImage: { state: { S: [{ 'anything-but': ['closed'] }] } } } });
    expect(patterns).toHaveLength(5);
  });

  it('passes circuit state changes and never a refresh-lease write of the same table (its items have no state)', () => {
    const built = build();
    const mapping = Object.values(built.template.findResources('AWS::Lambda::EventSourceMapping', { Properties: { StartingPosition: 'LATEST' } }))[0] as {
      Properties: { FilterCriteria: { Filters: { Pattern: string }[] } };
    };
    // Lambda event filtering shares EventBridge's pattern language: a present-field match, `anything-but` included.
    const filters = mapping.Properties.FilterCriteria.Filters.map((f) => compileEventPattern(f.Pattern));
    const passes = (record: object) => filters.some((matches) => matches(record));
    const image = (attributes: Record<string, unknown>) => marshall(attributes);
    const lease = { circuitId: refreshLeaseKey('integration-hub/prod/desk'), updatedAt: 1 };

    expect(passes({ eventName: 'INSERT', dynamodb: { NewImage: image({ circuitId: 'desk', state: 'open', version: 1 }) } })).toBe(true);
    expect(passes({ eventName: 'MODIFY', dynamodb: { OldImage: image({ circuitId: 'desk', state: 'closed' }), NewImage: image({ circuitId: 'desk', state: 'isolated' }) } })).toBe(true);
    expect(passes({ eventName: 'MODIFY', dynamodb: { OldImage: image({ circuitId: 'desk', state: 'closed', version: 1 }), NewImage: image({ circuitId: 'desk', state: 'closed', version: 2 }) } })).toBe(false);

    const taken = { ...lease, leaseOwner: 'instance-1', leaseUntil: 15_000 };
    const released = { ...lease, rejectedRefreshToken: 'fp-0123456789abcd' };
    expect(passes({ eventName: 'INSERT', dynamodb: { NewImage: image(taken) } })).toBe(false);
    expect(passes({ eventName: 'MODIFY', dynamodb: { OldImage: image(taken), NewImage: image(released) } })).toBe(false);
    expect(passes({ eventName: 'MODIFY', dynamodb: { OldImage: image(released), NewImage: image({ ...released, ...taken }) } })).toBe(false);
    expect(passes({ eventName: 'REMOVE', dynamodb: { OldImage: image(released) } })).toBe(false);
  });

  it('encrypts the on-failure queue and refuses non-TLS access to it', () => {
    const built = build();
    const queueId = logicalIdOf(built, built.controller.failedRecordsQueue as never);
    built.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    built.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
      Queues: [{ Ref: queueId }],
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } }, Principal: { AWS: '*' } }),
        ]),
      },
    });
  });

  it('lets only the prober read the integration secrets', () => {
    const built = build();
    const reads = (fn: lambda.IFunction) => statementsOf(built, fn).filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue'));
    expect(reads(built.controller.controllerFunction)).toEqual([]);
    const proberReads = reads(built.controller.proberFunction).flatMap(resourcesOf);
    expect(proberReads).toEqual(built.secrets.map((secret) => ({ Ref: logicalIdOf(built, secret as never) })));
  });

  it('gives the controller read access and the prober read/write access to the circuits table only', () => {
    const built = build();
    const dynamoActions = (fn: lambda.IFunction) =>
      statementsOf(built, fn)
        .filter((s) => actionsOf(s).some((a) => a.startsWith('dynamodb:') && !a.includes('Stream')))
        .flatMap(actionsOf);
    expect(dynamoActions(built.controller.controllerFunction)).not.toContain('dynamodb:PutItem');
    expect(dynamoActions(built.controller.controllerFunction)).toContain('dynamodb:GetItem');
    expect(dynamoActions(built.controller.proberFunction)).toEqual(expect.arrayContaining(['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem']));
  });

  for (const [catalogName, entries] of [
    ['the shipped catalog', INTEGRATIONS],
    ['a made-up catalog', fixtureIntegrations(3)],
  ] as const) {
    it(`configures the functions from ${catalogName}: mappings, concurrency, base URL, secret and breaker settings`, () => {
      const built = build({ restoreAfter: Duration.seconds(90) }, undefined, entries);
      const catalog = resolveCatalog(entries);
      const controllerEnv = envOf(built, built.controller.controllerFunction);
      const proberEnv = envOf(built, built.controller.proberFunction);
      const ruleName = ruleNameOf(built);
      expect(ruleName).toMatch(/^[\w.-]{1,64}$/);
      expect(controllerEnv.PROBE_RULE_NAME).toBe(ruleName);
      expect(proberEnv.PROBE_RULE_NAME).toBe(ruleName);
      expect(proberEnv.RESTORE_AFTER_SECONDS).toBe('90');
      expect(controllerEnv.CIRCUITS_TABLE_NAME).toEqual({ Ref: expect.stringMatching(/^Circuits/) });

      const mappingUuid = (index: number) => `<{Ref:${logicalIdOf(built, built.mappings[index] as never)}}>`;
      // The functions read the parameters in name order.
      const byName = (name: unknown) => catalog.findIndex((integration) => integration.name === name);
      const controlled = opsCatalog(built, 'controller').integrations;
      expect(controlled.map((entry) => entry.name)).toEqual(catalog.map((integration) => integration.name).sort());
      for (const entry of controlled) expect(entry).toEqual({ name: entry.name, mappingUuid: mappingUuid(byName(entry.name)) });
      const probed = opsCatalog(built, 'prober').integrations;
      expect(probed.map((entry) => entry.name)).toEqual(controlled.map((entry) => entry.name));
      catalog.forEach((integration, index) => {
        const entry = probed.find((candidate) => candidate.name === integration.name);
        expect(entry, integration.name).toMatchObject({
          mappingUuid: mappingUuid(index),
          maxConcurrency: integration.maxConcurrency,
          baseUrl: integration.baseUrl,
          circuit: integration.circuit,
          secretName: `<{Ref:${logicalIdOf(built, built.secrets[index] as never)}}>`,
        });
        expect(entry?.httpTimeoutMs, integration.name).toBe(integration.httpTimeoutMs);
      });
    });
  }

  it('runs the prober after a deploy that may have reset a mapping or the schedule, and only then', () => {
    const built = build();
    const resources = Object.values(built.template.findResources('Custom::CircuitReconcile')) as { Properties: Record<string, unknown>; DependsOn?: string[] }[];
    // One for the schedule (the controller's own), one for the mappings (the registration of the integrations).
    expect(resources).toHaveLength(2);
    const [schedule, mappings] = [resources.find((r) => (r.Properties.mappings as unknown[]).length === 0)!, resources.find((r) => (r.Properties.mappings as unknown[]).length > 0)!];
    for (const reconcile of [schedule, mappings]) {
      // Served by the prober itself: no provider function of its own.
      expect(reconcile.Properties.ServiceToken).toEqual({ 'Fn::GetAtt': [logicalIdOf(built, built.controller.proberFunction as never), 'Arn'] });
      expect(reconcile.Properties).toMatchObject({ reconcile: 'after-deploy' });
    }
    expect(schedule.DependsOn).toEqual(expect.arrayContaining([logicalIdOf(built, built.controller.probeSchedule as never)]));
    // Created or updated after every mapping (its properties name them), the parameters and the grants it needs.
    expect(mappings.Properties.mappings).toEqual(built.mappings.map((mapping) => ({ Ref: logicalIdOf(built, mapping as never) })));
    const parameterIds = built.controller.registration!.parameters.map((parameter) => logicalIdOf(built, parameter as never));
    expect(mappings.DependsOn).toEqual(expect.arrayContaining(parameterIds));

    const fingerprintOf = (b: Built) =>
      (Object.values(b.template.findResources('Custom::CircuitReconcile')) as { Properties: { fingerprint: string; mappings: unknown[] } }[]).map((r) => r.Properties.fingerprint);
    // The same catalog gives the same properties (no update, no run); a change of a mapping's settings changes the
    // mappings' run only.
    expect(fingerprintOf(build())).toEqual(fingerprintOf(built));
    const changed = INTEGRATIONS.map((entry, index) => (index === 0 ? { ...entry, maxConcurrency: (entry.maxConcurrency ?? 5) + 1 } : entry));
    const [before, after] = [fingerprintOf(built), fingerprintOf(build({}, undefined, changed))];
    expect(after.filter((fingerprint) => before.includes(fingerprint))).toHaveLength(1);
  });

  it('hands the standalone workflow providers to both functions and lets only the prober read their secrets', () => {
    const courier: ResolvedProvider = {
      name: 'parcel-courier',
      description: 'a made-up carrier',
      baseUrl: 'https://parcel-courier.fixture.example/v2',
      auth: resolvedAuth('basic'),
      secret: { name: 'integration-hub/parcel-courier', import: false },
      httpTimeoutMs: 7000,
      circuit: { failureThreshold: 4, breakMs: 20_000 },
    };
    const built = build({}, (stack) => [{ provider: courier, secret: new secretsmanager.Secret(stack, 'courier-secret', { secretName: courier.secret.name }) }]);
    expect(opsCatalog(built, 'controller').providers).toEqual([courier.name]);
    const [probed] = opsCatalog(built, 'prober').providers as Record<string, unknown>[];
    expect(probed).toMatchObject({ name: courier.name, baseUrl: courier.baseUrl, httpTimeoutMs: courier.httpTimeoutMs, circuit: courier.circuit });
    expect(String(probed?.secretName)).toContain('couriersecret');
    const reads = (fn: lambda.IFunction) => statementsOf(built, fn).filter((s) => actionsOf(s).includes('secretsmanager:GetSecretValue')).flatMap(resourcesOf);
    // Each integration's secret and the provider's.
    expect(reads(built.controller.proberFunction)).toHaveLength(built.secrets.length + 1);
    expect(reads(built.controller.controllerFunction)).toEqual([]);
    // Without providers there is no provider parameter, and the functions read an empty list.
    expect(opsCatalog(build(), 'controller').providers).toEqual([]);
  });

  it('refuses a provider without a secret, one that is an integration, and one listed twice', () => {
    const provider = (name: string, extra: Partial<ResolvedProvider> = {}): ResolvedProvider => ({
      name,
      description: '',
      baseUrl: `https://${name}.example.com`,
      auth: resolvedAuth('api_key'),
      secret: { name: `integration-hub/${name}`, import: false },
      circuit: {},
      ...extra,
    });
    const entries = fixtureIntegrations(2);
    const [first, second] = entries.map((entry) => entry.name);
    expect(() => build({}, () => [{ provider: provider('stockroom') }, { provider: provider(first!) }, { provider: provider(second!, { integration: second }) }], entries)).toThrow(
      new RegExp(`stockroom': secret is required[\\s\\S]*'${first}', which is already an integration[\\s\\S]*integration '${second}''s: it shares that circuit`),
    );
  });

  it('runs both functions on Node.js 22 / arm64 with ESM bundles and log groups with retention', () => {
    const built = build();
    for (const fn of [built.controller.controllerFunction, built.controller.proberFunction]) {
      built.template.hasResource('AWS::Lambda::Function', {
        Properties: Match.objectLike({ Runtime: 'nodejs22.x', Architectures: ['arm64'], Timeout: 60 }),
      });
      expect(built.template.toJSON().Resources[logicalIdOf(built, fn as never)].Properties.LoggingConfig).toBeDefined();
    }
    built.template.resourcePropertiesCountIs('AWS::Logs::LogGroup', { RetentionInDays: 30 }, 2);
    built.template.hasResourceProperties('AWS::Lambda::EventInvokeConfig', {
      FunctionName: { Ref: logicalIdOf(built, built.controller.proberFunction as never) },
      MaximumRetryAttempts: 0,
    });
  });

  it('reports every invalid prop at once, its own and those of the pipelines it registers', () => {
    const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
    const stack = new Stack(app, 'Invalid');
    const table = new dynamodb.Table(stack, 'NoStream', { partitionKey: { name: 'circuitId', type: dynamodb.AttributeType.STRING } });
    expect(() => new CircuitController(stack, 'Controller', { circuitsTable: table, restoreAfter: Duration.hours(2) })).toThrow(/stream[\s\S]*restoreAfter/);
    const streamed = new dynamodb.Table(stack, 'Streamed', {
      partitionKey: { name: 'circuitId', type: dynamodb.AttributeType.STRING },
      stream: dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
    });
    const [integration] = resolveCatalog(fixtureIntegrations(1));
    const secret = new secretsmanager.Secret(stack, 'Secret');
    const pipeline = { integration: integration!, eventSourceMappingId: 'x', eventSourceMappingArn: 'arn:aws:lambda:eu-west-1:1:function:nope', secret };
    expect(() => new CircuitController(stack, 'Controller2', { circuitsTable: streamed, pipelines: [pipeline, pipeline] })).toThrow(
      /eventSourceMappingId[\s\S]*eventSourceMappingArn[\s\S]*twice/,
    );
  });

  it('passes the cdk-nag AwsSolutions checks for everything it creates', () => {
    const { stack } = build();
    const result = new AwsSolutionsChecks(stack).validateScope(stack);
    const findings = result.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath ?? '?'}`));
    // The checks do run: the test's bare queues and functions (not ours) have findings.
    for (const { name } of INTEGRATIONS) expect(findings.some((f) => f.includes(`/${name}-queue/`)), name).toBe(true);
    expect(findings.filter((f) => f.includes('/CircuitController/'))).toEqual([]);
  });
});
