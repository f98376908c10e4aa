import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { Construct } from 'constructs';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { INTEGRATIONS, type IntegrationEntry, resolveCatalog, type ResolvedIntegration } from '../../lib/catalog.js';
import { AlarmTopic } from '../../lib/constructs/alarm-topic.js';
import { HubDashboard } from '../../lib/constructs/hub-dashboard.js';
import { IntegrationDashboard } from '../../lib/constructs/integration-dashboard.js';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import { IntegrationAlarms, hubMetricDimensions } from '../../lib/constructs/integration-alarms.js';
import { integrationRunbookSlugs, RUNBOOK_SLUGS, runbookPath } from '../../lib/runbooks.js';
import { ProviderCircuitAlarm } from '../../lib/constructs/provider-circuit-alarm.js';
import { METRICS_NAMESPACE, PowertoolsMetricsSink } from '../../functions/runtime/telemetry.js';
import { authScheme, FIXTURE_REFRESH_TOKEN_AUTH, fixtureIntegrations, resolvedAuth } from './fixture-catalog.js';
import { flattenIntrinsics } from './hub-app.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

interface Built {
  stack: Stack;
  template: Template;
  topic: AlarmTopic;
  integrations: { integration: ResolvedIntegration; queue: sqs.Queue; deadLetterQueue: sqs.Queue; handler: lambda.Function; alarms: IntegrationAlarms; detail: IntegrationDashboard }[];
  dashboard: HubDashboard;
}

/** A small stack with plain queues and inline functions per catalog entry, and the observability constructs on top. */
function build(
  options: { email?: string; runbookBaseUrl?: string; entries?: readonly IntegrationEntry[]; beforeSynth?: (dashboard: HubDashboard) => void } = {},
): Built {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new Stack(app, 'ObservabilityTest');
  const topic = new AlarmTopic(stack, 'AlarmTopic', { email: options.email });
  const integrations = resolveCatalog(options.entries ?? INTEGRATIONS).map((integration) => {
    const scope = new Construct(stack, `Integration-${integration.name}`);
    const deadLetterQueue = new sqs.Queue(scope, 'Dlq');
    const queue = new sqs.Queue(scope, 'Queue', { deadLetterQueue: { queue: deadLetterQueue, maxReceiveCount: integration.maxReceiveCount } });
    const handler = new lambda.Function(scope, 'Handler', {
      runtime: lambda.Runtime.NODEJS_22_X,
      handler: 'index.handler',
      code: lambda.Code.fromInline('exports.handler = async () => ({ batchItemFailures: [] });'),
    });
    const alarms = new IntegrationAlarms(scope, 'Alarms', {
      integration,
      queue,
      deadLetterQueue,
      handler,
      topic: topic.topic,
      runbookBaseUrl: options.runbookBaseUrl,
    });
    const detail = new IntegrationDashboard(scope, 'Dashboard', { integration, queue, deadLetterQueue, handler, alarms: alarms.alarms, runbookBaseUrl: options.runbookBaseUrl });
    return { integration, queue, deadLetterQueue, handler, alarms, detail };
  });
  const dashboard = new HubDashboard(stack, 'Dashboard', { integrations: integrations.map((i) => ({ ...i, detailDashboardName: `${i.integration.name}-detail` })) });
  dashboard.addAlarms(...integrations.flatMap((i) => i.alarms.alarms));
  options.beforeSynth?.(dashboard);
  return { stack, template: Template.fromStack(stack), topic, integrations, dashboard };
}

function logicalId(stack: Stack, construct: Construct): string {
  return stack.getLogicalId(construct.node.defaultChild as never);
}

type AlarmResource = { Properties: Record<string, unknown> & { AlarmName: string; AlarmDescription: string } };

function alarmsOf(template: Template): AlarmResource[] {
  return Object.values(template.findResources('AWS::CloudWatch::Alarm')) as AlarmResource[];
}

function alarmNamed(template: Template, name: string): AlarmResource['Properties'] {
  const alarm = alarmsOf(template).find((a) => a.Properties.AlarmName === name);
  if (!alarm) throw new Error(`no alarm named ${name}`);
  return alarm.Properties;
}

