/**
 * The names a copy of the hub gives the things it shares with other copies in one account and region: alarm and
 * dashboard names, default secret names, the metrics namespace, the stacks. Two stages side by side must not collide
 * on any of them nor feed each other's alarms, so every one carries the stage (docs/deploy.md "Stages").
 *
 * A stack made for a stage registers its naming ({@link HubNaming.register}); the constructs inside ask
 * {@link HubNaming.of} rather than take a prefix each. A stack without one (a construct test, the local hub's single
 * stack) gets the unstaged names the hub had before stages: `IntegrationHub-…`, namespace `IntegrationHub`.
 */
import { Stack } from 'aws-cdk-lib';
import type { IConstruct } from 'constructs';
import { nameProblem } from '../functions/runtime/names.js';
import { METRICS_NAMESPACE } from './telemetry.js';

/** Longest stage name: it goes into alarm, dashboard, secret and stack names, which have their own limits. */
export const MAX_STAGE_NAME_LENGTH = 20;

/** Why `stage` cannot name a stage, or undefined when it can. */
export function stageNameProblem(stage: string): string | undefined {
  const problem = nameProblem(stage, 'stage');
  if (problem) return problem;
  if (stage.length > MAX_STAGE_NAME_LENGTH) return `stage name '${stage}' is longer than ${MAX_STAGE_NAME_LENGTH} characters`;
  return undefined;
}

const registered = new WeakMap<Stack, HubNaming>();

/** The names of one copy of the hub: the stage's, or the unstaged defaults. */
export class HubNaming {
  /** The names of a stack with no stage. */
  static readonly UNSTAGED = new HubNaming(undefined);

  /** The naming of the stack `scope` is in (registered by the stage's stack), else {@link UNSTAGED}. */
  static of(scope: IConstruct): HubNaming {
    return registered.get(Stack.of(scope)) ?? HubNaming.UNSTAGED;
  }

  /** Makes `naming` the one every construct of `stack` uses; call it before adding them. */
  static register(stack: Stack, naming: HubNaming): void {
    registered.set(stack, naming);
  }

  /** The stage, or undefined for the unstaged hub. */
  readonly stage?: string;

  constructor(stage: string | undefined) {
    if (stage !== undefined) {
      const problem = stageNameProblem(stage);
      if (problem) throw new Error(problem);
    }
    this.stage = stage;
  }

  /** First part of every alarm and dashboard name: `IntegrationHub-<stage>` (alarm and dashboard names are per account). */
  get prefix(): string {
    return this.stage === undefined ? 'IntegrationHub' : `IntegrationHub-${this.stage}`;
  }

  /** CloudWatch namespace of the hub's custom metrics: `IntegrationHub/<stage>`, so stages never share a series. */
  get metricsNamespace(): string {
    return this.stage === undefined ? METRICS_NAMESPACE : `${METRICS_NAMESPACE}/${this.stage}`;
  }

  /** Namespace of the workflows' metrics (metric filters on the state machines' logs). */
  get workflowMetricsNamespace(): string {
    return `${this.metricsNamespace}/Workflows`;
  }

  /** Default name of the credentials secret the hub creates for an integration or a workflow provider. */
  secretName(owner: string): string {
    return this.stage === undefined ? `integration-hub/${owner}` : `integration-hub/${this.stage}/${owner}`;
  }

  /** Name of a stack of the stage: `IntegrationHub-<stage>-<part>`. */
  stackName(part: string): string {
    return `${this.prefix}-${part}`;
  }
}
