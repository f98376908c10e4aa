import { existsSync } from 'node:fs';
import { resolve } from 'node:path';
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { Grant, type IRole, PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Architecture, Runtime, RuntimeFamily, Tracing } from 'aws-cdk-lib/aws-lambda';
import { type BundlingOptions, NodejsFunction, type NodejsFunctionProps, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import type { IQueue } from 'aws-cdk-lib/aws-sqs';
import type { Construct } from 'constructs';
import { type AuthScheme, RUNTIME_SECRET_FIELDS } from '../../functions/runtime/auth-config.js';
import { assertNoProblems } from '../props-validation.js';
import { HubNaming } from '../hub-naming.js';
import { SERVICE_NAME } from '../telemetry.js';

/** What a function may do with a table it is bound to. */
export type TableAccess = 'read' | 'readWrite' | TableItemAccess;

/** Exactly the item actions a function needs on a table, optionally on some partition keys only. */
export interface TableItemAccess {
  /** The DynamoDB item actions (`dynamodb:GetItem`, ...): the ones the function's code sends, nothing else. */
  readonly actions: readonly string[];
  /**
   * The partition key values the function may touch (IAM `dynamodb:LeadingKeys`), so that a function cannot read or
   * write another integration's items. @default any
   */
  readonly leadingKeys?: readonly string[];
}

/** Props of {@link ServiceFunction}: NodejsFunction's, with the hub's defaults, plus the log group's settings. */
export interface ServiceFunctionProps extends NodejsFunctionProps {
  /** The handler module: an absolute path, or relative to the working directory. */
  readonly entry: string;
  /** How long the function's log lines are kept (ignored when `logGroup` is given). @default RetentionDays.ONE_MONTH */
  readonly logGroupRetention?: RetentionDays;
  /** What happens to the log group when it leaves the stack (ignored when `logGroup` is given). @default RemovalPolicy.RETAIN */
  readonly logGroupRemovalPolicy?: RemovalPolicy;
}

/**
 * ESM bundles have no `require`; some CommonJS dependencies bundled into them still call it. The banner gives
 * them one (esbuild's documented workaround).
 */
export const ESM_REQUIRE_BANNER = "import { createRequire } from 'module'; const require = createRequire(import.meta.url);";

const ENV_NAME = /^[A-Z_][A-Z0-9_]*$/;

/**
 * Every Lambda function of the hub (docs/architecture.md "Conventions"): Node.js 22 on arm64, a minified ESM bundle with source maps
 * that includes the pinned AWS SDK, active tracing, Powertools service/namespace, an explicit log group with retention, and a
 * role that can write to that log group only (no AWSLambdaBasicExecutionRole, so no `logs:*` on `*`).
 *
 * The log group and the role are created beside the function (ids `<id>LogGroup`, `<id>Role` in the same scope)
 * because the function's constructor needs them; pass `logGroup` / `role` to bring your own.
 *
 * Grant and configuration travel together: {@link bindTable}, {@link bindSecret}, {@link bindQueue}.
 */
export class ServiceFunction extends NodejsFunction {
  /** The handler module the bundle is built from (absolute path). */
  readonly entry: string;
  /** The esbuild options the bundle is built with: the construct's defaults merged with the caller's (bench/coldstart.ts rebuilds with them). */
  readonly bundling: BundlingOptions;

  constructor(scope: Construct, id: string, props: ServiceFunctionProps) {
    assertNoProblems(`ServiceFunction ${[scope.node.path, id].filter(Boolean).join('/')}`, serviceFunctionProblems(props));
    const { logGroupRetention, logGroupRemovalPolicy, ...functionProps } = props;

    const logGroup =
      props.logGroup ??
      new LogGroup(scope, `${id}LogGroup`, {
        retention: logGroupRetention ?? RetentionDays.ONE_MONTH,
        removalPolicy: logGroupRemovalPolicy ?? RemovalPolicy.RETAIN,
      });
    const ownRole = props.role === undefined;
    const role: IRole =
      props.role ??
      new Role(scope, `${id}Role`, {
        assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
        description: `Execution role of ${[scope.node.path, id].filter(Boolean).join('/')}`,
      });

    const bundling: BundlingOptions = {
      minify: true,
      sourceMap: true,
      // Stack traces need the mappings, not the sources: keeps the bundle (and cold start) small.
      sourcesContent: false,
      target: 'node22',
      // The pinned AWS SDK goes into the bundle, tree-shaken and minified, instead of the one the Lambda runtime ships:
      // the function runs the SDK its tests ran (package-lock.json), and its cold import is shorter (bench/coldstart.ts).
      bundleAwsSDK: true,
      mainFields: ['module', 'main'],
      ...props.bundling,
      // ... then what this construct requires: an ESM bundle that can still `require` CommonJS dependencies.
      format: OutputFormat.ESM,
      banner: [ESM_REQUIRE_BANNER, props.bundling?.banner].filter(Boolean).join('\n'),
    };

    super(scope, id, {
      // Secure, house-style defaults ...
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      handler: 'handler',
      timeout: Duration.seconds(30),
      tracing: Tracing.ACTIVE,
      // ... then what the caller asks for ...
      ...functionProps,
      environment: {
        NODE_OPTIONS: '--enable-source-maps',
        POWERTOOLS_SERVICE_NAME: SERVICE_NAME,
        POWERTOOLS_METRICS_NAMESPACE: HubNaming.of(scope).metricsNamespace,
        ...props.environment,
      },
      bundling,
      logGroup,
      role,
    });
    this.entry = resolve(props.entry);
    this.bundling = bundling;

    // The one logging permission the function needs: write to its own log group (the group exists, so no CreateLogGroup).
    Grant.addToPrincipal({
      grantee: this,
      actions: ['logs:CreateLogStream', 'logs:PutLogEvents'],
      resourceArns: [logGroup.logGroupRef.logGroupArn],
    });

    if (ownRole && (props.tracing ?? Tracing.ACTIVE) !== Tracing.DISABLED) {
      const policy = role.node.tryFindChild('DefaultPolicy') ?? role;
      Validations.of(policy).acknowledge({
        id: 'AwsSolutions-IAM5[Resource::*]',
        reason:
          'X-Ray tracing: xray:PutTraceSegments and xray:PutTelemetryRecords support no resource-level permissions, so ' +
          'their resource must be "*". Every other statement of this role names its resources.',
      });
    }
    if ((props.runtime ?? Runtime.NODEJS_22_X) === Runtime.NODEJS_22_X) {
      Validations.of(this).acknowledge({
        id: 'AwsSolutions-L1',
        reason:
          'Node.js 22 is the pinned runtime of the hub (docs/architecture.md "Conventions"): the bundle targets node22 and is tested on it. ' +
          'Moving to a newer runtime is a deliberate, tested change, not an automatic one.',
      });
    }
  }

  /**
   * Grants `access` on `table`'s data — CDK's read or read/write sets, or exactly some item actions, optionally on
   * some partition keys only — and puts its name in `envName`.
   */
  bindTable(table: ITable, access: TableAccess, envName: string): Grant {
    assertEnvName(this, envName);
    this.addEnvironment(envName, table.tableName);
    if (access === 'read') return table.grantReadData(this);
    if (access === 'readWrite') return table.grantReadWriteData(this);
    table.encryptionKey?.grantEncryptDecrypt(this);
    return Grant.addToPrincipal({
      grantee: this,
      actions: [...access.actions],
      resourceArns: [table.tableArn],
      ...(access.leadingKeys ? { conditions: { 'ForAllValues:StringEquals': { 'dynamodb:LeadingKeys': [...access.leadingKeys] } } } : {}),
    });
  }

  /**
   * Grants reading `secret`'s value and puts its identifier in `envName`: the full ARN when known (an exact
   * match), else the name (a secret imported by name).
   */
  bindSecret(secret: ISecret, envName: string, access: SecretAccess = 'read'): Grant {
    assertEnvName(this, envName);
    const grant = secret.grantRead(this);
    // PutSecretValue only (not grantWrite's UpdateSecret): the OAuth refresh-token scheme stores rotated tokens as a new version.
    if (access === 'read_write') this.addToRolePolicy(secretWriteStatement([secret]));
    this.addEnvironment(envName, secret.secretFullArn ?? secret.secretName);
    return grant;
  }

  /** Grants sending messages to `queue` and puts its URL in `envName`. */
  bindQueue(queue: IQueue, envName: string): Grant {
    assertEnvName(this, envName);
    const grant = queue.grantSendMessages(this);
    this.addEnvironment(envName, queue.queueUrl);
    return grant;
  }
}

function assertEnvName(fn: ServiceFunction, envName: string): void {
  assertNoProblems(fn.node.path, ENV_NAME.test(envName) ? [] : [`environment variable name ${JSON.stringify(envName)} must match ${ENV_NAME}`]);
}

function serviceFunctionProblems(props: ServiceFunctionProps): string[] {
  const problems: string[] = [];
  if (!props.entry || !existsSync(resolve(props.entry))) problems.push(`entry ${JSON.stringify(props.entry)} does not exist`);
  if (props.runtime && props.runtime.family !== RuntimeFamily.NODEJS) problems.push(`runtime must be a Node.js runtime (got ${props.runtime.name})`);
  if (props.memorySize !== undefined && (!Number.isInteger(props.memorySize) || props.memorySize < 128 || props.memorySize > 10_240)) {
    problems.push(`memorySize must be an integer from 128 to 10240 MB (got ${props.memorySize})`);
  }
  if (props.timeout && !props.timeout.isUnresolved() && (props.timeout.toSeconds() < 1 || props.timeout.toSeconds() > 900)) {
    problems.push(`timeout must be from 1 to 900 seconds (got ${props.timeout.toSeconds()})`);
  }
  if (props.bundling?.format !== undefined && props.bundling.format !== OutputFormat.ESM) problems.push('bundling.format must be ESM (the hub is an ESM project)');
  if (props.logRetention !== undefined) problems.push('logRetention (a custom resource) is not used: set logGroupRetention');
  if (props.logGroup && (props.logGroupRetention !== undefined || props.logGroupRemovalPolicy !== undefined)) {
    problems.push('logGroupRetention / logGroupRemovalPolicy apply to the log group this construct creates: drop them, or drop logGroup');
  }
  for (const name of Object.keys(props.environment ?? {})) {
    if (!ENV_NAME.test(name)) problems.push(`environment variable name ${JSON.stringify(name)} must match ${ENV_NAME}`);
  }
  return problems;
}

/** What a function may do with a secret: read it, or also write new versions (functions/runtime/refresh-token-credentials.ts). */
export type SecretAccess = 'read' | 'read_write';

/** The secret access an auth scheme needs: `oauth2_refresh_token` writes the rotated tokens back. */
export function secretAccessOf(scheme: AuthScheme): SecretAccess {
  return RUNTIME_SECRET_FIELDS[scheme].length > 0 ? 'read_write' : 'read';
}

/** The policy resource of a secret: its ARN, or for one imported by name any of its version suffixes. */
export function secretPolicyResource(secret: ISecret): string {
  return secret.secretFullArn ? secret.secretArn : `${secret.secretArn}-??????`;
}

/** secretsmanager:PutSecretValue on exactly these secrets. */
export function secretWriteStatement(secrets: readonly ISecret[]): PolicyStatement {
  return new PolicyStatement({ actions: ['secretsmanager:PutSecretValue'], resources: secrets.map(secretPolicyResource) });
}
