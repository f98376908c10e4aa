/**
 * The local hub runs what the template says. The expected settings are read here from the RAW synthesized template
 * with plain code and CloudFormation's / Lambda's documented defaults — deliberately not through hub-blueprint.ts —
 * and compared with the LIVE local objects of a started hub: queues, event source mappings, rules and schedules.
 * Every divergence is collected, so a failure lists all of them at once.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BlueprintError } from '../../../local/hub/hub-blueprint.js';
import { LocalHub } from '../../../local/hub/local-hub.js';
import { startSandboxForCatalog, synthesizeAgainstSandbox } from '../../../local/hub/sandbox-wiring.js';
import type { LocalQueue } from '../../../local/local-queue.js';
import type { CfnTemplate } from '../../../local/local-step-functions.js';
import { type Sandbox } from '../../../local/sandbox/index.js';
import { OPS_CATALOG_PATH_VARIABLE, opsCatalogVariables } from '../../../functions/ops/ops-catalog.js';
import { eventually } from '../../support/eventually.js';

type Properties = Record<string, unknown>;

// ------------------------------------------------------------------ reading the raw template

/** CloudFormation's documented defaults for what the template may leave out. */
const CFN_DEFAULTS = {
  /** AWS::SQS::Queue VisibilityTimeout. */
  visibilityTimeoutSeconds: 30,
  /** AWS::SQS::Queue DelaySeconds. */
  delaySeconds: 0,
  /** AWS::SQS::Queue MessageRetentionPeriod (4 days). */
  messageRetentionSeconds: 345_600,
  /** AWS::Lambda::EventSourceMapping BatchSize for SQS. */
  batchSize: 10,
  /** AWS::Lambda::EventSourceMapping MaximumBatchingWindowInSeconds for SQS. */
  maximumBatchingWindowSeconds: 0,
  /** AWS::Lambda::EventSourceMapping Enabled. */
  enabled: true,
  /** AWS::Events::Rule State. */
  ruleState: 'ENABLED',
} as const;

/**
 * Without ScalingConfig Lambda puts no per-mapping cap on an SQS mapping's concurrency; the local mapping needs a
 * number and takes the API's ceiling for MaximumConcurrency. Only used if the template has a mapping without one.
 */
const UNCAPPED_LOCAL_CONCURRENCY = 1000;

/** `{ Ref: X }` / `{ 'Fn::GetAtt': [X, attr] }` / `{ 'Fn::GetAtt': 'X.attr' }` → X. */
function referencedId(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const object = value as Record<string, unknown>;
  if (typeof object.Ref === 'string') return object.Ref;
  const getAtt = object['Fn::GetAtt'];
  if (Array.isArray(getAtt) && typeof getAtt[0] === 'string') return getAtt[0];
  if (typeof getAtt === 'string') return getAtt.split('.')[0];
  return undefined;
}

function resourcesOfType(template: CfnTemplate, type: string): [string, Properties][] {
  return Object.entries(template.Resources)
    .filter(([, resource]) => resource.Type === type)
    .map(([logicalId, resource]) => [logicalId, (resource.Properties ?? {}) as Properties]);
}

const numberOr = (value: unknown, fallback: number): number => (value === undefined ? fallback : Number(value));
const booleanOr = (value: unknown, fallback: boolean): boolean => (value === undefined ? fallback : value === true || value === 'true');

interface ExpectedQueue {
  visibilityTimeoutSeconds: number;
  delaySeconds: number;
  messageRetentionSeconds: number;
  maxReceiveCount: number | undefined;
  deadLetterQueue: string | undefined;
}

