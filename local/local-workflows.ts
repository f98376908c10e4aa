/**
 * The workflows' real task handlers, built on this machine from the SYNTHESIZED template: each task function's
 * environment (as the stack sets it) is read back with the handlers' own configuration parsers, then composed with
 * local parts — dynalite tables, a Secrets Manager answered from memory, the sandbox as every provider (synthesize
 * with context `baseUrl:<provider>` pointing at it). Together with local-step-functions.ts this runs a workflow
 * end to end as deployed, minus AWS. Used by the workflow tests and, later, by the local hub.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import type { CircuitBreaker } from '../functions/runtime/circuit-breaker.js';
import type { Clock, SecretSource } from '../functions/runtime/ports.js';
import { circuitOverrides } from '../functions/runtime/runtime-environment.js';
import { taskSettingsFromEnvironment } from '../functions/runtime/runtime-settings.js';
import { RecordingMetricsSink } from '../functions/runtime/telemetry.js';
import { contactSyncConfigFromEnvironment, createContactSyncTask } from '../functions/workflows/contact-sync.js';
import { buildTaskDependencies } from '../functions/workflows/define-workflow-task.js';
import { ORDER_SAGA_TASKS, type OrderSagaHandlerName } from '../functions/workflows/order-saga.js';
import { OrderSagaStarter } from '../functions/workflows/order-saga-starter.js';
import type { ExecutionStarter, StartOutcome } from '../functions/workflows/sfn-execution-starter.js';
import { createTable, type LocalDynamo } from './local-dynamo.js';
import {
  type CfnTemplate,
  type ExecutionRecord,
  type FakeEnvironment,
  functionEnvironment,
  type LocalStateMachine,
  type LocalTaskHandler,
  type RunExecutionOptions,
} from './local-step-functions.js';
import { RecordingDeadLetterQueue } from './recording-queues.js';

/** Creates every DynamoDB table of the template (its key schema) under `<prefix><logicalId>`; returns the names by logical id. */
export async function createTemplateTables(dynamo: Pick<LocalDynamo, 'client'>, template: CfnTemplate, prefix = ''): Promise<Record<string, string>> {
  const names: Record<string, string> = {};
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::DynamoDB::Table') continue;
    const schema = resource.Properties?.KeySchema as { AttributeName: string; KeyType: 'HASH' | 'RANGE' }[];
    const partitionKey = schema.find((key) => key.KeyType === 'HASH')!.AttributeName;
    const sortKey = schema.find((key) => key.KeyType === 'RANGE')?.AttributeName;
    names[logicalId] = `${prefix}${logicalId}`;
    await createTable(dynamo.client, names[logicalId], sortKey ? { partitionKey, sortKey } : { partitionKey });
  }
  return names;
}

/** The local parts the task handlers are composed with. */
export interface LocalWorkflowParts {
  readonly dynamo: Pick<LocalDynamo, 'client'>;
  /** Answers the secrets by name (the template's secret names, see `resolveIntrinsics`). */
  readonly secrets: SecretSource;
  /** How intrinsics resolve: table names above all (`createTemplateTables`). */
  readonly fakeEnvironment: FakeEnvironment;
  /** Added to (and overriding) every task function's environment, e.g. fast HTTP backoff. */
  readonly environment?: Readonly<Record<string, string>>;
  readonly clock?: Clock;
  readonly fetch?: typeof fetch;
  readonly logger?: Logger;
}

/** One task function of the template, built locally. */
export interface LocalTaskFunction {
  readonly functionLogicalId: string;
  readonly handlerName: string;
  /** The function's environment as the stack set it (resolved), plus the overrides. */
  readonly environment: Readonly<Record<string, string>>;
  readonly handler: LocalTaskHandler;
  readonly metrics: RecordingMetricsSink;
  /** The breaker of a saga task (its provider's shared circuit). */
  readonly breaker?: CircuitBreaker;
}

/**
 * Builds the real handler of every workflow task function of the template (the saga's seven exports and the contact
 * sync's `syncPage`), by function logical id. Each is one "Lambda container": its own caches and circuit cache.
 */
