/**
 * What the local hub is built from: the SQS queues, event source mappings and Lambda functions of the synthesized
 * template, read back into plain settings (the local hub never restates a setting by hand). Defaults are
 * CloudFormation's / Lambda's documented ones where the template leaves a property out. Anything the local hub
 * could not honour (a FIFO queue, an event source it does not emulate, a filter on a mapping, a batch above 10, a
 * cron schedule) fails here, at start, naming the resource, all problems at once.
 */
import type { CircuitBreakerSettingsInput } from '../../functions/runtime/circuit-settings.js';
import { CIRCUIT_SETTINGS_OUTPUT, parseCircuitSettingsOutput } from '../cli/circuit-settings-output.js';
import type { CfnTemplate } from '../local-step-functions.js';
import { readTemplateRules, type TemplateRules, TemplateRulesErrors } from '../template-rules.js';

/** One `AWS::SQS::Queue`. */
export interface QueueBlueprint {
  readonly logicalId: string;
  /** VisibilityTimeout. @default 30 */
  readonly visibilityTimeoutSeconds: number;
  /** DelaySeconds. @default 0 */
  readonly delaySeconds: number;
  /** MessageRetentionPeriod. @default 345600 */
  readonly messageRetentionSeconds: number;
  /** RedrivePolicy. */
  readonly redrive?: { readonly deadLetterQueue: string; readonly maxReceiveCount: number };
}

/** One SQS `AWS::Lambda::EventSourceMapping`. */
export interface SqsMappingBlueprint {
  readonly logicalId: string;
  readonly queue: string;
  readonly functionLogicalId: string;
  /** BatchSize. @default 10 */
  readonly batchSize: number;
  /** MaximumBatchingWindowInSeconds. @default 0 */
  readonly maximumBatchingWindowSeconds: number;
  /** ScalingConfig.MaximumConcurrency; undefined = Lambda scales freely (the local hub allows 1000). */
  readonly maximumConcurrency?: number;
  /** Enabled. @default true */
  readonly enabled: boolean;
  readonly reportBatchItemFailures: boolean;
}

/** One DynamoDB-stream `AWS::Lambda::EventSourceMapping` (the circuit controller's). */
export interface StreamMappingBlueprint {
  readonly logicalId: string;
  /** The table whose stream it reads (logical id). */
  readonly table: string;
  readonly functionLogicalId: string;
  /** MaximumRetryAttempts: retries of a failing record before it is discarded; -1 = until it succeeds. @default -1 */
  readonly maximumRetryAttempts: number;
  /** BisectBatchOnFunctionError: only the failing record is discarded, not the rest of its batch. @default false */
  readonly bisectBatchOnFunctionError: boolean;
  /** DestinationConfig.OnFailure: the queue (logical id) told about discarded records. */
  readonly onFailureQueue?: string;
}

/** One `AWS::Lambda::Function`. */
export interface FunctionBlueprint {
  readonly logicalId: string;
  /** The handler export (`index.handler` → `handler`). */
  readonly handlerName: string;
  readonly timeoutSeconds: number;
}

/** Everything the local hub reads from the template. */
export interface HubBlueprint {
  readonly template: CfnTemplate;
  readonly queues: ReadonlyMap<string, QueueBlueprint>;
  readonly sqsMappings: ReadonlyMap<string, SqsMappingBlueprint>;
  readonly streamMappings: ReadonlyMap<string, StreamMappingBlueprint>;
  readonly functions: ReadonlyMap<string, FunctionBlueprint>;
  /** The event bus the rules are on (logical id). */
  readonly eventBus: string;
  readonly rules: TemplateRules;
  /** DynamoDB tables by logical id. */
  readonly tables: readonly string[];
  /**
   * The circuits the stack's functions use (integrations' and standalone workflow providers'), with their settings,
   * from the `CircuitSettings` output; empty when the template has none.
   */
  readonly circuits: ReadonlyMap<string, CircuitBreakerSettingsInput>;
}

/** The template has something the local hub cannot run faithfully. */
export class BlueprintError extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`The local hub cannot run this template:\n- ${problems.join('\n- ')}`);
    this.name = 'BlueprintError';
  }
}

