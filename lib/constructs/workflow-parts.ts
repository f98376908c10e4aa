/**
 * What the workflow constructs (order saga, contact sync) build the same way: task functions on ServiceFunction,
 * the catalog's retry policies as Step Functions retriers, the state machine's log group and role findings, and
 * the dashboard graphs of a state machine. Not a construct: helpers the constructs call with their own scope.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import type { Construct } from 'constructs';
import { LAMBDA_SERVICE_ERRORS, type RetryPolicy, TASK_ERROR_NAMES, type TaskRetryPolicies } from '../workflow-catalog.js';
import { ServiceFunction } from './service-function.js';

/** Options of {@link workflowTaskFunction}. */
export interface WorkflowTaskFunctionOptions {
  /** The module, relative to `repositoryRoot`. */
  readonly entry: string;
  /** The export to invoke. */
  readonly handler: string;
  readonly description: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  readonly repositoryRoot: string;
  readonly removalPolicy: RemovalPolicy;
  readonly logRetention?: logs.RetentionDays;
  readonly environment?: Record<string, string>;
}

/**
 * A task Lambda: ServiceFunction's defaults (Node 22, arm64, ESM bundle, tracing, own log group, a role that starts
 * with nothing but that log group). Step Functions invokes it synchronously, so no async retries apply.
 */
export function workflowTaskFunction(scope: Construct, id: string, options: WorkflowTaskFunctionOptions): ServiceFunction {
  const root = options.repositoryRoot;
  const lockFile = join(root, 'package-lock.json');
  return new ServiceFunction(scope, id, {
    entry: join(root, options.entry),
    handler: options.handler,
    description: options.description,
    timeout: Duration.seconds(options.timeoutSeconds),
    memorySize: options.memoryMb,
    logGroupRetention: options.logRetention,
    logGroupRemovalPolicy: options.removalPolicy,
    projectRoot: root,
    ...(existsSync(lockFile) ? { depsLockFilePath: lockFile } : {}),
    environment: options.environment,
  });
}

/** A catalog retry policy as a Step Functions retrier: FULL jitter, capped delay. */
export function retrier(errors: readonly string[], policy: RetryPolicy): sfn.RetryProps {
  return {
    errors: [...errors],
    interval: Duration.seconds(policy.intervalSeconds),
    backoffRate: policy.backoffRate,
    maxAttempts: policy.maxAttempts,
    maxDelay: Duration.seconds(policy.maxDelaySeconds),
    jitterStrategy: sfn.JitterType.FULL,
  };
}

/**
 * The two retriers of every task, in this order: transient failures and Lambda service errors, then an open
 * circuit (long intervals: wait for the provider, do not compensate at once). `Integration.Permanent` is in
 * neither: it goes straight to the state's Catch.
 */
export function addTaskRetries(task: sfn.TaskStateBase, policies: TaskRetryPolicies): void {
  task.addRetry(retrier([TASK_ERROR_NAMES.transient, ...LAMBDA_SERVICE_ERRORS], policies.transient));
  task.addRetry(retrier([TASK_ERROR_NAMES.circuitOpen], policies.circuitOpen));
}

/**
 * The log group of a state machine. Under `/aws/vendedlogs/states/` as AWS recommends for vended logs (keeps the
 * CloudWatch Logs resource policy small when many state machines log).
 */
export function stateMachineLogGroup(
  scope: Construct,
  id: string,
  workflowName: string,
  options: { removalPolicy: RemovalPolicy; retention?: logs.RetentionDays },
): logs.LogGroup {
  return new logs.LogGroup(scope, id, {
    logGroupName: `/aws/vendedlogs/states/${Stack.of(scope).stackName}-${workflowName}`,
    retention: options.retention ?? logs.RetentionDays.ONE_MONTH,
    removalPolicy: options.removalPolicy,
  });
}

/** Logging ALL (without execution data: orders carry personal data; the execution history keeps it) and X-Ray. */
export function stateMachineObservability(logGroup: logs.ILogGroup): Pick<sfn.StateMachineProps, 'logs' | 'tracingEnabled'> {
  return { logs: { destination: logGroup, level: sfn.LogLevel.ALL, includeExecutionData: false }, tracingEnabled: true };
}

/**
 * Acknowledges, on the state machine role's policy, the wildcards Step Functions itself requires, each by its exact
 * finding: log delivery and X-Ray (no resource-level permissions) and `<function ARN>:*` of each task function
 * (CDK's grant for invoking a function by ARN also covers its versions and aliases).
 */
export function acknowledgeStateMachinePolicy(stateMachine: sfn.StateMachine, functions: readonly lambda.IFunction[]): void {
  const policy = stateMachine.role.node.tryFindChild('DefaultPolicy');
  if (!policy) return;
  const stack = Stack.of(stateMachine);
  Validations.of(policy).acknowledge({
    id: 'AwsSolutions-IAM5[Resource::*]',
    reason:
      'Step Functions log delivery (logs:CreateLogDelivery, logs:DescribeResourcePolicies, ...) and X-Ray ' +
      '(xray:PutTraceSegments, xray:GetSamplingRules, ...) support no resource-level permissions; AWS documents "*" for both.',
  });
  for (const fn of functions) {
    const logicalId = stack.getLogicalId(fn.node.defaultChild as Parameters<Stack['getLogicalId']>[0]);
    Validations.of(policy).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${logicalId}.Arn>:*]`,
      reason:
        `Invoking task function ${fn.node.id} by ARN: CDK grants the function and its qualified ARNs (versions, aliases); ` +
        'nothing beyond that one function is covered.',
    });
  }
}

/** The dashboard graphs every state machine gets: executions by outcome, and duration. */
export function stateMachineGraphs(title: string, stateMachine: sfn.IStateMachine, timeout?: Duration): cloudwatch.GraphWidget[] {
  const period = Duration.minutes(5);
  const sum = { period, statistic: cloudwatch.Stats.SUM };
  return [
    new cloudwatch.GraphWidget({
      title: `${title} · Executions`,
      width: 8,
      height: 6,
      left: [
        stateMachine.metricStarted({ ...sum, label: 'Started' }),
        stateMachine.metricSucceeded({ ...sum, label: 'Succeeded' }),
        stateMachine.metricFailed({ ...sum, label: 'Failed' }),
        stateMachine.metricTimedOut({ ...sum, label: 'Timed out' }),
        stateMachine.metricAborted({ ...sum, label: 'Aborted' }),
      ],
      leftYAxis: { min: 0, showUnits: false },
    }),
    new cloudwatch.GraphWidget({
      title: `${title} · Execution duration`,
      width: 8,
      height: 6,
      left: [50, 90, 99].map((p) => stateMachine.metricTime({ period, statistic: cloudwatch.Stats.p(p), label: `p${p}` })),
      leftAnnotations: timeout ? [{ value: timeout.toMilliseconds(), label: 'execution timeout', color: '#d62728' }] : [],
      leftYAxis: { min: 0, label: 'ms', showUnits: false },
    }),
  ];
}

/** Errors of a workflow's task functions, summed per function (each function's line). */
export function taskFunctionErrorsGraph(title: string, functions: ReadonlyMap<string, lambda.IFunction>): cloudwatch.GraphWidget {
  const period = Duration.minutes(5);
  return new cloudwatch.GraphWidget({
    title: `${title} · Task function errors (retried or caught by the state machine)`,
    width: 8,
    height: 6,
    left: [...functions].map(([name, fn]) => fn.metricErrors({ period, statistic: cloudwatch.Stats.SUM, label: name })),
    leftYAxis: { min: 0, showUnits: false },
    stacked: true,
  });
}
