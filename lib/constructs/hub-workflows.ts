import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { pascalCase } from '../catalog.js';
import type { ResolvedWorkflows } from '../workflow-catalog.js';
import { type CircuitOpsAccess, CircuitOpsRegistration } from './circuit-ops-registration.js';
import { ContactSyncStateMachine } from './contact-sync-state-machine.js';
import type { HubDashboard } from './hub-dashboard.js';
import { OrderSagaStarter } from './order-saga-starter.js';
import { OrderSagaStateMachine } from './order-saga-state-machine.js';
import { ProviderCircuitAlarm } from './provider-circuit-alarm.js';
import { WorkflowAlarms } from './workflow-alarms.js';
import { WorkflowProviders } from './workflow-providers.js';

/** Props of {@link HubWorkflows}. */
export interface HubWorkflowsProps {
  /** The workflows and their providers, resolved (`resolveWorkflows`). */
  readonly workflows: ResolvedWorkflows;
  /** The integrations' credentials secrets by name: a provider of an integration shares its secret. */
  readonly integrationSecrets: ReadonlyMap<string, ISecret | undefined>;
  /** The hub's bus: OrderPlaced starts the saga; the contact sync's triggers (the CRM's contact.updated) start a sync. */
  readonly bus: IEventBus;
  readonly ledgerTable: ITable;
  readonly circuitsTable: ITable;
  readonly checkpointsTable: ITable;
  /** Where the alarms notify. */
  readonly alarmTopic: ITopic;
  /** The circuit controller and prober: the standalone providers' circuits are handed to them. */
  readonly circuitOps: CircuitOpsAccess;
  /**
   * Whether the contact sync's schedule and event triggers start executions. Off until its providers' real
   * credentials are set: with the placeholders the stack creates, every run would fail. @default false
   */
  readonly contactSyncScheduleEnabled?: boolean;
  /** @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Where runbook links point. @default repository paths docs/runbooks/<slug>.md */
  readonly runbookBaseUrl?: string;
}

/**
 * The Step Functions workflows (docs/workflows.md): the providers' secrets, the order saga with its starter, the
 * scheduled contact sync, their alarms, the standalone providers' circuit alarms, and those circuits registered with
 * the controller and prober. {@link addToDashboard} puts their section on the hub's overview.
 */
export class HubWorkflows extends Construct {
  readonly catalog: ResolvedWorkflows;
  /** The workflow providers' secrets and settings. */
  readonly providers: WorkflowProviders;
  /** The order-fulfilment saga. */
  readonly orderSaga: OrderSagaStateMachine;
  /** OrderPlaced → one saga per order. */
  readonly orderSagaStarter: OrderSagaStarter;
  /** The incremental contact sync: scheduled, and started by its event triggers. */
  readonly contactSync: ContactSyncStateMachine;
  /** The alarms of each workflow, by workflow name. */
  readonly workflowAlarms: ReadonlyMap<string, WorkflowAlarms>;
  /** The standalone providers' circuit alarms: circuit-open-too-long each, and reauthorization-needed for auth `oauth2_refresh_token`. */
  readonly providerAlarms: readonly cloudwatch.Alarm[];

  constructor(scope: Construct, id: string, props: HubWorkflowsProps) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const { runbookBaseUrl } = props;
    const topic = props.alarmTopic;
    const { orderSaga, contactSync } = props.workflows;
    this.catalog = props.workflows;
    this.providers = new WorkflowProviders(this, 'Providers', {
      providers: props.workflows.providers,
      integrationSecrets: props.integrationSecrets,
      removalPolicy,
    });
    // The providers of an integration share its circuit, registered and probed as the integration.
    const standalone = [...this.providers.providers.values()].filter((provider) => provider.integration === undefined);
    new CircuitOpsRegistration(this, 'CircuitOps', {
      access: props.circuitOps,
      providers: standalone.map((provider) => ({ provider, secret: this.providers.secrets.get(provider.name) })),
    });

