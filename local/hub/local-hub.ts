/**
 * The whole hub on one machine, built from the synthesized template (hub-blueprint.ts reads it):
 *
 * - DynamoDB: dynalite in-process, one table per `AWS::DynamoDB::Table` with its key schema;
 * - SQS: a {@link LocalQueue} per queue with the template's visibility timeout, delay, retention and redrive policy;
 * - Lambda: an {@link LocalEventSourceMapping} per SQS mapping with its batch size, batching window, maximum
 *   concurrency and enabled flag, invoking the REAL handler logic; every concurrent invocation gets its own
 *   "container" (own secret, token and circuit caches), as on Lambda;
 * - EventBridge: the template's rules on the hub's bus, their patterns compiled (event-pattern.ts documents the
 *   subset), SQS and Step Functions targets; schedules (`rate(...)`) run on timers, scaled by `timeScale`;
 * - Step Functions: the synthesized ASL on aws-local-stepfunctions with the real task handlers;
 * - the circuit controller (fed by a scan of the circuits table: dynalite has no streams) and the prober, with the
 *   mapping pause/resume applied to the local mappings;
 * - the template's pipes (local-pipes.ts): the ledger table's stream (dynalite behind local-dynamo-streams.ts) through
 *   the status outbox's real enrichment to this bus, so every ledger transition is a `SyncStatusChanged` event here too;
 * - the webhook endpoints: each `POST /webhooks/<name>` route of the template served on 127.0.0.1 with its function's
 *   real logic (local-webhooks.ts), forwarding to this bus; each signing secret is generated at start (the sandbox's
 *   senders sign with it: {@link LocalHub.webhookSigningSecret});
 * - the sandbox as every third party (the caller starts it, with a generic provider for each integration without a
 *   dedicated one: sandbox-wiring.ts startSandboxForCatalog; the template is synthesized against it, and a function
 *   calling anything else, or missing its secret, fails the start).
 *
 * What is NOT scaled by `timeScale`: queue visibility timeouts, retention, circuit breaks, HTTP timeouts — the hub
 * runs them as the template says. Only schedules and Step Functions Retry/Wait intervals are compressed, so a demo
 * does not wait a minute for the prober or an hour for a saga retry.
 */
import { randomUUID } from 'node:crypto';
import { Logger } from '@aws-lambda-powertools/logger';
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { Context, DynamoDBBatchResponse, DynamoDBRecord, DynamoDBStreamEvent, SQSBatchResponse, SQSEvent } from 'aws-lambda';
import { CircuitController } from '../../functions/ops/circuit-control.js';
import { CircuitProber } from '../../functions/ops/circuit-probing.js';
import { controllerConfigFromEnvironment, proberConfigFromEnvironment } from '../../functions/ops/ops-config.js';
import { createProbeTargets } from '../../functions/ops/probe-targets.js';
import { type AnyIntegration, loadAdapters } from '../../functions/ops/integration-adapters.js';
import { OPS_CATALOG_PATH_VARIABLE, type OpsCatalogReader, opsCatalogVariables } from '../../functions/ops/ops-catalog.js';
import type { CircuitBreaker } from '../../functions/runtime/circuit-breaker.js';
import type { CircuitState } from '../../functions/runtime/circuit-store.js';
import { DynamoDbCircuitStore } from '../../functions/runtime/dynamodb-circuit-store.js';
import { DynamoDBSyncLedger } from '../../functions/runtime/dynamodb-sync-ledger.js';
import type { RecordOutcome } from '../../functions/runtime/integration-runtime.js';
import { buildRuntimeDependencies, circuitOverrides, createBreaker } from '../../functions/runtime/runtime-environment.js';
import { type RuntimeSettings, settingsFromEnvironment } from '../../functions/runtime/runtime-settings.js';
import { SecretsManagerSecretSource } from '../../functions/runtime/secrets-manager-secret-source.js';
import { DynamoDbRefreshLeases } from '../../functions/runtime/dynamodb-refresh-leases.js';
import type { RefreshLeases, WritableSecretSource } from '../../functions/runtime/ports.js';
import type { CircuitCredentials } from '../cli/hub-operator.js';
import { ConfigurationError } from '../../functions/runtime/errors.js';
import { RecordingMetricsSink } from '../../functions/runtime/telemetry.js';
import { OrderSagaStarter } from '../../functions/workflows/order-saga-starter.js';
import { findProviderProbe } from '../../functions/workflows/provider-probes.js';
import type { ExecutionStarter, StartOutcome } from '../../functions/workflows/sfn-execution-starter.js';
import {
  CircuitTableStream,
  LocalEventSourceMappings,
  LocalProbeSchedule,
  RecordingCircuitGaugeTimeline,
} from '../local-circuit-ops.js';
import { type LocalDynamo, localDynamoClient, startLocalDynamo } from '../local-dynamo.js';
import { LocalEventSourceMapping, type SqsBatchHandler } from '../local-event-source.js';
import { LocalDeadLetterQueue, LocalMessageParker, LocalQueue } from '../local-queue.js';
import type { LocalSecretsManager } from '../local-secrets-manager.js';
import {
  type CfnTemplate,
  type ExecutionRecord,
  fakeMappingUuid,
  functionEnvironment,
  type LocalTaskHandler,
  LocalStateMachine,
  resolveIntrinsics,
  type SynthesizedStateMachine,
  stateMachinesOf,
} from '../local-step-functions.js';
import { createLocalTaskFunctions, createTemplateTables, handlersOf } from '../local-workflows.js';
import type { Sandbox } from '../sandbox/index.js';
import { BlueprintError, type HubBlueprint, rateToMs, readHubBlueprint, type SqsMappingBlueprint, type StreamMappingBlueprint } from './hub-blueprint.js';
import { signingSecretsOf } from '../../functions/webhooks/webhook-scheme.js';
import type { WebhookSchemeDeclaration } from '../../functions/webhooks/webhook-declaration.js';
import { newSigningSecret } from '../sandbox/webhook-sender.js';
import { HubFaultInjector, InvocationCrashedError } from './hub-faults.js';
import { LocalWebhookServer, webhookRoutesOf } from './local-webhooks.js';
import { LocalPipe, type PipeEvent, pipesOf } from '../local-pipes.js';
import { handler as enrichSyncStatus } from '../../functions/outbox/sync-status-enrichment.js';
import { SYNC_STATUS_CHANGED } from '../../functions/outbox/sync-status-events.js';
import { type HubCatalogs, sandboxSecrets, sandboxWiringProblems, synthesizeAgainstSandbox } from './sandbox-wiring.js';

