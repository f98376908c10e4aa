/**
 * Pauses an integration's SQS event source mapping while its provider is down, and resumes it carefully:
 *
 *   circuits table ──stream (state changed only)──▶ controller λ ──▶ mapping disabled / enabled at concurrency 2
 *                                                      │                + EnableRule(probe schedule)
 *                                                      └─ records that keep failing ──▶ SQS (encrypted, TLS only)
 *   schedule rate(1 minute), created DISABLED ──▶ prober λ ──▶ adapter probe() under the half-open lease,
 *                                                      mapping restored to the catalog's concurrency,
 *                                                      DisableRule(itself) once every circuit is closed and restored
 *
 * The standalone workflow providers' circuits (no mapping) get the same loop minus the mapping: a transition turns
 * the schedule on, the prober probes them with the provider's probe() and publishes their CircuitOpen.
 *
 * The functions' code is functions/ops/circuit-controller.ts and circuit-prober.ts; their configuration is
 * documented in functions/ops/ops-config.ts. The circuits they watch are handed to them by a
 * CircuitOpsRegistration (circuit-ops-registration.ts) wherever the integrations are deployed: SSM parameters under
 * {@link CircuitController.access}'s path, and the IAM grants on exactly those mappings and (prober only) secrets. So
 * this construct's size and environment do not grow with the catalog. IAM here: the circuits table, the parameter
 * path and the prober's rule.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CustomResource, Duration, Names, Stack, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { AFTER_DEPLOY_EVENT } from '../../functions/ops/after-deploy.js';
import { opsCatalogPath } from '../../functions/ops/ops-catalog.js';
import { assertNoProblems } from '../props-validation.js';
import { type CircuitControlledPipeline, type CircuitOpsAccess, CircuitOpsRegistration, type CircuitProbedProvider } from './circuit-ops-registration.js';
import { TABLE_ITEM_ACTIONS } from './hub-tables.js';
import { ServiceFunction, type ServiceFunctionProps } from './service-function.js';

/** Props of {@link CircuitController}. */
export interface CircuitControllerProps {
  /** The circuits table (key `circuitId`). It must have a stream with NEW_AND_OLD_IMAGES. */
  readonly circuitsTable: dynamodb.ITable;
  /**
   * Integration pipelines to register in this construct's own stack (a CircuitOpsRegistration); pipelines deployed
   * elsewhere register with {@link CircuitController.access} there. @default none
   */
  readonly pipelines?: readonly CircuitControlledPipeline[];
  /** Standalone workflow providers to register likewise (not those of an integration: they share its circuit). @default none */
  readonly providers?: readonly CircuitProbedProvider[];
  /**
   * How long a circuit must have been closed before the prober puts the mapping back at the catalog's maximum
   * concurrency (it runs at 2 until then). Whole seconds, 0 – 1 hour.
   * @default Duration.seconds(60)
   */
  readonly restoreAfter?: Duration;
  /**
   * Times a failing batch of stream records is retried before its records' metadata goes to `failedRecordsQueue`.
   * @default 10
   */
  readonly streamRetryAttempts?: number;
  /** Retention of both functions' log groups. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Overrides of both functions' props (memory, VPC, extra environment...), applied over this construct's defaults
   * and ServiceFunction's; entry and handler are the construct's, and so are the environment variables it sets.
   * @default - ServiceFunction's defaults, 256 MB (controller) / 512 MB (prober), 60 s timeout
   */
  readonly functionProps?: Omit<ServiceFunctionProps, 'entry' | 'handler'>;
}

/** The stream batch size: transitions are rare and each needs a Lambda API call or two. */
const STREAM_BATCH_SIZE = 10;

/** Creates the circuit controller and prober functions, the controller's stream subscription and the probe schedule. */
export class CircuitController extends Construct {
  /** Follows the circuits table's stream and pauses / resumes the event source mappings. */
  readonly controllerFunction: lambda.IFunction;
  /** Runs every minute while enabled: probes open circuits, restores mappings, disables its own schedule when done. */
  readonly proberFunction: lambda.IFunction;
  /** The prober's schedule, rate(1 minute), created disabled (the controller enables it). */
  readonly probeSchedule: events.Rule;
  /** Metadata of stream records the controller failed on after every retry (alarm on its depth). */
  readonly failedRecordsQueue: sqs.IQueue;
  /** Runs the prober once after a deploy that may have reset the probe schedule. */
  readonly afterDeploy: CustomResource;
  /** What a CircuitOpsRegistration needs to hand circuits to both functions, from this stack or another. */
  readonly access: CircuitOpsAccess;
  /** The registration of `props.pipelines` and `props.providers`, when any were given. */
  readonly registration?: CircuitOpsRegistration;