export function createLocalTaskFunctions(template: CfnTemplate, parts: LocalWorkflowParts): Map<string, LocalTaskFunction> {
  const logger = parts.logger ?? new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' });
  const built = new Map<string, LocalTaskFunction>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    if (resource.Type !== 'AWS::Lambda::Function') continue;
    const handlerName = String(resource.Properties?.Handler ?? '').replace(/^.*\./, '');
    const isSagaTask = Object.hasOwn(ORDER_SAGA_TASKS, handlerName);
    if (!isSagaTask && handlerName !== 'syncPage') continue;
    const environment = { ...functionEnvironment(template, logicalId, parts.fakeEnvironment), ...parts.environment };
    const metrics = new RecordingMetricsSink();
    if (isSagaTask) {
      const task = ORDER_SAGA_TASKS[handlerName as OrderSagaHandlerName];
      const settings = taskSettingsFromEnvironment(environment);
      const deps = buildTaskDependencies(task, settings, {
        dynamodb: parts.dynamo.client,
        secrets: parts.secrets,
        logger,
        metrics,
        circuit: circuitOverrides(environment.CIRCUIT_SETTINGS),
        authTokenUrl: environment.AUTH_TOKEN_URL,
        clock: parts.clock,
        fetch: parts.fetch,
      });
      const runtime = task.createRuntime(deps);
      built.set(logicalId, { functionLogicalId: logicalId, handlerName, environment, handler: (input) => runtime.handle(input), metrics, breaker: deps.breaker });
    } else {
      const task = createContactSyncTask(contactSyncConfigFromEnvironment(environment), {
        dynamodb: parts.dynamo.client,
        secrets: parts.secrets,
        logger,
        metrics,
        clock: parts.clock,
        fetch: parts.fetch,
      });
      built.set(logicalId, { functionLogicalId: logicalId, handlerName, environment, handler: (input) => task.handle(input), metrics });
    }
  }
  return built;
}

/** The handlers of {@link createLocalTaskFunctions} as `LocalStateMachine` takes them (by function logical id). */
export function handlersOf(functions: ReadonlyMap<string, LocalTaskFunction>): Record<string, LocalTaskHandler> {
  return Object.fromEntries([...functions].map(([logicalId, fn]) => [logicalId, fn.handler]));
}

/**
 * The saga starter's ExecutionStarter port on a {@link LocalStateMachine}: StartExecution returns at once (the
 * execution runs on), and a name already used is ExecutionAlreadyExists, as on AWS.
 */
export class LocalExecutionStarter implements ExecutionStarter {
  /** Every started execution, by name, to await. */
  readonly executions = new Map<string, Promise<ExecutionRecord>>();
  /** Every start request, in order (names), refused ones included. */
  readonly requests: string[] = [];

  constructor(
    private readonly machine: LocalStateMachine,
    private readonly runOptions: Omit<RunExecutionOptions, 'name'> = {},
  ) {}

  async start(name: string, input: unknown): Promise<StartOutcome> {
    this.requests.push(name);
    if (this.machine.executionNames.includes(name)) return { kind: 'already_exists' };
    // Not awaited: StartExecution answers once the execution exists, not when it ends (run() never rejects).
    this.executions.set(name, this.machine.start(input, { ...this.runOptions, name }));
    return { kind: 'started', executionArn: `arn:aws:states:us-east-1:123456789012:execution:${this.machine.machine.logicalId}:${name}` };
  }
}

/** The saga starter (the real logic) bound to a local state machine, with a recording DLQ. */
export function createLocalOrderSagaStarter(machine: LocalStateMachine, runOptions: Omit<RunExecutionOptions, 'name'> = {}, logger?: Logger): {
  starter: OrderSagaStarter;
  executions: LocalExecutionStarter;
  deadLetters: RecordingDeadLetterQueue;
} {
  const executions = new LocalExecutionStarter(machine, runOptions);
  const deadLetters = new RecordingDeadLetterQueue();
  const starter = new OrderSagaStarter({
    executions,
    deadLetters,
    logger: logger ?? new Logger({ serviceName: 'integration-hub', logLevel: 'SILENT' }),
    metrics: new RecordingMetricsSink(),
  });
  return { starter, executions, deadLetters };
}
