/**
 * Step Functions task Lambdas built on the integration runtime. A task is declared like an adapter (schema, entity,
 * idempotency key, send) and runs through the same {@link OperationExecutor} as the SQS integrations: circuit
 * pre-check → idempotent claim merged with the sync ledger → credentials → HTTP with retries → classified outcome.
 * What differs is the ending: there is no queue, so every outcome becomes the task's return value or a typed error
 * the state machine retries or catches (TASK_ERROR_NAMES in workflow-contract.ts).
 *
 * Per invocation: envelope (`executionName`, `retryCount`) → validate (invalid → Integration.Permanent) → execute with the execution name
 * as correlation id and `retryCount + 1` as attempt → `done` (fresh or replayed) → `output(result)`;
 * `failed` → Integration.Transient / .Permanent / .CircuitOpen by category; `stale` → Integration.Permanent.
 *
 * The idempotency key is the adapter's key (the execution name) prefixed by the task name, so one step of one
 * execution has exactly one effect at the provider, however often Step Functions retries or redrives it. The
 * circuit is the PROVIDER's (`provider`), shared with the provider's SQS integration and every other task calling it.
 *
 * Environment of a task Lambda (read once per container, every problem reported at once):
 *   BASE_URL, SECRET_NAME, LEDGER_TABLE_NAME, CIRCUITS_TABLE_NAME (required);
 *   CIRCUIT_SETTINGS (JSON), AUTH_TOKEN_URL (OAuth2 only), HTTP_TIMEOUT_MS, HTTP_MAX_ATTEMPTS, HTTP_BASE_DELAY_MS,
 *   HTTP_MAX_DELAY_MS, HTTP_SAFETY_MARGIN_MS, SECRET_MAX_AGE_SECONDS, IDEMPOTENCY_TTL_SECONDS (optional);
 *   DYNAMODB_ENDPOINT, SECRETS_MANAGER_ENDPOINT (optional, local endpoints). No DLQ_URL: a task has no queue.
 */
import { randomUUID } from 'node:crypto';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import type { Logger } from '@aws-lambda-powertools/logger';
import type { Context } from 'aws-lambda';
import * as z from 'zod/mini';
import type { CircuitBreaker } from '../runtime/circuit-breaker.js';
import type { CircuitBreakerSettingsInput } from '../runtime/circuit-settings.js';
import { resolveCircuitBreakerSettings } from '../runtime/circuit-settings.js';
import { nameProblem } from '../runtime/names.js';
import {
  type IntegrationError,
  NotAttemptedError,
  PoisonMessageError,
  ThrottledError,
} from '../runtime/errors.js';
import { describeIssues } from '../runtime/inbound-record.js';
import { checkSchema, type Schema } from '../runtime/schema.js';
import type {
  IntegrationDefinition,
  ProbeContext,
  SendContext,
  SendResult,
} from '../runtime/integration-definition.js';
import { OperationExecutor, type ProbeOutcome, type RuntimeDependencies } from '../runtime/operation-executor.js';
import { type Clock, noQueue, type SecretSource } from '../runtime/ports.js';
import { RUNTIME_DYNAMODB_CLIENT_CONFIG } from '../runtime/dynamodb-items.js';
import { buildRuntimeDependencies, circuitOverrides } from '../runtime/runtime-environment.js';
import { type RuntimeSettings, taskSettingsFromEnvironment } from '../runtime/runtime-settings.js';
import { SecretsManagerSecretSource } from '../runtime/secrets-manager-secret-source.js';
import { createRuntimeLogger, type MetricsSink, PowertoolsMetricsSink, RuntimeMetric } from '../runtime/telemetry.js';
import { TASK_ERROR_NAMES } from './workflow-contract.js';

/** One of the error names a task fails with (the `errorType` the state machine matches). */
export type TaskErrorName = (typeof TASK_ERROR_NAMES)[keyof typeof TASK_ERROR_NAMES];

/** What every task event carries besides its business input (the state machine's task Parameters). */
export const taskEnvelopeSchema = z.object({
  /** `$$.Execution.Name`: the correlation id and the idempotency scope of every step of the execution. */
  executionName: z.string().check(z.minLength(1), z.maxLength(80)),
  /** `$$.State.RetryCount`: 0 on the first attempt of the state. */
  retryCount: z.optional(z.int().check(z.nonnegative())),
});

