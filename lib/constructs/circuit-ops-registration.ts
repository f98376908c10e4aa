/**
 * Hands integrations and workflow providers to the circuit controller and prober (circuit-controller.ts) from
 * wherever they are deployed — the controller's own stack, or an integration stack of a stage deployed after it
 * (docs/deploy.md "Stack layout"). Everything that grows with the catalog lives here, next to the integrations, and
 * nothing of it goes back into the controller's stack, so that stack neither grows nor depends on the others:
 *
 * - one SSM parameter per circuit under the controller's path (read by both functions at init,
 *   functions/ops/ops-catalog.ts): the catalog never goes into an environment;
 * - one IAM policy per function, attached to its role by name: get/update exactly these mappings, and (prober only)
 *   read exactly these secrets;
 * - a custom resource, served by the prober, that runs it once after a deploy that may have reset one of these
 *   mappings (functions/ops/after-deploy.ts; docs/runbooks/circuit-open-too-long.md "Deploying during an outage").
 */
import { createHash } from 'node:crypto';
import { CustomResource, Stack, Token } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import type * as secretsmanager from 'aws-cdk-lib/aws-secretsmanager';
import { secretAccessOf, secretPolicyResource, secretWriteStatement } from './service-function.js';
import * as ssm from 'aws-cdk-lib/aws-ssm';
import { Construct } from 'constructs';
import { AFTER_DEPLOY_EVENT } from '../../functions/ops/after-deploy.js';
import { OPS_CATALOG_KINDS } from '../../functions/ops/ops-catalog.js';
import { pascalCase, type ResolvedIntegration } from '../catalog.js';
import { assertNoProblems } from '../props-validation.js';
import type { ResolvedProvider } from '../workflow-catalog.js';

/**
 * One integration pipeline whose event source mapping the controller pauses and resumes. An IntegrationPipeline
 * has exactly these fields, so it can be passed as it is.
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

/** What a registration needs of the controller (`CircuitController.access`): plain names, no construct references. */
export interface CircuitOpsAccess {
  /** The SSM path both functions read the circuits from, with a trailing slash (`/<stack>/circuit-ops/`). */
  readonly catalogPath: string;
  /** The controller function's execution role. */
  readonly controllerRole: iam.IRole;
  /** The prober function's execution role. */
  readonly proberRole: iam.IRole;
  /** The prober function: it serves the after-deploy custom resource. */
  readonly proberFunction: lambda.IFunction;
}

/** Props of {@link CircuitOpsRegistration}. */
export interface CircuitOpsRegistrationProps {
  /** The controller and prober to hand the circuits to. */
  readonly access: CircuitOpsAccess;
  /** Integrations whose mappings the controller pauses and resumes. @default none */
  readonly pipelines?: readonly CircuitControlledPipeline[];
  /** Standalone workflow providers the prober probes (no mapping). @default none */
  readonly providers?: readonly CircuitProbedProvider[];
}

/** Registers circuits with the circuit controller and prober; see the file's header. */
export class CircuitOpsRegistration extends Construct {
  /** One SSM parameter per circuit: the integrations', then the providers'. */
  readonly parameters: readonly ssm.StringParameter[];
  /** Runs the prober once after a deploy that changed what these mappings are made from; undefined without pipelines. */
  readonly afterDeploy?: CustomResource;

