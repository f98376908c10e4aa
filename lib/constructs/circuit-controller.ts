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
 * documented in functions/ops/ops-config.ts, and the circuits they watch are SSM parameters (functions/ops/ops-catalog.ts). IAM: each function may touch exactly the given mappings and the
 * prober's rule; only the prober reads the integrations' and providers' secrets.
 */
import { createHash } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { CustomResource, Duration, Names, Stack, Token, Validations } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { DynamoEventSource, SqsDlq } from 'aws-cdk-lib/aws-lambda-event-sources';
import type * as logs from 'aws-cdk-lib/aws-logs';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { AFTER_DEPLOY_EVENT } from '../../functions/ops/after-deploy.js';
import { pascalCase, type ResolvedIntegration } from '../catalog.js';
import type { ResolvedProvider } from '../workflow-catalog.js';
import { assertNoProblems } from '../props-validation.js';
import { TABLE_ITEM_ACTIONS } from './hub-tables.js';
import { ServiceFunction, type ServiceFunctionProps } from './service-function.js';

/**
 * One integration pipeline whose event source mapping the controller pauses and resumes. An IntegrationPipeline
 * has exactly these fields, so the stack can pass its pipelines as they are.
 */
export interface CircuitControlledPipeline {
  /** The integration as resolved from the catalog (name = circuit id, baseUrl, maxConcurrency, circuit, httpTimeoutMs). */
  readonly integration: ResolvedIntegration;
  /** UUID of the integration function's SQS event source mapping (`EventSourceMapping.eventSourceMappingId`). */
  readonly eventSourceMappingId: string;
  /** ARN of that mapping (`EventSourceMapping.eventSourceMappingArn`): the only mapping resource the functions may change. */
  readonly eventSourceMappingArn: string;
  /** The provider credentials, read by the prober for the probe call. Required unless the auth scheme is `none`. */
  readonly secret?: secretsmanager.ISecret;
}

/** A standalone workflow provider whose circuit the prober probes (`WorkflowProviders` has both fields). */
export interface CircuitProbedProvider {
  /** The provider as resolved from the workflow catalog (name = circuit id, baseUrl, circuit, httpTimeoutMs). */
  readonly provider: ResolvedProvider;
  /** Its credentials, read by the prober for the probe call. Required unless the auth scheme is `none`. */
  readonly secret?: secretsmanager.ISecret;
}

/** Props of {@link CircuitController}. */
export interface CircuitControllerProps {
  /** The circuits table (key `circuitId`). It must have a stream with NEW_AND_OLD_IMAGES. */
  readonly circuitsTable: dynamodb.ITable;
  /** Every integration pipeline of the hub; at least one. */
  readonly pipelines: readonly CircuitControlledPipeline[];
  /** The standalone workflow providers (not those of an integration: they share its circuit). @default none */
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
  /** Runs the prober once after a deploy that may have reset a mapping or the probe schedule. */
  readonly afterDeploy: CustomResource;
  /** The SSM parameters the functions read the circuits to watch from: one per integration, then per provider. */
  readonly catalogParameters: readonly ssm.StringParameter[];

  constructor(scope: Construct, id: string, props: CircuitControllerProps) {
    super(scope, id);
    validate(props);
    const stack = Stack.of(this);
    const restoreAfterSeconds = (props.restoreAfter ?? Duration.seconds(60)).toSeconds();
    const mappingArns = props.pipelines.map((p) => p.eventSourceMappingArn);
    const providers = props.providers ?? [];

    // A fixed name, so the prober's environment and both policies need no reference to the rule (the rule targets
    // the prober: a reference back would be a dependency cycle).
    const ruleName = Names.uniqueResourceName(this, { maxLength: 64, separator: '-', allowedSpecialCharacters: '-_.' });
    const ruleArn = stack.formatArn({ service: 'events', resource: 'rule', resourceName: ruleName });

    // ---------------------------------------------------------------- the circuits to watch
    // One SSM parameter per circuit, read by both functions at init (functions/ops/ops-catalog.ts): an environment
    // variable holding the catalog would pass Lambda's 4 KB at a handful of integrations.
    const catalogPath = `/${stack.stackName}/circuit-ops/`;
    const catalogParameter = (id: string, kind: 'integrations' | 'providers', name: string, value: object) =>
      new ssm.StringParameter(this, id, {
        parameterName: `${catalogPath}${kind}/${name}`,
        simpleName: false,
        description: `integration-hub: the ${kind === 'integrations' ? 'integration' : 'workflow provider'} ${name} as the circuit controller and prober see it`,
        stringValue: stack.toJsonString(value),
      });
    this.catalogParameters = [
      ...props.pipelines.map((p) =>
        catalogParameter(`Integration${pascalCase(p.integration.name)}`, 'integrations', p.integration.name, {
          name: p.integration.name,
          ...(p.integration.adapter !== p.integration.name ? { adapter: p.integration.adapter } : {}),
          mappingUuid: p.eventSourceMappingId,
          maxConcurrency: p.integration.maxConcurrency,
          baseUrl: p.integration.baseUrl,
          auth: p.integration.auth,
          secretName: secretReference(p.secret),
          httpTimeoutMs: p.integration.httpTimeoutMs,
          circuit: p.integration.circuit,
        }),
      ),
      ...providers.map((p) =>
        catalogParameter(`Provider${pascalCase(p.provider.name)}`, 'providers', p.provider.name, {
          name: p.provider.name,
          baseUrl: p.provider.baseUrl,
          auth: p.provider.auth,
          secretName: secretReference(p.secret),
          httpTimeoutMs: p.provider.httpTimeoutMs,
          circuit: p.provider.circuit,
        }),
      ),
    ];
    // GetParametersByPath is authorised on the path itself: no wildcard over other parameters.
    const catalogReadStatement = new iam.PolicyStatement({
      sid: 'ReadCircuitsToWatch',
      actions: ['ssm:GetParametersByPath'],
      resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: `${stack.stackName}/circuit-ops` })],
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
    controller.addToRolePolicy(mappingStatement(mappingArns));
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
    prober.addToRolePolicy(mappingStatement(mappingArns));
    prober.addToRolePolicy(
      new iam.PolicyStatement({ sid: 'ToggleProbeSchedule', actions: ['events:EnableRule', 'events:DisableRule'], resources: [ruleArn] }),
    );
    for (const pipeline of props.pipelines) pipeline.secret?.grantRead(prober);
    for (const provider of providers) provider.secret?.grantRead(prober);