/** A Step Functions task: an adapter-like declaration. */
export interface WorkflowTaskDefinition<TInput, TResult extends SendResult, TOutput> {
  /** Lower-kebab-case: the ledger row (`sk`), the idempotency namespace and the metric dimension. */
  readonly name: string;
  /** The provider's name: the id of the shared circuit (the same as the provider's SQS integration, if any). */
  readonly provider: string;
  /** Schema of the whole task event (invalid → Integration.Permanent, never retried). */
  readonly input: Schema<TInput>;
  /** The ledger entity of the step, e.g. `{ type: 'order', id: orderId }`. */
  entity(input: TInput): { type: string; id: string; version?: number };
  /** The business key of the step: the execution name (the runtime prefixes the task name). */
  idempotencyKey(input: TInput): string;
  /** Calls the provider; throws an IntegrationError (or lets the http client throw one) to fail. */
  send(input: TInput, context: SendContext): Promise<TResult>;
  /**
   * Maps the stored result (fresh or replayed) to the task's return value. The stored result carries `externalId`
   * for the ledger; the return value is what the state machine keeps. @default the stored result
   */
  output?(result: TResult, input: TInput): TOutput;
  /** A cheap health call for the half-open probe. */
  probe?(context: ProbeContext): Promise<void>;
}

/**
 * The error a task fails with: `name` is one of {@link TASK_ERROR_NAMES} (Step Functions matches it), the message
 * starts with the runtime's `errorClass`, and `cause` keeps the classified runtime error.
 */
export class WorkflowTaskError extends Error {
  /** The runtime's stable error class (`Http409`, `PaymentDeclined`, `CircuitOpen`, `ValidationFailed`, ...). */
  readonly errorClass: string;
  /** Circuit open / throttled: when a new attempt may be made (ISO-8601). */
  readonly retryAt?: string;

  constructor(name: TaskErrorName, failure: IntegrationError) {
    const retryAt = failure instanceof NotAttemptedError ? new Date(failure.retryAt).toISOString() : undefined;
    super(`${failure.errorClass}: ${failure.message}${retryAt ? ` (retry after ${retryAt})` : ''}`, { cause: failure });
    this.name = name;
    this.errorClass = failure.errorClass;
    this.retryAt = retryAt;
  }
}

/** The task error name of a classified failure: not attempted → CircuitOpen; stale → Permanent. */
export function taskErrorNameOf(failure: IntegrationError): TaskErrorName {
  switch (failure.category) {
    case 'transient':
      return TASK_ERROR_NAMES.transient;
    case 'not_attempted':
      return TASK_ERROR_NAMES.circuitOpen;
    case 'permanent':
    case 'stale':
      return TASK_ERROR_NAMES.permanent;
  }
}

/** Lambda time assumed when a task is invoked without a context (a local Step Functions run). */
export const LOCAL_TASK_BUDGET_MS = 30_000;

/** The runtime of one task: what the Lambda entry delegates to, built from the environment or given parts. */
export class WorkflowTaskRuntime<TInput, TResult extends SendResult, TOutput> {
  readonly #task: WorkflowTaskDefinition<TInput, TResult, TOutput>;
  readonly #deps: RuntimeDependencies;
  readonly #executor: OperationExecutor<TInput>;

  constructor(task: WorkflowTaskDefinition<TInput, TResult, TOutput>, definition: IntegrationDefinition<TInput, SendResult>, deps: RuntimeDependencies) {
    this.#task = task;
    this.#deps = deps;
    this.#executor = new OperationExecutor(definition, deps);
  }

  /**
   * Runs the task on one state machine event. Resolves with the step's result; rejects with a
   * {@link WorkflowTaskError}. `context` may be left out locally (the budget is then {@link LOCAL_TASK_BUDGET_MS}).
   */
  async handle(event: unknown, context?: Context): Promise<TOutput> {
    const lambda = context ?? localContext(this.#task.name, this.#deps.clock);
    this.#executor.startInvocation(lambda);
    try {
      return await this.#run(event, lambda);
    } finally {
      await this.#deps.breaker.flush().catch((error: unknown) => this.#deps.logger.warn('Circuit flush failed', { error }));
      this.#deps.metrics.flush();
    }
  }

  /** See {@link OperationExecutor.runProbe}. */
  runProbe(remainingTimeMs?: () => number): Promise<ProbeOutcome> {
    return this.#executor.runProbe(remainingTimeMs);
  }

  async #run(event: unknown, lambda: Context): Promise<TOutput> {
    const { metrics } = this.#deps;
    const envelope = checkSchema(taskEnvelopeSchema, event);
    if (!envelope.success) {
      metrics.count(RuntimeMetric.PoisonMessage, 1, 'ValidationFailed');
      throw this.#fail(new PoisonMessageError('ValidationFailed', `Invalid ${this.#task.name} task input: ${describeIssues(envelope.error)}`), this.#deps.logger);
    }
    const { executionName, retryCount = 0 } = envelope.data;
    const logger = this.#deps.logger.createChild({
      persistentKeys: { correlationId: executionName, task: this.#task.name, provider: this.#task.provider, attempt: retryCount + 1 },
    });

