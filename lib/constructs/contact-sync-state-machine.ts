/**
 * The incremental contact sync (Step Functions STANDARD, JSONPath), started by a schedule and by the catalog's event
 * triggers on the hub's bus (e.g. the CRM's `contact.updated` webhook):
 *
 *   rate(N minutes) ─┐
 *   trigger rules ───┴▶ StartSync (Pass: the state becomes { sync: { syncId, pagesThisRun: 0 } })
 *                          ──▶ SyncPage (task) ──▶ MorePages? ── skipped ──▶ SyncSkipped (Succeed)
 *                                   │                          ├─ hasMore and pagesThisRun < maxPagesPerExecution ──▶ SyncPage
 *                                   │                          └─ otherwise ──▶ SyncDone (Succeed)
 *                                   └─ failed (retries spent) ──▶ ReleaseRun (task) ──▶ SyncFailed (Fail, the page's error)
 *
 * One SyncPage reads one page of changes from the source after the checkpoint, upserts and deletes them at the
 * target, and only then advances the checkpoint (checkpoints table, key syncId). Retries like the saga's: transient
 * failures and Lambda service errors with full jitter, an open circuit with longer intervals. A permanent failure —
 * or retries running out — fails the execution: the checkpoint did not move, the next run resumes from it; ReleaseRun
 * first gives up the run's lease so the next trigger need not wait for it to run out.
 *
 * One run at a time (functions/workflows/contact-sync.ts): the first page takes the checkpoint's run lease for the
 * execution timeout; a run started while another holds it ends at once in SyncSkipped, and the holder does one more
 * pass for it. So overlapping starts (a burst of webhooks, a webhook during a scheduled run) are cheap and safe.
 *
 * Bounded by construction: the state carries the last page's counters only (a few hundred bytes), and one
 * execution records at most 6 + maxPagesPerExecution × (7 + 3 × retries per page) + a failed run's tail history
 * events (`contactSyncHistoryBound`, checked by the catalog against Step Functions' 25,000-event limit). The execution
 * timeout plus the function timeout fits in the schedule interval, so a crashed run's lease has run out by the next
 * scheduled run.
 */
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { Construct } from 'constructs';
import type { ResolvedContactSync } from '../workflow-catalog.js';
import { REPOSITORY_ROOT } from '../catalog.js';
import { TABLE_ITEM_ACTIONS } from './hub-tables.js';
import type { ServiceFunction } from './service-function.js';
import type { WorkflowProviders } from './workflow-providers.js';
import {
  acknowledgeStateMachinePolicy,
  addTaskRetries,
  stateMachineGraphs,
  stateMachineLogGroup,
  stateMachineObservability,
  taskFunctionErrorsGraph,
  workflowTaskFunction,
} from './workflow-parts.js';

/** The state names of the contact sync. */
export const CONTACT_SYNC_STATES = {
  start: 'StartSync',
  syncPage: 'SyncPage',
  morePages: 'MorePages',
  done: 'SyncDone',
  skipped: 'SyncSkipped',
  releaseRun: 'ReleaseRun',
  failed: 'SyncFailed',
} as const;

/**
 * The environment variable prefixes under which the sync task (functions/workflows/contact-sync.ts) reads its
 * source's and its target's settings, whatever the providers are called in the catalog.
 */
export const CONTACT_SYNC_PROVIDER_PREFIXES = { source: 'CONTACTS_', target: 'CRM_' } as const;

/** Props of {@link ContactSyncStateMachine}. */
export interface ContactSyncStateMachineProps {
  /** The sync as resolved from the workflow catalog. */
  readonly workflow: ResolvedContactSync;
  /** The providers' secrets and settings; the task is bound to the source and the target. */
  readonly providers: WorkflowProviders;
  /** The checkpoints table (key `syncId`): read/write. */
  readonly checkpointsTable: dynamodb.ITable;
  /** The shared circuits table: read/write. */
  readonly circuitsTable: dynamodb.ITable;
  /** The hub's bus, where the catalog's triggers (`workflow.triggers`) are matched. Required when there are triggers. */
  readonly bus?: events.IEventBus;
  /** What happens to the log groups when they leave the stack. @default RemovalPolicy.RETAIN */
  readonly removalPolicy?: RemovalPolicy;
  /** Retention of the state machine's and the function's log groups. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** The directory the catalog's entry paths are relative to. @default the repository root */
  readonly repositoryRoot?: string;
  /**
   * Whether the schedule and the event triggers start executions. Disable it to deploy the sync before its
   * providers' credentials are set (every run would fail). @default true
   */
  readonly scheduleEnabled?: boolean;
}

