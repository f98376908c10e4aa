/**
 * Runs the hub's SYNTHESIZED state machines on this machine: the IntegrationHub stack is synthesized in-process
 * (bundling skipped, or a template is read from cdk.out), each state machine's DefinitionString is resolved into
 * plain ASL (Fn::Join / Fn::GetAtt / Ref → fake ARNs and local names), checked with asl-validator, and executed by
 * aws-local-stepfunctions with every Lambda task bound to a local handler. Used by the workflow tests and, later,
 * by the local hub.
 *
 * What the harness adds to aws-local-stepfunctions:
 * - the context object: `$$.Execution.Name` and `$$.State.RetryCount` (which the engine does not maintain; the
 *   harness mirrors the engine's retrier bookkeeping to know, before a state's Parameters are evaluated, whether it
 *   is a retry);
 * - Lambda semantics for task handlers: JSON in, JSON out, and a failure surfaces as Error = the error's name, Cause =
 *   `{"errorType","errorMessage"}` as Lambda reports it;
 * - fast retries (every Retry interval overridden to 0 ms unless told otherwise), hooks around each invocation;
 * - an execution record: engine events, invocations, the equivalent AWS history-event count, the largest payload;
 * - named executions: a second start with a name already used is refused (ExecutionAlreadyExists), like AWS.
 */
import './promise-with-resolvers.js';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { App, type RemovalPolicy } from 'aws-cdk-lib';
import validateAsl from 'asl-validator';
import { StateMachine, type StateMachineDefinition } from 'aws-local-stepfunctions';
import type { IntegrationEntry } from '../lib/catalog.js';
import { IntegrationHubStack } from '../lib/integration-hub-stack.js';
import type { ProviderEntry, WorkflowsCatalog } from '../lib/workflow-catalog.js';

// ------------------------------------------------------------------ the template

/** A CloudFormation template as synthesized. */
export interface CfnTemplate {
  Resources: Record<string, { Type: string; Properties?: Record<string, unknown>; [key: string]: unknown }>;
  Outputs?: Record<string, unknown>;
  [key: string]: unknown;
}

/** The pseudo parameters and names the intrinsics resolve to. */
export interface FakeEnvironment {
  /** @default 'us-east-1' */
  readonly region?: string;
  /** @default '123456789012' */
  readonly account?: string;
  /** @default 'IntegrationHub' */
  readonly stackName?: string;
  /** Name of each DynamoDB table, by logical id. @default the logical id */
  readonly tableNames?: Readonly<Record<string, string>>;
}

const CDK_JSON = new URL('../cdk.json', import.meta.url);