    const operation = this.#executor.validate(event);
    if (operation instanceof PoisonMessageError) {
      metrics.count(RuntimeMetric.PoisonMessage, 1, operation.errorClass);
      throw this.#fail(operation, logger);
    }
    logger.appendKeys({ idempotencyKey: operation.idempotencyKey, entity: `${operation.entity.type}#${operation.entity.id}` });

    const outcome = await this.#executor.execute(operation, {
      correlationId: executionName,
      attempt: retryCount + 1,
      payload: idempotencyPayload(event),
      logger,
      lambda,
    });
    switch (outcome.kind) {
      case 'done': {
        if (!outcome.replayed) logger.info('Step done', { externalId: outcome.result.externalId });
        const stored = outcome.result as TResult;
        return this.#task.output ? this.#task.output(stored, operation.input) : (stored as unknown as TOutput);
      }
      case 'stale':
        throw this.#fail(outcome.error, logger);
      case 'failed': {
        const { error } = outcome;
        if (error instanceof NotAttemptedError) metrics.count(error instanceof ThrottledError ? RuntimeMetric.Throttled : RuntimeMetric.CircuitRejected);
        throw this.#fail(error, logger);
      }
    }
  }

  #fail(failure: IntegrationError, logger: Logger): WorkflowTaskError {
    const error = new WorkflowTaskError(taskErrorNameOf(failure), failure);
    const log = failure.category === 'permanent' || failure.category === 'stale' ? logger.error.bind(logger) : logger.warn.bind(logger);
    log('Task failed', { errorType: error.name, errorClass: failure.errorClass, reason: failure.message, retryAt: error.retryAt });
    return error;
  }
}

/**
 * What a duplicate's payload is compared with: the event without `retryCount`, which differs between the
 * attempts of one state while the step stays the same operation.
 */
function idempotencyPayload(event: unknown): unknown {
  if (event === null || typeof event !== 'object' || Array.isArray(event)) return event;
  const { retryCount: _retryCount, ...rest } = event as Record<string, unknown>;
  return rest;
}

