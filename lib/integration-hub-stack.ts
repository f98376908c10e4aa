import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { type CatalogCircuitSettings, INTEGRATIONS, type IntegrationEntry, pascalCase, type ResolvedIntegration, resolveCatalog } from './catalog.js';
import type { AlarmTopic } from './constructs/alarm-topic.js';
import type { CircuitController } from './constructs/circuit-controller.js';
import type { ContactSyncStateMachine } from './constructs/contact-sync-state-machine.js';
import { HubCore } from './constructs/hub-core.js';
import type { SyncStatusOutbox } from './constructs/sync-status-outbox.js';
import type { HubAlarms } from './constructs/hub-alarms.js';
import { HubDashboard } from './constructs/hub-dashboard.js';
import type { HubEventBus } from './constructs/hub-event-bus.js';
import type { HubTables } from './constructs/hub-tables.js';
import { declaresWebhooks, HubWebhooks, webhookOutputs } from './constructs/hub-webhooks.js';
import { HubWorkflows } from './constructs/hub-workflows.js';
import type { IntegrationAlarms } from './constructs/integration-alarms.js';
import type { IntegrationDashboard } from './constructs/integration-dashboard.js';
import { IntegrationGroup } from './constructs/integration-group.js';
import type { IntegrationPipeline } from './constructs/integration-pipeline.js';
import type { OrderSagaStarter } from './constructs/order-saga-starter.js';
import type { OrderSagaStateMachine } from './constructs/order-saga-state-machine.js';
import type { WorkflowAlarms } from './constructs/workflow-alarms.js';
import type { WorkflowProviders } from './constructs/workflow-providers.js';
import { PROVIDERS, type ProviderEntry, type ResolvedWorkflows, resolveWorkflows, WORKFLOWS, type WorkflowsCatalog } from './workflow-catalog.js';

/** Props of {@link IntegrationHubStack}. */
export interface IntegrationHubStackProps extends StackProps {
  /**
   * The integrations to deploy. Resolved with `resolveCatalog` against this stack's context (e.g.
   * `-c baseUrl:crm=https://sandbox.crm.example.com`); an invalid catalog fails synth with every problem listed.
   * @default INTEGRATIONS (lib/catalog.ts)
   */
  readonly integrations?: readonly IntegrationEntry[];
  /**
   * The Step Functions workflows (order saga, contact sync), resolved with `resolveWorkflows` against the
   * integrations and this stack's context (`-c baseUrl:inventory=...`). `null` deploys none.
   * @default WORKFLOWS (lib/workflow-catalog.ts)
   */
  readonly workflows?: WorkflowsCatalog | null;
  /** The providers the workflows call. @default PROVIDERS (lib/workflow-catalog.ts) */
  readonly providers?: readonly ProviderEntry[];
  /**
   * What happens to stateful resources (tables, secrets, log groups) when they leave the stack. DESTROY only for
   * throwaway dev stacks.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The whole integration hub in ONE stack: the core (tables, bus, alarm topic, circuit controller and prober, their
 * alarms), one integration group with a pipeline, alarms and a detail dashboard per catalog entry, the Step Functions
 * workflows with their providers' secrets, and the overview dashboard (alarm e-mail from context `alarmEmail`,
 * runbook links from `runbookBaseUrl`). The local hub (`npm start`) and the tests run it. A stage deploys the same
 * constructs as several stacks of bounded size (lib/hub-stage.ts, docs/deploy.md "Stack layout").
 * Outputs the bus name, every queue and DLQ URL, every table name and every state machine ARN.
 */
export class IntegrationHubStack extends Stack {
  /** The catalog as deployed: every entry with defaults and context overrides applied. */
  public readonly catalog: readonly ResolvedIntegration[];
  /** Circuits (streamed), ledger (with the idempotency records) and checkpoints tables. */
  public readonly tables: HubTables;
  /** The hub's event bus and its archive. */
  public readonly bus: HubEventBus;
  /** One pipeline per integration, by catalog name, in catalog order. */
  public readonly pipelines: ReadonlyMap<string, IntegrationPipeline>;
  /** Pauses an integration's event source while its circuit is open; probes and resumes it. */
  public readonly circuitController: CircuitController;
  /** Publishes the ledger's status transitions as SyncStatusChanged events (docs/sync-status-events.md). */
  public readonly statusOutbox: SyncStatusOutbox;
  /** Where every alarm notifies. */
  public readonly alarmTopic: AlarmTopic;
  /** The alarms of each integration, by catalog name. */
  public readonly alarms: ReadonlyMap<string, IntegrationAlarms>;
  /** The alarms of the hub's own machinery: the circuit controller and prober. */
  public readonly hubAlarms: HubAlarms;
  /** The hub's overview dashboard: every alarm and graphs across all integrations. */
  public readonly dashboard: HubDashboard;
  /** One detail dashboard per integration, by name. */
  public readonly integrationDashboards: ReadonlyMap<string, IntegrationDashboard>;
  /** The workflows as deployed (providers resolved), or undefined when the stack deploys none. */
  public readonly workflowCatalog?: ResolvedWorkflows;
  /** The workflow providers' secrets and settings. */
  public readonly workflowProviders?: WorkflowProviders;
  /** The order-fulfilment saga. */
  public readonly orderSaga?: OrderSagaStateMachine;
  /** OrderPlaced → one saga per order. */
  public readonly orderSagaStarter?: OrderSagaStarter;
  /** The scheduled incremental contact sync. */
  public readonly contactSync?: ContactSyncStateMachine;
  /** The alarms of each workflow, by workflow name. */
  public readonly workflowAlarms: ReadonlyMap<string, WorkflowAlarms>;
  /** The inbound webhook endpoints, when an integration declares webhooks. */
  public readonly webhooks?: HubWebhooks;

