import { fileURLToPath } from 'node:url';
import { ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { servingProviderOf } from '../../local/hub/serving-provider.js';
import type { IntegrationEntry } from '../catalog.js';
import type { HubNaming } from '../hub-naming.js';
import type { ProviderEntry } from '../workflow-catalog.js';
import { ServiceFunction } from './service-function.js';

/** Props of {@link SandboxApi}. */
export interface SandboxApiProps {
  /** The stage's naming: the secrets it may read are the ones the stage creates (`integration-hub/<stage>/*`). */
  readonly naming: HubNaming;
  /** Where the circuit controller's parameters are (CircuitController.access.catalogPath): the sandbox mounts what they list. */
  readonly opsCatalogPath: string;
  /** The stage's integrations: each is served by the provider local/hub/serving-provider.ts picks. */
  readonly integrations: readonly IntegrationEntry[];
  /** The stage's workflow providers: a standalone one is served by the dedicated provider of its name. */
  readonly providers: readonly ProviderEntry[];
  /** @default RemovalPolicy.DESTROY: the try stage is meant to be thrown away */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * The sandbox third-party APIs of the local hub (local/sandbox/), deployed for the `try` stage behind one Lambda
 * Function URL (local/sandbox/function-url/function-url-handler.ts): each provider under `<url>/<provider>`, the fault
 * controls under `<url>/_sandbox` behind a generated control token (docs/deploy.md "Try it"). At its first request
 * the function reads the circuits' parameters to learn which providers to mount and the stage's secrets to learn
 * which credentials to accept, so the hub's functions, which read the same secrets, are let in.
 *
 * The URL is public (auth NONE): the hub's functions call it like any third party, with the credentials in the
 * secrets. The state (resources, tokens, idempotency records, faults) lives in the memory of the function's one
 * instance (reserved concurrency 1), and starts empty again when Lambda recycles it.
 */
export class SandboxApi extends Construct {
  /** The function serving every provider. */
  readonly function: ServiceFunction;
  /** Its public URL, ending with `/`. */
  readonly url: string;
  /** Holds the token the control plane (`/_sandbox`) requires in `x-sandbox-control-token`. */
  readonly controlTokenSecret: secretsmanager.Secret;
  readonly #servedBy: ReadonlyMap<string, string>;

  constructor(scope: Construct, id: string, props: SandboxApiProps) {
    super(scope, id);
    const stack = Stack.of(this);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.DESTROY;
    this.#servedBy = new Map([
      ...props.integrations.map((entry) => [entry.name, servingProviderOf({ name: entry.name, adapter: entry.adapter ?? entry.name }).name] as const),
      ...props.providers.filter((provider) => provider.integration === undefined).map((provider) => [provider.name, provider.name] as const),
    ]);

    this.controlTokenSecret = new secretsmanager.Secret(this, 'ControlToken', {
      secretName: props.naming.secretName('sandbox-control'),
      description: 'integration-hub try stage: the token the sandbox fault controls require (header x-sandbox-control-token)',
      generateSecretString: { secretStringTemplate: '{}', generateStringKey: 'token', excludePunctuation: true, passwordLength: 32 },
      removalPolicy,
    });
    Validations.of(this.controlTokenSecret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason: 'A throwaway token of the try stage\'s sandbox; delete the stage rather than rotate it.',
    });

    this.function = new ServiceFunction(this, 'Function', {
      entry: fileURLToPath(new URL('../../local/sandbox/function-url/function-url-handler.ts', import.meta.url)),
      description: `integration-hub ${props.naming.stage ?? ''} sandbox third-party APIs (try stage)`,
      memorySize: 512,
      timeout: Duration.seconds(30),
      // One instance, so one state: OAuth2 tokens, idempotency records and faults live in its memory, and a token
      // issued by one instance would be unknown to another. Calls beyond it are throttled (429), which the runtime
      // retries. Needs an account with more than the 10 unreserved concurrent executions Lambda keeps (docs/deploy.md).
      reservedConcurrentExecutions: 1,
      logGroupRemovalPolicy: removalPolicy,
      environment: { OPS_CATALOG_PATH: props.opsCatalogPath, CONTROL_TOKEN_SECRET: this.controlTokenSecret.secretArn },
    });
    this.controlTokenSecret.grantRead(this.function);
    const parameterPath = props.opsCatalogPath.replace(/^\/|\/$/g, '');
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadCircuitsToServe',
        actions: ['ssm:GetParametersByPath'],
        resources: [stack.formatArn({ service: 'ssm', resource: 'parameter', resourceName: parameterPath })],
      }),
    );
    // The credentials to accept: the secrets this stage creates (a try stage imports none, lib/stage-config.ts).
    this.function.addToRolePolicy(
      new iam.PolicyStatement({
        sid: 'ReadStageCredentials',
        actions: ['secretsmanager:GetSecretValue'],
        resources: [stack.formatArn({ service: 'secretsmanager', resource: 'secret', resourceName: props.naming.secretName('*'), arnFormat: ArnFormat.COLON_RESOURCE_NAME })],
      }),
    );
    const functionUrl = this.function.addFunctionUrl({ authType: lambda.FunctionUrlAuthType.NONE });
    this.url = functionUrl.url;
    const policy = this.function.role?.node.tryFindChild('DefaultPolicy');
    if (policy) {
      Validations.of(policy).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:${props.naming.secretName('*')}]`,
        reason: 'The sandbox accepts the credentials of every secret the try stage creates; they are all under the stage\'s prefix.',
      });
    }
    new CfnOutput(stack, 'SandboxUrl', { value: this.url, description: 'The sandbox APIs of the try stage: <url><provider>/..., fault controls under <url>_sandbox' });
    new CfnOutput(stack, 'SandboxControlTokenSecret', { value: this.controlTokenSecret.secretName, description: 'Secret holding the x-sandbox-control-token value' });
  }

  /** The base URL an integration or standalone provider of the stage calls: its serving provider under the sandbox. */
  baseUrlOf(name: string): string {
    const provider = this.#servedBy.get(name);
    if (provider === undefined) throw new Error(`SandboxApi: '${name}' is not an integration or standalone provider of the stage`);
    return `${this.url}${provider}`;
  }
}
