/**
 * The EventBridge rules of a synthesized CloudFormation template, for the local hub's routing: every
 * `AWS::Events::Rule` with an `EventPattern` becomes a compiled `EventRule` (pattern predicate + resolved targets);
 * rules with a `ScheduleExpression` go to a separate `schedules` list. Event patterns are compiled with
 * `compileEventPattern` (local/event-pattern.ts documents the supported subset), so an unsupported operator fails
 * here, when the local hub starts.
 *
 * Targets and dead-letter queues are resolved from `Fn::GetAtt: [LogicalId, 'Arn']` or `Ref: LogicalId` to the
 * logical id and resource type of the target in the same template. A literal ARN string is kept as is
 * (type `other`); any other intrinsic (Fn::Join, Fn::ImportValue, …) is rejected with a `TemplateRulesError`.
 */
import { compileEventPattern, type EventPredicate } from './event-pattern.js';

export type RuleTargetType = 'sqs' | 'lambda' | 'states' | 'other';

export interface RuleTarget {
  /** The logical id of the target resource (from its Fn::GetAtt/Ref), or a literal ARN string. */
  readonly arnRef: string;
  readonly type: RuleTargetType;
  /** The target's CloudFormation resource type, when `arnRef` is a resource of the template. */
  readonly resourceType?: string;
  /** The target's `Id` within the rule. */
  readonly id: string;
  /** The target's dead-letter queue (logical id), when configured. */
  readonly deadLetterConfig?: { readonly arnRef: string };
  /** The target as written in the template (Input, InputPath, InputTransformer, RetryPolicy, …). */
  readonly raw: Readonly<Record<string, unknown>>;
}

export interface EventRule {
  readonly logicalId: string;
  /** The bus: logical id of a `Ref`-ed bus of the template, a literal bus name/ARN, or `default` when absent. */
  readonly eventBusRef: string;
  /** `ENABLED` unless the template says otherwise. */
  readonly state: string;
  readonly pattern: unknown;
  readonly matches: EventPredicate;
  readonly targets: readonly RuleTarget[];
}

export interface ScheduleRule {
  readonly logicalId: string;
  readonly scheduleExpression: string;
  readonly state: string;
  readonly targets: readonly RuleTarget[];
}

export interface TemplateRules {
  readonly rules: readonly EventRule[];
  readonly schedules: readonly ScheduleRule[];
}

/** A template rule the local hub cannot interpret. */
export class TemplateRulesError extends Error {
  constructor(
    readonly logicalId: string,
    reason: string,
    options?: { cause?: unknown },
  ) {
    super(`Rule ${logicalId}: ${reason}`, options);
    this.name = 'TemplateRulesError';
  }
}

/** Several rules of a template the local hub cannot interpret: each one's {@link TemplateRulesError}. */
export class TemplateRulesErrors extends Error {
  constructor(readonly errors: readonly TemplateRulesError[]) {
    super(`${errors.length} rules cannot be interpreted:\n- ${errors.map((e) => e.message).join('\n- ')}`);
    this.name = 'TemplateRulesErrors';
  }
}

interface CfnResource {
  readonly Type?: string;
  readonly Properties?: Record<string, unknown>;
}

const TARGET_TYPES: Readonly<Record<string, RuleTargetType>> = {
  'AWS::SQS::Queue': 'sqs',
  'AWS::Lambda::Function': 'lambda',
  'AWS::Lambda::Alias': 'lambda',
  'AWS::Lambda::Version': 'lambda',
  'AWS::StepFunctions::StateMachine': 'states',
};

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

/**
 * Reads the rules of a synthesized template (`Template.toJSON()` or the cdk.out JSON). Pattern errors
 * (`UnsupportedPatternError`, `InvalidEventPatternError`) propagate, wrapped in a `TemplateRulesError` naming the rule;
 * when several rules fail, a `TemplateRulesErrors` carries each one, so a template is fixed in one pass.
 */
export function readTemplateRules(template: object): TemplateRules {
  const resources = (template as { Resources?: unknown }).Resources;
  if (!isObject(resources)) return { rules: [], schedules: [] };
  const rules: EventRule[] = [];
  const schedules: ScheduleRule[] = [];
  const errors: TemplateRulesError[] = [];
  for (const [logicalId, resource] of Object.entries(resources as Record<string, CfnResource>)) {
    if (resource?.Type !== 'AWS::Events::Rule') continue;
    try {
      readRule(logicalId, resource.Properties ?? {}, resources as Record<string, CfnResource>, rules, schedules);
    } catch (error) {
      if (!(error instanceof TemplateRulesError)) throw error;
      errors.push(error);
    }
  }
  if (errors.length === 1) throw errors[0]!;
  if (errors.length > 1) throw new TemplateRulesErrors(errors);
  return { rules, schedules };
}