function expectedQueue(properties: Properties): ExpectedQueue {
  const raw = properties.RedrivePolicy;
  const redrive = (typeof raw === 'string' ? JSON.parse(raw) : raw) as { deadLetterTargetArn?: unknown; maxReceiveCount?: unknown } | undefined;
  return {
    visibilityTimeoutSeconds: numberOr(properties.VisibilityTimeout, CFN_DEFAULTS.visibilityTimeoutSeconds),
    delaySeconds: numberOr(properties.DelaySeconds, CFN_DEFAULTS.delaySeconds),
    messageRetentionSeconds: numberOr(properties.MessageRetentionPeriod, CFN_DEFAULTS.messageRetentionSeconds),
    maxReceiveCount: redrive?.maxReceiveCount === undefined ? undefined : Number(redrive.maxReceiveCount),
    deadLetterQueue: redrive ? (referencedId(redrive.deadLetterTargetArn) ?? `unresolvable ${JSON.stringify(redrive.deadLetterTargetArn)}`) : undefined,
  };
}

interface ExpectedMapping {
  queue: string;
  functionLogicalId: string | undefined;
  batchSize: number;
  maximumBatchingWindowSeconds: number;
  maximumConcurrency: number;
  enabled: boolean;
  reportBatchItemFailures: boolean;
}

function expectedMapping(properties: Properties, queue: string): ExpectedMapping {
  const scaling = properties.ScalingConfig as { MaximumConcurrency?: unknown } | undefined;
  const responseTypes = properties.FunctionResponseTypes;
  return {
    queue,
    functionLogicalId: referencedId(properties.FunctionName),
    batchSize: numberOr(properties.BatchSize, CFN_DEFAULTS.batchSize),
    maximumBatchingWindowSeconds: numberOr(properties.MaximumBatchingWindowInSeconds, CFN_DEFAULTS.maximumBatchingWindowSeconds),
    maximumConcurrency: numberOr(scaling?.MaximumConcurrency, UNCAPPED_LOCAL_CONCURRENCY),
    enabled: booleanOr(properties.Enabled, CFN_DEFAULTS.enabled),
    // Lambda's default is no partial batch responses: the whole batch succeeds or fails.
    reportBatchItemFailures: Array.isArray(responseTypes) && responseTypes.includes('ReportBatchItemFailures'),
  };
}

interface PatternRule {
  logicalId: string;
  state: string;
  sources: unknown[];
  detailTypes: unknown[];
  /** Pattern keys this test cannot build an event for. */
  otherKeys: string[];
  targets: string[];
}

function patternRule(logicalId: string, properties: Properties): PatternRule {
  const raw = properties.EventPattern;
  const pattern = (typeof raw === 'string' ? JSON.parse(raw) : raw) as Record<string, unknown>;
  const targets = ((properties.Targets ?? []) as { Arn?: unknown }[]).map((target) => referencedId(target.Arn) ?? String(target.Arn));
  return {
    logicalId,
    state: typeof properties.State === 'string' ? properties.State : CFN_DEFAULTS.ruleState,
    sources: Array.isArray(pattern.source) ? pattern.source : [],
    detailTypes: Array.isArray(pattern['detail-type']) ? pattern['detail-type'] : [],
    otherKeys: Object.keys(pattern).filter((key) => key !== 'source' && key !== 'detail-type'),
    targets,
  };
}

/** The targets EventBridge delivers an event to, for rules made of exact `source` and `detail-type` lists. */
function targetsFor(rules: readonly PatternRule[], source: string, detailType: string): string[] {
  return rules
    .filter((rule) => rule.state === 'ENABLED' && rule.sources.includes(source) && rule.detailTypes.includes(detailType))
    .flatMap((rule) => rule.targets)
    .sort();
}

/**
 * The integrations the controller watches — its SSM parameters under its OPS_CATALOG_PATH, read by its own code
 * (functions/ops/ops-catalog.ts) — as name → mapping logical id.
 */