type Properties = Record<string, unknown>;

/** Reads the blueprint; throws a {@link BlueprintError} listing every problem. */
export function readHubBlueprint(template: CfnTemplate): HubBlueprint {
  const problems: string[] = [];
  const queues = new Map<string, QueueBlueprint>();
  const sqsMappings = new Map<string, SqsMappingBlueprint>();
  const streamMappings = new Map<string, StreamMappingBlueprint>();
  const functions = new Map<string, FunctionBlueprint>();
  const tables: string[] = [];
  const buses: string[] = [];

  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    const p = (resource.Properties ?? {}) as Properties;
    switch (resource.Type) {
      case 'AWS::SQS::Queue': {
        if (p.FifoQueue === true || p.FifoQueue === 'true') problems.push(`${logicalId}: FIFO queues are not emulated`);
        const redrive = p.RedrivePolicy as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown } | undefined;
        const deadLetterQueue = redrive ? refOf(redrive.deadLetterTargetArn) : undefined;
        if (redrive && !deadLetterQueue) problems.push(`${logicalId}: RedrivePolicy.deadLetterTargetArn must be a Fn::GetAtt of a queue of the template`);
        queues.set(logicalId, {
          logicalId,
          visibilityTimeoutSeconds: numberOr(p.VisibilityTimeout, 30),
          delaySeconds: numberOr(p.DelaySeconds, 0),
          messageRetentionSeconds: numberOr(p.MessageRetentionPeriod, 345_600),
          ...(redrive && deadLetterQueue ? { redrive: { deadLetterQueue, maxReceiveCount: numberOr(redrive.maxReceiveCount, 10) } } : {}),
        });
        break;
      }
      case 'AWS::Lambda::EventSourceMapping': {
        const functionLogicalId = refOf(p.FunctionName);
        const source = refOf(p.EventSourceArn);
        const sourceType = source ? template.Resources[source]?.Type : undefined;
        if (!functionLogicalId || !source) {
          problems.push(`${logicalId}: FunctionName and EventSourceArn must reference resources of the template`);
          break;
        }
        if (sourceType === 'AWS::SQS::Queue') {
          if (p.FilterCriteria !== undefined) problems.push(`${logicalId}: FilterCriteria on an SQS mapping is not emulated`);
          const batchSize = numberOr(p.BatchSize, 10);
          // Lambda allows up to 10,000 with a batching window; a local receive, like SQS's, returns at most 10.
          if (batchSize > 10) problems.push(`${logicalId}: BatchSize ${batchSize} (above 10, with a batching window) is not emulated`);
          const scaling = p.ScalingConfig as { MaximumConcurrency?: unknown } | undefined;
          sqsMappings.set(logicalId, {
            logicalId,
            queue: source,
            functionLogicalId,
            batchSize,
            maximumBatchingWindowSeconds: numberOr(p.MaximumBatchingWindowInSeconds, 0),
            ...(scaling?.MaximumConcurrency !== undefined ? { maximumConcurrency: Number(scaling.MaximumConcurrency) } : {}),
            enabled: p.Enabled !== false && p.Enabled !== 'false',
            reportBatchItemFailures: Array.isArray(p.FunctionResponseTypes) && p.FunctionResponseTypes.includes('ReportBatchItemFailures'),
          });
        } else if (sourceType === 'AWS::DynamoDB::Table') {
          // The local stream (CircuitTableStream) only ever delivers changes of `state`: what the controller's filter selects.
          const destination = (p.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure?.Destination;
          const onFailureQueue = destination === undefined ? undefined : refOf(destination);
          if (destination !== undefined && (!onFailureQueue || template.Resources[onFailureQueue]?.Type !== 'AWS::SQS::Queue')) {
            problems.push(`${logicalId}: only an SQS queue of the template is emulated as the on-failure destination`);
          }
          streamMappings.set(logicalId, {
            logicalId,
            table: source,
            functionLogicalId,
            maximumRetryAttempts: numberOr(p.MaximumRetryAttempts, -1),
            bisectBatchOnFunctionError: p.BisectBatchOnFunctionError === true || p.BisectBatchOnFunctionError === 'true',
            ...(onFailureQueue ? { onFailureQueue } : {}),
          });
        } else {
          problems.push(`${logicalId}: event sources of type ${sourceType ?? 'unknown'} are not emulated`);
        }
        break;
      }
      case 'AWS::Lambda::Function':
        functions.set(logicalId, {
          logicalId,
          handlerName: String(p.Handler ?? 'index.handler').replace(/^.*\./, ''),
          timeoutSeconds: numberOr(p.Timeout, 3),
        });
        break;
      case 'AWS::DynamoDB::Table':
        tables.push(logicalId);
        break;
      case 'AWS::Events::EventBus':
        buses.push(logicalId);
        break;
      case 'AWS::Events::Rule':
        // Checked here rather than on readTemplateRules' result, which is empty when any pattern fails to compile.
        if (typeof p.ScheduleExpression === 'string' && rateToMs(p.ScheduleExpression) === undefined) {
          problems.push(`schedule ${logicalId}: only rate(...) expressions are emulated (got ${p.ScheduleExpression})`);
        }
        break;
    }
  }
  for (const queue of queues.values()) {
    if (queue.redrive && !queues.has(queue.redrive.deadLetterQueue)) problems.push(`${queue.logicalId}: its dead-letter queue ${queue.redrive.deadLetterQueue} is not a queue of the template`);
  }
  if (buses.length !== 1) problems.push(`expected exactly one AWS::Events::EventBus, found ${buses.length}`);

  let rules: TemplateRules = { rules: [], schedules: [] };
  try {
    rules = readTemplateRules(template);
  } catch (error) {
    if (error instanceof TemplateRulesErrors) problems.push(...error.errors.map((e) => e.message));
    else problems.push((error as Error).message);
  }
  for (const rule of rules.rules) {
    if (rule.eventBusRef !== buses[0]) problems.push(`rule ${rule.logicalId}: only rules on the hub's bus are routed (found ${rule.eventBusRef})`);
    for (const target of rule.targets) {
      const transform = ['Input', 'InputPath', 'InputTransformer'].find((key) => key in target.raw);
      if (transform) problems.push(`rule ${rule.logicalId} target ${target.id}: ${transform} is not emulated`);
      if (target.type !== 'sqs' && target.type !== 'states') problems.push(`rule ${rule.logicalId} target ${target.id}: targets of type ${target.type} are not emulated`);
    }
  }
  let circuits = new Map<string, CircuitBreakerSettingsInput>();
  const circuitsOutput = (template.Outputs?.[CIRCUIT_SETTINGS_OUTPUT] as { Value?: unknown } | undefined)?.Value;
  if (circuitsOutput !== undefined) {
    if (typeof circuitsOutput !== 'string') problems.push(`output ${CIRCUIT_SETTINGS_OUTPUT}: expected a literal JSON string`);
    else {
      try {
        circuits = parseCircuitSettingsOutput(circuitsOutput);
      } catch (error) {
        problems.push((error as Error).message);
      }
    }
  }
  if (problems.length > 0) throw new BlueprintError(problems);
  return { template, queues, sqsMappings, streamMappings, functions, eventBus: buses[0]!, rules, tables, circuits };
}

/** `rate(5 minutes)` → ms; undefined for anything else (cron expressions are not emulated). */
export function rateToMs(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|minutes|hour|hours|day|days)\)$/.exec(expression.trim());
  if (!match) return undefined;
  const unit = match[2]!.replace(/s$/, '');
  const unitMs = unit === 'minute' ? 60_000 : unit === 'hour' ? 3_600_000 : 86_400_000;
  return Number(match[1]) * unitMs;
}

function numberOr(value: unknown, fallback: number): number {
  return value === undefined ? fallback : Number(value);
}

/** The logical id behind `{ Ref }` / `{ Fn::GetAtt }`. */
function refOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const object = value as Record<string, unknown>;
  if (typeof object.Ref === 'string') return object.Ref;
  const getAtt = object['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  return undefined;
}