function readRule(
  logicalId: string,
  props: Record<string, unknown>,
  resources: Record<string, CfnResource>,
  rules: EventRule[],
  schedules: ScheduleRule[],
): void {
  const state = typeof props.State === 'string' ? props.State : 'ENABLED';
  const targets = targetsOf(logicalId, props.Targets, resources);
  if (props.ScheduleExpression !== undefined) {
    if (typeof props.ScheduleExpression !== 'string') throw new TemplateRulesError(logicalId, 'ScheduleExpression is not a literal string');
    schedules.push({ logicalId, scheduleExpression: props.ScheduleExpression, state, targets });
    return;
  }
  if (props.EventPattern === undefined) throw new TemplateRulesError(logicalId, 'has neither EventPattern nor ScheduleExpression');
  const pattern = typeof props.EventPattern === 'string' ? parsePattern(logicalId, props.EventPattern) : props.EventPattern;
  let matches: EventPredicate;
  try {
    matches = compileEventPattern(pattern);
  } catch (error) {
    throw new TemplateRulesError(logicalId, (error as Error).message, { cause: error });
  }
  rules.push({ logicalId, eventBusRef: busRef(logicalId, props.EventBusName), state, pattern, matches, targets });
}

/** The enabled event rules (optionally of one bus) whose pattern matches `event`. */
export function rulesMatching(rules: readonly EventRule[], event: object, eventBusRef?: string): EventRule[] {
  return rules.filter((rule) => rule.state === 'ENABLED' && (eventBusRef === undefined || rule.eventBusRef === eventBusRef) && rule.matches(event));
}

function parsePattern(logicalId: string, text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (error) {
    throw new TemplateRulesError(logicalId, `EventPattern is not valid JSON (${(error as Error).message})`);
  }
}

function busRef(logicalId: string, value: unknown): string {
  if (value === undefined) return 'default';
  if (typeof value === 'string') return value;
  const ref = logicalIdOfRef(value);
  if (ref === undefined) throw new TemplateRulesError(logicalId, `EventBusName ${JSON.stringify(value)} is not a Ref, Fn::GetAtt or literal`);
  return ref;
}

/** `{ Ref: X }` or `{ 'Fn::GetAtt': [X, attr] }` / `'X.attr'` → X. */
function logicalIdOfRef(value: unknown): string | undefined {
  if (!isObject(value) || Object.keys(value).length !== 1) return undefined;
  if (typeof value.Ref === 'string') return value.Ref;
  const getAtt = value['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}

function resolveArn(
  ruleId: string,
  what: string,
  value: unknown,
  resources: Record<string, CfnResource>,
): { arnRef: string; type: RuleTargetType; resourceType?: string } {
  if (typeof value === 'string') return { arnRef: value, type: 'other' };
  const ref = logicalIdOfRef(value);
  if (ref === undefined) throw new TemplateRulesError(ruleId, `${what} ${JSON.stringify(value)} is not a Ref, Fn::GetAtt or literal ARN`);
  const resourceType = resources[ref]?.Type;
  return { arnRef: ref, type: (resourceType === undefined ? undefined : TARGET_TYPES[resourceType]) ?? 'other', ...(resourceType ? { resourceType } : {}) };
}

function targetsOf(ruleId: string, value: unknown, resources: Record<string, CfnResource>): RuleTarget[] {
  if (value === undefined) return [];
  if (!Array.isArray(value)) throw new TemplateRulesError(ruleId, 'Targets is not a list');
  return value.map((target, index) => {
    if (!isObject(target)) throw new TemplateRulesError(ruleId, `target ${index} is not an object`);
    const id = typeof target.Id === 'string' ? target.Id : String(index);
    const resolved = resolveArn(ruleId, `target ${id} Arn`, target.Arn, resources);
    const dlq = isObject(target.DeadLetterConfig) ? target.DeadLetterConfig.Arn : undefined;
    return {
      ...resolved,
      id,
      ...(dlq !== undefined ? { deadLetterConfig: { arnRef: resolveArn(ruleId, `target ${id} DeadLetterConfig.Arn`, dlq, resources).arnRef } } : {}),
      raw: target,
    };
  });
}
