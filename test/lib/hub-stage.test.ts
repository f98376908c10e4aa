import { Stack, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it } from 'vitest';
import { pascalCase } from '../../lib/catalog.js';
import { HubStage, stageStackNames } from '../../lib/hub-stage.js';
import { DEFAULT_STAGE, loadStage, MAX_INTEGRATIONS_PER_STACK, type ResolvedStage, resolveStage, type StageFile } from '../../lib/stage-config.js';
import { fixtureIntegrations } from './fixture-catalog.js';
import { newTestApp } from './hub-app.js';

/** CloudFormation's limit of resources per stack, and the bound the issue of stack size sets the hub. */
const RESOURCE_BUDGET = 400;
/** Lambda's 4 KB for a whole environment, and the hub's budget under it. */
const ENVIRONMENT_BUDGET_BYTES = 3072;
/** Deploy-time values (ARNs, names, URLs) rendered as 80 characters: realistic ARNs of long stage stack names. */
const TOKEN = 'x'.repeat(80);

type Template = { Resources: Record<string, { Type: string; Properties?: Record<string, any>; DependsOn?: string[] }>; Outputs?: Record<string, unknown> };

/** Synthesizes the stages (no bundling) in one app with cdk-nag; throws on an unacknowledged finding. */
function synthesize(...stages: ResolvedStage[]): { built: HubStage[]; templates: Map<string, Template> } {
  const app = newTestApp();
  const built = stages.map((stage) => new HubStage(app, stage));
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  const assembly = app.synth();
  const templates = new Map<string, Template>();
  for (const hub of built) for (const stack of hub.stacks) templates.set(stack.stackName, assembly.getStackByName(stack.stackName).template as Template);
  return { built, templates };
}

/** A stage of `count` made-up integrations, grouped into stacks of at most `perStack`, without workflows. */
function fixtureStage(name: string, count: number, perStack = MAX_INTEGRATIONS_PER_STACK): ResolvedStage {
  const integrations = fixtureIntegrations(count);
  const file: StageFile = {
    alarmEmail: 'ops@example.com',
    integrations: Object.fromEntries(
      integrations.map((entry, index) => [entry.name, { baseUrl: `https://${entry.name}.${name}.example/api`, stack: `integrations-${Math.floor(index / perStack) + 1}` }]),
    ),
    workflows: false,
  };
  return resolveStage(name, file, { integrations });
}

const render = (value: unknown): string => {
  if (typeof value === 'string') return value;
  const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
  return join ? join[1].map(render).join(join[0]) : TOKEN;
};

/** Every function's environment size as Lambda measures it (JSON text), deploy-time values as {@link TOKEN}. */
function environmentSizes(templates: Map<string, Template>): Map<string, number> {
  const sizes = new Map<string, number>();
  for (const [stackName, template] of templates) {
    for (const [logicalId, resource] of Object.entries(template.Resources)) {
      if (resource.Type !== 'AWS::Lambda::Function') continue;
      const variables = (resource.Properties?.Environment?.Variables ?? {}) as Record<string, unknown>;
      sizes.set(`${stackName}/${logicalId}`, Buffer.byteLength(JSON.stringify(Object.fromEntries(Object.entries(variables).map(([k, v]) => [k, render(v)])))));
    }
  }
  return sizes;
}

/** The names given to resources that must be unique per account and region, as `<type> <name>`. */
function physicalNames(templates: Map<string, Template>): string[] {
  const nameProperty: Record<string, string> = {
    'AWS::CloudWatch::Alarm': 'AlarmName',
    'AWS::CloudWatch::Dashboard': 'DashboardName',
    'AWS::SecretsManager::Secret': 'Name',
    'AWS::SSM::Parameter': 'Name',
    'AWS::Events::Rule': 'Name',
    'AWS::Logs::LogGroup': 'LogGroupName',
    'AWS::Events::EventBus': 'Name',
    'AWS::StepFunctions::StateMachine': 'StateMachineName',
  };
  const names: string[] = [];
  for (const [stackName, template] of templates) {
    names.push(`stack ${stackName}`);
    for (const resource of Object.values(template.Resources)) {
      const property = nameProperty[resource.Type];
      const value = property ? resource.Properties?.[property] : undefined;
      if (value !== undefined) names.push(`${resource.Type} ${render(value)}`);
    }
  }
  return names;
}

const resourceCounts = (templates: Map<string, Template>) => new Map([...templates].map(([name, template]) => [name, Object.keys(template.Resources).length]));