/**
 * Options of {@link LocalHub.start}. The catalogs (`integrations`, `workflows`, `providers`; default the shipped ones)
 * give the template to synthesize and the local secrets, so a test can run a fixture catalog.
 */
export interface LocalHubOptions extends HubCatalogs {
  /**
   * The third parties (the caller owns it: faults, journal). Start it with `startSandboxForCatalog` and the same
   * catalogs (local/hub/sandbox-wiring.ts) when an integration has no dedicated sandbox API.
   */
  readonly sandbox: Sandbox;
  /**
   * The template to run; its functions must call the sandbox (else the start fails naming them).
   * @default the IntegrationHub stack synthesized from the catalogs with every third party at the sandbox
   */
  readonly template?: CfnTemplate;
  /** Factor on schedule rates and Step Functions Retry/Wait intervals (see the file comment). @default 1 */
  readonly timeScale?: number;
  /** How often an idle mapping polls its queue. @default 100 */
  readonly pollIntervalMs?: number;
  /** How often the circuits table is scanned for state changes (the controller's stream). @default 250 */
  readonly streamPollMs?: number;
  /** Added to every function's environment (e.g. `POWERTOOLS_LOG_LEVEL`). */
  readonly environment?: Readonly<Record<string, string>>;
  /** The functions' logger. @default silent */
  readonly logger?: Logger;
  /** Called with errors of background work (invocations that threw, a failed scan, a failed prober run). */
  readonly onError?: (where: string, error: unknown) => void;
}

/** What happened to the records of one integration so far. */
export interface IntegrationCounters {
  delivered: number;
  replayed: number;
  skippedStale: number;
  retried: number;
  parked: number;
  deadLettered: number;
}

/** One integration of the hub, with its local parts. */
export interface HubIntegration {
  readonly name: string;
  readonly queue: LocalQueue;
  readonly deadLetterQueue: LocalQueue;
  readonly mapping: LocalEventSourceMapping;
  readonly mappingUuid: string;
  readonly functionLogicalId: string;
  readonly environment: Readonly<Record<string, string>>;
  readonly counters: IntegrationCounters;
  /** Containers (runtime instances) created so far. */
  readonly containers: number;
  /** A metric summed over every container (`CircuitOpened`, `CallFailed`, …). */
  metric(name: string): number;
  /** An operator's handle on the shared circuit (isolate / reset / status), as the CLI builds it. */
  readonly breaker: CircuitBreaker;
}

/** One workflow execution of the local hub. */
export interface HubExecution {
  readonly workflow: string;
  readonly name: string;
  readonly input: unknown;
  readonly startedAt: number;
  stoppedAt?: number;
  status: 'RUNNING' | 'SUCCEEDED' | 'FAILED';
  /** The error name of a FAILED execution (the Fail state's Error, or what the engine threw). */
  error?: string;
  record?: ExecutionRecord;
  /** Times it was redriven. */
  redrives: number;
}

/** One state machine of the hub. */
export interface HubWorkflow {
  /** `order-saga`, `contact-sync`: the logical id without its hash and `StateMachine`, in kebab case. */
  readonly name: string;
  readonly logicalId: string;
  readonly machine: LocalStateMachine;
}

/** An event as `PutEvents` takes it. */
export interface PutEventEntry {
  readonly source: string;
  readonly detailType: string;
  readonly detail: unknown;
  readonly time?: Date;
}

/** Thrown by {@link LocalHub.startExecution} for a name already used, as Step Functions' ExecutionAlreadyExists. */
export class LocalExecutionAlreadyExistsError extends Error {
  constructor(readonly executionName: string) {
    super(`Execution already exists: '${executionName}'`);
    this.name = 'ExecutionAlreadyExists';
  }
}

const REGION = 'us-east-1';
const ACCOUNT = '123456789012';

/** The running local hub; see the file comment. */
export class LocalHub {
  readonly integrations = new Map<string, HubIntegration>();
  readonly workflows = new Map<string, HubWorkflow>();
  readonly queues = new Map<string, LocalQueue>();
  readonly mappings = new Map<string, LocalEventSourceMapping>();
  readonly executions: HubExecution[] = [];
  /** Every circuit state change the controller was given, in order. */
  readonly circuitTransitions: { circuitId: string; from?: CircuitState; to: CircuitState; at: number }[] = [];
  readonly probeSchedule: LocalProbeSchedule;
  readonly gauge = new RecordingCircuitGaugeTimeline();
  readonly ledger: DynamoDBSyncLedger;
  readonly circuits: DynamoDbCircuitStore;
  readonly startedAt = Date.now();
  /** Faults of the hub's own parts (DynamoDB, Secrets Manager, the controller, crashes), set while it runs. */
  readonly faults: HubFaultInjector;
  /** The template's pipes (the sync status outbox), by logical id. */
  readonly pipes = new Map<string, LocalPipe>();
  /** Every event the pipes put on the bus, in order (the `SyncStatusChanged` events). */
  readonly pipeEvents: PipeEvent[] = [];
  /** The webhook endpoints on 127.0.0.1; undefined when no integration declares webhooks. */
  webhooks?: LocalWebhookServer;
  /** The functions' DynamoDB client: {@link faults} hit it, not the hub's own inspection nor the stream. */
  readonly #functionsDynamo: DynamoDBClient;

  readonly #options: LocalHubOptions;
  readonly #timers: NodeJS.Timeout[] = [];
  readonly #running = new Set<Promise<unknown>>();
  #stream?: CircuitTableStream;
  #prober?: CircuitProber;
  /** How each probed circuit authenticates, from the prober's catalog (empty without a prober). */
  #circuitCredentials = new Map<string, CircuitCredentials>();
  #published = 0;
  #stopped = false;