function controlledIntegrations(template: CfnTemplate, controllerLogicalId: string): Map<string, string> {
  const text = (value: unknown): string => {
    if (typeof value === 'string') return value;
    const join = (value as { 'Fn::Join'?: [string, unknown[]] })['Fn::Join'];
    if (!join) return `ref:${referencedId(value)}`;
    return join[1].map((part) => (typeof part === 'string' ? part : `ref:${referencedId(part)}`)).join(join[0]);
  };
  const variables = (template.Resources[controllerLogicalId]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
  const parameters = resourcesOfType(template, 'AWS::SSM::Parameter').map(([, properties]) => ({ name: text(properties.Name), value: text(properties.Value) }));
  const list = JSON.parse(opsCatalogVariables(parameters, text(variables[OPS_CATALOG_PATH_VARIABLE]), 'controller').INTEGRATIONS) as { name: string; mappingUuid: string }[];
  return new Map(list.map((entry) => [entry.name, entry.mappingUuid.replace(/^ref:/, '')]));
}

/** Event source mappings whose source is of `type` (`AWS::SQS::Queue`, `AWS::DynamoDB::Table` for a table's stream). */
function mappingsFrom(template: CfnTemplate, type: string): [string, Properties][] {
  return resourcesOfType(template, 'AWS::Lambda::EventSourceMapping').filter(([, p]) => template.Resources[referencedId(p.EventSourceArn) ?? '']?.Type === type);
}

/** The circuit controller: the function of the (one) DynamoDB stream mapping. */
function controllerOf(template: CfnTemplate): string {
  const streams = mappingsFrom(template, 'AWS::DynamoDB::Table');
  expect(streams).toHaveLength(1);
  return referencedId(streams[0]![1].FunctionName)!;
}

function environmentOf(template: CfnTemplate, functionLogicalId: string): Record<string, unknown> {
  return (template.Resources[functionLogicalId]?.Properties?.Environment as { Variables?: Record<string, unknown> } | undefined)?.Variables ?? {};
}

// ------------------------------------------------------------------ the hub

let sandbox: Sandbox;
let template: CfnTemplate;
let hub: LocalHub;
const backgroundErrors: { where: string; error: unknown }[] = [];

beforeAll(async () => {
  sandbox = await startSandboxForCatalog({ seed: 1 });
  template = synthesizeAgainstSandbox(sandbox);
  // The hub gets its own copy: what this test reads is the template as synthesized.
  hub = await LocalHub.start({ sandbox, template: structuredClone(template), onError: (where, error) => backgroundErrors.push({ where, error }) });
});

afterAll(async () => {
  await hub?.stop();
  await sandbox?.close();
});


/** The logical id the hub keeps a live queue under (by identity), or a description of a stray one. */
function logicalIdOfQueue(queue: LocalQueue | undefined): string | undefined {
  if (!queue) return undefined;
  for (const [logicalId, candidate] of hub.queues) if (candidate === queue) return logicalId;
  return `a queue the hub does not list (${queue.name})`;
}

function compare(divergences: string[], where: string, expected: Record<string, unknown>, actual: Record<string, unknown>): void {
  for (const [field, value] of Object.entries(expected)) {
    if (!Object.is(value, actual[field])) divergences.push(`${where}.${field}: template ${JSON.stringify(value)} ≠ local ${JSON.stringify(actual[field])}`);
  }
}

describe('local hub vs. the synthesized template', () => {
  it('runs every queue with the template’s visibility timeout, delay, retention and redrive policy', () => {
    const queues = resourcesOfType(template, 'AWS::SQS::Queue');
    expect(queues.length).toBeGreaterThan(0);
    expect([...hub.queues.keys()].sort()).toEqual(queues.map(([logicalId]) => logicalId).sort());

    const divergences: string[] = [];
    for (const [logicalId, properties] of queues) {
      const queue = hub.queues.get(logicalId);
      if (!queue) continue; // reported by the key comparison above
      compare(divergences, logicalId, { ...expectedQueue(properties) }, {
        visibilityTimeoutSeconds: queue.visibilityTimeoutSeconds,
        delaySeconds: queue.delaySeconds,
        messageRetentionSeconds: queue.messageRetentionSeconds,
        maxReceiveCount: queue.maxReceiveCount,
        deadLetterQueue: logicalIdOfQueue(queue.deadLetterQueue),
      });
    }
    expect(divergences).toEqual([]);
  });

  it('runs every SQS event source mapping with the template’s batching, concurrency, enabled flag and partial batch responses, on its queue', () => {
    const all = resourcesOfType(template, 'AWS::Lambda::EventSourceMapping');
    const sqs = mappingsFrom(template, 'AWS::SQS::Queue');
    expect(sqs.length).toBeGreaterThan(0);
    // None skipped: the others are the circuits table's stream (the controller's; checked below).
    expect(sqs.length + mappingsFrom(template, 'AWS::DynamoDB::Table').length).toBe(all.length);
    expect([...hub.mappings.keys()].sort()).toEqual(sqs.map(([logicalId]) => logicalId).sort());

    const divergences: string[] = [];
    for (const [logicalId, properties] of sqs) {
      const mapping = hub.mappings.get(logicalId);
      if (!mapping) continue;
      const { functionLogicalId: _function, ...expected } = expectedMapping(properties, referencedId(properties.EventSourceArn)!);
      compare(divergences, logicalId, { ...expected }, {
        queue: logicalIdOfQueue(mapping.queue),
        batchSize: mapping.batchSize,
        maximumBatchingWindowSeconds: mapping.maximumBatchingWindowSeconds,
        maximumConcurrency: mapping.maximumConcurrency,
        enabled: mapping.enabled,
        reportBatchItemFailures: mapping.reportBatchItemFailures,
      });
    }
    expect(divergences).toEqual([]);
  });

  it('wires every integration of the controller to its mapping, function, queue and DLQ', () => {
    const integrations = controlledIntegrations(template, controllerOf(template));
    expect([...hub.integrations.keys()].sort()).toEqual([...integrations.keys()].sort());

    const divergences: string[] = [];
    for (const [name, mappingLogicalId] of integrations) {
      const integration = hub.integration(name);
      if (!integration) continue;
      const properties = template.Resources[mappingLogicalId]!.Properties!;
      const expected = expectedMapping(properties, referencedId(properties.EventSourceArn)!);
      compare(divergences, `integration ${name}`, {
        mapping: mappingLogicalId,
        functionLogicalId: expected.functionLogicalId,
        queue: expected.queue,
        deadLetterQueue: expectedQueue(template.Resources[expected.queue]!.Properties ?? {}).deadLetterQueue,
      }, {
        mapping: [...hub.mappings].find(([, m]) => m === integration.mapping)?.[0],
        functionLogicalId: integration.functionLogicalId,
        queue: logicalIdOfQueue(integration.queue),
        deadLetterQueue: logicalIdOfQueue(integration.deadLetterQueue),
      });
    }
    expect(divergences).toEqual([]);
  });

  it('reads the circuits stream mapping’s retries, bisection and on-failure queue from the template', () => {
    const streams = mappingsFrom(template, 'AWS::DynamoDB::Table');
    expect(streams).toHaveLength(1);
    const [logicalId, properties] = streams[0]!;
    const destination = (properties.DestinationConfig as { OnFailure?: { Destination?: unknown } } | undefined)?.OnFailure?.Destination;
    const divergences: string[] = [];
    compare(
      divergences,
      logicalId,
      {
        maximumRetryAttempts: properties.MaximumRetryAttempts ?? -1,
        bisectBatchOnFunctionError: properties.BisectBatchOnFunctionError ?? false,
        onFailureQueue: destination === undefined ? undefined : referencedId(destination),
      },
      { ...hub.blueprint.streamMappings.get(logicalId) },
    );
    expect(divergences).toEqual([]);
    expect(hub.queues.has(String(referencedId(destination)))).toBe(true);
  });

  it('starts the prober schedule in the template rule’s State', () => {
    const probeRuleName = environmentOf(template, controllerOf(template)).PROBE_RULE_NAME;
    const probeRules = resourcesOfType(template, 'AWS::Events::Rule').filter(([, p]) => p.Name === probeRuleName);
    expect(probeRules).toHaveLength(1);
    const [, properties] = probeRules[0]!;
    expect(hub.probeSchedule.enabled).toBe((properties.State ?? CFN_DEFAULTS.ruleState) === 'ENABLED');
  });

  it('feeds the circuits table’s stream mapping to the controller, which pauses and resumes each integration’s own mapping', async () => {
    const integrations = controlledIntegrations(template, controllerOf(template));
    for (const [name, mappingLogicalId] of integrations) {
      const mapping = hub.mappings.get(mappingLogicalId)!;
      const others = [...hub.mappings].filter(([id]) => id !== mappingLogicalId).map(([id, m]) => [id, m.enabled]);
      await hub.integration(name)!.breaker.isolate('template fidelity test');
      await eventually(() => expect(mapping.enabled).toBe(false));
      expect(hub.probeSchedule.enabled).toBe(true);
      // Only this integration's mapping was paused.
      expect([...hub.mappings].filter(([id]) => id !== mappingLogicalId).map(([id, m]) => [id, m.enabled])).toEqual(others);
      await hub.integration(name)!.breaker.reset();
      await eventually(() => expect(mapping.enabled).toBe(true));
    }
  });

  it('routes an event of each source and detail type of every rule to exactly the rule’s targets, and nothing else anywhere', () => {
    const allRules = resourcesOfType(template, 'AWS::Events::Rule');
    const rules = allRules.filter(([, p]) => p.EventPattern !== undefined).map(([logicalId, p]) => patternRule(logicalId, p));
    const schedules = allRules.filter(([, p]) => p.ScheduleExpression !== undefined);
    // None skipped: every rule is an event rule or a schedule.
    expect(rules.length + schedules.length).toBe(allRules.length);
    expect(rules.length).toBeGreaterThan(0);

    // Keep what is routed in the queues: no function runs on these test events.
    for (const mapping of hub.mappings.values()) mapping.disable();

    const divergences: string[] = [];
    const route = (source: string, detailType: string, expected: string[], what: string) => {
      const executions = hub.executions.length;
      const [result] = hub.putEvents([{ source, detailType, detail: { fidelity: true } }]);
      const routedTo = [...result!.routedTo].sort();
      if (JSON.stringify(routedTo) !== JSON.stringify(expected)) {
        divergences.push(`${what} (${source} / ${detailType}): template targets ${JSON.stringify(expected)} ≠ local ${JSON.stringify(routedTo)}`);
      }
      // Where the event really went: drain every queue; each target queue holds the EventBridge envelope.
      const arrived: string[] = [];
      for (const [logicalId, queue] of hub.queues) {
        for (let batch = queue.receive(10); batch.length > 0; batch = queue.receive(10)) {
          for (const message of batch) {
            arrived.push(logicalId);
            const envelope = JSON.parse(message.body) as { source?: string; 'detail-type'?: string; detail?: unknown };
            if (envelope.source !== source || envelope['detail-type'] !== detailType) {
              divergences.push(`${what} (${source} / ${detailType}): queue ${logicalId} got ${message.body}`);
            }
            queue.delete(message.receiptHandle);
          }
        }
      }
      const started = hub.executions.slice(executions).map((e) => hub.workflows.get(e.workflow)?.logicalId ?? e.workflow);
      const delivered = [...arrived, ...started].sort();
      if (JSON.stringify(delivered) !== JSON.stringify(expected)) {
        divergences.push(`${what} (${source} / ${detailType}): template targets ${JSON.stringify(expected)} ≠ delivered to ${JSON.stringify(delivered)}`);
      }
    };

    for (const rule of rules) {
      if (rule.otherKeys.length > 0) divergences.push(`rule ${rule.logicalId}: this test builds no event for pattern keys ${rule.otherKeys.join(', ')}`);
      const sources = rule.sources.filter((s): s is string => typeof s === 'string');
      const detailTypes = rule.detailTypes.filter((d): d is string => typeof d === 'string');
      if (sources.length === 0 || detailTypes.length === 0 || sources.length !== rule.sources.length || detailTypes.length !== rule.detailTypes.length) {
        divergences.push(`rule ${rule.logicalId}: source / detail-type are not exact string lists; extend this test`);
        continue;
      }
      for (const source of sources) {
        for (const detailType of detailTypes) route(source, detailType, targetsFor(rules, source, detailType), `rule ${rule.logicalId}`);
        // Every field of a pattern must match: the right source with another detail type goes nowhere.
        route(source, `${detailTypes[0]}.NotRouted`, targetsFor(rules, source, `${detailTypes[0]}.NotRouted`), `rule ${rule.logicalId} near miss`);
      }
      route(`${sources[0]}.not-routed`, detailTypes[0]!, targetsFor(rules, `${sources[0]}.not-routed`, detailTypes[0]!), `rule ${rule.logicalId} near miss`);
    }
    route('fidelity.unmatched', 'Nothing', [], 'unmatched event');

    expect(divergences).toEqual([]);
    expect(backgroundErrors).toEqual([]);
  });

  it('fires every enabled schedule’s workflow target on the schedule’s rate (scaled)', async () => {
    const schedules = resourcesOfType(template, 'AWS::Events::Rule').filter(([, p]) => p.ScheduleExpression !== undefined);
    const probeRuleName = environmentOf(template, controllerOf(template)).PROBE_RULE_NAME;
    const workflowSchedules = schedules.filter(([, p]) => p.Name !== probeRuleName);
    expect(workflowSchedules.length).toBeGreaterThan(0);

    // A second hub with schedules compressed 2000×: `rate(15 minutes)` fires every 450 ms.
    const timeScale = 1 / 2000;
    const scaled = await LocalHub.start({ sandbox, template: structuredClone(template), timeScale });
    try {
      for (const [logicalId, properties] of workflowSchedules) {
        const rate = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(String(properties.ScheduleExpression));
        expect(rate, `schedule ${logicalId}: ${String(properties.ScheduleExpression)}`).not.toBeNull();
        const everyMs = Number(rate![1]) * { minute: 60_000, hour: 3_600_000, day: 86_400_000 }[rate![2] as 'minute' | 'hour' | 'day'] * timeScale;
        const targets = (properties.Targets as { Arn?: unknown }[]).map((target) => referencedId(target.Arn));
        for (const target of targets) {
          expect(template.Resources[target!]?.Type).toBe('AWS::StepFunctions::StateMachine');
          const workflow = [...scaled.workflows.values()].find((w) => w.logicalId === target);
          expect(workflow, `state machine ${target} of schedule ${logicalId}`).toBeDefined();
          const fired = () =>
            scaled.executions.filter(
              (e) => e.workflow === workflow!.name && ((e.input as { resources?: string[] }).resources ?? []).some((r) => r.endsWith(`rule/${logicalId}`)),
            );
          if ((properties.State ?? CFN_DEFAULTS.ruleState) === 'ENABLED') {
            await eventually(() => expect(fired().length).toBeGreaterThan(0), 10_000);
            // Not before the first interval is over (a timer never fires early; 10 ms for clock granularity).
            expect(fired()[0]!.startedAt - scaled.startedAt).toBeGreaterThanOrEqual(Math.max(100, everyMs) - 10);
          } else {
            expect(fired()).toEqual([]);
          }
        }
      }
    } finally {
      await scaled.stop();
    }
  });
});

describe('a template the local hub cannot run faithfully', () => {
  /** The template with one resource added; ids of existing resources looked up by type. */
  function withExtra(add: (t: CfnTemplate, ids: { bus: string; queue: string; machine: string }) => Record<string, CfnTemplate['Resources'][string]>): CfnTemplate {
    const copy = structuredClone(template);
    const idOf = (type: string, prefix = '') => Object.keys(copy.Resources).find((id) => copy.Resources[id]!.Type === type && id.startsWith(prefix))!;
    const ids = {
      bus: idOf('AWS::Events::EventBus'),
      queue: idOf('AWS::SQS::Queue', 'IntegrationsPaymentsQueue'),
      machine: idOf('AWS::StepFunctions::StateMachine', 'WorkflowsContactSync'),
    };
    Object.assign(copy.Resources, add(copy, ids));
    return copy;
  }

  const fifoQueue = () => ({ FidelityFifoQueue: { Type: 'AWS::SQS::Queue', Properties: { FifoQueue: true, QueueName: 'fidelity.fifo' } } });
  const wildcardRule = (ids: { bus: string; queue: string }, logicalId = 'FidelityWildcardRule') => ({
    [logicalId]: {
      Type: 'AWS::Events::Rule',
      Properties: {
        EventBusName: { Ref: ids.bus },
        EventPattern: { source: [{ wildcard: 'orders.*' }], 'detail-type': ['PaymentRequested'] },
        State: 'ENABLED',
        Targets: [{ Arn: { 'Fn::GetAtt': [ids.queue, 'Arn'] }, Id: 'Target0' }],
      },
    },
  });
  const cronSchedule = (ids: { machine: string }) => ({
    FidelityCronSchedule: {
      Type: 'AWS::Events::Rule',
      Properties: { ScheduleExpression: 'cron(0 12 * * ? *)', State: 'ENABLED', Targets: [{ Arn: { Ref: ids.machine }, Id: 'Target0' }] },
    },
  });

  /** Changes the payments mapping of `t` (returns no new resource). */
  const changePaymentsMapping = (t: CfnTemplate, change: Properties) => {
    const id = Object.keys(t.Resources).find((key) => key.startsWith('IntegrationsPaymentsEventSource'))!;
    Object.assign(t.Resources[id]!.Properties!, change);
    return {};
  };

  type Extra = (t: CfnTemplate, ids: { bus: string; queue: string; machine: string }) => Record<string, CfnTemplate['Resources'][string]>;
  it.each<[string, Extra, RegExp]>([
    ['a FIFO queue', () => fifoQueue(), /FidelityFifoQueue: FIFO queues are not emulated/],
    ['an event pattern with an unsupported operator (wildcard)', (_t, ids) => wildcardRule(ids), /FidelityWildcardRule.*"wildcard"/],
    ['a cron schedule', (_t, ids) => cronSchedule(ids), /FidelityCronSchedule.*cron\(0 12/],
    ['a filter on an SQS mapping', (t) => changePaymentsMapping(t, { FilterCriteria: { Filters: [{ Pattern: '{"body":{"a":["b"]}}' }] } }), /PaymentsEventSource\w*: FilterCriteria/],
    ['an SQS batch above 10 (with a batching window)', (t) => changePaymentsMapping(t, { BatchSize: 100, MaximumBatchingWindowInSeconds: 5 }), /PaymentsEventSource\w*: BatchSize 100/],
  ])('fails at start with a BlueprintError naming the resource: %s', async (_what, add, message) => {
    const started = LocalHub.start({ sandbox, template: withExtra(add) });
    await expect(started).rejects.toBeInstanceOf(BlueprintError);
    await expect(started).rejects.toThrow(message);
  });

  it('lists every problem at once', async () => {
    const started = LocalHub.start({
      sandbox,
      template: withExtra((_t, ids) => ({ ...fifoQueue(), ...wildcardRule(ids), ...wildcardRule(ids, 'FidelitySecondWildcardRule'), ...cronSchedule(ids) })),
    });
    const error = await started.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(error).toBeInstanceOf(BlueprintError);
    const problems = (error as BlueprintError).problems.join('\n');
    expect(problems).toMatch(/FidelityFifoQueue/);
    expect(problems).toMatch(/FidelityWildcardRule/);
    expect(problems).toMatch(/FidelitySecondWildcardRule/);
    expect(problems).toMatch(/FidelityCronSchedule/);
  });
});