/** A dashboard's body as JSON, every intrinsic replaced by a readable placeholder (`<Ref:X>`, `<X.Attr>`). */
function dashboardBody(built: Built, dashboard: cloudwatch.Dashboard = built.dashboard.dashboard): { widgets: Widget[] } {
  const resource = built.template.toJSON().Resources[logicalId(built.stack, dashboard)] as { Properties: { DashboardBody: unknown } };
  return JSON.parse(flattenIntrinsics(resource.Properties.DashboardBody)) as { widgets: Widget[] };
}

interface Widget {
  type: string;
  properties: { title?: string; markdown?: string; metrics?: unknown[][]; alarms?: string[] };
}

/** Every metric line of every graph: `[namespace, name, ...dims, options]` or `[{ expression }]`, flattened to text. */
function metricLines(body: { widgets: Widget[] }, titlePrefix: string): string[] {
  return body.widgets
    .filter((w) => w.type === 'metric' && w.properties.title?.startsWith(titlePrefix))
    .flatMap((w) => (w.properties.metrics ?? []).map((line) => JSON.stringify(line)));
}

describe('IntegrationAlarms', () => {
  it('notifies the alarm topic both when an alarm fires and when it recovers', () => {
    const { stack, template, topic } = build();
    const topicRef = { Ref: logicalId(stack, topic.topic) };
    const alarms = alarmsOf(template);
    expect(alarms).toHaveLength(resolveCatalog(INTEGRATIONS).flatMap((i) => integrationRunbookSlugs(i.auth.scheme)).length);
    for (const { Properties } of alarms) {
      expect(Properties.AlarmActions, Properties.AlarmName).toEqual([topicRef]);
      expect(Properties.OKActions, Properties.AlarmName).toEqual([topicRef]);
    }
  });

  it('names every alarm IntegrationHub-<integration>-<alarm> and exposes them as fields and a list', () => {
    const { template, integrations } = build();
    const names = alarmsOf(template).map((a) => a.Properties.AlarmName).sort();
    const expected = resolveCatalog(INTEGRATIONS)
      .flatMap((i) => integrationRunbookSlugs(i.auth.scheme).map((slug) => `IntegrationHub-${i.name}-${slug}`))
      .sort();
    expect(names).toEqual(expected);
    expect(integrations).toHaveLength(INTEGRATIONS.length);
    for (const { alarms } of integrations) {
      expect(alarms.alarms).toEqual([
        alarms.dlqNotEmpty,
        alarms.oldestMessageTooOld,
        alarms.circuitOpenTooLong,
        alarms.functionErrors,
        alarms.breakerStoreFallback,
        alarms.dlqMessageExpiring,
        alarms.functionThrottled,
        ...(alarms.reauthorizationNeeded ? [alarms.reauthorizationNeeded] : []),
      ]);
    }
    expect(IntegrationAlarms.RUNBOOK_SLUGS).toEqual([
      'dlq-not-empty',
      'oldest-message-too-old',
      'circuit-open-too-long',
      'function-errors',
      'breaker-store-fallback',
      'dlq-message-expiring',
      'function-throttled',
      'reauthorization-needed',
    ]);
  });

  it('describes every alarm in one line with a link to its runbook, and the runbook exists', () => {
    const { stack, template, integrations } = build();
    const resources = template.toJSON().Resources as Record<string, AlarmResource>;
    let described = 0;
    for (const { integration, alarms } of integrations) {
      for (const alarm of alarms.alarms) {
        const { AlarmName: name, AlarmDescription: description } = resources[logicalId(stack, alarm)]!.Properties;
        expect(name.startsWith(`IntegrationHub-${integration.name}-`), name).toBe(true);
        const slug = name.slice(`IntegrationHub-${integration.name}-`.length);
        expect(RUNBOOK_SLUGS).toContain(slug);
        expect(description).not.toContain('\n');
        expect(description).toContain(`Runbook: docs/runbooks/${slug}.md`);
        expect(existsSync(`${ROOT}docs/runbooks/${slug}.md`), `docs/runbooks/${slug}.md`).toBe(true);
        described += 1;
      }
    }
    expect(described).toBe(alarmsOf(template).length);
  });

  it('links the runbooks under runbookBaseUrl when one is given', () => {
    const { template } = build({ runbookBaseUrl: 'https://github.com/acme/integration-hub/blob/main/docs/runbooks/' });
    for (const { name } of INTEGRATIONS) {
      const description = alarmNamed(template, `IntegrationHub-${name}-dlq-not-empty`).AlarmDescription;
      expect(description).toMatch(/Runbook: https:\/\/github\.com\/acme\/integration-hub\/blob\/main\/docs\/runbooks\/dlq-not-empty\.md$/);
    }
  });

  it('rejects a runbookBaseUrl that is not an http(s) URL, naming the setting', () => {
    expect(() => build({ runbookBaseUrl: 'wiki/runbooks' })).toThrow(/runbookBaseUrl must be an http\(s\) URL/);
  });

  it('has a runbook for every alarm, saying what it means, its impact, how to diagnose, recover and escalate', () => {
    for (const slug of IntegrationAlarms.RUNBOOK_SLUGS) {
      const file = `${ROOT}${runbookPath(slug)}`;
      expect(existsSync(file), runbookPath(slug)).toBe(true);
      const text = readFileSync(file, 'utf8');
      for (const heading of ['## What it means', '## Impact', '## Diagnose', '## Recover', '## Escalate']) {
        expect(text, `${slug}: ${heading}`).toContain(heading);
      }
    }
    expect(readFileSync(`${ROOT}docs/runbooks/dlq-not-empty.md`, 'utf8')).toContain('aws sqs start-message-move-task');
    expect(readFileSync(`${ROOT}docs/runbooks/circuit-open-too-long.md`, 'utf8')).toContain('aws dynamodb update-item');
  });

  it('takes the message-age, circuit-open and function-error thresholds from the catalog', () => {
    const entries = fixtureIntegrations(3);
    const tuned: IntegrationEntry[] = entries.map((entry, index) =>
      index === 0 ? { ...entry, alarms: { oldestMessageAgeSeconds: 120, circuitOpenMinutes: 5, functionErrors: 3 } } : entry,
    );
    const { template } = build({ entries: tuned });
    const [first, ...others] = resolveCatalog(tuned);

    expect(alarmNamed(template, `IntegrationHub-${first!.name}-oldest-message-too-old`)).toMatchObject({ Threshold: 120, MetricName: 'ApproximateAgeOfOldestMessage' });
    expect(alarmNamed(template, `IntegrationHub-${first!.name}-circuit-open-too-long`)).toMatchObject({ EvaluationPeriods: 5, DatapointsToAlarm: 4 });
    expect(alarmNamed(template, `IntegrationHub-${first!.name}-function-errors`)).toMatchObject({ Threshold: 3, Period: 300, Statistic: 'Sum', MetricName: 'Errors' });
    // The others keep their own catalog values (the fixture's differ from each other and from the defaults).
    expect(new Set(others.map((integration) => JSON.stringify(integration.alarms))).size).toBe(others.length);
    for (const integration of others) {
      const { name, alarms } = integration;
      expect(alarmNamed(template, `IntegrationHub-${name}-oldest-message-too-old`).Threshold, name).toBe(alarms.oldestMessageAgeSeconds);
      expect(alarmNamed(template, `IntegrationHub-${name}-circuit-open-too-long`).EvaluationPeriods, name).toBe(alarms.circuitOpenMinutes);
      // One missed prober minute does not restart the count.
      expect(alarmNamed(template, `IntegrationHub-${name}-circuit-open-too-long`).DatapointsToAlarm, name).toBe(alarms.circuitOpenMinutes - 1);
      expect(alarmNamed(template, `IntegrationHub-${name}-function-errors`).Threshold, name).toBe(alarms.functionErrors);
    }
  });

  it('fires the DLQ alarm on one visible message in the dead-letter queue, not the source queue', () => {
    const { stack, template, integrations } = build();
    for (const { integration, deadLetterQueue } of integrations) {
      expect(alarmNamed(template, `IntegrationHub-${integration.name}-dlq-not-empty`)).toMatchObject({
        Namespace: 'AWS/SQS',
        MetricName: 'ApproximateNumberOfMessagesVisible',
        Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(stack, deadLetterQueue), 'QueueName'] } }],
        Statistic: 'Maximum',
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('fires the circuit alarm after CircuitOpen >= 1 in all but one 1-minute period of the window, missing data not breaching', () => {
    const { template, integrations } = build({ entries: fixtureIntegrations(3) });
    for (const { integration } of integrations) {
      const minutes = integration.alarms.circuitOpenMinutes;
      expect(alarmNamed(template, `IntegrationHub-${integration.name}-circuit-open-too-long`)).toMatchObject({
        Namespace: 'IntegrationHub',
        MetricName: 'CircuitOpen',
        Dimensions: expect.arrayContaining([{ Name: 'integration', Value: integration.name }]),
        Statistic: 'Maximum',
        Period: 60,
        EvaluationPeriods: minutes,
        DatapointsToAlarm: minutes - 1,
        Threshold: 1,
        ComparisonOperator: 'GreaterThanOrEqualToThreshold',
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('alarms at once on ReauthorizationNeeded >= 1 for each oauth2_refresh_token integration, and for no other scheme', () => {
    // The fixture's schemes, plus two of the refresh-token scheme.
    const entries = fixtureIntegrations(5).map((entry, index) => (index >= 3 ? { ...entry, auth: FIXTURE_REFRESH_TOKEN_AUTH } : entry));
    const built = build({ entries });
    const { stack, template, topic, integrations } = built;
    const topicRef = { Ref: logicalId(stack, topic.topic) };
    const refreshing = integrations.filter(({ integration }) => authScheme(integration.auth) === 'oauth2_refresh_token');
    expect(refreshing).toHaveLength(2);

    const reauthorization = alarmsOf(template).filter((a) => a.Properties.MetricName === 'ReauthorizationNeeded');
    expect(reauthorization).toHaveLength(refreshing.length);
    for (const { integration, alarms, detail } of integrations) {
      const name = integration.name;
      const mine = reauthorization.filter((a) => JSON.stringify(a.Properties.Dimensions).includes(`"Value":"${name}"`));
      if (authScheme(integration.auth) !== 'oauth2_refresh_token') {
        expect(mine, name).toEqual([]);
        expect(alarms.reauthorizationNeeded, name).toBeUndefined();
        expect(metricLines(dashboardBody(built, detail.dashboard), name).join('\n'), name).not.toContain('ReauthorizationNeeded');
        continue;
      }
      expect(mine, name).toHaveLength(1);
      expect(alarms.alarms.at(-1)).toBe(alarms.reauthorizationNeeded);
      expect(mine[0]!.Properties).toEqual(
        expect.objectContaining({
          AlarmName: `IntegrationHub-${name}-reauthorization-needed`,
          Namespace: 'IntegrationHub',
          MetricName: 'ReauthorizationNeeded',
          Dimensions: expect.arrayContaining(Object.entries(hubMetricDimensions(name)).map(([Name, Value]) => ({ Name, Value }))),
          Statistic: 'Maximum',
          Period: 300,
          EvaluationPeriods: 1,
          DatapointsToAlarm: 1,
          Threshold: 1,
          ComparisonOperator: 'GreaterThanOrEqualToThreshold',
          TreatMissingData: 'notBreaching',
          AlarmActions: [topicRef],
          OKActions: [topicRef],
        }),
      );
      expect((mine[0]!.Properties.Dimensions as unknown[]).length).toBe(2);
      expect(mine[0]!.Properties.AlarmDescription).toMatch(/ Runbook: docs\/runbooks\/reauthorization-needed\.md$/);
      // Its detail dashboard graphs the gauge and links the runbook.
      const body = dashboardBody(built, detail.dashboard);
      expect(metricLines(body, name).join('\n')).toContain('ReauthorizationNeeded');
      expect(body.widgets.find((w) => w.type === 'text')?.properties.markdown).toContain('docs/runbooks/reauthorization-needed.md');
    }
    // The others' detail dashboards do not link a runbook of an alarm they do not have.
    const other = integrations.find(({ integration }) => authScheme(integration.auth) !== 'oauth2_refresh_token')!;
    expect(dashboardBody(built, other.detail.dashboard).widgets.find((w) => w.type === 'text')?.properties.markdown).not.toContain('reauthorization-needed');
  });

  it("gives a standalone workflow provider's circuit a reauthorization-needed alarm only for auth oauth2_refresh_token", () => {
    const stack = new Stack(new App({ context: { 'aws:cdk:bundling-stacks': [] } }), 'ProviderAlarms');
    const topic = new AlarmTopic(stack, 'AlarmTopic', {});
    const providers = [
      { provider: 'fixture-carrier', auth: resolvedAuth('basic') },
      { provider: 'fixture-mailer', auth: { scheme: 'oauth2_refresh_token', tokenUrl: '/oauth/token' } as const },
    ];
    const built = providers.map((p) => new ProviderCircuitAlarm(stack, `${p.provider}Alarm`, { ...p, topic: topic.topic }));
    const template = Template.fromStack(stack);

    const reauthorization = alarmsOf(template).filter((a) => a.Properties.MetricName === 'ReauthorizationNeeded');
    expect(reauthorization.map((a) => a.Properties.AlarmName)).toEqual(['IntegrationHub-fixture-mailer-reauthorization-needed']);
    expect(reauthorization[0]!.Properties).toMatchObject({
      Namespace: 'IntegrationHub',
      Dimensions: expect.arrayContaining([{ Name: 'integration', Value: 'fixture-mailer' }, { Name: 'service', Value: 'integration-hub' }]),
      Statistic: 'Maximum',
      Period: 300,
      EvaluationPeriods: 1,
      Threshold: 1,
      ComparisonOperator: 'GreaterThanOrEqualToThreshold',
      TreatMissingData: 'notBreaching',
    });
    expect(reauthorization[0]!.Properties.AlarmDescription).toContain('Runbook: docs/runbooks/reauthorization-needed.md');
    expect(built.map((b) => b.alarms.length)).toEqual([1, 2]);
    expect(built[0]!.reauthorizationNeeded).toBeUndefined();
  });

  describe('custom metric dimensions', () => {
    afterEach(() => {
      vi.unstubAllEnvs();
      vi.restoreAllMocks();
    });

    it('reads the runtime metrics under exactly the dimension set the runtime emits (Powertools adds service)', () => {
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
      const lines: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
        lines.push(String(chunk));
        return true;
      });
      vi.spyOn(console, 'warn').mockImplementation(() => undefined);
      const entries = fixtureIntegrations(1);
      const [name] = entries.map((entry) => entry.name);
      const sink = new PowertoolsMetricsSink(name!);
      sink.count('BreakerStoreFallback');
      sink.flush();
      vi.restoreAllMocks();

      const emf = lines.map((l) => JSON.parse(l) as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } } & Record<string, unknown>);
      const blob = emf.find((e) => 'BreakerStoreFallback' in e)!;
      expect(blob).toBeDefined();
      const [directive] = blob._aws.CloudWatchMetrics;
      expect(directive!.Namespace).toBe(METRICS_NAMESPACE);
      const emitted = Object.fromEntries(directive!.Dimensions[0]!.map((name) => [name, blob[name]]));
      expect(emitted).toEqual(hubMetricDimensions(name!));

      const { template } = build({ entries });
      const alarmDimensions = alarmNamed(template, `IntegrationHub-${name}-breaker-store-fallback`).Dimensions as { Name: string; Value: string }[];
      expect(Object.fromEntries(alarmDimensions.map((d) => [d.Name, d.Value]))).toEqual(emitted);
      expect(alarmNamed(template, `IntegrationHub-${name}-breaker-store-fallback`).Namespace).toBe(METRICS_NAMESPACE);
    });

    it('emits a failure by error class as one blob under the stage namespace, without a warning on stderr', () => {
      vi.stubEnv('POWERTOOLS_METRICS_DISABLED', 'false');
      vi.stubEnv('POWERTOOLS_METRICS_NAMESPACE', 'IntegrationHub/qa');
      const out: string[] = [];
      const err: string[] = [];
      vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => out.push(String(chunk)) > 0);
      vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => err.push(String(chunk)) > 0);
      const [name] = fixtureIntegrations(1).map((entry) => entry.name);
      const sink = new PowertoolsMetricsSink(name!);
      sink.count('CallFailed', 1, 'Timeout');
      // Nothing else in the batch: the flush has nothing stored and must not warn about it either.
      sink.flush();
      vi.restoreAllMocks();

      const blobs = out.map((line) => JSON.parse(line) as { _aws: { CloudWatchMetrics: { Namespace: string; Dimensions: string[][] }[] } } & Record<string, unknown>);
      expect(blobs).toHaveLength(1);
      const [directive] = blobs[0]!._aws.CloudWatchMetrics;
      expect(directive).toMatchObject({ Namespace: 'IntegrationHub/qa', Dimensions: [['service', 'integration', 'errorClass']] });
      expect(blobs[0]).toMatchObject({ integration: name, errorClass: 'Timeout', CallFailed: 1 });
      expect(err.join('')).toBe('');
    });
  });
});

