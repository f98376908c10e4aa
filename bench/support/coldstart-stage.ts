/**
 * The functions a stage deploys, bundled exactly as `cdk synth` bundles them: the stage's stacks (lib/hub-stage.ts) are
 * synthesized with bundling on into a scratch directory, so every bundle is CDK's own NodejsFunction/esbuild output
 * (lib/constructs/service-function.ts's options), and each ServiceFunction of the construct tree is paired with its
 * asset, its entry, its bundling options and its environment as deployed (intrinsics resolved to fake values).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App, type CfnResource, Stack } from 'aws-cdk-lib';
import { HubStage } from '../../lib/hub-stage.js';
import { ServiceFunction } from '../../lib/constructs/service-function.js';
import { loadStage } from '../../lib/stage-config.js';
import { CDK_CONTEXT } from './coldstart-cdk.js';
import { resolveLeniently, type Template } from './coldstart-template.js';

/** One deployed function and its bundle. */
export interface StageFunction {
  /** `<stack part>/<construct path in the stack>`, e.g. `core/Core/CircuitController/Controller`. */
  readonly name: string;
  readonly fn: ServiceFunction;
  /** The bundle CDK built for it (`index.mjs` in its asset directory). */
  readonly bundlePath: string;
  /** The export Lambda calls (the part of `Handler` after `index.`). */
  readonly handlerExport: string;
  /** Its environment variables as deployed, intrinsics resolved to plausible fake values. */
  readonly environment: Record<string, string>;
}

/** What the synthesized stage gives the bench. */
export interface SynthesizedStage {
  readonly functions: StageFunction[];
  /** The SSM parameters the stage writes (the ops catalog the controller and prober read at init), resolved. */
  readonly parameters: { name: string; value: string }[];
}

/** Synthesizes stage `stageName` with bundling on into `outdir` and lists its functions (sandbox included when the stage has one). */
export function synthesizeStage(stageName: string, outdir: string): SynthesizedStage {
  const app = new App({ outdir, context: { ...CDK_CONTEXT, 'aws:cdk:enable-asset-metadata': true } });
  const stage = new HubStage(app, loadStage(stageName));
  const assembly = app.synth();
  const templates = new Map<Stack, Template>();
  const templateOf = (stack: Stack): Template => {
    let template = templates.get(stack);
    if (!template) {
      template = assembly.getStackArtifact(stack.artifactId).template as Template;
      templates.set(stack, template);
    }
    return template;
  };

  const functions: StageFunction[] = [];
  for (const construct of app.node.findAll()) {
    if (!(construct instanceof ServiceFunction)) continue;
    const stack = Stack.of(construct);
    const cfn = construct.node.defaultChild as CfnResource;
    const assetPath = cfn.getMetadata('aws:asset:path') as string | undefined;
    if (!assetPath) throw new Error(`${construct.node.path}: no aws:asset:path metadata (was it bundled?)`);
    const bundlePath = join(outdir, assetPath, 'index.mjs');
    if (!existsSync(bundlePath)) throw new Error(`${construct.node.path}: no bundle at ${bundlePath}`);
    const template = templateOf(stack);
    const logicalId = stack.resolve(cfn.logicalId) as string;
    const handlerExport = String(template.Resources[logicalId]?.Properties?.Handler ?? 'index.handler').replace(/^index\./, '');
    const variables = (template.Resources[logicalId]?.Properties?.Environment as { Variables?: unknown } | undefined)?.Variables ?? {};
    const environment = Object.fromEntries(
      Object.entries(resolveLeniently(variables, template) as Record<string, unknown>).map(([key, value]) => [key, String(value)]),
    );
    const part = stack.stackName.startsWith(`${stage.stage.naming.stackName('')}`) ? stack.stackName.slice(stage.stage.naming.stackName('').length) : stack.stackName;
    const inStack = construct.node.path.slice(stack.node.path.length + 1);
    functions.push({ name: `${part}/${inStack}`, fn: construct, bundlePath, handlerExport, environment });
  }

  const parameters: { name: string; value: string }[] = [];
  for (const artifact of assembly.stacks) {
    const template = artifact.template as Template;
    for (const resource of Object.values(template.Resources)) {
      if (resource.Type !== 'AWS::SSM::Parameter') continue;
      const resolved = resolveLeniently(resource.Properties ?? {}, template) as { Name?: unknown; Value?: unknown };
      if (typeof resolved.Name === 'string' && resolved.Value !== undefined) parameters.push({ name: resolved.Name, value: String(resolved.Value) });
    }
  }
  return { functions, parameters };
}