  private constructor(
    readonly blueprint: HubBlueprint,
    readonly dynamo: LocalDynamo,
    readonly tables: Record<string, string>,
    readonly secretsManager: LocalSecretsManager,
    options: LocalHubOptions,
  ) {
    this.#options = options;
    const circuitsTable = this.#tableOf('CoreTablesCircuits');
    this.circuits = new DynamoDbCircuitStore({ tableName: circuitsTable, client: dynamo.client });
    this.ledger = new DynamoDBSyncLedger({ tableName: this.#tableOf('CoreTablesLedger'), client: dynamo.client });
    this.faults = new HubFaultInjector({ ledger: this.#tableOf('CoreTablesLedger'), circuits: circuitsTable }, secretsManager);
    this.#functionsDynamo = this.faults.faultDynamo(localDynamoClient(dynamo.endpoint));
    const probeRule = blueprint.rules.schedules.find((schedule) => schedule.targets.some((t) => this.#isProber(t.arnRef)));
    this.probeSchedule = new LocalProbeSchedule(probeRule?.state === 'ENABLED' ? 'enabled' : 'disabled');
  }

  /** Builds and starts the hub; see {@link LocalHubOptions}. */
  static async start(options: LocalHubOptions): Promise<LocalHub> {
    const catalogs: HubCatalogs = { integrations: options.integrations, workflows: options.workflows, providers: options.providers };
    const template = options.template ?? synthesizeAgainstSandbox(options.sandbox, catalogs);
    const blueprint = readHubBlueprint(template);
    const secretsManager = sandboxSecrets(options.sandbox, catalogs);
    // A function whose third party the sandbox does not answer (or whose secret is missing) would retry its messages
    // forever with nothing delivered: refuse to start instead, naming every such integration at once.
    const functions = [...blueprint.functions.keys()].map((logicalId) => ({
      logicalId,
      environment: { ...functionEnvironment(template, logicalId, { region: REGION, account: ACCOUNT }), ...options.environment },
    }));
    const wiringProblems = sandboxWiringProblems(options.sandbox, functions, (name) => secretsManager.has(name));
    if (wiringProblems.length > 0) throw ConfigurationError.listing('local hub wiring (every function must call the local sandbox)', wiringProblems);
    const dynamo = await startLocalDynamo({ streams: true });
    try {
      const tables = await createTemplateTables(dynamo, template);
      const hub = new LocalHub(blueprint, dynamo, tables, secretsManager, options);
      await hub.#loadAdapters();
      hub.#build();
      await hub.#buildPipes();
      await hub.#serveWebhooks();
      hub.#startBackground();
      return hub;
    } catch (error) {
      await dynamo.close();
      throw error;
    }
  }

  /** Events put on the bus so far. */
  get published(): number {
    return this.#published;
  }

  /** The fake environment the template's intrinsics resolve in (table names). */
  get fakeEnvironment(): { tableNames: Record<string, string>; region: string; account: string } {
    return { tableNames: this.tables, region: REGION, account: ACCOUNT };
  }

  /** The integration called `name`, or undefined. */
  integration(name: string): HubIntegration | undefined {
    return this.integrations.get(name);
  }

  /**
   * Every circuit of the hub: each integration's, then each standalone workflow provider's (from the template's
   * CircuitSettings output; a provider of an integration shares that integration's circuit).
   */
  get circuitIds(): string[] {
    return [...new Set([...this.integrations.keys(), ...this.blueprint.circuits.keys()])];
  }

  /** An operator's handle on circuit `name` (isolate / reset / status); undefined when the hub has no such circuit. */
  circuitBreaker(name: string): CircuitBreaker | undefined {
    const integration = this.integrations.get(name);
    if (integration) return integration.breaker;
    const settings = this.blueprint.circuits.get(name);
    if (!settings) return undefined;
    return createBreaker({ circuitId: name, settings, store: this.circuits, metrics: new RecordingMetricsSink() });
  }

  /** The stored state of an integration's circuit (closed when it never failed). */
  async circuitState(name: string): Promise<CircuitState> {
    return (await this.circuits.get(name))?.state ?? 'closed';
  }

  /**
   * EventBridge PutEvents on the hub's bus: each entry is matched against every enabled rule and delivered to its
   * targets (the queue receives the EventBridge envelope as the message body, as on AWS).
   */
  putEvents(entries: readonly PutEventEntry[]): { eventId: string; routedTo: string[] }[] {
    return entries.map((entry) => {
      const event = {
        version: '0',
        id: randomUUID(),
        'detail-type': entry.detailType,
        source: entry.source,
        account: ACCOUNT,
        time: (entry.time ?? new Date()).toISOString().replace(/\.\d{3}Z$/, 'Z'),
        region: REGION,
        resources: [],
        detail: entry.detail,
      };
      this.#published += 1;
      const routedTo: string[] = [];
      for (const rule of this.blueprint.rules.rules) {
        if (rule.state !== 'ENABLED' || !rule.matches(event)) continue;
        for (const target of rule.targets) {
          routedTo.push(target.arnRef);
          if (target.type === 'sqs') this.#queue(target.arnRef).send({ body: JSON.stringify(event) });
          else this.#startAsync(this.#workflowByLogicalId(target.arnRef).name, event);
        }
      }
      return { eventId: event.id, routedTo };
    });
  }

  /** StartExecution: runs in the background; a name already used throws {@link LocalExecutionAlreadyExistsError}. */
  startExecution(workflow: string, name: string, input: unknown): HubExecution {
    const hubWorkflow = this.workflows.get(workflow);
    if (!hubWorkflow) throw new Error(`No workflow called '${workflow}'`);
    if (this.executions.some((e) => e.workflow === workflow && e.name === name)) throw new LocalExecutionAlreadyExistsError(name);
    const execution: HubExecution = { workflow, name, input, startedAt: Date.now(), status: 'RUNNING', redrives: 0 };
    this.executions.push(execution);
    this.#run(hubWorkflow, execution);
    return execution;
  }

  /**
   * Redrives a failed execution as Step Functions' RedriveExecution does: it continues from the UNSUCCESSFUL state
   * (the last state entered) with that state's input; the steps that succeeded are not run again. An execution that
   * ended in a Fail state (a saga that already compensated) therefore fails again at once, as on AWS.
   */
  redriveExecution(workflow: string, name: string): HubExecution {
    const execution = this.executions.find((e) => e.workflow === workflow && e.name === name);
    if (!execution) throw new Error(`No execution '${name}' of '${workflow}'`);
    if (execution.status !== 'FAILED') throw new Error(`Execution '${name}' is ${execution.status}: only a FAILED execution can be redriven`);
    const entered = execution.record?.events.filter((event) => event.type === 'StateEntered').at(-1)?.state;
    if (!entered) throw new Error(`Execution '${name}' failed before entering a state: there is nothing to continue from`);
    const hubWorkflow = this.workflows.get(workflow)!;
    const original = hubWorkflow.machine.machine;
    const fromFailedState = new LocalStateMachine(startingAt(original, entered.name), this.#taskHandlers);
    execution.status = 'RUNNING';
    execution.stoppedAt = undefined;
    execution.redrives += 1;
    this.#run({ ...hubWorkflow, machine: fromFailedState }, execution, entered.input);
    return execution;
  }

  /** How each circuit authenticates and where its secret is, as the prober's catalog says (the functions use the same). */
  get circuitCredentials(): ReadonlyMap<string, CircuitCredentials> {
    return this.#circuitCredentials;
  }

  /** The secrets and refresh leases as the functions use them: `auth set-refresh-token` writes through these. */
  refreshTokenStore(): { readonly secrets: WritableSecretSource; readonly leases: RefreshLeases } {
    return {
      secrets: new SecretsManagerSecretSource({ client: this.secretsManager.client }),
      leases: new DynamoDbRefreshLeases({ tableName: this.#tableOf('CoreTablesCircuits'), client: this.#functionsDynamo }),
    };
  }

  /** Runs the prober once now (as its schedule would). */
  async runProber(): Promise<void> {
    await this.#prober?.run();
  }

  /**
   * The signing secret the hub checks `integration`'s webhooks with (generated at start, or the one in its secret):
   * what the sandbox's sender of that provider signs with.
   */
  webhookSigningSecret(integration: string): string {
    const route = webhookRoutesOf(this.blueprint.template).find((candidate) => this.#environment(candidate.functionLogicalId).WEBHOOK_PROVIDER === integration);
    if (!route) throw new Error(`the hub has no webhook endpoint for '${integration}'`);
    const secret = this.secretsManager.get(this.#environment(route.functionLogicalId).WEBHOOK_SECRET_NAME ?? '');
    return signingSecretsOf(secret ?? {}, integration)[0]!;
  }

  /** Scans the circuits table once now and lets the controller act on what changed. */
  async pollCircuitStream(): Promise<void> {
    await this.#stream?.poll();
  }

  /** Waits for everything in flight: running invocations and executions, and the pipes' records. */
  async settle(): Promise<void> {
    do {
      while (this.#running.size > 0) await Promise.allSettled([...this.#running]);
      await Promise.all([...this.pipes.values()].map((pipe) => pipe.settle()));
    } while (this.#running.size > 0);
  }

  /** Stops polling, schedules and the stream, waits for running work, and closes dynalite. Idempotent. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const timer of this.#timers) clearInterval(timer);
    await this.#stream?.stop();
    await Promise.all([...this.mappings.values()].map((mapping) => mapping.stop()));
    await this.settle();
    this.faults.clear();
    await this.webhooks?.close();
    this.#functionsDynamo.destroy();
    await this.dynamo.close();
  }

  // ---------------------------------------------------------------- composition

  #build(): void {
    const { blueprint } = this;
    // Queues: dead-letter queues first, so a source queue can point at its DLQ.
    const pending = [...blueprint.queues.values()];
    while (pending.length > 0) {
      const index = pending.findIndex((q) => !q.redrive || this.queues.has(q.redrive.deadLetterQueue));
      const queue = pending.splice(index, 1)[0]!;
      this.queues.set(
        queue.logicalId,
        new LocalQueue({
          name: queue.logicalId,
          visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
          delaySeconds: queue.delaySeconds,
          messageRetentionSeconds: queue.messageRetentionSeconds,
          ...(queue.redrive ? { maxReceiveCount: queue.redrive.maxReceiveCount, deadLetterQueue: this.queues.get(queue.redrive.deadLetterQueue)! } : {}),
        }),
      );
    }

    this.#buildWorkflows();
    const controllerFunction = this.#buildController();
    const parker = new LocalMessageParker(this.queues.values());
    const problems: string[] = [];
    for (const mapping of blueprint.sqsMappings.values()) {
      const environment = this.#environment(mapping.functionLogicalId);
      const integration = this.#integrationNames.get(fakeMappingUuid(mapping.logicalId));
      if (integration) this.#buildIntegration(integration, mapping, environment, parker);
      else if (environment.STATE_MACHINE_ARN) this.#buildStarter(mapping, environment);
      else problems.push(`${mapping.functionLogicalId} (mapping ${mapping.logicalId}): not an integration of the controller's INTEGRATIONS nor a workflow starter`);
    }
    for (const schedule of blueprint.rules.schedules) {
      for (const target of schedule.targets) {
        if (!this.#isProber(target.arnRef) && target.type !== 'states') problems.push(`schedule ${schedule.logicalId}: target ${target.arnRef} is not emulated`);
      }
      if (rateToMs(schedule.scheduleExpression) === undefined) problems.push(`schedule ${schedule.logicalId}: only rate(...) expressions are emulated (got ${schedule.scheduleExpression})`);
    }
    if (!controllerFunction) problems.push('the template has no circuit controller (a DynamoDB stream mapping)');
    if (problems.length > 0) throw new BlueprintError(problems);
    this.#buildProber();
  }

  /** Integration names by mapping UUID, from the controller's configuration. */
  readonly #integrationNames = new Map<string, string>();
  /** The workflow task handlers by function logical id (a redrive builds a machine starting elsewhere on them). */
  #taskHandlers: Record<string, LocalTaskHandler> = {};

  #buildController(): string | undefined {
    const [streamMapping] = this.blueprint.streamMappings.values();
    if (!streamMapping) return undefined;
    const config = controllerConfigFromEnvironment(this.#opsEnvironment(streamMapping.functionLogicalId, 'controller'));
    for (const integration of config.integrations) this.#integrationNames.set(integration.mappingUuid, integration.name);
    const controller = new CircuitController({
      integrations: config.integrations,
      providers: config.providers,
      mappings: new LocalEventSourceMappings(this.#mappingsByUuid),
      schedule: this.probeSchedule,
      circuits: this.circuits,
      gauge: this.gauge,
      logger: this.#logger,
      busyRetry: { attempts: 1, delayMs: 0 },
    });
    // A controller that is down fails every record of its invocations: the stream retries, then discards them.
    const failEvery = (event: DynamoDBStreamEvent): DynamoDBBatchResponse => ({
      batchItemFailures: event.Records.map((record) => ({ itemIdentifier: record.dynamodb?.SequenceNumber ?? '' })),
    });
    this.#stream = new CircuitTableStream({
      dynamodb: this.dynamo.client,
      tableName: this.tables[streamMapping.table]!,
      controller: { handleStream: async (event, remainingTimeMs) => (this.faults.controllerDown ? failEvery(event) : controller.handleStream(event, remainingTimeMs)) },
      intervalMs: this.#options.streamPollMs ?? 250,
      onTransition: (transition) => this.circuitTransitions.push(transition),
      onError: (error) => this.#error('circuit controller', error),
      maximumRetryAttempts: streamMapping.maximumRetryAttempts,
      bisectBatchOnFunctionError: streamMapping.bisectBatchOnFunctionError,
      onDiscarded: (records, invocations) => this.#discardStreamRecords(streamMapping, records, invocations),
    });
    return streamMapping.functionLogicalId;
  }

  /**
   * Records the controller failed on every retry leave the stream, as on AWS: the on-failure queue gets what Lambda
   * sends there (the batch's place in the stream, not the records), and the hub's error log says so.
   */
  #discardStreamRecords(mapping: StreamMappingBlueprint, records: readonly DynamoDBRecord[], invocations: number): void {
    const sequences = records.map((record) => record.dynamodb?.SequenceNumber ?? '');
    const circuits = records.map((record) => record.dynamodb?.Keys?.circuitId?.S).join(', ');
    this.#error('circuit controller', new Error(`Stream records of ${circuits} discarded after ${invocations} failed invocations (MaximumRetryAttempts)`));
    if (!mapping.onFailureQueue) return;
    const now = new Date().toISOString();
    this.#queue(mapping.onFailureQueue).send({
      body: JSON.stringify({
        requestContext: { requestId: randomUUID(), functionArn: mapping.functionLogicalId, condition: 'RetryAttemptsExhausted', approximateInvokeCount: invocations },
        responseContext: { statusCode: 200, executedVersion: '$LATEST', functionError: 'PartialBatchFailure' },
        version: '1.0',
        timestamp: now,
        DDBStreamBatchInfo: {
          shardId: 'local-shard',
          startSequenceNumber: sequences[0],
          endSequenceNumber: sequences.at(-1),
          approximateArrivalOfFirstRecord: now,
          approximateArrivalOfLastRecord: now,
          batchSize: records.length,
          streamArn: mapping.table,
        },
      }),
    });
  }

  readonly #mappingsByUuid = new Map<string, LocalEventSourceMapping>();

  /** The adapters the template's functions run (their ADAPTER variable), imported once before the hub is built. */
  #adapters: ReadonlyMap<string, AnyIntegration> = new Map();

  async #loadAdapters(): Promise<void> {
    const names = [...this.blueprint.functions.keys()].flatMap((logicalId) => this.#environment(logicalId).ADAPTER ?? []);
    this.#adapters = await loadAdapters(names);
  }

  #buildIntegration(name: string, blueprint: SqsMappingBlueprint, environment: Record<string, string>, parker: LocalMessageParker): void {
    const adapter = environment.ADAPTER ? this.#adapters.get(environment.ADAPTER) : undefined;
    if (!adapter) throw new BlueprintError([`integration '${name}': its function ${blueprint.functionLogicalId} names no adapter (ADAPTER)`]);
    const settings = settingsFromEnvironment(environment);
    const queue = this.#queue(blueprint.queue);
    const deadLetterQueue = queue.deadLetterQueue;
    if (!deadLetterQueue) throw new BlueprintError([`the queue of '${name}' has no redrive policy`]);
    const counters: IntegrationCounters = { delivered: 0, replayed: 0, skippedStale: 0, retried: 0, parked: 0, deadLettered: 0 };
    const containerMetrics: RecordingMetricsSink[] = [];
    const deadLetters = new LocalDeadLetterQueue(deadLetterQueue, name);
    const containers = new ContainerPool(() => {
      const metrics = new RecordingMetricsSink();
      containerMetrics.push(metrics);
      const crash = this.faults.containerCrash(name);
      return { runtime: this.#integrationContainer(name, adapter, settings, environment, { metrics, parker, deadLetters, fetch: crash.fetch }), crashed: crash.crashed };
    });
    const observe = (_record: unknown, outcome: RecordOutcome): void => {
      const key = OUTCOME_COUNTERS[outcome];
      if (key) counters[key] += 1;
    };
    const handler: SqsBatchHandler = (event: SQSEvent, context: Context): Promise<SQSBatchResponse> =>
      // A crashed invocation rejects (the mapping sees a failed invocation); its container is not used again.
      containers.use(({ runtime, crashed }) => Promise.race([runtime.handleBatch(event, context, observe), crashed]));
    const mapping = this.#mapping(blueprint, handler);
    const mappingUuid = fakeMappingUuid(blueprint.logicalId);
    this.#mappingsByUuid.set(mappingUuid, mapping);
    const breakerMetrics = new RecordingMetricsSink();
    this.integrations.set(name, {
      name,
      queue,
      deadLetterQueue,
      mapping,
      mappingUuid,
      functionLogicalId: blueprint.functionLogicalId,
      environment,
      counters,
      get containers() {
        return containers.size;
      },
      metric: (metric) => containerMetrics.reduce((sum, m) => sum + m.total(metric), 0),
      breaker: createBreaker({ circuitId: name, settings: circuitOverrides(environment.CIRCUIT_SETTINGS), store: this.circuits, metrics: breakerMetrics }),
    });
  }

  /** One Lambda container of an integration: its own secret cache, token cache and circuit cache. */
  #integrationContainer(
    name: string,
    adapter: AnyIntegration,
    settings: RuntimeSettings,
    environment: Record<string, string>,
    parts: { metrics: RecordingMetricsSink; parker: LocalMessageParker; deadLetters: LocalDeadLetterQueue; fetch: typeof fetch },
  ) {
    const definition = adapter.bind(name);
    const deps = buildRuntimeDependencies(definition, settings, {
      dynamodb: this.#functionsDynamo,
      fetch: parts.fetch,
      secrets: new SecretsManagerSecretSource({ client: this.secretsManager.client, maxAgeSeconds: settings.secretMaxAgeSeconds }),
      deadLetters: parts.deadLetters,
      parker: parts.parker,
      logger: this.#logger,
      metrics: parts.metrics,
      circuit: circuitOverrides(environment.CIRCUIT_SETTINGS),
      authTokenUrl: environment.AUTH_TOKEN_URL,
    });
    return adapter.createRuntime(name, deps);
  }

  #buildStarter(blueprint: SqsMappingBlueprint, environment: Record<string, string>): void {
    const machineArn = environment.STATE_MACHINE_ARN!;
    const workflow = [...this.workflows.values()].find((w) => machineArn.endsWith(`:stateMachine:${w.logicalId}`));
    if (!workflow) throw new BlueprintError([`${blueprint.functionLogicalId}: STATE_MACHINE_ARN ${machineArn} is not a state machine of the template`]);
    const deadLetterQueue = this.#queue(lastSegment(environment.DLQ_URL ?? ''));
    const executions: ExecutionStarter = {
      start: async (name: string, input: unknown): Promise<StartOutcome> => {
        try {
          this.startExecution(workflow.name, name, input);
          return { kind: 'started', executionArn: this.executionArn(workflow, name) };
        } catch (error) {
          if (error instanceof LocalExecutionAlreadyExistsError) return { kind: 'already_exists' };
          throw error;
        }
      },
    };
    const starter = new OrderSagaStarter({
      executions,
      deadLetters: new LocalDeadLetterQueue(deadLetterQueue, workflow.name),
      logger: this.#logger,
      metrics: new RecordingMetricsSink(),
    });
    this.#mapping(blueprint, (event, context) => starter.handleBatch(event, context));
  }

  #mapping(blueprint: SqsMappingBlueprint, handler: SqsBatchHandler): LocalEventSourceMapping {
    const fn = this.blueprint.functions.get(blueprint.functionLogicalId);
    const mapping = new LocalEventSourceMapping({
      queue: this.#queue(blueprint.queue),
      handler,
      batchSize: blueprint.batchSize,
      maximumBatchingWindowSeconds: blueprint.maximumBatchingWindowSeconds,
      // Without ScalingConfig Lambda scales the pollers freely; 1000 is the API's ceiling.
      maximumConcurrency: blueprint.maximumConcurrency ?? 1000,
      enabled: blueprint.enabled,
      reportBatchItemFailures: blueprint.reportBatchItemFailures,
      functionName: blueprint.functionLogicalId,
      functionTimeoutMs: (fn?.timeoutSeconds ?? 3) * 1000,
      pollIntervalMs: this.#options.pollIntervalMs ?? 100,
      onInvocationError: (error) => this.#error(blueprint.functionLogicalId, error),
    });
    this.mappings.set(blueprint.logicalId, mapping);
    return mapping;
  }

  /**
   * Runs the template's pipes on the tables' streams (local-pipes.ts), with the real enrichment: the sync status
   * outbox (lib/constructs/sync-status-outbox.ts) puts its SyncStatusChanged events on this bus.
   */
  async #buildPipes(): Promise<void> {
    const { pipes, problems } = pipesOf(this.blueprint.template, new Set([SYNC_STATUS_CHANGED]));
    if (problems.length > 0) throw new BlueprintError(problems);
    for (const blueprint of pipes) {
      const pipe = new LocalPipe(blueprint, {
        enrich: (records) => enrichSyncStatus(records),
        put: (events) => {
          this.pipeEvents.push(...events);
          this.putEvents(events);
        },
        onError: (error) => this.#error(`pipe ${blueprint.logicalId}`, error),
      });
      this.pipes.set(blueprint.logicalId, pipe);
      await this.dynamo.streams!.enable(this.tables[blueprint.sourceTable]!, (record) => pipe.push(record));
    }
  }

  /** Serves the template's webhook routes, each function's signing secret generated unless its secret exists. */
  async #serveWebhooks(): Promise<void> {
    for (const route of webhookRoutesOf(this.blueprint.template)) {
      const environment = this.#environment(route.functionLogicalId);
      const secretName = environment.WEBHOOK_SECRET_NAME;
      if (secretName && !this.secretsManager.has(secretName)) {
        this.secretsManager.put(secretName, { signingSecrets: [newSigningSecret(JSON.parse(environment.WEBHOOK_SCHEME ?? '{}') as WebhookSchemeDeclaration)] });
      }
    }
    this.webhooks = await LocalWebhookServer.start({
      template: this.blueprint.template,
      environmentOf: (logicalId) => this.#environment(logicalId),
      dynamodb: this.#functionsDynamo,
      secretsManager: this.secretsManager,
      forward: (event) => void this.putEvents([{ source: event.source, detailType: event.detailType, detail: event.detail, time: new Date(event.detail.receivedAt) }]),
      logger: this.#logger,
      onError: (where, error) => this.#error(where, error),
    });
  }

  #buildWorkflows(): void {
    const functions = createLocalTaskFunctions(this.blueprint.template, {
      dynamo: { client: this.#functionsDynamo },
      secrets: new SecretsManagerSecretSource({ client: this.secretsManager.client }),
      fakeEnvironment: this.fakeEnvironment,
      environment: this.#options.environment,
      logger: this.#logger,
    });
    const handlers = handlersOf(functions);
    this.#taskHandlers = handlers;
    for (const machine of stateMachinesOf(this.blueprint.template, this.fakeEnvironment).values()) {
      const name = workflowName(machine.logicalId);
      this.workflows.set(name, { name, logicalId: machine.logicalId, machine: new LocalStateMachine(machine, handlers) });
    }
  }

  #buildProber(): void {
    const schedule = this.blueprint.rules.schedules.find((s) => s.targets.some((t) => this.#isProber(t.arnRef)));
    const target = schedule?.targets.find((t) => this.#isProber(t.arnRef));
    if (!target) return;
    const findAdapter = (adapter: string) => this.#adapters.get(adapter);
    const config = proberConfigFromEnvironment(this.#opsEnvironment(target.arnRef, 'prober'), findAdapter, findProviderProbe);
    for (const entry of [...config.integrations, ...config.providers]) {
      this.#circuitCredentials.set(entry.name, { scheme: entry.auth.scheme, secretName: entry.secretName });
    }
    this.#prober = new CircuitProber({
      targets: createProbeTargets(config, {
        adapters: findAdapter,
        providerProbes: findProviderProbe,
        dynamodb: this.#functionsDynamo,
        secrets: new SecretsManagerSecretSource({ client: this.secretsManager.client, maxAgeSeconds: config.secretMaxAgeSeconds }),
        logger: () => this.#logger,
        metrics: () => new RecordingMetricsSink(),
      }),
      mappings: new LocalEventSourceMappings(this.#mappingsByUuid),
      schedule: this.probeSchedule,
      gauge: this.gauge,
      logger: this.#logger,
      restoreAfterMs: config.restoreAfterMs,
    });
  }

  #startBackground(): void {
    for (const mapping of this.mappings.values()) mapping.start();
    this.#stream?.start();
    const scale = this.#options.timeScale ?? 1;
    for (const schedule of this.blueprint.rules.schedules) {
      const everyMs = Math.max(100, Math.round(rateToMs(schedule.scheduleExpression)! * scale));
      const timer = setInterval(() => {
        for (const target of schedule.targets) {
          if (this.#isProber(target.arnRef)) {
            if (this.probeSchedule.enabled) this.#track(this.runProber(), 'circuit prober');
          } else if (schedule.state === 'ENABLED') {
            this.#startAsync(this.#workflowByLogicalId(target.arnRef).name, scheduledEvent(schedule.logicalId));
          }
        }
      }, everyMs);
      timer.unref();
      this.#timers.push(timer);
    }
  }

  // ---------------------------------------------------------------- helpers

  /**
   * Step Functions Retry and Wait intervals scaled by `timeScale`. aws-local-stepfunctions takes ONE delay per
   * retrier (no backoff, no jitter), so each retrier gets the mean of its un-jittered backoff delays: its attempts
   * then span the same total time as on AWS, scaled — a saga waiting out an open circuit still outlasts the break.
   */
  #runOptions(machine: SynthesizedStateMachine): { retryIntervalOverrides: Record<string, number[]>; waitTimeOverrides: Record<string, number> } {
    const scale = this.#options.timeScale ?? 1;
    const retryIntervalOverrides: Record<string, number[]> = {};
    const waitTimeOverrides: Record<string, number> = {};
    for (const [stateName, state] of Object.entries(machine.definition.States)) {
      const retry = (state as { Retry?: Retrier[] }).Retry;
      if (retry) retryIntervalOverrides[stateName] = retry.map((r) => Math.round(meanRetryDelaySeconds(r) * 1000 * scale));
      const seconds = (state as { Type: string; Seconds?: number }).Type === 'Wait' ? (state as { Seconds?: number }).Seconds : undefined;
      if (seconds !== undefined) waitTimeOverrides[stateName] = Math.round(seconds * 1000 * scale);
    }
    return { retryIntervalOverrides, waitTimeOverrides };
  }

  #run(workflow: HubWorkflow, execution: HubExecution, input: unknown = execution.input): void {
    const run = workflow.machine.machine;
    const promise = workflow.machine.run(input, { name: execution.name, ...this.#runOptions(run) }).then(
      (record) => {
        execution.record = record;
        execution.status = record.status;
        execution.error = record.status === 'FAILED' ? (record.error ?? 'States.Runtime') : undefined;
        execution.stoppedAt = Date.now();
      },
      (error: unknown) => {
        execution.status = 'FAILED';
        execution.error = error instanceof Error ? error.name : 'States.Runtime';
        execution.stoppedAt = Date.now();
        this.#error(workflow.name, error);
      },
    );
    this.#track(promise, workflow.name);
  }

  #startAsync(workflow: string, input: unknown): void {
    this.startExecution(workflow, randomUUID(), input);
  }

  /** The fake ARN of an execution. */
  executionArn(workflow: HubWorkflow, name: string): string {
    return `arn:aws:states:${REGION}:${ACCOUNT}:execution:${workflow.logicalId}:${name}`;
  }

  #track(promise: Promise<unknown>, where: string): void {
    const tracked = promise.catch((error: unknown) => this.#error(where, error)).finally(() => this.#running.delete(tracked));
    this.#running.add(tracked);
  }

  /**
   * An ops function's environment with the circuits it watches, read from the template's SSM parameters under its
   * OPS_CATALOG_PATH as the deployed function reads them from Parameter Store (functions/ops/ops-catalog.ts).
   */
  #opsEnvironment(functionLogicalId: string, reader: OpsCatalogReader): Record<string, string> {
    const environment = this.#environment(functionLogicalId);
    const path = environment[OPS_CATALOG_PATH_VARIABLE];
    if (!path) return environment;
    const parameters = Object.values(this.blueprint.template.Resources)
      .filter((resource) => resource.Type === 'AWS::SSM::Parameter')
      .map((resource) => ({
        name: String(resolveIntrinsics(resource.Properties?.Name, this.blueprint.template, this.fakeEnvironment)),
        value: String(resolveIntrinsics(resource.Properties?.Value, this.blueprint.template, this.fakeEnvironment)),
      }));
    return { ...environment, ...opsCatalogVariables(parameters, path, reader) };
  }

  #environment(functionLogicalId: string): Record<string, string> {
    return { ...functionEnvironment(this.blueprint.template, functionLogicalId, this.fakeEnvironment), ...this.#options.environment };
  }

  #queue(logicalId: string): LocalQueue {
    const queue = this.queues.get(logicalId);
    if (!queue) throw new BlueprintError([`${logicalId} is not a queue of the template`]);
    return queue;
  }

  #workflowByLogicalId(logicalId: string): HubWorkflow {
    const workflow = [...this.workflows.values()].find((w) => w.logicalId === logicalId);
    if (!workflow) throw new BlueprintError([`${logicalId} is not a state machine of the template`]);
    return workflow;
  }