    const tables = { ledgerTable: props.ledgerTable, circuitsTable: props.circuitsTable, removalPolicy };
    this.orderSaga = new OrderSagaStateMachine(this, 'OrderSaga', { workflow: orderSaga, providers: this.providers, ...tables });
    this.orderSagaStarter = new OrderSagaStarter(this, 'OrderSagaStarter', { workflow: orderSaga, bus: props.bus, stateMachine: this.orderSaga.stateMachine, removalPolicy });
    this.contactSync = new ContactSyncStateMachine(this, 'ContactSync', {
      workflow: contactSync,
      providers: this.providers,
      checkpointsTable: props.checkpointsTable,
      circuitsTable: props.circuitsTable,
      bus: props.bus,
      removalPolicy,
      scheduleEnabled: props.contactSyncScheduleEnabled ?? false,
    });
    this.workflowAlarms = new Map([
      [
        orderSaga.name,
        new WorkflowAlarms(this, `${pascalCase(orderSaga.name)}Alarms`, {
          workflowName: orderSaga.name,
          stateMachine: this.orderSaga.stateMachine,
          executionsFailedRunbook: 'saga-executions-failed',
          executionsFailedMeaning: 'orders were not fulfilled: their sagas failed (and were compensated) or timed out (not compensated)',
          compensationFailedMetric: this.orderSaga.compensationFailedMetric,
          starterDeadLetterQueue: this.orderSagaStarter.deadLetterQueue,
          topic,
          runbookBaseUrl,
        }),
      ],
      [
        contactSync.name,
        new WorkflowAlarms(this, `${pascalCase(contactSync.name)}Alarms`, {
          workflowName: contactSync.name,
          stateMachine: this.contactSync.stateMachine,
          executionsFailedRunbook: 'sync-executions-failed',
          executionsFailedMeaning: 'a contact sync run failed or timed out; its checkpoint did not advance past the failed page and the next run retries from it',
          topic,
          runbookBaseUrl,
        }),
      ],
    ]);
    this.providerAlarms = standalone.flatMap(
      (provider) => new ProviderCircuitAlarm(this, `${pascalCase(provider.name)}ProviderAlarm`, { provider: provider.name, auth: provider.auth, topic, runbookBaseUrl }).alarms,
    );

    const output = (outputId: string, value: string, description: string) => new CfnOutput(this, outputId, { value, description }).overrideLogicalId(outputId);
    output('OrderSagaStateMachineArn', this.orderSaga.stateMachine.stateMachineArn, 'The order-fulfilment saga');
    output('OrderSagaStarterQueueUrl', this.orderSagaStarter.queue.queueUrl, 'OrderPlaced events waiting to start a saga');
    output('OrderSagaStarterDeadLetterQueueUrl', this.orderSagaStarter.deadLetterQueue.queueUrl, 'OrderPlaced events that started no saga');
    output('ContactSyncStateMachineArn', this.contactSync.stateMachine.stateMachineArn, 'The scheduled contact sync');
  }

  /** Every alarm of the workflows and their standalone providers. */
  get alarms(): cloudwatch.IAlarm[] {
    return [...[...this.workflowAlarms.values()].flatMap((set) => set.alarms), ...this.providerAlarms];
  }

  /** Adds the workflows' section (description, graphs) and alarms to the hub's overview dashboard. */
  addToDashboard(dashboard: HubDashboard): void {
    const { orderSaga, contactSync } = this.catalog;
    dashboard.addSection(
      'Workflows',
      `**${orderSaga.name}**: ${orderSaga.description} Started by ${orderSaga.trigger.detailTypes.join(', ')} (one execution per order id). ` +
        `**${contactSync.name}**: ${contactSync.description} Every ${contactSync.scheduleMinutes} min` +
        (contactSync.triggers.length > 0 ? ` and on ${contactSync.triggers.flatMap((t) => t.detailTypes).join(', ')}` : '') +
        `, at most ${contactSync.maxPagesPerExecution} pages of ${contactSync.pageSize} per run; one run at a time (a run started meanwhile is skipped and the running one does one more pass). ` +
        'Runbooks: `saga-executions-failed`, `saga-compensation-failed`, `saga-not-started`, `sync-executions-failed` (docs/runbooks/). Details: docs/workflows.md.',
    );
    dashboard.addRow(...this.orderSaga.dashboardWidgets(), this.orderSagaStarter.dashboardWidget(orderSaga.name));
    dashboard.addRow(...this.contactSync.dashboardWidgets());
    dashboard.addAlarms(...this.alarms);
  }
}
