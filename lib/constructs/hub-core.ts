import { RemovalPolicy } from 'aws-cdk-lib';
import { Construct } from 'constructs';
import { AlarmTopic } from './alarm-topic.js';
import { CircuitController } from './circuit-controller.js';
import { HubAlarms } from './hub-alarms.js';
import { HubEventBus } from './hub-event-bus.js';
import { HubTables } from './hub-tables.js';
import { SyncStatusOutbox } from './sync-status-outbox.js';

/** Props of {@link HubCore}. */
export interface HubCoreProps {
  /** What happens to the tables and log groups when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Subscribed to every alarm (AlarmTopic). @default no subscription */
  readonly alarmEmail?: string;
  /** Where the alarms' runbook links point. @default repository paths docs/runbooks/<slug>.md */
  readonly runbookBaseUrl?: string;
}

/**
 * What every integration and workflow of a hub shares, and what does not grow with the catalog: the circuits,
 * ledger and checkpoints tables, the event bus, the alarm topic, the circuit controller and prober, the status
 * outbox, and the alarms on those. The integrations (integration-group.ts) and the workflows
 * (hub-workflows.ts) are built against it, in its stack or in stacks deployed after it.
 */
export class HubCore extends Construct {
  /** Circuits (streamed), ledger and checkpoints tables. */
  readonly tables: HubTables;
  /** The hub's event bus and its archive. */
  readonly bus: HubEventBus;
  /** Where every alarm notifies. */
  readonly alarmTopic: AlarmTopic;
  /** Pauses an integration's event source while its circuit is open; probes and resumes it. */
  readonly circuitController: CircuitController;
  /** Publishes the ledger's status transitions as SyncStatusChanged events (docs/sync-status-events.md). */
  readonly statusOutbox: SyncStatusOutbox;
  /** The alarms of the controller, the prober and the status outbox. */
  readonly hubAlarms: HubAlarms;

  constructor(scope: Construct, id: string, props: HubCoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.tables = new HubTables(this, 'Tables', { removalPolicy });
    this.bus = new HubEventBus(this, 'Events');
    this.circuitController = new CircuitController(this, 'CircuitController', {
      circuitsTable: this.tables.circuits,
      functionProps: { logGroupRemovalPolicy: removalPolicy },
    });
    this.statusOutbox = new SyncStatusOutbox(this, 'StatusOutbox', { ledgerTable: this.tables.ledger, bus: this.bus.bus, removalPolicy });
    this.alarmTopic = new AlarmTopic(this, 'AlarmTopic', { email: props.alarmEmail });
    this.hubAlarms = new HubAlarms(this, 'HubAlarms', {
      controllerFunction: this.circuitController.controllerFunction,
      proberFunction: this.circuitController.proberFunction,
      failedRecordsQueue: this.circuitController.failedRecordsQueue,
      statusEventsFailed: this.statusOutbox.metricFailedBatches(),
      topic: this.alarmTopic.topic,
      runbookBaseUrl: props.runbookBaseUrl,
    });
  }
}