describe('HubDashboard', () => {
  it('builds, per integration, a detail dashboard with its alarms and a widget for every required metric', () => {
    const built = build();
    const { stack, integrations } = built;
    const overview = dashboardBody(built).widgets.filter((w) => w.type === 'text').map((w) => w.properties.markdown ?? '');
    expect(overview[0]).toMatch(/^# Integration Hub/);

    for (const { integration, queue, deadLetterQueue, handler, alarms, detail } of integrations) {
      const name = integration.name;
      const body = dashboardBody(built, detail.dashboard);
      expect(body.widgets.find((w) => w.type === 'text')?.properties.markdown).toMatch(new RegExp(`^# ${name}\\n`));
      expect(body.widgets.find((w) => w.type === 'alarm')?.properties.alarms).toEqual(alarms.alarms.map((alarm) => `<${logicalId(stack, alarm)}.Arn>`));
      expect(overview[0], `the overview names ${name}'s detail dashboard`).toContain(`**${name}** (dashboard \`${name}-detail\`)`);
      const lines = metricLines(body, `${name} · `);
      const has = (description: string, ...parts: string[]) =>
        expect(lines.some((line) => parts.every((p) => line.includes(p))), `${name}: ${description}`).toBe(true);
      const custom = (metric: string) => [`"IntegrationHub","${metric}"`, `"integration","${name}"`, '"service","integration-hub"'];
      const queueName = `<${logicalId(stack, queue)}.QueueName>`;
      const dlqName = `<${logicalId(stack, deadLetterQueue)}.QueueName>`;
      const functionName = `<Ref:${logicalId(stack, handler)}>`;

      has('received', '"AWS/SQS","NumberOfMessagesReceived"', queueName);
      has('succeeded', ...custom('CallSucceeded'));
      has('failed by class', 'SEARCH(', 'MetricName=\\"CallFailed\\"', `integration=\\"${name}\\"`, 'errorClass');
      for (const p of ['p50', 'p90', 'p99']) has(`latency ${p}`, ...custom('CallLatency'), `"stat":"${p}"`);
      has('circuit state', ...custom('CircuitOpen'));
      has('circuit rejections', ...custom('CircuitRejected'));
      has('throttled', ...custom('Throttled'));
      has('queue depth', '"ApproximateNumberOfMessagesVisible"', queueName);
      has('oldest message', '"ApproximateAgeOfOldestMessage"', queueName);
      has('DLQ depth', '"ApproximateNumberOfMessagesVisible"', dlqName);
      for (const metric of ['Errors', 'Throttles', 'Duration', 'ConcurrentExecutions']) has(`lambda ${metric}`, `"AWS/Lambda","${metric}"`, functionName);
    }
  });

  it('shows the status of every alarm added to it in the header, in widgets of at most 100 alarms', () => {
    for (const entries of [INTEGRATIONS, fixtureIntegrations(16)]) {
      const built = build({ entries });
      const widgets = dashboardBody(built).widgets.filter((w) => w.type === 'alarm');
      const expected = built.integrations.flatMap((i) => i.alarms.alarms).map((alarm) => `<${logicalId(built.stack, alarm)}.Arn>`);
      expect(widgets.flatMap((w) => w.properties.alarms ?? [])).toEqual(expected);
      expect(widgets).toHaveLength(Math.ceil(expected.length / 100));
      for (const widget of widgets) expect(widget.properties.alarms!.length).toBeLessThanOrEqual(100);
    }
  });

  it('keeps the overview the same size whatever the catalog: graphs across all integrations (SEARCH), one series each', () => {
    const widgetsOf = (count: number) => dashboardBody(build({ entries: fixtureIntegrations(count) })).widgets.filter((w) => w.type !== 'alarm');
    expect(widgetsOf(3).length).toBe(widgetsOf(12).length);
    const lines = widgetsOf(3).flatMap((w) => (w.properties.metrics ?? []).map((line) => JSON.stringify(line)));
    for (const metric of ['CallSucceeded', 'CallFailed', 'CircuitOpen', 'CircuitRejected']) {
      expect(lines.some((line) => line.includes('SEARCH(') && line.includes(`MetricName=\\"${metric}\\"`) && line.includes('integration')), metric).toBe(true);
    }
  });

  it('accepts later sections (workflows) below the integrations', () => {
    const built = build({ beforeSynth: (dashboard) => dashboard.addSection('Workflows', 'Step Functions syncs') });
    const body = dashboardBody(built);
    expect(body.widgets.at(-1)?.properties.markdown).toBe('## Workflows\nStep Functions syncs');
  });
});

describe('AlarmTopic', () => {
  it('encrypts the topic with a rotating KMS key whose policy lets CloudWatch alarms use it', () => {
    const { stack, template, topic } = build();
    const keyId = logicalId(stack, topic.key as Construct);
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: { 'Fn::GetAtt': [keyId, 'Arn'] } });
    template.hasResourceProperties('AWS::KMS::Key', {
      EnableKeyRotation: true,
      KeyPolicy: {
        Statement: Match.arrayWith([
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: ['kms:Decrypt', 'kms:GenerateDataKey*'],
          }),
        ]),
      },
    });
  });

  it('only accepts publishing over TLS, and from CloudWatch alarms of this account', () => {
    const { template } = build();
    template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Action: 'sns:Publish', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          Match.objectLike({
            Effect: 'Allow',
            Principal: { Service: 'cloudwatch.amazonaws.com' },
            Action: 'sns:Publish',
            Condition: { StringEquals: { 'aws:SourceAccount': { Ref: 'AWS::AccountId' } }, ArnLike: Match.anyValue() },
          }),
        ]),
      },
    });
  });

  it('subscribes the e-mail address when one is given', () => {
    const { template } = build({ email: ' oncall@example.com ' });
    template.resourceCountIs('AWS::SNS::Subscription', 1);
    template.hasResourceProperties('AWS::SNS::Subscription', { Protocol: 'email', Endpoint: 'oncall@example.com' });
  });

  it('creates no subscription without an address (or with an empty one)', () => {
    build().template.resourceCountIs('AWS::SNS::Subscription', 0);
    build({ email: '' }).template.resourceCountIs('AWS::SNS::Subscription', 0);
  });

  it('fails with a clear error naming alarmEmail for an invalid address', () => {
    expect(() => build({ email: 'oncall-at-example.com' })).toThrow(/alarmEmail "oncall-at-example\.com" is not a valid e-mail address/);
    expect(() => build({ email: 'on call@example.com' })).toThrow(/alarmEmail/);
    expect(() => AlarmTopic.parseEmail(42)).toThrow(/alarmEmail must be a string/);
  });

  it('passes the cdk-nag AwsSolutions checks for the topic, its key, the alarms and the dashboard', () => {
    const { stack } = build();
    const result = new AwsSolutionsChecks(stack).validateScope(stack);
    const findings = result.violations.flatMap((v) => v.violatingResources.map((r) => `${v.ruleName} ${r.constructPath ?? '?'}`));
    // The checks do run: the test's bare queues and functions (not ours) have findings.
    for (const { name } of INTEGRATIONS) expect(findings.some((f) => f.includes(`/Integration-${name}/Queue`)), name).toBe(true);
    const ours = findings.filter((f) => !/\/Integration-[a-z-]+\/(Queue|Dlq|Handler)\//.test(f));
    expect(ours).toEqual([]);
  });
});