function localContext(functionName: string, clock: Clock): Context {
  const deadline = clock.now() + LOCAL_TASK_BUDGET_MS;
  return {
    callbackWaitsForEmptyEventLoop: false,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:local:000000000000:function:${functionName}`,
    memoryLimitInMB: '512',
    awsRequestId: randomUUID(),
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: 'local',
    getRemainingTimeInMillis: () => Math.max(0, deadline - clock.now()),
    done: () => undefined,
    fail: () => undefined,
    succeed: () => undefined,
  };
}

/** A defined task: its declaration, its Lambda entry and a way to build its runtime with given parts. */
export interface WorkflowTask<TInput, TResult extends SendResult, TOutput> {
  readonly name: string;
  readonly provider: string;
  readonly task: WorkflowTaskDefinition<TInput, TResult, TOutput>;
  /** The declaration as the runtime's executor (and the prober) sees it. */
  readonly definition: IntegrationDefinition<TInput, SendResult>;
  /**
   * The Lambda entry. The runtime is built from the environment on the first invocation of a container and reused;
   * a configuration problem fails that invocation with every problem listed.
   */
  readonly handler: (event: unknown, context: Context) => Promise<TOutput>;
  /** Builds the runtime with explicit dependencies (tests, local Step Functions runs). See {@link buildTaskDependencies}. */
  createRuntime(dependencies: RuntimeDependencies): WorkflowTaskRuntime<TInput, TResult, TOutput>;
}

/** Declares a Step Functions task built on the integration runtime; see the file comment. */
export function defineWorkflowTask<TInput, TResult extends SendResult, TOutput = TResult>(
  task: WorkflowTaskDefinition<TInput, TResult, TOutput>,
): WorkflowTask<TInput, TResult, TOutput> {
  for (const [field, value] of [['name', task.name], ['provider', task.provider]] as const) {
    const problem = nameProblem(value, field);
    if (problem) throw new TypeError(`Workflow task ${field}: ${problem}`);
  }
  const definition: IntegrationDefinition<TInput, SendResult> = {
    name: task.name,
    input: task.input,
    idempotencyKey: (input) => task.idempotencyKey(input),
    entity: (input) => task.entity(input),
    send: (input, context) => task.send(input, context),
    probe: task.probe ? (context) => task.probe!(context) : undefined,
  };
  let runtime: WorkflowTaskRuntime<TInput, TResult, TOutput> | undefined;
  const createRuntime = (dependencies: RuntimeDependencies) => new WorkflowTaskRuntime(task, definition, dependencies);
  return {
    name: task.name,
    provider: task.provider,
    task,
    definition,
    createRuntime,
    handler: async (event, context) => {
      runtime ??= createRuntime(taskDependenciesFromEnvironment({ name: task.name, provider: task.provider, definition }, process.env));
      return runtime.handle(event, context);
    },
  };
}

/** What composing a task's dependencies needs to know about the task. */
export interface TaskIdentity {
  readonly name: string;
  readonly provider: string;
  readonly definition: IntegrationDefinition<any, SendResult>;
}

/** A task never dead-letters or parks a message: its failures go back to the state machine. */
export const NO_QUEUE = noQueue('A workflow task has no queue: its failures go back to the state machine');

/** The parts a task's dependencies are composed from (clients live for the container's life). */
export interface TaskParts {
  /** Client of the ledger and circuits tables. */
  readonly dynamodb: DynamoDBClient;
  readonly secrets: SecretSource;
  readonly logger: Logger;
  readonly metrics: MetricsSink;
  /** Circuit breaker overrides. @default {} */
  readonly circuit?: CircuitBreakerSettingsInput;
  /** OAuth2 token URL override. @default the `tokenUrl` of the provider's AUTH */
  readonly authTokenUrl?: string;
  /** @default systemClock */
  readonly clock?: Clock;
  /** @default globalThis.fetch */
  readonly fetch?: typeof fetch;
}

/**
 * Composes a task's runtime dependencies exactly like an integration's (`buildRuntimeDependencies`), with the
 * breaker on the PROVIDER's circuit and inert queue ports.
 */
export function buildTaskDependencies(
  task: TaskIdentity,
  settings: RuntimeSettings,
  parts: TaskParts,
): RuntimeDependencies & { breaker: CircuitBreaker } {
  return buildRuntimeDependencies(task.definition, settings, {
    dynamodb: parts.dynamodb,
    secrets: parts.secrets,
    deadLetters: NO_QUEUE,
    parker: NO_QUEUE,
    logger: parts.logger,
    metrics: parts.metrics,
    circuit: parts.circuit,
    authTokenUrl: parts.authTokenUrl,
    circuitId: task.provider,
    clock: parts.clock,
    fetch: parts.fetch,
  });
}

/** Builds a task's dependencies from `env` (Lambda's process.env); see the file comment for the variables. */
export function taskDependenciesFromEnvironment(task: TaskIdentity, env: Record<string, string | undefined>): RuntimeDependencies {
  const settings = taskSettingsFromEnvironment(env);
  const circuit = circuitOverrides(env.CIRCUIT_SETTINGS);
  resolveCircuitBreakerSettings(circuit, `${task.provider} circuit`); // fail fast on a bad override
  return buildTaskDependencies(task, settings, {
    dynamodb: new DynamoDBClient({ ...RUNTIME_DYNAMODB_CLIENT_CONFIG, endpoint: env.DYNAMODB_ENDPOINT || undefined }),
    secrets: new SecretsManagerSecretSource({
      client: new SecretsManagerClient({ endpoint: env.SECRETS_MANAGER_ENDPOINT || undefined }),
      maxAgeSeconds: settings.secretMaxAgeSeconds,
    }),
    logger: createRuntimeLogger(task.name),
    metrics: new PowertoolsMetricsSink(task.name),
    circuit,
    authTokenUrl: env.AUTH_TOKEN_URL,
  });
}
