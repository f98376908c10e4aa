/**
 * The webhook endpoints the stack deploys from the catalog (lib/constructs/hub-webhooks.ts): one route, function,
 * signing secret and rejection alarm per integration that declares `webhooks`, with what its entry says; one API,
 * delivery-id table and 5xx alarm; nothing when no integration declares webhooks. Built on a fixture catalog.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { type IntegrationEntry, resolveCatalog } from '../../lib/catalog.js';
import { WEBHOOK_TABLE_ACTIONS, webhookPath } from '../../lib/constructs/webhook-endpoint.js';
import { webhookEventSource } from '../../functions/webhooks/webhook-declaration.js';
import { fixtureIntegrations } from './fixture-catalog.js';
import { webhookLogGroupOutputKey } from '../../lib/constructs/hub-webhooks.js';
import { flattenIntrinsics, type HubApp, synthesizeHub } from './hub-app.js';

type Resource = { Type: string; Properties: Record<string, any> };

const [alpha, beta, gamma] = fixtureIntegrations(3);
/** Two integrations with webhooks (one per scheme, limits of their own), one without. */
const ENTRIES: IntegrationEntry[] = [
  { ...alpha!, webhooks: { scheme: 'standard-webhooks', events: ['thing.updated'], rateLimitPerSecond: 7, burstLimit: 9, dedupeDays: 2, rejectionAlarmThreshold: 4 } },
  { ...beta!, webhooks: { scheme: 'timestamped-hmac', header: 'beta-signature', toleranceSeconds: 120, events: ['beta.paid', 'beta.refunded'], maxBodyBytes: 1_000 } },
  gamma!,
];
const CATALOG = resolveCatalog(ENTRIES);
const WITH_WEBHOOKS = CATALOG.filter((integration) => integration.webhooks !== undefined);