  #isProber(functionLogicalId: string): boolean {
    const environment = this.blueprint.template.Resources[functionLogicalId]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined;
    return environment?.Variables?.RESTORE_AFTER_SECONDS !== undefined;
  }

  #tableOf(prefix: string): string {
    const entry = Object.entries(this.tables).find(([logicalId]) => logicalId.startsWith(prefix));
    if (!entry) throw new BlueprintError([`the template has no ${prefix}… table`]);
    return entry[1];
  }

  get #logger(): Logger {
    return (this.#cachedLogger ??= this.#options.logger ?? new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }));
  }
  #cachedLogger?: Logger;

  #error(where: string, error: unknown): void {
    this.#options.onError?.(where, error);
  }
}

/** Which counter a record outcome increments. */
const OUTCOME_COUNTERS: Partial<Record<RecordOutcome, keyof IntegrationCounters>> = {
  synced: 'delivered',
  replayed: 'replayed',
  skipped_stale: 'skippedStale',
  retry_later: 'retried',
  parked: 'parked',
  // A copy went back to the queue instead of the message being parked: for the report it waited all the same.
  handed_back: 'parked',
  dead_lettered: 'deadLettered',
};

/**
 * Lambda containers of one function: an invocation takes an idle container or creates one, so N concurrent
 * invocations use N containers, each with its own caches, and a container is reused afterwards.
 */
