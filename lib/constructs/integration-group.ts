import { CfnOutput, RemovalPolicy } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import type { IEventBus } from 'aws-cdk-lib/aws-events';
import type { ITopic } from 'aws-cdk-lib/aws-sns';
import { Construct } from 'constructs';
import { pascalCase, type ResolvedIntegration } from '../catalog.js';
import { assertNoProblems } from '../props-validation.js';
import { type CircuitOpsAccess, CircuitOpsRegistration } from './circuit-ops-registration.js';
import { IntegrationAlarms } from './integration-alarms.js';
import { IntegrationDashboard } from './integration-dashboard.js';
import { IntegrationPipeline } from './integration-pipeline.js';

/** Props of {@link IntegrationGroup}. */
export interface IntegrationGroupProps {
  /** The integrations of the group, resolved; at least one. */
  readonly integrations: readonly ResolvedIntegration[];
  /** The hub's bus (HubCore.bus.bus). */
  readonly bus: IEventBus;
  /** The sync ledger table. */
  readonly ledgerTable: ITable;
  /** The circuits table. */
  readonly circuitsTable: ITable;
  /** Where the alarms notify (HubCore.alarmTopic.topic). */
  readonly alarmTopic: ITopic;
  /** The circuit controller and prober the integrations are handed to (CircuitController.access). */
  readonly circuitOps: CircuitOpsAccess;
  /** What happens to secrets and log groups when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Where runbook links point. @default repository paths docs/runbooks/<slug>.md */
  readonly runbookBaseUrl?: string;
}

/**
 * A group of integrations, everything each one needs: its pipeline (routes, queue, DLQ, function, mapping, secret),
 * its alarms and detail dashboard, its circuit registered with the controller and prober, and its queue URLs as
 * outputs (`<Name>QueueUrl`, `<Name>DeadLetterQueueUrl`, read by the operator CLI). A stage deploys its integrations
 * as groups of bounded size, one stack each (docs/deploy.md "Stack layout").
 */
export class IntegrationGroup extends Construct {
  /** One pipeline per integration, by name, in the given order. */
  readonly pipelines: ReadonlyMap<string, IntegrationPipeline>;
  /** The alarms of each integration, by name. */
  readonly alarms: ReadonlyMap<string, IntegrationAlarms>;
  /** The detail dashboard of each integration, by name. */
  readonly dashboards: ReadonlyMap<string, IntegrationDashboard>;
  /** The circuits of the group as the controller and prober see them. */
  readonly circuitOps: CircuitOpsRegistration;

  constructor(scope: Construct, id: string, props: IntegrationGroupProps) {
    super(scope, id);
    assertNoProblems(this.node.path, props.integrations.length === 0 ? ['integrations must list at least one integration'] : []);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const pipelines = new Map<string, IntegrationPipeline>();
    const alarms = new Map<string, IntegrationAlarms>();
    const dashboards = new Map<string, IntegrationDashboard>();
    for (const integration of props.integrations) {
      const id = pascalCase(integration.name);
      const pipeline = new IntegrationPipeline(this, id, {
        integration,
        bus: props.bus,
        ledgerTable: props.ledgerTable,
        circuitsTable: props.circuitsTable,
        removalPolicy,
      });
      const resources = { integration, queue: pipeline.queue, deadLetterQueue: pipeline.deadLetterQueue, handler: pipeline.function };
      const integrationAlarms = new IntegrationAlarms(this, `${id}Alarms`, { ...resources, topic: props.alarmTopic, runbookBaseUrl: props.runbookBaseUrl });
      dashboards.set(
        integration.name,
        new IntegrationDashboard(this, `${id}Dashboard`, { ...resources, alarms: integrationAlarms.alarms, runbookBaseUrl: props.runbookBaseUrl }),
      );
      pipelines.set(integration.name, pipeline);
      alarms.set(integration.name, integrationAlarms);
      // Output names stay `<Name>QueueUrl` whatever group or stack the integration is in.
      new CfnOutput(this, `${id}QueueUrl`, { value: pipeline.queue.queueUrl, description: `Work queue of ${integration.name}` }).overrideLogicalId(`${id}QueueUrl`);
      new CfnOutput(this, `${id}DeadLetterQueueUrl`, { value: pipeline.deadLetterQueue.queueUrl, description: `DLQ of ${integration.name}` }).overrideLogicalId(
        `${id}DeadLetterQueueUrl`,
      );
    }
    this.pipelines = pipelines;
    this.alarms = alarms;
    this.dashboards = dashboards;
    this.circuitOps = new CircuitOpsRegistration(this, 'CircuitOps', { access: props.circuitOps, pipelines: [...pipelines.values()] });
  }
}