  constructor(scope: Construct, id: string, props: IntegrationHubStackProps = {}) {
    const { integrations = INTEGRATIONS, workflows = WORKFLOWS, providers = PROVIDERS, removalPolicy = RemovalPolicy.RETAIN, ...stackProps } = props;
    super(scope, id, {
      description: 'integration-hub: reliable event-driven integrations with third-party APIs (SQS + Lambda)',
      ...stackProps,
    });
    this.catalog = resolveCatalog(integrations, this.node.getAllContext());
    this.workflowCatalog = workflows ? resolveWorkflows(this.catalog, this.node.getAllContext(), workflows, providers) : undefined;
    const runbookBaseUrl = contextString(this, 'runbookBaseUrl');

    const core = new HubCore(this, 'Core', { removalPolicy, alarmEmail: contextString(this, 'alarmEmail'), runbookBaseUrl });
    const group = new IntegrationGroup(this, 'Integrations', {
      integrations: this.catalog,
      bus: core.bus.bus,
      ledgerTable: core.tables.ledger,
      circuitsTable: core.tables.circuits,
      alarmTopic: core.alarmTopic.topic,
      circuitOps: core.circuitController.access,
      removalPolicy,
      runbookBaseUrl,
    });
    this.tables = core.tables;
    this.bus = core.bus;
    this.circuitController = core.circuitController;
    this.statusOutbox = core.statusOutbox;
    this.alarmTopic = core.alarmTopic;
    this.hubAlarms = core.hubAlarms;
    this.pipelines = group.pipelines;
    this.alarms = group.alarms;
    this.integrationDashboards = group.dashboards;

    this.dashboard = new HubDashboard(this, 'Dashboard', {
      integrations: [...group.dashboards.entries()].map(([name, detail]) => ({ integration: group.pipelines.get(name)!.integration, detailDashboardName: detail.dashboardName })),
      runbookBaseUrl,
    });
    this.dashboard.addAlarms(...[...group.alarms.values()].flatMap((set) => set.alarms), ...core.hubAlarms.alarms);

    if (declaresWebhooks(this.catalog)) {
      this.webhooks = new HubWebhooks(this, 'Webhooks', { integrations: this.catalog, bus: core.bus.bus, alarmTopic: core.alarmTopic.topic, removalPolicy, runbookBaseUrl });
      this.webhooks.addToDashboard(this.dashboard);
    }

    if (this.workflowCatalog) {
      const hubWorkflows = new HubWorkflows(this, 'Workflows', {
        workflows: this.workflowCatalog,
        integrationSecrets: new Map([...group.pipelines].map(([name, pipeline]) => [name, pipeline.secret])),
        bus: core.bus.bus,
        ledgerTable: core.tables.ledger,
        circuitsTable: core.tables.circuits,
        checkpointsTable: core.tables.checkpoints,
        alarmTopic: core.alarmTopic.topic,
        circuitOps: core.circuitController.access,
        // The local hub (local/hub/) runs the schedule against the sandbox, whose credentials the secrets hold.
        contactSyncScheduleEnabled: true,
        removalPolicy,
        runbookBaseUrl,
      });
      hubWorkflows.addToDashboard(this.dashboard);
      this.workflowProviders = hubWorkflows.providers;
      this.orderSaga = hubWorkflows.orderSaga;
      this.orderSagaStarter = hubWorkflows.orderSagaStarter;
      this.contactSync = hubWorkflows.contactSync;
      this.workflowAlarms = hubWorkflows.workflowAlarms;
    } else {
      this.workflowAlarms = new Map();
    }

    this.outputs();
  }

  private outputs(): void {
    new CfnOutput(this, 'EventBusName', { value: this.bus.bus.eventBusName, description: 'The bus upstream systems publish to' });
    for (const [name, table] of Object.entries(this.tables.all)) {
      new CfnOutput(this, `${pascalCase(name)}TableName`, { value: table.tableName, description: `The ${name} table` });
    }
    if (this.webhooks) webhookOutputs(this, this.webhooks);
    new CfnOutput(this, 'CircuitSettings', {
      value: JSON.stringify(Object.fromEntries(this.circuitSettings())),
      description: 'The circuits in the circuits table (an integration\'s, a workflow provider\'s) with their breaker settings, for the operator CLI',
    });
  }

  /**
   * Every circuit the deployed functions use, by circuit id, with the settings they agree on: one per integration,
   * and one per standalone workflow provider (a provider of an integration shares that integration's circuit).
   */
  private circuitSettings(): Map<string, CatalogCircuitSettings> {
    const circuits = new Map<string, CatalogCircuitSettings>();
    for (const integration of this.catalog) circuits.set(integration.name, integration.circuit);
    for (const provider of this.workflowCatalog?.providers.values() ?? []) {
      if (!circuits.has(provider.name)) circuits.set(provider.name, provider.circuit);
    }
    return circuits;
  }
}

/** A string from the context (`-c name=value` or cdk.json), or undefined when unset or empty. */
function contextString(scope: Construct, name: string): string | undefined {
  const value: unknown = scope.node.tryGetContext(name);
  return typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined;
}