  constructor(scope: Construct, id: string, props: CircuitControllerProps) {
    super(scope, id);
    validate(props);
    const stack = Stack.of(this);
    const restoreAfterSeconds = (props.restoreAfter ?? Duration.seconds(60)).toSeconds();

    // A fixed name, so the prober's environment and both policies need no reference to the rule (the rule targets
    // the prober: a reference back would be a dependency cycle).
    const ruleName = Names.uniqueResourceName(this, { maxLength: 64, separator: '-', allowedSpecialCharacters: '-_.' });
    const ruleArn = stack.formatArn({ service: 'events', resource: 'rule', resourceName: ruleName });

    // ---------------------------------------------------------------- the circuits to watch
    // One SSM parameter per circuit under this path, written by CircuitOpsRegistration and read by both functions at
    // init (functions/ops/ops-catalog.ts): an environment variable holding the catalog would pass Lambda's 4 KB.
    const catalogPath = opsCatalogPath(stack.stackName);
    // GetParametersByPath is authorised on the path itself: no wildcard over other parameters.
    const catalogReadStatement = new iam.PolicyStatement({
      sid: 'ReadCircuitsToWatch',
      actions: ['ssm:GetParametersByPath'],
      resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: catalogPath.slice(1, -1) })],
    });

    // ---------------------------------------------------------------- controller
    const controller = this.opsFunction('ControllerFunction', 'circuit-controller.ts', props, {
      description: 'Pauses / resumes integration event source mappings on circuit transitions',
      memorySize: 256,
      environment: { OPS_CATALOG_PATH: catalogPath, PROBE_RULE_NAME: ruleName },
    });
    controller.addToRolePolicy(catalogReadStatement);
    // A consistent read of the circuit before acting on a stream record (the stream read is granted by the event source).
    controller.bindTable(props.circuitsTable, { actions: ['dynamodb:GetItem'] }, 'CIRCUITS_TABLE_NAME');
    controller.addToRolePolicy(new iam.PolicyStatement({ sid: 'EnableProbeSchedule', actions: ['events:EnableRule'], resources: [ruleArn] }));

    const failedRecordsQueue = new sqs.Queue(this, 'FailedStreamRecords', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    controller.addEventSource(
      new DynamoEventSource(props.circuitsTable, {
        startingPosition: lambda.StartingPosition.LATEST,
        batchSize: STREAM_BATCH_SIZE,
        // One batch per shard at a time, in order: a circuit's transitions must be applied in the order they happened.
        parallelizationFactor: 1,
        retryAttempts: props.streamRetryAttempts ?? 10,
        bisectBatchOnError: true,
        reportBatchItemFailures: true,
        onFailure: new SqsDlq(failedRecordsQueue),
        filters: stateChangeFilters(),
      }),
    );

    Validations.of(failedRecordsQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: 'This queue is the on-failure destination of the controller\'s stream subscription (the records that failed every retry); a DLQ of it would only move the problem.',
    });
    const controllerPolicy = controller.role?.node.tryFindChild('DefaultPolicy');
    if (controllerPolicy) {
      Validations.of(controllerPolicy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'Besides X-Ray, dynamodb:ListStreams (added by the DynamoDB stream event source) supports no resource-level ' +
          'permission; reading the records is limited to the circuits table\'s stream.',
      });
    }

    // ---------------------------------------------------------------- prober
    const prober = this.opsFunction('ProberFunction', 'circuit-prober.ts', props, {
      description: 'Probes open circuits every minute and restores event source mappings once providers are back',
      memorySize: 512,
      // The next scheduled run is at most a minute away: a failed run is not worth an async retry.
      retryAttempts: 0,
      environment: { OPS_CATALOG_PATH: catalogPath, PROBE_RULE_NAME: ruleName, RESTORE_AFTER_SECONDS: String(restoreAfterSeconds) },
    });
    prober.addToRolePolicy(catalogReadStatement);
    // The probe lease and its outcome are conditional writes on the circuit.
    prober.bindTable(props.circuitsTable, { actions: TABLE_ITEM_ACTIONS.circuits }, 'CIRCUITS_TABLE_NAME');
    prober.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'ToggleProbeSchedule', actions: ['events:EnableRule', 'events:DisableRule'], resources: [ruleArn] }),
    );

    const probeSchedule = new events.Rule(this, 'ProbeSchedule', {
      ruleName,
      description: 'Runs the circuit prober while a circuit is open or a mapping is not yet restored (toggled by the controller and the prober)',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      enabled: false,
    });
    probeSchedule.addTarget(new targets.LambdaFunction(prober, { retryAttempts: 2, maxEventAge: Duration.minutes(2) }));

    // ---------------------------------------------------------------- after a deploy
    // CloudFormation applies a changed rule's template values whatever the circuits say (the schedule disabled). When
    // this deploy may have done so, the prober runs once to turn it back on while work is left
    // (docs/runbooks/circuit-open-too-long.md "Deploying during an outage"); the mappings' registrations do the same
    // for the mappings. The payload changes with what the rule is made from, so an unrelated deploy does not invoke it.
    const fingerprint = createHash('sha256').update(JSON.stringify({ restoreAfterSeconds, ruleName })).digest('hex').slice(0, 16);
    // The prober itself serves the custom resource (functions/ops/after-deploy.ts): no extra provider function.
    this.afterDeploy = new CustomResource(this, 'ReconcileAfterDeploy', {
      serviceToken: prober.functionArn,
      resourceType: 'Custom::CircuitReconcile',
      properties: { ...AFTER_DEPLOY_EVENT, fingerprint, mappings: [] },
    });
    this.afterDeploy.node.addDependency(probeSchedule);

    this.access = { catalogPath, controllerRole: controller.role!, proberRole: prober.role!, proberFunction: prober };
    if ((props.pipelines?.length ?? 0) > 0 || (props.providers?.length ?? 0) > 0) {
      this.registration = new CircuitOpsRegistration(this, 'Circuits', { access: this.access, pipelines: props.pipelines, providers: props.providers });
    }
    this.controllerFunction = controller;
    this.proberFunction = prober;
    this.probeSchedule = probeSchedule;
    this.failedRecordsQueue = failedRecordsQueue;
  }

  /** One ops function: ServiceFunction's defaults, this construct's, the caller's overrides, then what it requires. */
  private opsFunction(
    id: string,
    file: string,
    props: CircuitControllerProps,
    options: { description: string; memorySize: number; environment: Record<string, string>; retryAttempts?: number },
  ): ServiceFunction {
    return new ServiceFunction(this, id, {
      description: options.description,
      memorySize: options.memorySize,
      timeout: Duration.seconds(60),
      retryAttempts: options.retryAttempts,
      logGroupRetention: props.logRetention,
      ...props.functionProps,
      entry: fileURLToPath(new URL(`../../functions/ops/${file}`, import.meta.url)),
      handler: 'handler',
      environment: { ...props.functionProps?.environment, ...options.environment },
    });
  }
}