class ContainerPool<T> {
  readonly #idle: T[] = [];
  #size = 0;

  constructor(private readonly create: () => T) {}

  get size(): number {
    return this.#size;
  }

  async use<R>(work: (container: T) => Promise<R>): Promise<R> {
    let container = this.#idle.pop();
    if (container === undefined) {
      container = this.create();
      this.#size += 1;
    }
    const result = await work(container).catch((error: unknown) => {
      // A crashed container is gone, as a Lambda sandbox whose invocation died; any other failure keeps it.
      if (!(error instanceof InvocationCrashedError)) this.#idle.push(container);
      throw error;
    });
    this.#idle.push(container);
    return result;
  }
}

/**
 * The machine as a redrive runs it: starting at `stateName`, with only the states reachable from there (the ASL
 * validator refuses unreachable states).
 */
function startingAt(machine: SynthesizedStateMachine, stateName: string): SynthesizedStateMachine {
  const states = machine.definition.States as unknown as Record<string, Record<string, unknown>>;
  const reachable = new Set<string>();
  const pending = [stateName];
  while (pending.length > 0) {
    const name = pending.pop()!;
    if (reachable.has(name) || !states[name]) continue;
    reachable.add(name);
    const state = states[name]!;
    const targets = [
      state.Next,
      state.Default,
      ...((state.Catch as { Next?: string }[] | undefined) ?? []).map((c) => c.Next),
      ...((state.Choices as { Next?: string }[] | undefined) ?? []).map((c) => c.Next),
    ];
    for (const target of targets) if (typeof target === 'string') pending.push(target);
  }
  return {
    ...machine,
    definition: { ...machine.definition, StartAt: stateName, States: Object.fromEntries(Object.entries(machine.definition.States).filter(([name]) => reachable.has(name))) },
    tasks: machine.tasks.filter((task) => reachable.has(task.state)),
  };
}