/** The contact sync's state machine, task function, log group and schedule. */
export class ContactSyncStateMachine extends Construct {
  /** The resolved catalog entry. */
  readonly workflow: ResolvedContactSync;
  /** The state machine (STANDARD, logging ALL, X-Ray). */
  readonly stateMachine: sfn.StateMachine;
  /** Where the state machine logs its execution events. */
  readonly logGroup: logs.LogGroup;
  /** The SyncPage task function. */
  readonly syncPageFunction: ServiceFunction;
  /** Starts an execution every `scheduleMinutes`. */
  readonly schedule: events.Rule;
  /** One rule per catalog trigger on the hub's bus, each starting an execution per matching event. */
  readonly triggerRules: readonly events.Rule[];

  constructor(scope: Construct, id: string, props: ContactSyncStateMachineProps) {
    super(scope, id);
    const { workflow } = props;
    if (workflow.triggers.length > 0 && !props.bus) throw new Error(`${this.node.path}: workflow '${workflow.name}' has triggers: pass the hub's bus`);
    this.workflow = workflow;
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;

    const fn = workflowTaskFunction(this, 'SyncPageFunction', {
      entry: workflow.entry,
      handler: 'syncPage',
      description: `integration-hub ${workflow.name}: one page of ${workflow.source.name} changes into ${workflow.target.name}, then the checkpoint`,
      timeoutSeconds: workflow.functionTimeoutSeconds,
      memoryMb: workflow.memoryMb,
      repositoryRoot: props.repositoryRoot ?? REPOSITORY_ROOT,
      removalPolicy,
      logRetention: props.logRetention,
      environment: { PAGE_SIZE: String(workflow.pageSize) },
    });
    // The task reads its two providers' variables under fixed prefixes: CONTACTS_BASE_URL, CRM_SECRET_NAME, ...
    const providers = [
      props.providers.bind(fn, workflow.source.name, { prefix: CONTACT_SYNC_PROVIDER_PREFIXES.source }),
      props.providers.bind(fn, workflow.target.name, { prefix: CONTACT_SYNC_PROVIDER_PREFIXES.target }),
    ];
    fn.bindTable(props.checkpointsTable, { actions: TABLE_ITEM_ACTIONS.checkpoints, leadingKeys: [workflow.syncId] }, 'CHECKPOINTS_TABLE_NAME');
    // Its two providers' circuits only (the CRM's is the crm integration's).
    fn.bindTable(
      props.circuitsTable,
      { actions: TABLE_ITEM_ACTIONS.circuits, leadingKeys: providers.map((provider) => provider.integration ?? provider.name) },
      'CIRCUITS_TABLE_NAME',
    );
    this.syncPageFunction = fn;

    // The whole state from here on: whatever started the run (the scheduled event, a manual start) is dropped.
    const start = new sfn.Pass(this, CONTACT_SYNC_STATES.start, {
      comment: 'A fresh run: the checkpoint says where it starts',
      parameters: { sync: { syncId: workflow.syncId, pagesThisRun: 0 } },
    });
    const syncPage = new tasks.LambdaInvoke(this, CONTACT_SYNC_STATES.syncPage, {
      comment: `One page from ${workflow.source.name} into ${workflow.target.name}; the checkpoint advances only after the page is written`,
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        syncId: sfn.JsonPath.stringAt('$.sync.syncId'),
        pagesThisRun: sfn.JsonPath.numberAt('$.sync.pagesThisRun'),
        executionName: sfn.JsonPath.executionName,
        // The page that reaches the bound releases the run lease; the lease lasts as long as an execution can.
        maxPagesPerExecution: workflow.maxPagesPerExecution,
        leaseSeconds: workflow.executionTimeoutMinutes * 60,
      }),
      // Only the contract's counters: the state stays the same size however many pages run.
      resultSelector: {
        syncId: sfn.JsonPath.stringAt('$.syncId'),
        pagesThisRun: sfn.JsonPath.numberAt('$.pagesThisRun'),
        hasMore: sfn.JsonPath.stringAt('$.hasMore'),
        upserted: sfn.JsonPath.numberAt('$.upserted'),
        deleted: sfn.JsonPath.numberAt('$.deleted'),
        skipped: sfn.JsonPath.stringAt('$.skipped'),
      },
      resultPath: '$.sync',
    });
    addTaskRetries(syncPage, workflow.retry);

    // A failure that outlasts the retries still fails the execution (alarm; the checkpoint did not advance), after
    // giving up the run lease. The Fail state reports the page's own error.
    const failed = new sfn.Fail(this, CONTACT_SYNC_STATES.failed, {
      comment: 'The page failed for good: the checkpoint did not move past it; the next run resumes from it',
      errorPath: '$.failure.Error',
      causePath: '$.failure.Cause',
    });
    const releaseRun = new tasks.LambdaInvoke(this, CONTACT_SYNC_STATES.releaseRun, {
      comment: 'Gives up the run lease, so the next trigger need not wait for it to run out',
      lambdaFunction: fn,
      payloadResponseOnly: true,
      retryOnServiceExceptions: false,
      payload: sfn.TaskInput.fromObject({
        syncId: sfn.JsonPath.stringAt('$.sync.syncId'),
        executionName: sfn.JsonPath.executionName,
        release: true,
      }),
      resultPath: sfn.JsonPath.DISCARD,
    });
    addTaskRetries(releaseRun, workflow.retry);
    // Not released after all: the lease runs out by itself (the execution timeout); the page's error is what counts.
    releaseRun.addCatch(failed, { errors: ['States.ALL'], resultPath: sfn.JsonPath.DISCARD });
    releaseRun.next(failed);
    syncPage.addCatch(releaseRun, { errors: ['States.ALL'], resultPath: '$.failure' });

    const done = new sfn.Succeed(this, CONTACT_SYNC_STATES.done, { comment: 'Caught up, or this run did its share of pages' });
    const skipped = new sfn.Succeed(this, CONTACT_SYNC_STATES.skipped, {
      comment: 'Skipped: another run in progress (it holds the run lease and does one more pass for this one)',
    });
    const morePages = new sfn.Choice(this, CONTACT_SYNC_STATES.morePages, { comment: `At most ${workflow.maxPagesPerExecution} pages per run` })
      .when(sfn.Condition.booleanEquals('$.sync.skipped', true), skipped)
      .when(
        sfn.Condition.and(
          sfn.Condition.booleanEquals('$.sync.hasMore', true),
          sfn.Condition.numberLessThan('$.sync.pagesThisRun', workflow.maxPagesPerExecution),
        ),
        syncPage,
      )
      .otherwise(done);
    const definition = start.next(syncPage).next(morePages);

    this.logGroup = stateMachineLogGroup(this, 'LogGroup', workflow.name, { removalPolicy, retention: props.logRetention });
    this.stateMachine = new sfn.StateMachine(this, 'StateMachine', {
      comment: `integration-hub ${workflow.name}: ${workflow.description}`,
      stateMachineType: sfn.StateMachineType.STANDARD,
      definitionBody: sfn.DefinitionBody.fromChainable(definition),
      timeout: Duration.minutes(workflow.executionTimeoutMinutes),
      ...stateMachineObservability(this.logGroup),
    });
    acknowledgeStateMachinePolicy(this.stateMachine, [fn]);

    this.schedule = new events.Rule(this, 'Schedule', {
      description: `${workflow.name}: one run every ${workflow.scheduleMinutes} minutes (resumes from checkpoint ${workflow.syncId})`,
      schedule: events.Schedule.rate(Duration.minutes(workflow.scheduleMinutes)),
      enabled: props.scheduleEnabled ?? true,
      targets: [
        new targets.SfnStateMachine(this.stateMachine, {
          // The next run is one interval away: a start that cannot be made soon is not worth more retries.
          retryAttempts: 2,
          maxEventAge: Duration.minutes(Math.max(1, workflow.scheduleMinutes - 1)),
        }),
      ],
    });

    // The event's own shape reaches the execution as its input (StartSync drops it). No dead-letter queue: an event
    // whose start failed for good loses nothing, the next run (the schedule's at the latest) reads the same changes.
    this.triggerRules = workflow.triggers.map(
      (trigger, index) =>
        new events.Rule(this, `Trigger${index + 1}`, {
          description: `${workflow.name}: a run on ${trigger.detailTypes.join(', ')} from ${trigger.sources.join(', ')} (skipped while another run holds checkpoint ${workflow.syncId})`,
          eventBus: props.bus,
          eventPattern: { source: [...trigger.sources], detailType: [...trigger.detailTypes] },
          enabled: props.scheduleEnabled ?? true,
          targets: [
            new targets.SfnStateMachine(this.stateMachine, {
              retryAttempts: 2,
              maxEventAge: Duration.minutes(Math.max(1, workflow.scheduleMinutes - 1)),
            }),
          ],
        }),
    );
  }

  /** The dashboard graphs of the sync: executions, duration, task function errors. */
  dashboardWidgets(): cloudwatch.IWidget[] {
    return [
      ...stateMachineGraphs(this.workflow.name, this.stateMachine, Duration.minutes(this.workflow.executionTimeoutMinutes)),
      taskFunctionErrorsGraph(this.workflow.name, new Map([['SyncPage', this.syncPageFunction]])),
    ];
  }
}