/**
 * Lambda event filters (OR-ed) that pass only writes that change `state`: a modify whose new state differs from the
 * old one, or an insert of a circuit that is not closed (an operator isolating a circuit that never failed). The
 * many counter, window and lease writes never invoke the controller. Five filters: Lambda's default quota.
 */
function stateChangeFilters(): { [key: string]: unknown }[] {
  const changedTo = (state: string) =>
    lambda.FilterCriteria.filter({
      eventName: lambda.FilterRule.isEqual('MODIFY'),
      dynamodb: {
        NewImage: { state: { S: lambda.FilterRule.isEqual(state) } },
        OldImage: { state: { S: lambda.FilterRule.notEquals(state) } },
      },
    });
  return [
    changedTo('open'),
    changedTo('half_open'),
    changedTo('isolated'),
    changedTo('closed'),
    lambda.FilterCriteria.filter({
      eventName: lambda.FilterRule.isEqual('INSERT'),
      dynamodb: { NewImage: { state: { S: lambda.FilterRule.notEquals('closed') } } },
    }),
  ];
}

/** Reports every problem of the props at once. */
function validate(props: CircuitControllerProps): void {
  const problems: string[] = [];
  if (!props.circuitsTable.tableStreamArn) problems.push('circuitsTable must have a stream (NEW_AND_OLD_IMAGES)');
  const restoreAfter = props.restoreAfter?.toSeconds({ integral: false });
  if (restoreAfter !== undefined && (!Number.isInteger(restoreAfter) || restoreAfter < 0 || restoreAfter > 3600)) {
    problems.push(`restoreAfter must be whole seconds from 0 to 3600 (got ${restoreAfter})`);
  }
  const retries = props.streamRetryAttempts;
  if (retries !== undefined && (!Number.isInteger(retries) || retries < 0 || retries > 10_000)) {
    problems.push(`streamRetryAttempts must be an integer from 0 to 10000 (got ${retries})`);
  }
  assertNoProblems('CircuitController', problems);
}

export type { CircuitControlledPipeline, CircuitProbedProvider } from './circuit-ops-registration.js';