describe('a stage deployed as stacks', () => {
  it('synthesizes the default stage with cdk-nag, every stack under budget and named for the stage', () => {
    const stage = loadStage(DEFAULT_STAGE);
    const { built, templates } = synthesize(stage);
    for (const [name, count] of resourceCounts(templates)) {
      expect(name.startsWith(`IntegrationHub-${stage.name}-`), name).toBe(true);
      expect(count, name).toBeLessThanOrEqual(RESOURCE_BUDGET);
    }
    // Every integration of the stage file is deployed, in the stack of its group.
    const deployed = [...built[0]!.groups.values()].flatMap((group) => [...group.pipelines.keys()]);
    expect(deployed.sort()).toEqual(stage.integrations.map((entry) => entry.name).sort());
    // The operator CLI finds the stacks by the same rule.
    expect(built[0]!.stacks.map((stack) => stack.stackName)).toEqual(stageStackNames(stage));
  });

  it(`holds 60 integrations in stacks of at most ${MAX_INTEGRATIONS_PER_STACK}, each under ${RESOURCE_BUDGET} resources, no environment over 3 KB`, () => {
    const { templates } = synthesize(fixtureStage('scale', 60));
    const counts = resourceCounts(templates);
    expect([...counts.keys()].filter((name) => name.includes('-integrations-'))).toHaveLength(Math.ceil(60 / MAX_INTEGRATIONS_PER_STACK));
    for (const [name, count] of counts) expect(count, name).toBeLessThanOrEqual(RESOURCE_BUDGET);
    const sizes = environmentSizes(templates);
    expect(sizes.size).toBeGreaterThan(60);
    for (const [fn, size] of sizes) expect(size, fn).toBeLessThanOrEqual(ENVIRONMENT_BUDGET_BYTES);
    // The core does not grow with the catalog: the same resources at 2 integrations as at 60.
    const small = resourceCounts(synthesize(fixtureStage('scale', 2)).templates);
    expect(counts.get('IntegrationHub-scale-core')).toBe(small.get('IntegrationHub-scale-core'));
  });

  it('keeps the core independent of the integration stacks: it imports nothing, they import from it', () => {
    const { templates } = synthesize(fixtureStage('layout', 20));
    const imports = (template: Template) => JSON.stringify(template.Resources).includes('Fn::ImportValue');
    expect(imports(templates.get('IntegrationHub-layout-core')!)).toBe(false);
    for (const [name, template] of templates) if (name.includes('-integrations-')) expect(imports(template), name).toBe(true);
    // The overview names the alarms of the others; it does not import them.
    const overview = JSON.stringify(templates.get('IntegrationHub-layout-overview')!.Resources);
    expect(overview).not.toContain('Fn::ImportValue');
    expect(overview).toContain('IntegrationHub-layout-');
  });

  it('deploys two stages side by side in one app with no physical name in common', () => {
    const { templates } = synthesize(fixtureStage('dev', 3), fixtureStage('prod', 3));
    const names = physicalNames(templates);
    const duplicates = names.filter((name, index) => names.indexOf(name) !== index);
    expect(duplicates).toEqual([]);
    // Named things are there to compare: alarms, dashboards, secrets, parameters of both stages.
    for (const stage of ['dev', 'prod']) {
      expect(names.filter((name) => name.startsWith('AWS::CloudWatch::Alarm ') && name.includes(`IntegrationHub-${stage}-`)).length, stage).toBeGreaterThan(3 * 5);
      expect(names.filter((name) => name.startsWith('AWS::SecretsManager::Secret ') && name.includes(`integration-hub/${stage}/`)).length, stage).toBeGreaterThan(0);
    }
  });

  it('gives each stage its own metrics namespace, in the functions and in the alarms', () => {
    const { templates } = synthesize(fixtureStage('blue', 2), fixtureStage('green', 2));
    for (const stage of ['blue', 'green']) {
      const mine = [...templates].filter(([name]) => name.startsWith(`IntegrationHub-${stage}-`)).map(([, template]) => JSON.stringify(template.Resources)).join('');
      // The hub's own namespaces (AWS/SQS, AWS/Lambda are AWS's, per resource already).
      const namespaces = new Set([...mine.matchAll(/"(?:Namespace|POWERTOOLS_METRICS_NAMESPACE)":"(IntegrationHub[^"]*)"/g)].map((match) => match[1]));
      expect(namespaces).toEqual(new Set([`IntegrationHub/${stage}`]));
    }
  });

  it('keeps work queues 14 days in every integration stack', () => {
    const { templates } = synthesize(fixtureStage('retention', 4, 2));
    const queues = [...templates].filter(([name]) => name.includes('-integrations-')).flatMap(([, template]) => Object.values(template.Resources).filter((r) => r.Type === 'AWS::SQS::Queue'));
    expect(queues).toHaveLength(4 * 2);
    for (const queue of queues) expect(queue.Properties?.MessageRetentionPeriod).toBe(14 * 86_400);
  });

  it('registers every integration with the controller from its own stack, with a reconcile run after that stack deploys', () => {
    const stage = fixtureStage('ops', 5, 3);
    const { built, templates } = synthesize(stage);
    const path = built[0]!.core.circuitController.access.catalogPath;
    for (const group of stage.groups) {
      const template = templates.get(`IntegrationHub-ops-${group.name}`)!;
      const parameters = Object.values(template.Resources).filter((r) => r.Type === 'AWS::SSM::Parameter').map((r) => r.Properties?.Name);
      expect(parameters.sort()).toEqual(group.integrations.map((name) => `${path}integrations/${name}`).sort());
      const reconcile = Object.values(template.Resources).filter((r) => r.Type === 'Custom::CircuitReconcile');
      expect(reconcile).toHaveLength(1);
      expect(reconcile[0]!.Properties?.mappings).toHaveLength(group.integrations.length);
      // Outputs keep the names the operator CLI reads, whatever stack the integration is in.
      expect(Object.keys(template.Outputs ?? {})).toEqual(expect.arrayContaining(group.integrations.map((name) => `${pascalCase(name)}QueueUrl`)));
    }
  });
});

describe('the try stage', () => {
  it('deploys the sandbox first and points every integration and standalone provider at it, with generated secrets', () => {
    const stage = loadStage('try');
    expect(stage.sandbox).toBe(true);
    const { built, templates } = synthesize(stage);
    const hub = built[0]!;
    expect(hub.stacks[0]).toBe(hub.sandboxStack);
    const sandbox = templates.get(`IntegrationHub-${stage.name}-sandbox`)!;
    const [fn] = Object.values(sandbox.Resources).filter((r) => r.Type === 'AWS::Lambda::Function');
    // The sandbox learns what to serve from the circuits' parameters, and the control token from its own secret.
    expect(fn!.Properties?.Environment.Variables.OPS_CATALOG_PATH).toBe(hub.core.circuitController.access.catalogPath);
    // One instance holds the sandbox's state: a token issued by one instance must be known to the next call.
    expect(fn!.Properties?.ReservedConcurrentExecutions).toBe(1);
    expect(Object.values(sandbox.Resources).filter((r) => r.Type === 'AWS::Lambda::Url').map((r) => r.Properties?.AuthType)).toEqual(['NONE']);
    // Every integration function calls <sandbox url><its serving provider>, through the sandbox stack's export.
    for (const [name, pipeline] of [...hub.groups.values()].flatMap((group) => [...group.pipelines])) {
      const stack = Stack.of(pipeline);
      const baseUrl = templates.get(stack.stackName)!.Resources[stack.getLogicalId(pipeline.function.node.defaultChild as never)]!.Properties?.Environment.Variables.BASE_URL;
      const [separator, [url, provider]] = baseUrl['Fn::Join'] as [string, [unknown, string]];
      expect(separator).toBe('');
      expect(JSON.stringify(url), name).toContain('Fn::ImportValue');
      // The URL token, then the provider's path: `<url>crm`, `<url>helpdesk`.
      expect(provider, name).toBe(hub.sandbox!.baseUrlOf(name).split('}').pop());
    }
    // No secret is imported: the stage creates every one, under its own prefix, and the sandbox may read exactly those.
    const secrets = [...templates.values()].flatMap((template) => Object.values(template.Resources).filter((r) => r.Type === 'AWS::SecretsManager::Secret'));
    for (const secret of secrets) expect(secret.Properties?.Name).toMatch(new RegExp(`^integration-hub/${stage.name}/`));
    expect(JSON.stringify(sandbox.Resources)).toContain(`secret:integration-hub/${stage.name}/*`);
  });
});

describe('stage files', () => {
  const integrations = fixtureIntegrations(3);
  const [first, second] = integrations.map((entry) => entry.name);
  const valid = (): StageFile => ({ alarmEmail: null, integrations: { [first!]: { baseUrl: 'https://one.example' } }, workflows: false });
  const problemsOf = (raw: unknown, name = 'qa'): readonly string[] => {
    try {
      resolveStage(name, raw, { integrations });
    } catch (error) {
      return (error as { problems: readonly string[] }).problems;
    }
    throw new Error('expected the stage to be refused');
  };

  it('merges the stage into the catalog: base URL, concurrency, an imported or a stage-named secret', () => {
    const stage = resolveStage(
      'qa',
      { ...valid(), integrations: { [first!]: { baseUrl: 'https://one.example', maxConcurrency: 7 }, [second!]: { baseUrl: 'https://two.example', secret: { import: 'vendor/two' } } } },
      { integrations },
    );
    expect(stage.integrations.map((entry) => [entry.name, entry.baseUrl, entry.maxConcurrency, entry.secret])).toEqual([
      [first, 'https://one.example', 7, { name: `integration-hub/qa/${first}`, import: false }],
      [second, 'https://two.example', integrations[1]!.maxConcurrency, { name: 'vendor/two', import: true }],
    ]);
    expect(stage.groups).toEqual([{ name: 'integrations', integrations: [first, second] }]);
  });

  it("imports a webhook signing secret the stage names, and refuses one for an integration without webhooks", () => {
    const withWebhooks = integrations.map((entry, index) => (index === 0 ? { ...entry, webhooks: { scheme: 'standard-webhooks' as const, events: ['thing.updated'] } } : entry));
    const stage = resolveStage('qa', { ...valid(), integrations: { [first!]: { baseUrl: 'https://one.example', webhookSecret: { import: 'vendor/one-webhooks' } } } }, { integrations: withWebhooks });
    expect(stage.integrations[0]?.webhooks).toMatchObject({ scheme: 'standard-webhooks', secret: { name: 'vendor/one-webhooks', import: true } });
    expect(() =>
      resolveStage('qa', { ...valid(), integrations: { [second!]: { baseUrl: 'https://two.example', webhookSecret: { import: 'x' } } } }, { integrations: withWebhooks }),
    ).toThrow(new RegExp(`integrations\\.${second}\\.webhookSecret: the catalog entry declares no webhooks`));
    expect(() => resolveStage('qa', { alarmEmail: null, sandbox: true, workflows: false, integrations: { [first!]: { webhookSecret: { import: 'x' } } } }, { integrations: withWebhooks })).toThrow(
      /webhookSecret: a sandbox stage creates the signing secret/,
    );
  });

  it('lists every problem of an invalid file at once', () => {
    const problems = problemsOf({ alarmEmail: 'not-an-address', integrations: { [first!]: { baseUrl: 'http://plain.example', extra: 1 } }, surprise: true });
    expect(problems.join('\n')).toMatch(/alarmEmail/);
    expect(problems.join('\n')).toMatch(/baseUrl: must be an https URL/);
    expect(problems.join('\n')).toMatch(/extra/);
    expect(problems.join('\n')).toMatch(/surprise/);
  });

  it('refuses an unknown integration, a missing base URL and a group too large for one stack', () => {
    const many = fixtureIntegrations(MAX_INTEGRATIONS_PER_STACK + 1);
    const file = { alarmEmail: null, workflows: false, integrations: Object.fromEntries(many.map((entry) => [entry.name, { baseUrl: 'https://x.example' }])) };
    expect(() => resolveStage('qa', file, { integrations: many })).toThrow(new RegExp(`holds ${MAX_INTEGRATIONS_PER_STACK + 1} integrations`));
    const problems = problemsOf({ alarmEmail: null, workflows: false, integrations: { nope: {}, [first!]: {} } });
    expect(problems).toEqual([expect.stringMatching(/integrations\.nope: the catalog has no such integration/), expect.stringMatching(new RegExp(`integrations\\.${first}\\.baseUrl: required`))]);
  });

  it('refuses base URLs and imported secrets in a sandbox stage: the sandbox is the provider', () => {
    const problems = problemsOf({ alarmEmail: null, sandbox: true, workflows: false, integrations: { [first!]: { baseUrl: 'https://x.example', secret: { import: 'a' } } } });
    expect(problems).toHaveLength(2);
  });

  it('refuses, in a sandbox stage, an integration whose catalog entry imports its secret', () => {
    const imported = integrations.map((entry, index) => (index === 0 ? { ...entry, secret: { name: 'vendor/one', import: true } } : entry));
    expect(() => resolveStage('qa', { alarmEmail: null, sandbox: true, workflows: false, integrations: { [first!]: {} } }, { integrations: imported })).toThrow(
      /the catalog imports its secret 'vendor\/one'/,
    );
  });

  it("refuses a stack group named like one of the stage's own stacks", () => {
    expect(problemsOf({ ...valid(), integrations: { [first!]: { baseUrl: 'https://one.example', stack: 'core' } } })).toEqual([
      expect.stringMatching(/'core' names one of the stage's own stacks/),
    ]);
  });

  it('names the stages there are when the file is missing, and refuses a bad stage name', () => {
    expect(() => loadStage('no-such-stage')).toThrow(/no file stages\/no-such-stage\.json \(stages: .*dev/);
    expect(() => loadStage('Bad_Name')).toThrow(/lower-kebab-case/);
  });
});
