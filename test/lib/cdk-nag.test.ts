import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Stack, Validations } from 'aws-cdk-lib';
import { Queue, QueueEncryption } from 'aws-cdk-lib/aws-sqs';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it } from 'vitest';
import { INTEGRATIONS, pascalCase } from '../../lib/catalog.js';
import { ORDER_SAGA_TASKS } from '../../lib/constructs/order-saga-state-machine.js';
import { PROVIDERS } from '../../lib/workflow-catalog.js';
import { fixtureIntegrations } from './fixture-catalog.js';
import { type HubApp, newTestApp, synthesizeHub } from './hub-app.js';

interface ValidationReport {
  pluginReports: { pluginName: string; conclusion: string; violations: { ruleName: string; severity: string }[] }[];
}

/** Every `Validations.of(x).acknowledge(...)` in the tree: construct path → acknowledged rule ids. */
function acknowledgements(hub: HubApp): Record<string, Record<string, string>> {
  const found: Record<string, Record<string, string>> = {};
  for (const construct of hub.app.node.findAll()) {
    for (const entry of construct.node.metadata) {
      if (entry.type !== Validations.ACKNOWLEDGED_RULES_METADATA_KEY) continue;
      for (const [id, reason] of Object.entries(entry.data as Record<string, string>)) {
        (found[construct.node.path] ??= {})[id.replace(/^annotation::/i, '')] = reason;
      }
    }
  }
  return found;
}

