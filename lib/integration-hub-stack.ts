import { CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { type CatalogCircuitSettings, INTEGRATIONS, type IntegrationEntry, pascalCase, type ResolvedIntegration, resolveCatalog } from './catalog.js';
import { AlarmTopic } from './constructs/alarm-topic.js';
import { CircuitController } from './constructs/circuit-controller.js';
import { HubAlarms } from './constructs/hub-alarms.js';
import { HubDashboard } from './constructs/hub-dashboard.js';
import { IntegrationDashboard } from './constructs/integration-dashboard.js';
import { HubEventBus } from './constructs/hub-event-bus.js';
import { HubTables } from './constructs/hub-tables.js';
import { IntegrationAlarms } from './constructs/integration-alarms.js';
import { IntegrationPipeline } from './constructs/integration-pipeline.js';
import { ContactSyncStateMachine } from './constructs/contact-sync-state-machine.js';
import { OrderSagaStarter } from './constructs/order-saga-starter.js';
import { OrderSagaStateMachine } from './constructs/order-saga-state-machine.js';
import { WorkflowAlarms } from './constructs/workflow-alarms.js';
import { ProviderCircuitAlarm } from './constructs/provider-circuit-alarm.js';
import { WorkflowProviders } from './constructs/workflow-providers.js';
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
 * The integration hub: the shared tables, the event bus with its archive, one {@link IntegrationPipeline} per
 * catalog entry, the circuit controller and prober that pause and resume the pipelines' event sources, the Step
 * Functions workflows (order saga with its starter, scheduled contact sync) with their providers' secrets, and the
 * dashboard and alarms (→ SNS; e-mail from context `alarmEmail`, runbook links from `runbookBaseUrl`).
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

  constructor(scope: Construct, id: string, props: IntegrationHubStackProps = {}) {
    const { integrations = INTEGRATIONS, workflows = WORKFLOWS, providers = PROVIDERS, removalPolicy = RemovalPolicy.RETAIN, ...stackProps } = props;
    super(scope, id, {
      description: 'integration-hub: reliable event-driven integrations with third-party APIs (SQS + Lambda)',
      ...stackProps,
    });
    this.catalog = resolveCatalog(integrations, this.node.getAllContext());
    this.workflowCatalog = workflows ? resolveWorkflows(this.catalog, this.node.getAllContext(), workflows, providers) : undefined;

    this.tables = new HubTables(this, 'Tables', { removalPolicy });
    this.bus = new HubEventBus(this, 'Events');

    const pipelines = new Map<string, IntegrationPipeline>();
    for (const integration of this.catalog) {
      pipelines.set(
        integration.name,
        new IntegrationPipeline(this, pascalCase(integration.name), {
          integration,
          bus: this.bus.bus,
          ledgerTable: this.tables.ledger,
          circuitsTable: this.tables.circuits,
          removalPolicy,
        }),
      );
    }
    this.pipelines = pipelines;
    if (this.workflowCatalog) {
      this.workflowProviders = new WorkflowProviders(this, 'WorkflowProviders', {
        providers: this.workflowCatalog.providers,
        integrationSecrets: new Map([...pipelines].map(([name, pipeline]) => [name, pipeline.secret])),
        removalPolicy,
      });
    }
    // The providers of an integration share its circuit, probed as the integration.
    const standaloneProviders = [...(this.workflowProviders?.providers.values() ?? [])].filter((provider) => provider.integration === undefined);

    this.circuitController = new CircuitController(this, 'CircuitController', {
      circuitsTable: this.tables.circuits,
      pipelines: [...pipelines.values()],
      providers: standaloneProviders.map((provider) => ({ provider, secret: this.workflowProviders?.secrets.get(provider.name) })),
      functionProps: { logGroupRemovalPolicy: removalPolicy },
    });

    const runbookBaseUrl = contextString(this, 'runbookBaseUrl');
    this.alarmTopic = new AlarmTopic(this, 'AlarmTopic', { email: contextString(this, 'alarmEmail') });
    const alarms = new Map<string, IntegrationAlarms>();
    for (const [name, pipeline] of pipelines) {
      alarms.set(
        name,
        new IntegrationAlarms(this, `${pascalCase(name)}Alarms`, {
          integration: pipeline.integration,
          queue: pipeline.queue,
          deadLetterQueue: pipeline.deadLetterQueue,
          handler: pipeline.function,
          topic: this.alarmTopic.topic,
          runbookBaseUrl,
        }),
      );
    }
    this.alarms = alarms;
    const integrationDashboards = new Map<string, IntegrationDashboard>();
    for (const [name, pipeline] of pipelines) {
      integrationDashboards.set(
        name,
        new IntegrationDashboard(this, `${pascalCase(name)}Dashboard`, {
          integration: pipeline.integration,
          queue: pipeline.queue,
          deadLetterQueue: pipeline.deadLetterQueue,
          handler: pipeline.function,
          alarms: alarms.get(name)!.alarms,
          runbookBaseUrl,
        }),
      );
    }
    this.integrationDashboards = integrationDashboards;
    this.dashboard = new HubDashboard(this, 'Dashboard', {
      integrations: [...pipelines.values()].map((pipeline) => ({
        integration: pipeline.integration,
        queue: pipeline.queue,
        deadLetterQueue: pipeline.deadLetterQueue,
        handler: pipeline.function,
        detailDashboardName: integrationDashboards.get(pipeline.integration.name)!.dashboard.dashboardName,
      })),
      runbookBaseUrl,
    });
    this.hubAlarms = new HubAlarms(this, 'HubAlarms', {
      controllerFunction: this.circuitController.controllerFunction,
      proberFunction: this.circuitController.proberFunction,
      failedRecordsQueue: this.circuitController.failedRecordsQueue,
      topic: this.alarmTopic.topic,
      runbookBaseUrl,
    });
    this.dashboard.addAlarms(...[...alarms.values()].flatMap((set) => set.alarms), ...this.hubAlarms.alarms);

    const workflowAlarms = new Map<string, WorkflowAlarms>();
    if (this.workflowCatalog && this.workflowProviders) {
      const { orderSaga, contactSync } = this.workflowCatalog;
      const tables = { ledgerTable: this.tables.ledger, circuitsTable: this.tables.circuits, removalPolicy };
      this.orderSaga = new OrderSagaStateMachine(this, 'OrderSaga', { workflow: orderSaga, providers: this.workflowProviders, ...tables });
      this.orderSagaStarter = new OrderSagaStarter(this, 'OrderSagaStarter', {
        workflow: orderSaga,
        bus: this.bus.bus,
        stateMachine: this.orderSaga.stateMachine,
        removalPolicy,
      });
      this.contactSync = new ContactSyncStateMachine(this, 'ContactSync', {
        workflow: contactSync,
        providers: this.workflowProviders,
        checkpointsTable: this.tables.checkpoints,
        circuitsTable: this.tables.circuits,
        removalPolicy,
      });
      workflowAlarms.set(
        orderSaga.name,
        new WorkflowAlarms(this, `${pascalCase(orderSaga.name)}Alarms`, {
          workflowName: orderSaga.name,
          stateMachine: this.orderSaga.stateMachine,
          executionsFailedRunbook: 'saga-executions-failed',
          executionsFailedMeaning: 'orders were not fulfilled: their sagas failed (and were compensated) or timed out (not compensated)',
          compensationFailedMetric: this.orderSaga.compensationFailedMetric,
          starterDeadLetterQueue: this.orderSagaStarter.deadLetterQueue,
          topic: this.alarmTopic.topic,
          runbookBaseUrl,
        }),
      );
      workflowAlarms.set(
        contactSync.name,
        new WorkflowAlarms(this, `${pascalCase(contactSync.name)}Alarms`, {
          workflowName: contactSync.name,
          stateMachine: this.contactSync.stateMachine,
          executionsFailedRunbook: 'sync-executions-failed',
          executionsFailedMeaning: 'a contact sync run failed or timed out; its checkpoint did not advance past the failed page and the next run retries from it',
          topic: this.alarmTopic.topic,
          runbookBaseUrl,
        }),
      );
      this.dashboard.addSection(
        'Workflows',
        `**${orderSaga.name}**: ${orderSaga.description} Started by ${orderSaga.trigger.detailTypes.join(', ')} (one execution per order id). ` +
          `**${contactSync.name}**: ${contactSync.description} Every ${contactSync.scheduleMinutes} min, at most ${contactSync.maxPagesPerExecution} pages of ${contactSync.pageSize} per run. ` +
          'Runbooks: `saga-executions-failed`, `saga-compensation-failed`, `saga-not-started`, `sync-executions-failed` (docs/runbooks/). Details: docs/workflows.md.',
      );
      this.dashboard.addRow(...this.orderSaga.dashboardWidgets(), this.orderSagaStarter.dashboardWidget(orderSaga.name));
      this.dashboard.addRow(...this.contactSync.dashboardWidgets());
      const providerAlarms = standaloneProviders.map(
        (provider) => new ProviderCircuitAlarm(this, `${pascalCase(provider.name)}ProviderAlarm`, { provider: provider.name, topic: this.alarmTopic.topic, runbookBaseUrl }).alarm,
      );
      this.dashboard.addAlarms(...[...workflowAlarms.values()].flatMap((set) => set.alarms), ...providerAlarms);
    }
    this.workflowAlarms = workflowAlarms;

    this.outputs();
  }

  private outputs(): void {
    new CfnOutput(this, 'EventBusName', { value: this.bus.bus.eventBusName, description: 'The bus upstream systems publish to' });
    for (const [name, table] of Object.entries(this.tables.all)) {
      new CfnOutput(this, `${pascalCase(name)}TableName`, { value: table.tableName, description: `The ${name} table` });
    }
    for (const [name, pipeline] of this.pipelines) {
      const id = pascalCase(name);
      new CfnOutput(this, `${id}QueueUrl`, { value: pipeline.queue.queueUrl, description: `Work queue of ${name}` });
      new CfnOutput(this, `${id}DeadLetterQueueUrl`, { value: pipeline.deadLetterQueue.queueUrl, description: `DLQ of ${name}` });
    }
    if (this.orderSaga && this.orderSagaStarter) {
      new CfnOutput(this, 'OrderSagaStateMachineArn', { value: this.orderSaga.stateMachine.stateMachineArn, description: 'The order-fulfilment saga' });
      new CfnOutput(this, 'OrderSagaStarterQueueUrl', { value: this.orderSagaStarter.queue.queueUrl, description: 'OrderPlaced events waiting to start a saga' });
      new CfnOutput(this, 'OrderSagaStarterDeadLetterQueueUrl', { value: this.orderSagaStarter.deadLetterQueue.queueUrl, description: 'OrderPlaced events that started no saga' });
    }
    if (this.contactSync) {
      new CfnOutput(this, 'ContactSyncStateMachineArn', { value: this.contactSync.stateMachine.stateMachineArn, description: 'The scheduled contact sync' });
    }
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