    const probeSchedule = new events.Rule(this, 'ProbeSchedule', {
      ruleName,
      description: 'Runs the circuit prober while a circuit is open or a mapping is not yet restored (toggled by the controller and the prober)',
      schedule: events.Schedule.rate(Duration.minutes(1)),
      enabled: false,
    });
    probeSchedule.addTarget(new targets.LambdaFunction(prober, { retryAttempts: 2, maxEventAge: Duration.minutes(2) }));

    // ---------------------------------------------------------------- after a deploy
    // CloudFormation applies a changed mapping's or rule's template values whatever the circuits say: mappings enabled
    // at the catalog's concurrency, the schedule disabled. When this deploy may have done so, the prober runs once
    // to put them back (docs/runbooks/circuit-open-too-long.md "Deploying during an outage"). The payload changes
    // with everything the mappings and the rule are made from, so an unrelated deploy does not invoke it.
    const fingerprint = createHash('sha256')
      .update(JSON.stringify({ integrations: props.pipelines.map((p) => p.integration), restoreAfterSeconds, ruleName }))
      .digest('hex')
      .slice(0, 16);
    // The prober itself serves the custom resource (functions/ops/after-deploy.ts): no extra provider function.
    this.afterDeploy = new CustomResource(this, 'ReconcileAfterDeploy', {
      serviceToken: prober.functionArn,
      resourceType: 'Custom::CircuitReconcile',
      // The mappings' ids make it wait for them, and a replaced mapping changes the properties.
      properties: { ...AFTER_DEPLOY_EVENT, fingerprint, mappings: props.pipelines.map((p) => p.eventSourceMappingId) },
    });
    this.afterDeploy.node.addDependency(probeSchedule);

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

/** Like ServiceFunction.bindSecret: the full ARN when known, else the name (a secret imported by name). */
function secretReference(secret: secretsmanager.ISecret | undefined): string | undefined {
  return secret ? (secret.secretFullArn ?? secret.secretName) : undefined;
}

/** lambda:Get/UpdateEventSourceMapping on exactly the hub's mappings. */
function mappingStatement(mappingArns: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'ControlIntegrationEventSourceMappings',
    actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
    resources: [...mappingArns],
  });
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
  if (props.pipelines.length === 0) problems.push('pipelines must list at least one integration');
  const names = new Set<string>();
  for (const pipeline of props.pipelines) {
    const name = pipeline.integration.name;
    if (names.has(name)) problems.push(`pipelines lists '${name}' twice`);
    names.add(name);
    if (!pipeline.secret && pipeline.integration.auth.scheme !== 'none') {
      problems.push(`pipeline '${name}': secret is required for auth scheme '${pipeline.integration.auth.scheme}' (the prober's probe call needs it)`);
    }
    const uuid = pipeline.eventSourceMappingId;
    if (!Token.isUnresolved(uuid) && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(uuid)) {
      problems.push(`pipeline '${name}': eventSourceMappingId must be an event source mapping UUID (got ${uuid})`);
    }
    const arn = pipeline.eventSourceMappingArn;
    if (!Token.isUnresolved(arn) && !/^arn:[^:]+:lambda:[^:]*:[^:]*:event-source-mapping:[0-9a-f-]{36}$/.test(arn)) {
      problems.push(`pipeline '${name}': eventSourceMappingArn must be an event source mapping ARN (got ${arn})`);
    }
  }
  for (const { provider, secret } of props.providers ?? []) {
    if (names.has(provider.name)) problems.push(`providers lists '${provider.name}', which is already an integration or listed before (a provider of an integration shares its circuit)`);
    names.add(provider.name);
    if (provider.integration !== undefined) problems.push(`provider '${provider.name}' is integration '${provider.integration}''s: it shares that circuit, leave it out`);
    if (!secret && provider.auth.scheme !== 'none') problems.push(`provider '${provider.name}': secret is required for auth scheme '${provider.auth.scheme}' (the prober's probe call needs it)`);
  }
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
