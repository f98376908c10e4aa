/**
 * A stage deployed as stacks of bounded size (docs/deploy.md "Stack layout"):
 *
 *   IntegrationHub-<stage>-sandbox        the try stage only: the sandbox APIs behind a Function URL
 *   IntegrationHub-<stage>-core           tables, bus, alarm topic, circuit controller and prober, their alarms
 *   IntegrationHub-<stage>-<group>        one per stack group of the stage file: ≤ 15 integrations, each with its
 *                                         pipeline, alarms, detail dashboard and circuit registration
 *   IntegrationHub-<stage>-webhooks       the webhook API, delivery-id table and one endpoint per provider that
 *                                         declares webhooks (only when one does)
 *   IntegrationHub-<stage>-workflows      the Step Functions workflows, their providers and alarms (unless off)
 *   IntegrationHub-<stage>-overview       the overview dashboard: every alarm, graphs across all integrations
 *
 * The core does not grow with the catalog and depends on nothing; the integration stacks reference the core; the
 * workflows reference the core and the integrations whose secrets their providers share; the overview comes last and
 * names the others' alarms rather than referencing them. Every stack carries the stage's naming (lib/hub-naming.ts).
 */
import { CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { pascalCase, type ResolvedIntegration, resolveCatalog } from './catalog.js';
import { HubCore } from './constructs/hub-core.js';
import { HubDashboard } from './constructs/hub-dashboard.js';
import { declaresWebhooks, HubWebhooks, webhookOutputs } from './constructs/hub-webhooks.js';
import { HubWorkflows } from './constructs/hub-workflows.js';
import { IntegrationGroup } from './constructs/integration-group.js';
import { SandboxApi } from './constructs/sandbox-api.js';
import { HubNaming } from './hub-naming.js';
import type { ResolvedStage } from './stage-config.js';
import { type ResolvedWorkflows, resolveWorkflows } from './workflow-catalog.js';

/** The stack of the stage's core: its circuit controller keeps the circuits' parameters under its name. */
export function coreStackName(stage: ResolvedStage): string {
  return stage.naming.stackName(CORE);
}

const CORE = 'core';

/** The part of each stack's name (`IntegrationHub-<stage>-<part>`), in deployment order. */
export function stageStackParts(stage: ResolvedStage): string[] {
  const webhooks = declaresWebhooks(stage.integrations) ? [WEBHOOKS] : [];
  return [...(stage.sandbox ? ['sandbox'] : []), CORE, ...stage.groups.map((group) => group.name), ...webhooks, ...(stage.workflows ? ['workflows'] : []), 'overview'];
}

const WEBHOOKS = 'webhooks';

/** The names of the stage's stacks, in deployment order (the operator CLI reads their outputs). */
export function stageStackNames(stage: ResolvedStage): string[] {
  return stageStackParts(stage).map((part) => stage.naming.stackName(part));
}

/** The stacks of one stage. */
export class HubStage {
  readonly stage: ResolvedStage;
  /** The integrations as deployed (stage settings and defaults applied), in stage-file order. */
  readonly catalog: readonly ResolvedIntegration[];
  readonly workflowCatalog?: ResolvedWorkflows;
  readonly sandboxStack?: Stack;
  readonly sandbox?: SandboxApi;
  readonly coreStack: Stack;
  readonly core: HubCore;
  /** One stack per stack group, by group name. */
  readonly integrationStacks: ReadonlyMap<string, Stack>;
  readonly groups: ReadonlyMap<string, IntegrationGroup>;
  readonly webhooksStack?: Stack;
  readonly webhooks?: HubWebhooks;
  readonly workflowsStack?: Stack;
  readonly workflows?: HubWorkflows;
  readonly overviewStack: Stack;
  readonly dashboard: HubDashboard;

  constructor(scope: Construct, stage: ResolvedStage) {
    this.stage = stage;
    const { naming, removalPolicy, runbookBaseUrl } = stage;
    const stack = (part: string, description: string, props: StackProps = {}) => {
      const created = new Stack(scope, naming.stackName(part), {
        stackName: naming.stackName(part),
        description: `integration-hub ${stage.name}: ${description}`,
        ...(stage.env ? { env: stage.env } : {}),
        ...props,
      });
      HubNaming.register(created, naming);
      return created;
    };

    this.coreStack = stack(CORE, 'tables, event bus, alarm topic, circuit controller and prober');
    this.core = new HubCore(this.coreStack, 'Core', { removalPolicy, alarmEmail: stage.alarmEmail, runbookBaseUrl });
    const circuitOps = this.core.circuitController.access;

    let integrations = stage.integrations;
    let providers = stage.providers;
    if (stage.sandbox) {
      this.sandboxStack = stack('sandbox', 'the sandbox third-party APIs the try stage calls');
      this.sandbox = new SandboxApi(this.sandboxStack, 'Sandbox', { naming, opsCatalogPath: circuitOps.catalogPath, integrations, providers });
      const sandbox = this.sandbox;
      integrations = integrations.map((entry) => ({ ...entry, baseUrl: sandbox.baseUrlOf(entry.name) }));
      providers = providers.map((entry) => (entry.integration === undefined ? { ...entry, baseUrl: sandbox.baseUrlOf(entry.name) } : entry));
    }
    this.catalog = resolveCatalog(integrations);
    this.workflowCatalog = stage.workflows ? resolveWorkflows(this.catalog, {}, stage.workflows, providers) : undefined;

    const integrationStacks = new Map<string, Stack>();
    const groups = new Map<string, IntegrationGroup>();
    for (const group of stage.groups) {
      const groupStack = stack(group.name, `integrations ${group.integrations.join(', ')}`);
      integrationStacks.set(group.name, groupStack);
      groups.set(
        group.name,
        new IntegrationGroup(groupStack, 'Integrations', {
          integrations: this.catalog.filter((integration) => group.integrations.includes(integration.name)),
          bus: this.core.bus.bus,
          ledgerTable: this.core.tables.ledger,
          circuitsTable: this.core.tables.circuits,
          alarmTopic: this.core.alarmTopic.topic,
          circuitOps,
          removalPolicy,
          runbookBaseUrl,
        }),
      );
    }
    this.integrationStacks = integrationStacks;
    this.groups = groups;
    const pipelines = new Map([...groups.values()].flatMap((group) => [...group.pipelines]));

    if (declaresWebhooks(this.catalog)) {
      this.webhooksStack = stack(WEBHOOKS, 'webhook API and endpoints');
      this.webhooks = new HubWebhooks(this.webhooksStack, 'Webhooks', {
        integrations: this.catalog,
        bus: this.core.bus.bus,
        alarmTopic: this.core.alarmTopic.topic,
        removalPolicy,
        runbookBaseUrl,
      });
      webhookOutputs(this.webhooksStack, this.webhooks);
    }

    if (this.workflowCatalog) {
      this.workflowsStack = stack('workflows', 'order saga, contact sync and their providers');
      this.workflows = new HubWorkflows(this.workflowsStack, 'Workflows', {
        workflows: this.workflowCatalog,
        integrationSecrets: new Map([...pipelines].map(([name, pipeline]) => [name, pipeline.secret])),
        bus: this.core.bus.bus,
        ledgerTable: this.core.tables.ledger,
        circuitsTable: this.core.tables.circuits,
        checkpointsTable: this.core.tables.checkpoints,
        alarmTopic: this.core.alarmTopic.topic,
        circuitOps,
        contactSyncScheduleEnabled: stage.contactSyncSchedule,
        removalPolicy,
        runbookBaseUrl,
      });
    }

    this.overviewStack = stack('overview', 'overview dashboard');
    const detail = new Map([...groups.values()].flatMap((group) => [...group.dashboards].map(([name, dashboard]) => [name, dashboard.dashboardName] as const)));
    this.dashboard = new HubDashboard(this.overviewStack, 'Dashboard', {
      integrations: this.catalog.map((integration) => ({ integration, detailDashboardName: detail.get(integration.name) })),
      runbookBaseUrl,
    });
    this.dashboard.addAlarms(...[...groups.values()].flatMap((group) => [...group.alarms.values()].flatMap((set) => set.alarms)), ...this.core.hubAlarms.alarms);
    this.webhooks?.addToDashboard(this.dashboard);
    this.workflows?.addToDashboard(this.dashboard);
    // The alarms it names must exist before it does.
    const named = [...integrationStacks.values(), ...(this.webhooksStack ? [this.webhooksStack] : []), ...(this.workflowsStack ? [this.workflowsStack] : [])];
    for (const other of named) this.overviewStack.addStackDependency(other);

    this.coreOutputs();
  }

  /** Every stack of the stage, in deployment order. */
  get stacks(): Stack[] {
    return [
      ...(this.sandboxStack ? [this.sandboxStack] : []),
      this.coreStack,
      ...this.integrationStacks.values(),
      ...(this.webhooksStack ? [this.webhooksStack] : []),
      ...(this.workflowsStack ? [this.workflowsStack] : []),
      this.overviewStack,
    ];
  }

  /**
   * The bus and the tables on the core stack, where the operator CLI reads them. Circuit settings are not an output
   * (it would grow with the catalog past an output's size): the CLI reads them from the circuits' parameters.
   */
  private coreOutputs(): void {
    const core = this.coreStack;
    new CfnOutput(core, 'EventBusName', { value: this.core.bus.bus.eventBusName, description: 'The bus upstream systems publish to' });
    for (const [name, table] of Object.entries(this.core.tables.all)) {
      new CfnOutput(core, `${pascalCase(name)}TableName`, { value: table.tableName, description: `The ${name} table` });
    }
  }
}