/** Options of {@link synthesizeHubTemplate}. */
export interface SynthesizeHubOptions {
  /** Context, e.g. `{ 'baseUrl:inventory': sandbox.providerUrl('inventory') }` to point the providers at the sandbox. */
  readonly context?: Record<string, unknown>;
  readonly integrations?: readonly IntegrationEntry[];
  readonly workflows?: WorkflowsCatalog | null;
  readonly providers?: readonly ProviderEntry[];
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * Synthesizes the IntegrationHub stack in this process, as `cdk synth` would (cdk.json's context) but without
 * bundling the functions (their code is not needed to read the state machines) and without cdk-nag.
 */
export function synthesizeHubTemplate(options: SynthesizeHubOptions = {}): CfnTemplate {
  const cdkContext = (JSON.parse(readFileSync(CDK_JSON, 'utf8')) as { context?: Record<string, unknown> }).context ?? {};
  const app = new App({
    context: { ...cdkContext, 'aws:cdk:bundling-stacks': [], '@aws-cdk/core:appMode': 'inmemory', ...options.context },
    builtinCloudFormationValidation: false,
  });
  const stack = new IntegrationHubStack(app, 'IntegrationHub', {
    integrations: options.integrations,
    workflows: options.workflows,
    providers: options.providers,
    removalPolicy: options.removalPolicy,
  });
  return app.synth().getStackByName(stack.stackName).template as CfnTemplate;
}

/** Reads a synthesized template (e.g. `cdk.out/IntegrationHub.template.json`). */
export function readTemplate(path: string | URL): CfnTemplate {
  return JSON.parse(readFileSync(path, 'utf8')) as CfnTemplate;
}

/** The fake ARN a Lambda function of the template resolves to: its logical id is the function name. */
export function fakeFunctionArn(logicalId: string, env: FakeEnvironment = {}): string {
  return `arn:aws:lambda:${env.region ?? 'us-east-1'}:${env.account ?? '123456789012'}:function:${logicalId}`;
}

/** The UUID an event source mapping of the template resolves to (Ref = UUID, as on AWS): derived from its logical id. */
export function fakeMappingUuid(logicalId: string): string {
  const hex = createHash('sha256').update(logicalId).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-4${hex.slice(13, 16)}-8${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

/**
 * Resolves CloudFormation intrinsics into plain values: `Fn::Join`, `Fn::GetAtt` (a Lambda function's `Arn` → its
 * fake ARN; others → `<logicalId>.<attribute>`), `Ref` (pseudo parameters; a table → its local name; a secret → its
 * `Name`, so local secrets are keyed by name; a state machine → a fake ARN; an event source mapping → a UUID from its logical id; anything else → its logical id).
 * Throws on an intrinsic it does not know, so nothing unresolved reaches a definition.
 */
export function resolveIntrinsics(value: unknown, template: CfnTemplate, env: FakeEnvironment = {}): unknown {
  const region = env.region ?? 'us-east-1';
  const account = env.account ?? '123456789012';
  const resolve = (node: unknown): unknown => {
    if (Array.isArray(node)) return node.map(resolve);
    if (node === null || typeof node !== 'object') return node;
    const object = node as Record<string, unknown>;
    const keys = Object.keys(object);
    if (keys.length === 1 && (keys[0] === 'Ref' || keys[0]!.startsWith('Fn::'))) {
      const [key] = keys as [string];
      const argument = object[key];
      switch (key) {
        case 'Fn::Join': {
          const [separator, parts] = argument as [string, unknown[]];
          return parts.map((part) => String(resolve(part))).join(separator);
        }
        case 'Fn::GetAtt': {
          const [logicalId, attribute] = (Array.isArray(argument) ? argument : String(argument).split('.')) as [string, string];
          const resource = template.Resources[logicalId];
          if (!resource) throw new Error(`Fn::GetAtt names unknown resource ${logicalId}`);
          if (resource.Type === 'AWS::Lambda::Function' && attribute === 'Arn') return fakeFunctionArn(logicalId, env);
          if (attribute === 'Arn') return `arn:aws:local:${region}:${account}:${resource.Type}/${logicalId}`;
          return `${logicalId}.${attribute}`;
        }
        case 'Ref': {
          const name = String(argument);
          const pseudo: Record<string, string> = {
            'AWS::Partition': 'aws',
            'AWS::Region': region,
            'AWS::AccountId': account,
            'AWS::URLSuffix': 'amazonaws.com',
            'AWS::StackName': env.stackName ?? 'IntegrationHub',
            'AWS::StackId': `arn:aws:cloudformation:${region}:${account}:stack/${env.stackName ?? 'IntegrationHub'}/local`,
            'AWS::NoValue': '',
          };
          if (name in pseudo) return pseudo[name];
          const resource = template.Resources[name];
          if (!resource) throw new Error(`Ref names unknown resource ${name}`);
          switch (resource.Type) {
            case 'AWS::DynamoDB::Table':
              return env.tableNames?.[name] ?? name;
            case 'AWS::SecretsManager::Secret':
              return String(resource.Properties?.Name ?? name);
            case 'AWS::StepFunctions::StateMachine':
              return `arn:aws:states:${region}:${account}:stateMachine:${name}`;
            case 'AWS::SQS::Queue':
              return `https://sqs.${region}.amazonaws.com/${account}/${name}`;
            case 'AWS::Lambda::EventSourceMapping':
              return fakeMappingUuid(name);
            default:
              return name;
          }
        }
        default:
          throw new Error(`Unsupported intrinsic ${key} in ${JSON.stringify(node).slice(0, 200)}`);
      }
    }
    return Object.fromEntries(Object.entries(object).map(([k, v]) => [k, resolve(v)]));
  };
  return resolve(value);
}

/** A Lambda task state of a definition and the function it invokes. */
export interface TaskBinding {
  readonly state: string;
  /** The resolved Resource (fake function ARN). */
  readonly resource: string;
  /** The invoked function's logical id. */
  readonly functionLogicalId: string;
  /** The function's handler export (`index.reserveInventory` → `reserveInventory`). */
  readonly handler: string;
}

/** One state machine of the template, resolved. */
export interface SynthesizedStateMachine {
  readonly logicalId: string;
  /** The resolved ASL definition. */
  readonly definition: StateMachineDefinition & { QueryLanguage?: string };
  /** Every Lambda task state (top level; the hub's machines have no Map or Parallel). */
  readonly tasks: readonly TaskBinding[];
  /** `StateMachineType` of the resource (STANDARD when absent). */
  readonly type: string;
}

/** Every state machine of `template`, by logical id, with its definition resolved. */
export function stateMachinesOf(template: CfnTemplate, env: FakeEnvironment = {}): Map<string, SynthesizedStateMachine> {
  const machines = new Map<string, SynthesizedStateMachine>();
  const functionByArn = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type === 'AWS::Lambda::Function') functionByArn.set(fakeFunctionArn(logicalId, env), logicalId);
  }
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::StepFunctions::StateMachine') continue;
    const raw = resource.Properties?.DefinitionString;
    const text = typeof raw === 'string' ? raw : String(resolveIntrinsics(raw, template, env));
    const definition = JSON.parse(text) as SynthesizedStateMachine['definition'];
    const tasks: TaskBinding[] = [];
    for (const [state, body] of Object.entries(definition.States)) {
      if (body.Type !== 'Task') continue;
      const functionLogicalId = functionByArn.get(body.Resource);
      if (!functionLogicalId) throw new Error(`State ${state} of ${logicalId} invokes ${body.Resource}, which is not a function of the template`);
      const handler = String(template.Resources[functionLogicalId]!.Properties?.Handler ?? '').replace(/^.*\./, '');
      tasks.push({ state, resource: body.Resource, functionLogicalId, handler });
    }
    machines.set(logicalId, { logicalId, definition, tasks, type: String(resource.Properties?.StateMachineType ?? 'STANDARD') });
  }
  return machines;
}

/** The environment variables of a function of the template, resolved (see {@link resolveIntrinsics}). */
export function functionEnvironment(template: CfnTemplate, functionLogicalId: string, env: FakeEnvironment = {}): Record<string, string> {
  const resource = template.Resources[functionLogicalId];
  if (resource?.Type !== 'AWS::Lambda::Function') throw new Error(`${functionLogicalId} is not a Lambda function of the template`);
  const variables = (resource.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  return Object.fromEntries(Object.entries(variables).map(([name, value]) => [name, String(resolveIntrinsics(value, template, env))]));
}

/** asl-validator compiles its JSON schemas on every call (~0.5 s): each distinct definition is checked once. */
const validations = new Map<string, { isValid: boolean; errors: string[] }>();

/** Checks a definition with asl-validator (paths and ARNs included). */
export function validateDefinition(definition: unknown): { isValid: boolean; errors: string[] } {
  const key = JSON.stringify(definition);
  let validation = validations.get(key);
  if (!validation) {
    const result = validateAsl(structuredClone(definition), { checkPaths: true, checkArn: true });
    validation = { isValid: result.isValid, errors: result.errors.map((error) => `${error['Error code']}: ${error.Message}`) };
    validations.set(key, validation);
  }
  return { isValid: validation.isValid, errors: [...validation.errors] };
}

// ------------------------------------------------------------------ executions

/** A task's local implementation: the Lambda handler's logic, given the task input (JSON). */
export type LocalTaskHandler = (input: unknown) => Promise<unknown> | unknown;

/** What a hook sees of one task invocation. */
export interface TaskInvocation {
  readonly state: string;
  readonly handler: string;
  /** 1-based count of invocations of this state in this execution (across visits and retries). */
  readonly invocation: number;
  /** `$$.State.RetryCount` this invocation was given. */
  readonly retryCount: number;
  readonly input: unknown;
}

/** How an invocation ended. */
export type InvocationOutcome = { readonly ok: true; readonly output: unknown } | { readonly ok: false; readonly error: string; readonly message: string };

/** Hooks around every task invocation (fault injection, circuit resets, counters). */
export interface ExecutionHooks {
  beforeInvoke?(invocation: TaskInvocation): Promise<void> | void;
  afterInvoke?(invocation: TaskInvocation, outcome: InvocationOutcome): Promise<void> | void;
}

/** One event of aws-local-stepfunctions' execution log. */
export interface EngineEvent {
  readonly type: string;
  readonly timestamp: number;
  readonly state?: { readonly name: string; readonly type: string; readonly input?: unknown; readonly output?: unknown };
  readonly Error?: string;
  readonly Cause?: unknown;
  readonly retry?: { readonly attempt: number; readonly retrier: { readonly ErrorEquals: readonly string[] } };
  readonly [key: string]: unknown;
}

/** What an execution did. */
export interface ExecutionRecord {
  readonly name: string;
  readonly status: 'SUCCEEDED' | 'FAILED';
  readonly output?: unknown;
  /** The Fail state's (or the uncaught error's) Error and Cause. */
  readonly error?: string;
  readonly cause?: string;
  /** aws-local-stepfunctions' events, in order. */
  readonly events: readonly EngineEvent[];
  /** Every task invocation, in order, with its outcome. */
  readonly invocations: readonly (TaskInvocation & { readonly outcome: InvocationOutcome })[];
  /** The names of the states entered, in order. */
  readonly path: readonly string[];
  /** The history events AWS Step Functions would record for this execution (see {@link awsHistoryEventCount}). */
  readonly awsHistoryEvents: number;
  /** The largest state input, state output, task input or task output, in bytes of JSON (UTF-8). */
  readonly largestPayloadBytes: number;
}

/** Options of one run. */
export interface RunExecutionOptions {
  /** The execution name (`$$.Execution.Name`). @default a random name */
  readonly name?: string;
  /** Retry delay per state name, ms (a number, or one per retrier). @default 0 for every state */
  readonly retryIntervalOverrides?: Readonly<Record<string, number | number[]>>;
  /** Wait state durations, ms. @default 0 for every Wait state */
  readonly waitTimeOverrides?: Readonly<Record<string, number>>;
  readonly hooks?: ExecutionHooks;
}

/** Thrown by {@link LocalStateMachine.start} when an execution of that name exists (as AWS's ExecutionAlreadyExists). */
export class ExecutionAlreadyExistsError extends Error {
  constructor(readonly executionName: string) {
    super(`Execution already exists: '${executionName}'`);
    this.name = 'ExecutionAlreadyExists';
  }
}

const DEFAULT_MAX_ATTEMPTS = 3;

/**
 * A synthesized state machine bound to local task handlers. {@link run} executes it; {@link start} does too, but
 * refuses a name it has seen (the execution names of a STANDARD state machine are unique for 90 days).
 */
export class LocalStateMachine {
  readonly machine: SynthesizedStateMachine;
  readonly #handlers: ReadonlyMap<string, LocalTaskHandler>;
  readonly #engine: StateMachine;
  readonly #names = new Map<string, Promise<ExecutionRecord>>();

  /**
   * @param handlers local handlers by task state name, function logical id or handler export name (first match in
   *   that order); every task state must find one.
   */
  constructor(machine: SynthesizedStateMachine, handlers: Readonly<Record<string, LocalTaskHandler>>) {
    const bound = new Map<string, LocalTaskHandler>();
    const missing: string[] = [];
    for (const task of machine.tasks) {
      const handler = handlers[task.state] ?? handlers[task.functionLogicalId] ?? handlers[task.handler];
      if (handler) bound.set(task.state, handler);
      else missing.push(`${task.state} (${task.handler} in ${task.functionLogicalId})`);
    }
    if (missing.length > 0) throw new Error(`No local handler for task state(s): ${missing.join(', ')}`);
    if (machine.definition.QueryLanguage === 'JSONata' || Object.values(machine.definition.States).some((s) => (s as { QueryLanguage?: string }).QueryLanguage === 'JSONata')) {
      throw new Error(`${machine.logicalId} uses JSONata, which aws-local-stepfunctions does not evaluate`);
    }
    const validation = validateDefinition(machine.definition);
    if (!validation.isValid) throw new Error(`Invalid definition ${machine.logicalId}:\n- ${validation.errors.join('\n- ')}`);
    this.machine = machine;
    this.#handlers = bound;
    // Validated just above with the same validator the engine would run again.
    this.#engine = new StateMachine(structuredClone(machine.definition), { validationOptions: { noValidate: true } });
  }

  /** The execution names started so far. */
  get executionNames(): string[] {
    return [...this.#names.keys()];
  }

  /** Starts a NAMED execution: rejects with {@link ExecutionAlreadyExistsError} when the name was used. */
  start(input: unknown, options: RunExecutionOptions & { name: string }): Promise<ExecutionRecord> {
    if (this.#names.has(options.name)) return Promise.reject(new ExecutionAlreadyExistsError(options.name));
    const execution = this.run(input, options);
    this.#names.set(options.name, execution);
    return execution;
  }

  /** Runs one execution to its end; resolves with the record whether it succeeded or failed. */
  async run(input: unknown, options: RunExecutionOptions = {}): Promise<ExecutionRecord> {
    const name = options.name ?? `local-${Math.random().toString(36).slice(2, 10)}`;
    const definition = this.machine.definition;
    const stateContext = { Name: '', EnteredTime: '', RetryCount: 0 };
    const retrierAttempts = new Map<string, number[]>();
    const invocationCounts = new Map<string, number>();
    const invocations: (TaskInvocation & { outcome: InvocationOutcome })[] = [];
    let largestPayloadBytes = 0;
    const measure = (value: unknown) => {
      if (value !== undefined) largestPayloadBytes = Math.max(largestPayloadBytes, Buffer.byteLength(JSON.stringify(value), 'utf8'));
    };

    /** Mirrors the engine's retrier choice for a failed state: will it run again, and as which retry? */
    const afterFailure = (state: string, errorName: string) => {
      const retriers = (definition.States[state] as { Retry?: { ErrorEquals: string[]; MaxAttempts?: number }[] }).Retry ?? [];
      const attempts = retrierAttempts.get(state) ?? retriers.map(() => 0);
      retrierAttempts.set(state, attempts);
      for (const [index, retrier] of retriers.entries()) {
        const matches = retrier.ErrorEquals.some((e) => e === errorName || e === 'States.ALL' || e === 'States.TaskFailed');
        if (!matches) continue;
        if (attempts[index]! >= (retrier.MaxAttempts ?? DEFAULT_MAX_ATTEMPTS)) break;
        attempts[index]! += 1;
        stateContext.RetryCount += 1;
        return;
      }
      retrierAttempts.delete(state);
      stateContext.RetryCount = 0;
    };

    const taskResourceLocalHandlers = Object.fromEntries(
      this.machine.tasks.map((task) => [
        task.state,
        async (rawInput: unknown) => {
          const input = JSON.parse(JSON.stringify(rawInput)) as unknown;
          measure(input);
          const count = (invocationCounts.get(task.state) ?? 0) + 1;
          invocationCounts.set(task.state, count);
          const invocation: TaskInvocation = { state: task.state, handler: task.handler, invocation: count, retryCount: stateContext.RetryCount, input };
          await options.hooks?.beforeInvoke?.(invocation);
          let outcome: InvocationOutcome;
          try {
            const result = await this.#handlers.get(task.state)!(input);
            // Lambda returns JSON: what does not survive serialization does not reach the state machine.
            const output = result === undefined ? null : (JSON.parse(JSON.stringify(result)) as unknown);
            measure(output);
            outcome = { ok: true, output };
          } catch (error) {
            const failure = error instanceof Error ? error : new Error(String(error));
            outcome = { ok: false, error: failure.name || 'Error', message: failure.message };
          }
          invocations.push({ ...invocation, outcome });
          await options.hooks?.afterInvoke?.(invocation, outcome);
          if (outcome.ok) {
            retrierAttempts.delete(task.state);
            stateContext.RetryCount = 0;
            return outcome.output;
          }
          afterFailure(task.state, outcome.error);
          // As Lambda reports a function error to Step Functions: Error = errorType, Cause = the JSON error.
          const lambdaError = new Error(JSON.stringify({ errorType: outcome.error, errorMessage: outcome.message }));
          lambdaError.name = outcome.error;
          throw lambdaError;
        },
      ]),
    );
    const zeroFor = (type: string) =>
      Object.fromEntries(
        Object.entries(definition.States)
          .filter(([, state]) => (type === 'Retry' ? 'Retry' in state : state.Type === 'Wait'))
          .map(([stateName]) => [stateName, 0]),
      );

    const execution = this.#engine.run(input as never, {
      overrides: {
        taskResourceLocalHandlers: taskResourceLocalHandlers as never,
        retryIntervalOverrides: { ...zeroFor('Retry'), ...options.retryIntervalOverrides } as Record<string, number | number[]>,
        waitTimeOverrides: { ...zeroFor('Wait'), ...options.waitTimeOverrides } as Record<string, number>,
      },
      context: { Execution: { Name: name, Id: `arn:aws:states:us-east-1:123456789012:execution:${this.machine.logicalId}:${name}` }, State: stateContext },
    });
    const events: EngineEvent[] = [];
    const collecting = (async () => {
      for await (const event of execution.eventLogs) {
        const engineEvent = event as unknown as EngineEvent;
        events.push(engineEvent);
        measure(engineEvent.state?.input);
        measure(engineEvent.state?.output);
      }
    })();
    let output: unknown;
    let failed = false;
    try {
      output = await execution.result;
    } catch {
      failed = true;
    }
    await collecting;
    const end = events.at(-1);
    const path = events.filter((e) => e.type === 'StateEntered').map((e) => e.state!.name);
    const record: ExecutionRecord = {
      name,
      status: failed ? 'FAILED' : 'SUCCEEDED',
      ...(failed
        ? { error: end?.Error, cause: typeof end?.Cause === 'string' ? end.Cause : JSON.stringify(end?.Cause) }
        : { output }),
      events,
      invocations,
      path,
      awsHistoryEvents: awsHistoryEventCount(events, definition),
      largestPayloadBytes,
    };
    return record;
  }
}

/**
 * The history events AWS Step Functions records for the same execution (STANDARD, Lambda tasks by ARN), counted
 * from the engine's events:
 * - ExecutionStarted, and ExecutionSucceeded or ExecutionFailed: 1 each;
 * - per state entered: `<Type>StateEntered`; per state exited: `<Type>StateExited` (a Fail state has none);
 * - per Lambda invocation: LambdaFunctionScheduled, LambdaFunctionStarted, LambdaFunctionSucceeded | Failed (3);
 *   a caught failure also records its TaskStateExited.
 */
export function awsHistoryEventCount(events: readonly EngineEvent[], definition: StateMachineDefinition): number {
  let count = 0;
  for (const event of events) {
    switch (event.type) {
      case 'ExecutionStarted':
      case 'ExecutionSucceeded':
      case 'ExecutionFailed':
      case 'ExecutionAborted':
      case 'ExecutionTimeout':
        count += 1;
        break;
      case 'StateEntered': {
        count += 1;
        if (definition.States[event.state!.name]?.Type === 'Task') count += 3; // the first invocation
        break;
      }
      case 'StateRetried':
        count += 3; // another invocation
        break;
      case 'StateExited':
      case 'StateCaught':
        count += 1;
        break;
      default:
        break;
    }
  }
  return count;
}
