/**
 * Builds the hub app the way bin/integration-hub.ts does (stack + cdk-nag AWS Solutions pack), without bundling:
 * `aws:cdk:bundling-stacks: []` keeps each test file to one fast in-memory synth.
 */
import { readFileSync } from 'node:fs';
import { OPS_CATALOG_PATH_VARIABLE, type OpsCatalogReader, opsCatalogVariables } from '../../functions/ops/ops-catalog.js';
import { App, type RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import type { IntegrationEntry } from '../../lib/catalog.js';
import { IntegrationHubStack } from '../../lib/integration-hub-stack.js';
import type { ProviderEntry, WorkflowsCatalog } from '../../lib/workflow-catalog.js';

/** The feature flags and settings of cdk.json, so tests synthesize what `cdk synth` does. */
const CDK_JSON_CONTEXT = (JSON.parse(readFileSync(new URL('../../cdk.json', import.meta.url), 'utf8')) as { context: Record<string, unknown> }).context;

/** Context every test app gets: cdk.json's, no bundling, and synth throws (with the report) on a validation failure. */
export const TEST_CONTEXT = {
  ...CDK_JSON_CONTEXT,
  'aws:cdk:bundling-stacks': [],
  '@aws-cdk/core:appMode': 'inmemory',
} as const;

export interface HubApp {
  readonly app: App;
  readonly stack: IntegrationHubStack;
  readonly template: Template;
}

/** Synthesizes the IntegrationHub stack with cdk-nag; throws when cdk-nag reports an unacknowledged finding. */
export function synthesizeHub(options: {
  context?: Record<string, unknown>;
  integrations?: readonly IntegrationEntry[];
  workflows?: WorkflowsCatalog | null;
  providers?: readonly ProviderEntry[];
  removalPolicy?: RemovalPolicy;
} = {}): HubApp {
  const app = newTestApp(options.context);
  const stack = new IntegrationHubStack(app, 'IntegrationHub', {
    integrations: options.integrations,
    workflows: options.workflows,
    providers: options.providers,
    removalPolicy: options.removalPolicy,
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  return { app, stack, template: Template.fromStack(stack) };
}

/**
 * A test app. CDK's builtin CloudFormation rule check is off: it only ever reports warnings (unless a feature flag
 * says otherwise) and costs ~7 s per synth; `cdk synth` still runs it.
 */
export function newTestApp(context: Record<string, unknown> = {}): App {
  return new App({ context: { ...TEST_CONTEXT, ...context }, builtinCloudFormationValidation: false });
}

/** A bare stack in a fresh test app, for construct-level tests. */
export function newTestStack(context: Record<string, unknown> = {}): Stack {
  return new Stack(newTestApp(context), 'Test');
}

/** The logical id of a construct's CloudFormation resource (its default child). */
export function logicalIdOf(construct: { node: { defaultChild?: unknown } }, stack: Stack): string {
  return stack.getLogicalId(construct.node.defaultChild as Parameters<Stack['getLogicalId']>[0]);
}

/** Every IAM policy statement attached to the role with logical id `roleLogicalId`. */
export function statementsOfRole(template: Template, roleLogicalId: string): PolicyStatementJson[] {
  const policies = template.findResources('AWS::IAM::Policy');
  return Object.values(policies)
    .filter((policy) => (policy.Properties.Roles as unknown[]).some((role) => JSON.stringify(role) === JSON.stringify({ Ref: roleLogicalId })))
    .flatMap((policy) => policy.Properties.PolicyDocument.Statement as PolicyStatementJson[]);
}

export interface PolicyStatementJson {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** A statement's actions / resources as arrays. */
export const asArray = <T>(value: T | T[]): T[] => (Array.isArray(value) ? value : [value]);

/** Renders a value built with Fn::Join as text, every Ref / GetAtt as `<Ref:X>` / `<X.Attr>` (template assertions). */
export function flattenIntrinsics(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown>;
  if ('Fn::Join' in v) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(flattenIntrinsics).join(separator);
  }
  if ('Ref' in v) return `<Ref:${String(v.Ref)}>`;
  if ('Fn::GetAtt' in v) return `<${(v['Fn::GetAtt'] as string[]).join('.')}>`;
  throw new Error(`unexpected intrinsic: ${JSON.stringify(value)}`);
}

/**
 * What an ops function of `template` (the circuit controller or prober) reads as INTEGRATIONS and PROVIDERS: its SSM
 * parameters under its OPS_CATALOG_PATH, put together by the function's own code (functions/ops/ops-catalog.ts).
 * Intrinsics are rendered as text by `render`.
 */
export function opsCatalogOf(
  template: Template,
  functionLogicalId: string,
  reader: OpsCatalogReader,
  render: (value: unknown) => string = flattenIntrinsics,
): { integrations: Record<string, unknown>[]; providers: unknown[] } {
  const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, any> }>;
  const path = render(resources[functionLogicalId]!.Properties.Environment.Variables[OPS_CATALOG_PATH_VARIABLE]);
  const parameters = Object.values(resources)
    .filter((resource) => resource.Type === 'AWS::SSM::Parameter')
    .map((resource) => ({ name: render(resource.Properties.Name), value: render(resource.Properties.Value) }));
  const variables = opsCatalogVariables(parameters, path, reader);
  return { integrations: JSON.parse(variables.INTEGRATIONS), providers: JSON.parse(variables.PROVIDERS) };
}