describe('cdk-nag AWS Solutions checks', () => {
  let hub: HubApp;
  beforeAll(() => {
    // Synth itself runs the pack as a CDK validation plugin and throws on an unacknowledged finding.
    hub = synthesizeHub();
  });

  it('finds nothing unacknowledged in the hub stack', () => {
    const report = new AwsSolutionsChecks().validateScope(hub.app);
    expect(report.violations.map((violation) => `${violation.ruleName} ${violation.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
    expect(report.success).toBe(true);
  });

  it('leaves no error in the validation report synth writes', () => {
    const assembly = hub.app.synth();
    const file = join(assembly.directory, 'validation-report.json');
    const report: ValidationReport = existsSync(file) ? JSON.parse(readFileSync(file, 'utf8')) : { pluginReports: [] };
    const errors = report.pluginReports.flatMap((plugin) => plugin.violations.filter((violation) => violation.severity === 'error'));
    expect(errors).toEqual([]);
  });

  it('acknowledges only the known exceptions, at the narrowest construct, each with a reason', () => {
    const expected: Record<string, string[]> = {};
    expect([...hub.stack.pipelines.keys()]).toEqual(INTEGRATIONS.map((entry) => entry.name));
    for (const name of hub.stack.pipelines.keys()) {
      const id = pascalCase(name);
      expected[`IntegrationHub/Integrations/${id}/FunctionRole/DefaultPolicy`] = ['AwsSolutions-IAM5[Resource::*]'];
      expected[`IntegrationHub/Integrations/${id}/Function`] = ['AwsSolutions-L1'];
      expected[`IntegrationHub/Integrations/${id}/Secret`] = ['AwsSolutions-SMG4'];
    }
    for (const fn of ['ControllerFunction', 'ProberFunction']) {
      expected[`IntegrationHub/Core/CircuitController/${fn}`] = ['AwsSolutions-L1'];
      expected[`IntegrationHub/Core/CircuitController/${fn}Role/DefaultPolicy`] = ['AwsSolutions-IAM5[Resource::*]'];
    }
    expected['IntegrationHub/Core/CircuitController/FailedStreamRecords'] = ['AwsSolutions-SQS3'];
    // The status outbox: its enrichment like any function, its dead-letter queue like the controller's, and the
    // pipe's dynamodb:ListStreams (no resource-level permission).
    expected['IntegrationHub/Core/StatusOutbox/Enrichment'] = ['AwsSolutions-L1'];
    expected['IntegrationHub/Core/StatusOutbox/EnrichmentRole/DefaultPolicy'] = ['AwsSolutions-IAM5[Resource::*]'];
    expected['IntegrationHub/Core/StatusOutbox/FailedBatches'] = ['AwsSolutions-SQS3'];
    expected['IntegrationHub/Core/StatusOutbox/PipeRole/DefaultPolicy'] = ['AwsSolutions-IAM5[Resource::*]'];
    // Webhooks: each endpoint's function like a pipeline's, its signing secret (rolled by the provider), and its
    // route (a provider authenticates by signature, not API authorization).
    for (const name of hub.stack.webhooks?.endpoints.keys() ?? []) {
      const id = pascalCase(name);
      expected[`IntegrationHub/Webhooks/${id}/Function`] = ['AwsSolutions-L1'];
      expected[`IntegrationHub/Webhooks/${id}/FunctionRole/DefaultPolicy`] = ['AwsSolutions-IAM5[Resource::*]'];
      expected[`IntegrationHub/Webhooks/${id}/SigningSecret`] = ['AwsSolutions-SMG4'];
      expected[`IntegrationHub/Webhooks/${id}/Route`] = ['AwsSolutions-APIG4'];
    }
    // Workflows: every task function like a pipeline's; each provider secret like an integration's; each state
    // machine role: log delivery and X-Ray ("*"), and `<function ARN>:*` of each of its task functions, by name.
    const taskFunctions: Record<string, string[]> = {
      OrderSaga: ORDER_SAGA_TASKS.map((task) => pascalCase(task)),
      ContactSync: ['SyncPage'],
    };
    for (const [workflow, states] of Object.entries(taskFunctions)) {
      for (const state of states) {
        expected[`IntegrationHub/Workflows/${workflow}/${state}Function`] = ['AwsSolutions-L1'];
        expected[`IntegrationHub/Workflows/${workflow}/${state}FunctionRole/DefaultPolicy`] = ['AwsSolutions-IAM5[Resource::*]'];
      }
      const functionArns = states.map((state) => {
        const fn = hub.stack.node.findChild('Workflows').node.findChild(workflow).node.findChild(`${state}Function`);
        return `AwsSolutions-IAM5[Resource::<${hub.stack.getLogicalId(fn.node.defaultChild as never)}.Arn>:*]`;
      });
      expected[`IntegrationHub/Workflows/${workflow}/StateMachine/Role/DefaultPolicy`] = ['AwsSolutions-IAM5[Resource::*]', ...functionArns];
    }
    expected['IntegrationHub/Workflows/OrderSagaStarter/Function'] = ['AwsSolutions-L1'];
    expected['IntegrationHub/Workflows/OrderSagaStarter/FunctionRole/DefaultPolicy'] = ['AwsSolutions-IAM5[Resource::*]'];
    // A provider of an integration uses that integration's secret; a standalone one has its own.
    for (const provider of PROVIDERS.filter((entry) => entry.integration === undefined)) {
      expected[`IntegrationHub/Workflows/Providers/${pascalCase(provider.name)}Secret`] = ['AwsSolutions-SMG4'];
    }
    const found = acknowledgements(hub);
    expect(Object.fromEntries(Object.entries(found).map(([path, rules]) => [path, Object.keys(rules)]))).toEqual(expected);
    for (const rules of Object.values(found)) {
      for (const reason of Object.values(rules)) expect(reason.length).toBeGreaterThan(40);
    }
  });
});

describe('cdk-nag on catalog variants', () => {
  it('passes with a secret imported by name and an integration without auth', () => {
    const [imported, unauthenticated, plain] = fixtureIntegrations(3);
    const integrations = [
      { ...imported!, secret: { name: `vendor/${imported!.name}`, import: true } },
      { ...unauthenticated!, auth: 'none' as const, secret: undefined },
      plain!,
    ];
    // The workflows' providers name shipped integrations: left out with a made-up catalog.
    const hub = synthesizeHub({ integrations, workflows: null });
    expect(hub.stack.pipelines.get(imported!.name)?.secret).toBeDefined();
    expect(hub.stack.pipelines.get(unauthenticated!.name)?.secret).toBeUndefined();
    expect(new AwsSolutionsChecks().validateScope(hub.app).violations).toEqual([]);
  });

  it('passes with every shipped integration importing its secret, shared by the workflow providers', () => {
    const integrations = INTEGRATIONS.map((entry) => ({ ...entry, secret: { name: `vendor/${entry.name}`, import: true } }));
    const hub = synthesizeHub({ integrations });
    // Left: the standalone providers' secrets, and the webhook signing secrets (not credentials: always created).
    const webhookSecrets = INTEGRATIONS.filter((entry) => entry.webhooks !== undefined).length;
    hub.template.resourceCountIs('AWS::SecretsManager::Secret', PROVIDERS.filter((entry) => entry.integration === undefined).length + webhookSecrets);
    expect(new AwsSolutionsChecks().validateScope(hub.app).violations).toEqual([]);
  });
});

describe('cdk-nag as a synth gate', () => {
  const unencryptedQueueApp = (context: Record<string, unknown> = {}) => {
    const app = newTestApp(context);
    new Queue(new Stack(app, 'Throwaway'), 'Plain', { encryption: QueueEncryption.UNENCRYPTED });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    return app;
  };

  it('fails synth on an unacknowledged finding (an unencrypted queue without TLS or DLQ)', () => {
    expect(() => unencryptedQueueApp().synth()).toThrow(/AwsSolutions-SQS2[\s\S]*AwsSolutions-SQS3[\s\S]*AwsSolutions-SQS4/);
  });

  it('reports the finding as an error in the validation report the CDK CLI fails on', () => {
    // Under the CLI the app does not throw: it writes the report and the CLI exits non-zero ("Synthesis finished with errors").
    const app = unencryptedQueueApp({ '@aws-cdk/core:failSynthOnValidationErrors': false, '@aws-cdk/core:appMode': 'process' });
    const assembly = app.synth();
    const report: ValidationReport = JSON.parse(readFileSync(join(assembly.directory, 'validation-report.json'), 'utf8'));
    const nag = report.pluginReports.find((plugin) => plugin.pluginName === 'AwsSolutions');
    expect(nag?.conclusion).toBe('failure');
    expect(nag?.violations.filter((violation) => violation.severity === 'error').map((violation) => violation.ruleName)).toEqual([
      'AwsSolutions-SQS2',
      'AwsSolutions-SQS3',
      'AwsSolutions-SQS4',
    ]);
  });

  it('passes once the finding is acknowledged with a reason', () => {
    const app = newTestApp();
    const queue = new Queue(new Stack(app, 'Throwaway'), 'Plain', { encryption: QueueEncryption.SQS_MANAGED, enforceSSL: true });
    Validations.of(queue).acknowledge({ id: 'AwsSolutions-SQS3', reason: 'A throwaway queue in a test.' });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  });
});