describe('webhook endpoints from the catalog', () => {
  let hub: HubApp;
  let resources: Record<string, Resource>;
  const ofType = (type: string) => Object.entries(resources).filter(([, resource]) => resource.Type === type);
  beforeAll(() => {
    hub = synthesizeHub({ integrations: ENTRIES, workflows: null });
    resources = hub.template.toJSON().Resources as Record<string, Resource>;
  });

  it('routes POST /webhooks/<name> of one API to a function of its own per integration that declares webhooks', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, route]) => route.Properties.RouteKey);
    expect(routes.sort()).toEqual(WITH_WEBHOOKS.map((integration) => `POST ${webhookPath(integration.name)}`).sort());
    expect(ofType('AWS::ApiGatewayV2::Api')).toHaveLength(1);
    expect([...hub.stack.webhooks!.endpoints.keys()]).toEqual(WITH_WEBHOOKS.map((integration) => integration.name));
    for (const integration of WITH_WEBHOOKS) {
      const endpoint = hub.stack.webhooks!.endpoints.get(integration.name)!;
      const route = resources[hub.stack.getLogicalId(endpoint.route.node.defaultChild as never)]!;
      const integrationId = (route.Properties.Target['Fn::Join'][1] as [string, { Ref: string }])[1].Ref;
      expect(resources[integrationId]!.Properties.IntegrationUri, integration.name).toEqual({
        'Fn::GetAtt': [hub.stack.getLogicalId(endpoint.function.node.defaultChild as never), 'Arn'],
      });
    }
  });

  it("gives each function its entry's scheme, limits, event source, bus, table and secret", () => {
    for (const integration of WITH_WEBHOOKS) {
      const endpoint = hub.stack.webhooks!.endpoints.get(integration.name)!;
      const fn = resources[hub.stack.getLogicalId(endpoint.function.node.defaultChild as never)]!;
      const environment = fn.Properties.Environment.Variables;
      expect(JSON.parse(environment.WEBHOOK_SCHEME), integration.name).toEqual(integration.webhooks!.scheme);
      expect(environment).toMatchObject({
        WEBHOOK_PROVIDER: integration.name,
        WEBHOOK_EVENT_SOURCE: webhookEventSource(integration.name),
        WEBHOOK_MAX_BODY_BYTES: String(integration.webhooks!.maxBodyBytes),
        WEBHOOK_DEDUPE_SECONDS: String(integration.webhooks!.dedupeSeconds),
        WEBHOOK_TABLE_NAME: { Ref: hub.stack.getLogicalId(hub.stack.webhooks!.deliveriesTable.node.defaultChild as never) },
        WEBHOOK_SECRET_NAME: expect.anything(),
        EVENT_BUS_NAME: expect.anything(),
      });
      const secret = resources[hub.stack.getLogicalId(endpoint.secret.node.defaultChild as never)]!;
      expect(secret.Properties.Name).toBe(`integration-hub/${integration.name}-webhooks`);
      // A random placeholder, never a value in the template.
      expect(secret.Properties.GenerateSecretString).toMatchObject({ GenerateStringKey: 'signingSecret' });
    }
    expect(CATALOG.find((integration) => integration.name === ENTRIES[0]!.name)!.webhooks).toMatchObject({ dedupeSeconds: 2 * 86_400, maxBodyBytes: 65_536 });
  });

  it('lets each function do exactly its work: its own secret, the delivery table item actions, PutEvents on the bus', () => {
    for (const integration of WITH_WEBHOOKS) {
      const endpoint = hub.stack.webhooks!.endpoints.get(integration.name)!;
      const role = hub.stack.getLogicalId((endpoint.function.role!.node.findChild('DefaultPolicy').node.defaultChild) as never);
      const statements = resources[role]!.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[];
      const actions = statements.flatMap((statement) => [statement.Action].flat());
      expect(actions).toEqual(expect.arrayContaining([...WEBHOOK_TABLE_ACTIONS, 'events:PutEvents', 'secretsmanager:GetSecretValue']));
      expect(actions.filter((action) => action.startsWith('dynamodb:')).sort()).toEqual([...WEBHOOK_TABLE_ACTIONS].sort());
      const secretResources = statements.filter((statement) => [statement.Action].flat().includes('secretsmanager:GetSecretValue')).map((statement) => statement.Resource);
      expect(secretResources).toEqual([{ Ref: hub.stack.getLogicalId(endpoint.secret.node.defaultChild as never) }]);
    }
  });

  it('keeps delivery ids in a table with a TTL, throttles each route with its own limits, logs access, and alarms', () => {
    const table = resources[hub.stack.getLogicalId(hub.stack.webhooks!.deliveriesTable.node.defaultChild as never)]!;
    expect(table.Properties).toMatchObject({
      KeySchema: [{ AttributeName: 'id', KeyType: 'HASH' }],
      TimeToLiveSpecification: { AttributeName: 'expiration', Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
    const [stage] = ofType('AWS::ApiGatewayV2::Stage').map(([, resource]) => resource);
    expect(stage!.Properties.AccessLogSettings.DestinationArn).toBeDefined();
    expect(stage!.Properties.AccessLogSettings.Format).not.toMatch(/signature|body/i);
    expect(stage!.Properties.RouteSettings).toEqual(
      Object.fromEntries(WITH_WEBHOOKS.map((integration) => [`POST ${webhookPath(integration.name)}`, { ThrottlingRateLimit: integration.webhooks!.rateLimitPerSecond, ThrottlingBurstLimit: integration.webhooks!.burstLimit }])),
    );
    const alarms = ofType('AWS::CloudWatch::Alarm').map(([, alarm]) => alarm.Properties);
    for (const integration of WITH_WEBHOOKS) {
      const alarm = alarms.find((candidate) => candidate.AlarmName === `IntegrationHub-${integration.name}-webhook-rejections`);
      expect(alarm, integration.name).toMatchObject({ MetricName: 'WebhookRejected', Threshold: integration.webhooks!.rejectionAlarmThreshold, Period: 300 });
      expect(alarm!.AlarmDescription).toContain('docs/runbooks/webhook-rejections.md');
    }
    expect(alarms.find((alarm) => alarm.AlarmName === 'IntegrationHub-webhook-5xx')).toMatchObject({ MetricName: '5xx' });
  });

  it('names each endpoint function\'s own log group in an output, for the operator CLI', () => {
    const outputs = hub.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    for (const integration of WITH_WEBHOOKS) {
      const endpoint = hub.stack.webhooks!.endpoints.get(integration.name)!;
      const logGroup = hub.stack.getLogicalId(endpoint.function.logGroup.node.defaultChild as never);
      expect(resources[logGroup]!.Type, integration.name).toBe('AWS::Logs::LogGroup');
      expect(outputs[webhookLogGroupOutputKey(integration.name)]!.Value, integration.name).toEqual({ Ref: logGroup });
    }
    expect(Object.keys(outputs).filter((key) => key.endsWith('WebhookLogGroupName'))).toHaveLength(WITH_WEBHOOKS.length);
    expect(outputs.WebhookDeliveriesTableName).toBeDefined();
  });

  it("draws a webhooks section on the overview: each provider's deliveries and rejections by reason, the API's 5xx and latency", () => {
    const dashboard = resources[hub.stack.getLogicalId(hub.stack.dashboard.dashboard.node.defaultChild as never)]!;
    const body = JSON.parse(flattenIntrinsics(dashboard.Properties.DashboardBody)) as { widgets: { type: string; properties: { title?: string; markdown?: string; metrics?: unknown[][] } }[] };
    const titled = (title: string) => body.widgets.find((widget) => widget.properties.title === title);
    expect(body.widgets.some((widget) => widget.properties.markdown?.startsWith('## Webhooks'))).toBe(true);
    for (const integration of WITH_WEBHOOKS) {
      const graph = titled(`${integration.name} · webhooks`);
      expect(graph, integration.name).toBeDefined();
      const series = JSON.stringify(graph!.properties.metrics);
      for (const metric of ['WebhookReceived', 'WebhookForwarded', 'WebhookDuplicate', 'WebhookRejected']) expect(series).toContain(`"${metric}","integration","${integration.name}"`);
      expect(series).toContain(`MetricName=\\"WebhookRejectedByReason\\" integration=\\"${integration.name}\\"`);
    }
    const apiId = `<Ref:${hub.stack.getLogicalId(hub.stack.webhooks!.api.node.defaultChild as never)}>`;
    expect(JSON.stringify(titled('Webhook API · 5xx and 4xx')!.properties.metrics)).toContain(`"AWS/ApiGateway","5xx","ApiId","${apiId}"`);
    expect(JSON.stringify(titled('Webhook API · latency')!.properties.metrics)).toContain(`"AWS/ApiGateway","Latency","ApiId","${apiId}"`);
    // No graph for the integration without webhooks.
    expect(titled(`${gamma!.name} · webhooks`)).toBeUndefined();
  });

  it('deploys nothing of the webhooks when no integration declares them', () => {
    const plain = synthesizeHub({ integrations: [gamma!], workflows: null });
    expect(plain.stack.webhooks).toBeUndefined();
    for (const type of ['AWS::ApiGatewayV2::Api', 'AWS::ApiGatewayV2::Route']) plain.template.resourceCountIs(type, 0);
    const body = JSON.stringify(plain.template.toJSON().Resources);
    expect(body).not.toContain('## Webhooks');
    expect(body).not.toContain('WebhookReceived');
  });

  it('uses an imported signing secret instead of creating one, and grants the function exactly that one', () => {
    const imported = synthesizeHub({ integrations: [{ ...ENTRIES[0]!, webhooks: { ...ENTRIES[0]!.webhooks!, secret: { name: 'vendor/alpha-webhooks', import: true } } }], workflows: null });
    const endpoint = imported.stack.webhooks!.endpoints.get(alpha!.name)!;
    imported.template.resourceCountIs('AWS::SecretsManager::Secret', resolveCatalog([alpha!]).filter((entry) => !entry.secret.import).length);
    const template = JSON.stringify(imported.template.toJSON());
    expect(template).toContain('secret:vendor/alpha-webhooks');
    expect(endpoint.secret.node.defaultChild).toBeUndefined();
  });

  it('refuses a bad declaration, listing every problem', () => {
    expect(() =>
      resolveCatalog([{ ...gamma!, webhooks: { scheme: 'timestamped-hmac', events: [], maxBodyBytes: 0, dedupeDays: 60 } as never }]),
    ).toThrow(/webhooks: timestamped-hmac needs header[\s\S]*webhooks.events: at least one event type[\s\S]*maxBodyBytes must be an integer from 1 to 240000[\s\S]*dedupeDays must be an integer from 1 to 30/);
  });
});