  constructor(scope: Construct, id: string, props: CircuitOpsRegistrationProps) {
    super(scope, id);
    const pipelines = props.pipelines ?? [];
    const providers = props.providers ?? [];
    assertNoProblems(this.node.path, registrationProblems(pipelines, providers));
    const { catalogPath } = props.access;

    const parameter = (constructId: string, kind: keyof typeof OPS_CATALOG_KINDS, name: string, value: object) =>
      new ssm.StringParameter(this, constructId, {
        parameterName: `${catalogPath}${OPS_CATALOG_KINDS[kind]}${name}`,
        simpleName: false,
        description: `integration-hub: the ${kind === 'integrations' ? 'integration' : 'workflow provider'} ${name} as the circuit controller and prober see it`,
        stringValue: Stack.of(this).toJsonString(value),
      });
    this.parameters = [
      ...pipelines.map((p) =>
        parameter(`Integration${pascalCase(p.integration.name)}`, 'integrations', p.integration.name, {
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
        parameter(`Provider${pascalCase(p.provider.name)}`, 'providers', p.provider.name, {
          name: p.provider.name,
          baseUrl: p.provider.baseUrl,
          auth: p.provider.auth,
          secretName: secretReference(p.secret),
          httpTimeoutMs: p.provider.httpTimeoutMs,
          circuit: p.provider.circuit,
        }),
      ),
    ];

    // Attached by role name: the roles' own stack is not changed, and it does not come to depend on this one.
    const controllerRole = iam.Role.fromRoleName(this, 'ControllerRole', props.access.controllerRole.roleName);
    const proberRole = iam.Role.fromRoleName(this, 'ProberRole', props.access.proberRole.roleName);
    const policies: iam.Policy[] = [];
    if (pipelines.length > 0) {
      const mappings = mappingStatement(pipelines.map((p) => p.eventSourceMappingArn));
      policies.push(new iam.Policy(this, 'ControllerAccess', { roles: [controllerRole], statements: [mappings] }));
    }
    const probed = [...pipelines.map((p) => ({ auth: p.integration.auth, secret: p.secret })), ...providers.map((p) => ({ auth: p.provider.auth, secret: p.secret }))];
    const secrets = probed.flatMap((entry) => (entry.secret ? [entry.secret] : []));
    // The prober re-authorizes a circuit isolated for it by refreshing, which stores the rotated tokens.
    const written = probed.flatMap((entry) => (entry.secret && secretAccessOf(entry.auth.scheme) === 'read_write' ? [entry.secret] : []));
    const proberStatements = [
      ...(pipelines.length > 0 ? [mappingStatement(pipelines.map((p) => p.eventSourceMappingArn))] : []),
      ...(secrets.length > 0 ? [secretsStatement(secrets)] : []),
      ...(written.length > 0 ? [secretWriteStatement(written)] : []),
    ];
    if (proberStatements.length > 0) policies.push(new iam.Policy(this, 'ProberAccess', { roles: [proberRole], statements: proberStatements }));

    if (pipelines.length > 0) {
      // CloudFormation applies a changed mapping's template values whatever the circuit says (enabled, at the
      // catalog's concurrency). The payload changes with everything the mappings are made from, so an unrelated
      // deploy does not invoke the prober; the mappings' ids make it wait for them, and a replaced one changes it.
      const fingerprint = createHash('sha256')
        .update(JSON.stringify(pipelines.map((p) => p.integration)))
        .digest('hex')
        .slice(0, 16);
      this.afterDeploy = new CustomResource(this, 'ReconcileAfterDeploy', {
        serviceToken: props.access.proberFunction.functionArn,
        resourceType: 'Custom::CircuitReconcile',
        properties: { ...AFTER_DEPLOY_EVENT, fingerprint, mappings: pipelines.map((p) => p.eventSourceMappingId) },
      });
      // The prober reads the parameters and needs the grants when it runs.
      for (const dependency of [...this.parameters, ...policies]) this.afterDeploy.node.addDependency(dependency);
    }
  }
}

/** Like ServiceFunction.bindSecret: the full ARN when known, else the name (a secret imported by name). */
function secretReference(secret: secretsmanager.ISecret | undefined): string | undefined {
  return secret ? (secret.secretFullArn ?? secret.secretName) : undefined;
}

/** lambda:Get/UpdateEventSourceMapping on exactly these mappings. */
function mappingStatement(mappingArns: readonly string[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'ControlIntegrationEventSourceMappings',
    actions: ['lambda:GetEventSourceMapping', 'lambda:UpdateEventSourceMapping'],
    resources: [...mappingArns],
  });
}

/** What `secret.grantRead` allows, for these secrets only (a secret imported by name: any of its version suffixes). */
function secretsStatement(secrets: readonly secretsmanager.ISecret[]): iam.PolicyStatement {
  return new iam.PolicyStatement({
    sid: 'ReadProbeCredentials',
    actions: ['secretsmanager:GetSecretValue', 'secretsmanager:DescribeSecret'],
    resources: secrets.map(secretPolicyResource),
  });
}

function registrationProblems(pipelines: readonly CircuitControlledPipeline[], providers: readonly CircuitProbedProvider[]): string[] {
  const problems: string[] = [];
  const names = new Set<string>();
  for (const pipeline of pipelines) {
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
  for (const { provider, secret } of providers) {
    if (names.has(provider.name)) problems.push(`providers lists '${provider.name}', which is already an integration or listed before (a provider of an integration shares its circuit)`);
    names.add(provider.name);
    if (provider.integration !== undefined) problems.push(`provider '${provider.name}' is integration '${provider.integration}''s: it shares that circuit, leave it out`);
    if (!secret && provider.auth.scheme !== 'none') problems.push(`provider '${provider.name}': secret is required for auth scheme '${provider.auth.scheme}' (the prober's probe call needs it)`);
  }
  return problems;
}