/** A Retry entry of an ASL Task state. */
interface Retrier {
  readonly IntervalSeconds?: number;
  readonly MaxAttempts?: number;
  readonly BackoffRate?: number;
  readonly MaxDelaySeconds?: number;
}

/** The mean of a retrier's delays without jitter: IntervalSeconds × BackoffRate^n, capped by MaxDelaySeconds. */
export function meanRetryDelaySeconds(retrier: Retrier): number {
  const attempts = Math.max(1, retrier.MaxAttempts ?? 3);
  let total = 0;
  for (let n = 0; n < attempts; n++) {
    total += Math.min(retrier.MaxDelaySeconds ?? Number.POSITIVE_INFINITY, (retrier.IntervalSeconds ?? 1) * (retrier.BackoffRate ?? 2) ** n);
  }
  return total / attempts;
}

/**
 * `WorkflowsOrderSagaStateMachine15260A25` → `order-saga`: the id of the hub's workflows construct
 * (lib/integration-hub-stack.ts), the hash and `StateMachine` removed, in kebab case.
 */
export function workflowName(logicalId: string): string {
  const base = logicalId.replace(/^Workflows/, '').replace(/[0-9A-F]{8}$/, '').replace(/StateMachine$/, '');
  return base.replace(/([a-z0-9])([A-Z])/g, '$1-$2').toLowerCase();
}

/** The event EventBridge sends to a schedule's target. */
function scheduledEvent(ruleLogicalId: string): unknown {
  return {
    version: '0',
    id: randomUUID(),
    'detail-type': 'Scheduled Event',
    source: 'aws.events',
    account: ACCOUNT,
    time: new Date().toISOString().replace(/\.\d{3}Z$/, 'Z'),
    region: REGION,
    resources: [`arn:aws:events:${REGION}:${ACCOUNT}:rule/${ruleLogicalId}`],
    detail: {},
  };
}

function lastSegment(url: string): string {
  return url.slice(url.lastIndexOf('/') + 1);
}
