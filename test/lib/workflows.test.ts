import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Match } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it } from 'vitest';
import { webhookEventSource } from '../../functions/webhooks/webhook-declaration.js';
import { WORKFLOW_HANDLERS } from '../../functions/workflows/index.js';
import { SECRET_FIELDS } from '../../lib/catalog.js';
import { LAMBDA_SERVICE_ERRORS, PROVIDERS, type ProviderEntry, TASK_ERROR_NAMES, WORKFLOWS } from '../../lib/workflow-catalog.js';
import { SECRET_PLACEHOLDER } from '../../functions/runtime/auth-config.js';
import { ORDER_SAGA_TASKS } from '../../lib/constructs/order-saga-state-machine.js';
import { WORKFLOW_RUNBOOK_SLUGS } from '../../lib/runbooks.js';
import { resolveIntrinsics, stateMachinesOf, validateDefinition, type CfnTemplate } from '../../local/local-step-functions.js';
import { authScheme } from './fixture-catalog.js';
import { asArray, type HubApp, logicalIdOf, statementsOfRole, synthesizeHub } from './hub-app.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));

/** The provider each saga task calls: the step's role in the saga, named by the workflow catalog. */
const SAGA_TASK_PROVIDER = (({ inventory, payments, shipping, email }) => ({
  reserveInventory: inventory,
  releaseInventory: inventory,
  chargePayment: payments,
  refundPayment: payments,
  createShipment: shipping,
  cancelShipment: shipping,
  sendConfirmation: email,
}))(WORKFLOWS.orderSaga.providers);

/** The workflow catalog's entry of a provider. */
const providerEntry = (name: string): ProviderEntry => {
  const entry = PROVIDERS.find((provider) => provider.name === name);
  if (!entry) throw new Error(`no provider '${name}' in PROVIDERS`);
  return entry;
};

interface State {
  Type: string;
  Next?: string;
  End?: boolean;
  Resource?: string;
  Parameters?: Record<string, string>;
  ResultSelector?: Record<string, string>;
  ResultPath?: string | null;
  Retry?: { ErrorEquals: string[]; IntervalSeconds: number; MaxAttempts: number; BackoffRate: number; MaxDelaySeconds?: number; JitterStrategy?: string }[];
  Catch?: { ErrorEquals: string[]; ResultPath?: string; Next: string }[];
  Error?: string;
  ErrorPath?: string;
  CausePath?: string;
  Choices?: unknown[];
  Default?: string;
  QueryLanguage?: string;
}
interface Definition {
  StartAt: string;
  States: Record<string, State>;
  QueryLanguage?: string;
  TimeoutSeconds?: number;
}

let hub: HubApp;
let template: CfnTemplate;
let saga: Definition;
let sync: Definition;

const resource = (logicalId: string) => template.Resources[logicalId]!;
const definitionOf = (logicalId: string) => stateMachinesOf(template).get(logicalId)!.definition as unknown as Definition;
const alarmsOf = () => Object.values(template.Resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm') as { Properties: Record<string, unknown> }[];

beforeAll(() => {
  hub = synthesizeHub();
  template = hub.template.toJSON() as CfnTemplate;
  saga = definitionOf(logicalIdOf(hub.stack.orderSaga!.stateMachine, hub.stack));
  sync = definitionOf(logicalIdOf(hub.stack.contactSync!.stateMachine, hub.stack));
});

describe('workflow state machines', () => {
  it('are valid ASL (asl-validator on every synthesized definition)', () => {
    const machines = stateMachinesOf(template);
    expect(machines.size).toBe(2);
    for (const machine of machines.values()) expect(validateDefinition(machine.definition), machine.logicalId).toEqual({ isValid: true, errors: [] });
  });

  it('are STANDARD, JSONPath (no JSONata anywhere), logging ALL to their own log group, traced, with an execution timeout', () => {
    for (const [machine, definition, timeoutMinutes] of [
      [hub.stack.orderSaga!, saga, WORKFLOWS.orderSaga.executionTimeoutMinutes],
      [hub.stack.contactSync!, sync, WORKFLOWS.contactSync.executionTimeoutMinutes],
    ] as const) {
      const props = resource(logicalIdOf(machine.stateMachine, hub.stack)).Properties!;
      expect(props.StateMachineType).toBe('STANDARD');
      expect(props.QueryLanguage).toBeUndefined();
      expect(definition.QueryLanguage).toBeUndefined();
      for (const state of Object.values(definition.States)) expect(state.QueryLanguage).toBeUndefined();
      expect(JSON.stringify(definition)).not.toMatch(/\{%|Arguments|Output"/);
      expect(props.TracingConfiguration).toEqual({ Enabled: true });
      expect(props.LoggingConfiguration).toEqual({
        Level: 'ALL',
        IncludeExecutionData: false,
        Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': [logicalIdOf(machine.logGroup, hub.stack), 'Arn'] } } }],
      });
      expect(definition.TimeoutSeconds).toBe(timeoutMinutes! * 60);
    }
  });

  it('retry transient failures and Lambda service errors with FULL jitter and a capped delay, an open circuit with long intervals, never Permanent', () => {
    for (const definition of [saga, sync]) {
      for (const [name, state] of Object.entries(definition.States)) {
        if (state.Type !== 'Task') continue;
        expect(state.Retry, name).toHaveLength(2);
        const [transient, circuit] = state.Retry!;
        expect(transient!.ErrorEquals).toEqual([TASK_ERROR_NAMES.transient, ...LAMBDA_SERVICE_ERRORS]);
        expect(circuit!.ErrorEquals).toEqual([TASK_ERROR_NAMES.circuitOpen]);
        for (const retrier of state.Retry!) {
          expect(retrier.JitterStrategy, name).toBe('FULL');
          expect(retrier.MaxDelaySeconds, name).toBeGreaterThanOrEqual(retrier.IntervalSeconds);
          expect(retrier.ErrorEquals).not.toContain(TASK_ERROR_NAMES.permanent);
          expect(retrier.ErrorEquals).not.toContain('States.ALL');
        }
        // Circuit open: wait for the provider (a minute first, growing), not a quick retry.
        expect(circuit!.IntervalSeconds).toBeGreaterThanOrEqual(60);
      }
    }
    const { retry, compensationRetry } = WORKFLOWS.orderSaga;
    expect(saga.States.ChargePayment!.Retry).toEqual([
      { ErrorEquals: expect.any(Array), IntervalSeconds: retry.transient.intervalSeconds, MaxAttempts: retry.transient.maxAttempts, BackoffRate: 2, MaxDelaySeconds: retry.transient.maxDelaySeconds, JitterStrategy: 'FULL' },
      { ErrorEquals: expect.any(Array), IntervalSeconds: 60, MaxAttempts: retry.circuitOpen.maxAttempts, BackoffRate: 2, MaxDelaySeconds: 900, JitterStrategy: 'FULL' },
    ]);
    expect(saga.States.RefundPayment!.Retry!.map((r) => r.MaxAttempts)).toEqual([compensationRetry.transient.maxAttempts, compensationRetry.circuitOpen.maxAttempts]);
  });

  it('saga: runs the four steps in order, catching every failure into the compensations of the COMPLETED steps, in reverse', () => {
    expect(saga.StartAt).toBe('ReserveInventory');
    const next = (name: string) => saga.States[name]!.Next;
    const caughtTo = (name: string) => saga.States[name]!.Catch;
    expect([next('ReserveInventory'), next('ChargePayment'), next('CreateShipment'), next('SendConfirmation')]).toEqual([
      'ChargePayment',
      'CreateShipment',
      'SendConfirmation',
      'OrderFulfilled',
    ]);
    expect(saga.States.OrderFulfilled!.Type).toBe('Succeed');
    // A failed step may have acted (an ambiguous failure): its own compensation asks the provider first.
    expect(caughtTo('ReserveInventory')).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'ReleaseInventory' }]);
    expect(caughtTo('ChargePayment')).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'RefundPayment' }]);
    expect(caughtTo('CreateShipment')).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'CancelShipment' }]);
    // An e-mail cannot be unsent: the undo starts with the shipment.
    expect(caughtTo('SendConfirmation')).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'CancelShipment' }]);
    expect([next('CancelShipment'), next('RefundPayment'), next('ReleaseInventory')]).toEqual(['RefundPayment', 'ReleaseInventory', 'OrderFailed']);
    for (const compensation of ['CancelShipment', 'RefundPayment', 'ReleaseInventory']) {
      expect(caughtTo(compensation)).toEqual([{ ErrorEquals: ['States.ALL'], ResultPath: '$.compensationFailure', Next: 'CompensationFailed' }]);
    }
    expect(saga.States.OrderFailed).toMatchObject({ Type: 'Fail', Error: 'OrderFailed', CausePath: '$.failure.Cause' });
    expect(saga.States.CompensationFailed).toMatchObject({ Type: 'Fail', Error: 'CompensationFailed', CausePath: '$.compensationFailure.Cause' });
    expect(Object.keys(saga.States).sort()).toEqual(
      ['ReserveInventory', 'ChargePayment', 'CreateShipment', 'SendConfirmation', 'OrderFulfilled', 'CancelShipment', 'RefundPayment', 'ReleaseInventory', 'OrderFailed', 'CompensationFailed'].sort(),
    );
  });

  it('saga: every task gets order, steps, execution name and retry count; forward results keep only the contract fields', () => {
    for (const [name, state] of Object.entries(saga.States)) {
      if (state.Type !== 'Task') continue;
      expect(state.Parameters, name).toEqual({
        'order.$': '$.order',
        'steps.$': '$.steps',
        'executionName.$': '$$.Execution.Name',
        'retryCount.$': '$$.State.RetryCount',
      });
    }
    expect(saga.States.ReserveInventory).toMatchObject({ ResultSelector: { 'reservationId.$': '$.reservationId' }, ResultPath: '$.steps.reserveInventory' });
    expect(saga.States.ChargePayment).toMatchObject({ ResultSelector: { 'chargeId.$': '$.chargeId', 'status.$': '$.status' }, ResultPath: '$.steps.chargePayment' });
    expect(saga.States.CreateShipment).toMatchObject({
      ResultSelector: { 'shipmentId.$': '$.shipmentId', 'trackingNumber.$': '$.trackingNumber' },
      ResultPath: '$.steps.createShipment',
    });
    expect(saga.States.SendConfirmation).toMatchObject({ ResultSelector: { 'messageId.$': '$.messageId' }, ResultPath: '$.steps.sendConfirmation' });
    expect(saga.States.ReleaseInventory!.ResultPath).toBe('$.compensations.releaseInventory');
  });

  it('saga: each task state invokes the function of its export, by ARN', () => {
    const machine = stateMachinesOf(template).get(logicalIdOf(hub.stack.orderSaga!.stateMachine, hub.stack))!;
    expect(Object.fromEntries(machine.tasks.map((task) => [task.state, task.handler]))).toEqual({
      ReserveInventory: 'reserveInventory',
      ChargePayment: 'chargePayment',
      CreateShipment: 'createShipment',
      SendConfirmation: 'sendConfirmation',
      CancelShipment: 'cancelShipment',
      RefundPayment: 'refundPayment',
      ReleaseInventory: 'releaseInventory',
    });
    for (const task of ORDER_SAGA_TASKS) expect(hub.stack.orderSaga!.taskFunctions.get(task)).toBeDefined();
  });

  it('contact sync: StartSync → SyncPage → MorePages (skipped | hasMore and pagesThisRun < max) → SyncSkipped | SyncPage | SyncDone; a failed page → ReleaseRun → SyncFailed', () => {
    const { contactSync } = WORKFLOWS;
    expect(sync.StartAt).toBe('StartSync');
    expect(sync.States.StartSync).toMatchObject({ Type: 'Pass', Parameters: { sync: { syncId: contactSync.syncId, pagesThisRun: 0 } }, Next: 'SyncPage' });
    expect(sync.States.StartSync!.ResultPath).toBeUndefined();
    expect(sync.States.SyncPage).toMatchObject({
      Type: 'Task',
      Parameters: {
        'syncId.$': '$.sync.syncId',
        'pagesThisRun.$': '$.sync.pagesThisRun',
        'executionName.$': '$$.Execution.Name',
        maxPagesPerExecution: contactSync.maxPagesPerExecution,
        // The run lease lasts as long as the execution can.
        leaseSeconds: contactSync.executionTimeoutMinutes! * 60,
      },
      ResultSelector: expect.objectContaining({ 'skipped.$': '$.skipped' }),
      ResultPath: '$.sync',
      Next: 'MorePages',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: '$.failure', Next: 'ReleaseRun' }],
    });
    expect(sync.TimeoutSeconds).toBe(contactSync.executionTimeoutMinutes! * 60);
    expect(sync.States.ReleaseRun).toMatchObject({
      Type: 'Task',
      Resource: sync.States.SyncPage!.Resource,
      Parameters: { 'syncId.$': '$.sync.syncId', 'executionName.$': '$$.Execution.Name', release: true },
      ResultPath: null,
      Next: 'SyncFailed',
      Catch: [{ ErrorEquals: ['States.ALL'], ResultPath: null, Next: 'SyncFailed' }],
    });
    expect(sync.States.SyncFailed).toMatchObject({ Type: 'Fail', ErrorPath: '$.failure.Error', CausePath: '$.failure.Cause' });
    expect(sync.States.MorePages).toEqual({
      Type: 'Choice',
      Comment: expect.any(String),
      Choices: [
        { Variable: '$.sync.skipped', BooleanEquals: true, Next: 'SyncSkipped' },
        {
          And: [
            { Variable: '$.sync.hasMore', BooleanEquals: true },
            { Variable: '$.sync.pagesThisRun', NumericLessThan: contactSync.maxPagesPerExecution },
          ],
          Next: 'SyncPage',
        },
      ],
      Default: 'SyncDone',
    });
    expect(sync.States.SyncDone!.Type).toBe('Succeed');
    expect(sync.States.SyncSkipped!.Type).toBe('Succeed');
  });
});

describe('workflow triggers', () => {
  it('routes OrderPlaced from the catalog sources on the hub bus to an encrypted, TLS-only queue with a DLQ', () => {
    const starter = hub.stack.orderSagaStarter!;
    hub.template.hasResourceProperties('AWS::Events::Rule', {
      EventBusName: { Ref: logicalIdOf(hub.stack.bus.bus, hub.stack) },
      EventPattern: { source: [...WORKFLOWS.orderSaga.trigger.sources], 'detail-type': ['OrderPlaced'] },
      Targets: [
        Match.objectLike({
          Arn: { 'Fn::GetAtt': [logicalIdOf(starter.queue, hub.stack), 'Arn'] },
          DeadLetterConfig: { Arn: { 'Fn::GetAtt': [logicalIdOf(starter.deadLetterQueue, hub.stack), 'Arn'] } },
        }),
      ],
    });
    const queue = resource(logicalIdOf(starter.queue, hub.stack)).Properties!;
    expect(queue).toMatchObject({
      SqsManagedSseEnabled: true,
      MessageRetentionPeriod: 1_209_600,
      RedrivePolicy: { deadLetterTargetArn: { 'Fn::GetAtt': [logicalIdOf(starter.deadLetterQueue, hub.stack), 'Arn'] }, maxReceiveCount: 5 },
    });
    expect(resource(logicalIdOf(starter.deadLetterQueue, hub.stack)).Properties).toMatchObject({ SqsManagedSseEnabled: true, MessageRetentionPeriod: 1_209_600 });
    for (const q of [starter.queue, starter.deadLetterQueue]) {
      const policy = Object.values(template.Resources).find(
        (r) => r.Type === 'AWS::SQS::QueuePolicy' && JSON.stringify(r.Properties!.Queues) === JSON.stringify([{ Ref: logicalIdOf(q, hub.stack) }]),
      );
      expect(JSON.stringify(policy?.Properties?.PolicyDocument)).toContain('"aws:SecureTransport":"false"');
    }
    hub.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
      FunctionName: { Ref: logicalIdOf(starter.function, hub.stack) },
      EventSourceArn: { 'Fn::GetAtt': [logicalIdOf(starter.queue, hub.stack), 'Arn'] },
      FunctionResponseTypes: ['ReportBatchItemFailures'],
    });
  });

  it('starts the contact sync on each catalog trigger (the CRM contact.updated webhook) from the hub bus, with a role that may only start it', () => {
    const { triggers } = WORKFLOWS.contactSync;
    expect(triggers).toContainEqual({ sources: [webhookEventSource('crm')], detailTypes: ['contact.updated'] });
    const machineRef = { Ref: logicalIdOf(hub.stack.contactSync!.stateMachine, hub.stack) };
    const rules = hub.stack.contactSync!.triggerRules;
    expect(rules).toHaveLength(triggers!.length);
    for (const [index, trigger] of triggers!.entries()) {
      const rule = resource(logicalIdOf(rules[index]!, hub.stack)).Properties!;
      expect(rule).toMatchObject({
        EventBusName: { Ref: logicalIdOf(hub.stack.bus.bus, hub.stack) },
        EventPattern: { source: [...trigger.sources], 'detail-type': [...trigger.detailTypes] },
        State: 'ENABLED',
      });
      const targets = rule.Targets as { Arn: unknown; RoleArn: { 'Fn::GetAtt': [string, string] } }[];
      expect(targets).toHaveLength(1);
      expect(targets[0]!.Arn).toEqual(machineRef);
      const roleLogicalId = targets[0]!.RoleArn['Fn::GetAtt'][0];
      expect(resource(roleLogicalId).Properties!.AssumeRolePolicyDocument).toMatchObject({
        Statement: [expect.objectContaining({ Action: 'sts:AssumeRole', Principal: { Service: 'events.amazonaws.com' } })],
      });
      expect(statementsOfRole(hub.template, roleLogicalId)).toEqual([{ Effect: 'Allow', Action: 'states:StartExecution', Resource: machineRef }]);
      expect(resource(roleLogicalId).Properties!.ManagedPolicyArns).toBeUndefined();
      expect(resource(roleLogicalId).Properties!.Policies).toBeUndefined();
    }
  });

  it('starts the contact sync on a rate schedule from the catalog', () => {
    hub.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: `rate(${WORKFLOWS.contactSync.scheduleMinutes} minutes)`,
      State: 'ENABLED',
      Targets: [Match.objectLike({ Arn: { Ref: logicalIdOf(hub.stack.contactSync!.stateMachine, hub.stack) } })],
    });
  });
});

describe('workflow IAM', () => {
  const roleOf = (fn: { role?: unknown }) => logicalIdOf(fn.role as never, hub.stack);
  const secretReads = (roleLogicalId: string) =>
    statementsOfRole(hub.template, roleLogicalId)
      .filter((statement) => asArray(statement.Action).includes('secretsmanager:GetSecretValue'))
      .flatMap((statement) => asArray(statement.Resource));

  it('lets the starter start executions of exactly the saga state machine, and nothing else of Step Functions', () => {
    const starter = hub.stack.orderSagaStarter!;
    const statements = statementsOfRole(hub.template, roleOf(starter.function));
    const states = statements.filter((statement) => asArray(statement.Action).some((action) => action.startsWith('states:')));
    expect(states).toEqual([{ Effect: 'Allow', Action: 'states:StartExecution', Resource: { Ref: logicalIdOf(hub.stack.orderSaga!.stateMachine, hub.stack) } }]);
    expect(secretReads(roleOf(starter.function))).toEqual([]);
    const env = resource(logicalIdOf(starter.function, hub.stack)).Properties!.Environment as { Variables: Record<string, unknown> };
    expect(env.Variables).toMatchObject({
      STATE_MACHINE_ARN: { Ref: logicalIdOf(hub.stack.orderSaga!.stateMachine, hub.stack) },
      DLQ_URL: { Ref: logicalIdOf(starter.deadLetterQueue, hub.stack) },
    });
  });

  it('lets each saga task read only its own provider secret, with that provider base URL and circuit settings', () => {
    const providers = hub.stack.workflowProviders!;
    for (const [task, fn] of hub.stack.orderSaga!.taskFunctions) {
      const provider = SAGA_TASK_PROVIDER[task];
      const secret = providers.secrets.get(provider)!;
      expect(secretReads(roleOf(fn)), task).toEqual([{ Ref: logicalIdOf(secret as never, hub.stack) }]);
      const env = resource(logicalIdOf(fn, hub.stack)).Properties!.Environment as { Variables: Record<string, unknown> };
      const resolved = providers.provider(provider);
      expect(env.Variables, task).toMatchObject({
        BASE_URL: resolved.baseUrl,
        SECRET_NAME: { Ref: logicalIdOf(secret as never, hub.stack) },
        CIRCUIT_SETTINGS: JSON.stringify(resolved.circuit),
        LEDGER_TABLE_NAME: { Ref: logicalIdOf(hub.stack.tables.ledger, hub.stack) },
        CIRCUITS_TABLE_NAME: { Ref: logicalIdOf(hub.stack.tables.circuits, hub.stack) },
      });
      expect(env.Variables.DLQ_URL).toBeUndefined();
    }
    // The tasks of an integration's provider share that integration's secret and circuit settings.
    const shared = PROVIDERS.filter((provider) => provider.integration !== undefined);
    expect(shared.length).toBeGreaterThan(0);
    for (const provider of shared) {
      const pipeline = hub.stack.pipelines.get(provider.integration!)!;
      expect(providers.secrets.get(provider.name), provider.name).toBe(pipeline.secret);
      expect(providers.provider(provider.name).circuit, provider.name).toEqual(pipeline.integration.circuit);
    }
  });

  it('lets the sync task read its source and target secrets only, under the variables the task reads', () => {
    const fn = hub.stack.contactSync!.syncPageFunction;
    const providers = hub.stack.workflowProviders!;
    // A provider of an integration reads that integration's secret; a standalone one its own.
    const secretOf = (name: string) => {
      const { integration } = providerEntry(name);
      const secret = integration !== undefined ? hub.stack.pipelines.get(integration)!.secret : providers.secrets.get(name);
      expect(secret, name).toBeDefined();
      return { Ref: logicalIdOf(secret as never, hub.stack) };
    };
    const { source, target } = WORKFLOWS.contactSync;
    const sourceSecret = secretOf(source);
    const targetSecret = secretOf(target);
    expect(secretReads(roleOf(fn)).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))).toEqual(
      [sourceSecret, targetSecret].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
    );
    const env = resource(logicalIdOf(fn, hub.stack)).Properties!.Environment as { Variables: Record<string, unknown> };
    // The task reads its source under CONTACTS_ and its target under CRM_, whatever the catalog calls them.
    expect(env.Variables).toMatchObject({
      CONTACTS_BASE_URL: providers.provider(source).baseUrl,
      CONTACTS_SECRET_NAME: sourceSecret,
      CRM_BASE_URL: providers.provider(target).baseUrl,
      CRM_SECRET_NAME: targetSecret,
      CHECKPOINTS_TABLE_NAME: { Ref: logicalIdOf(hub.stack.tables.checkpoints, hub.stack) },
      CIRCUITS_TABLE_NAME: { Ref: logicalIdOf(hub.stack.tables.circuits, hub.stack) },
      PAGE_SIZE: String(WORKFLOWS.contactSync.pageSize),
    });
    // The sync keeps no ledger: it has no access to the ledger table.
    expect(JSON.stringify(statementsOfRole(hub.template, roleOf(fn)))).not.toContain(logicalIdOf(hub.stack.tables.ledger, hub.stack));
  });

  it('lets each state machine invoke only its own task functions', () => {
    for (const [machine, functions] of [
      [hub.stack.orderSaga!.stateMachine, [...hub.stack.orderSaga!.taskFunctions.values()]],
      [hub.stack.contactSync!.stateMachine, [hub.stack.contactSync!.syncPageFunction]],
    ] as const) {
      const invoke = statementsOfRole(hub.template, logicalIdOf(machine.role as never, hub.stack)).filter((s) => asArray(s.Action).includes('lambda:InvokeFunction'));
      const arns = invoke.flatMap((s) => asArray(s.Resource)).map((r) => JSON.stringify(r));
      const expected = functions.flatMap((fn) => {
        const arn = { 'Fn::GetAtt': [logicalIdOf(fn, hub.stack), 'Arn'] };
        return [JSON.stringify(arn), JSON.stringify({ 'Fn::Join': ['', [arn, ':*']] })];
      });
      expect(arns.sort()).toEqual(expected.sort());
    }
  });

  it('gives every workflow function the environment its handler requires, and no variable its handler does not read', () => {
    const functions = [
      ...[...hub.stack.orderSaga!.taskFunctions].map(([task, fn]) => ({ fn, exportName: task as string, entry: WORKFLOWS.orderSaga.entry })),
      { fn: hub.stack.orderSagaStarter!.function, exportName: 'handler', entry: WORKFLOWS.orderSaga.starterEntry },
      { fn: hub.stack.contactSync!.syncPageFunction, exportName: 'syncPage', entry: WORKFLOWS.contactSync.entry },
    ];
    expect(functions).toHaveLength(WORKFLOW_HANDLERS.length);
    const common = ['NODE_OPTIONS', 'POWERTOOLS_SERVICE_NAME', 'POWERTOOLS_METRICS_NAMESPACE'];
    for (const { fn, exportName, entry } of functions) {
      const handler = WORKFLOW_HANDLERS.find((h) => h.exportName === exportName && h.entry === entry)!;
      expect(handler, exportName).toBeDefined();
      const props = resource(logicalIdOf(fn, hub.stack)).Properties!;
      expect(props.Handler).toBe(`index.${exportName}`);
      const names = Object.keys((props.Environment as { Variables: Record<string, unknown> }).Variables);
      for (const required of handler.environment.required) expect(names, `${exportName}: ${required}`).toContain(required);
      for (const name of names) expect([...handler.environment.required, ...handler.environment.optional, ...common], `${exportName}: ${name}`).toContain(name);
    }
  });

  it('creates a placeholder secret per standalone provider, with the auth scheme fields', () => {
    const standalone = PROVIDERS.filter((provider) => provider.integration === undefined);
    expect(standalone.length).toBeGreaterThan(0);
    for (const provider of standalone) {
      const fields = SECRET_FIELDS[authScheme(hub.stack.workflowProviders!.provider(provider.name).auth)];
      hub.template.hasResourceProperties('AWS::SecretsManager::Secret', {
        Name: provider.secret?.name ?? `integration-hub/${provider.name}`,
        GenerateSecretString: Match.objectLike({
          SecretStringTemplate: JSON.stringify(Object.fromEntries(fields.slice(0, -1).map((field) => [field, SECRET_PLACEHOLDER]))),
          GenerateStringKey: fields.at(-1),
        }),
      });
    }
  });
});

describe('workflow alarms and dashboard', () => {
  it('alarm on failed executions of both workflows, a saga compensation that gave up and OrderPlaced events not started', () => {
    const names = alarmsOf().map((a) => a.Properties.AlarmName).filter((n) => /order-saga|contact-sync/.test(String(n))).sort();
    expect(names).toEqual([
      'IntegrationHub-contact-sync-executions-failed',
      'IntegrationHub-order-saga-compensation-failed',
      'IntegrationHub-order-saga-executions-failed',
      'IntegrationHub-order-saga-not-started',
    ]);
  });

  it('notify the alarm topic (alarm and OK), link a runbook that exists, and read the right metrics', () => {
    const topicRef = { Ref: logicalIdOf(hub.stack.alarmTopic.topic, hub.stack) };
    const workflowAlarms = alarmsOf().filter((a) => /order-saga|contact-sync/.test(String(a.Properties.AlarmName)));
    expect(workflowAlarms).toHaveLength(4);
    for (const { Properties } of workflowAlarms) {
      expect(Properties.AlarmActions).toEqual([topicRef]);
      expect(Properties.OKActions).toEqual([topicRef]);
      expect(Properties.ComparisonOperator).toBe('GreaterThanOrEqualToThreshold');
      expect(Properties.Threshold).toBe(1);
      expect(Properties.TreatMissingData).toBe('notBreaching');
      const slug = /Runbook: docs\/runbooks\/([a-z-]+)\.md$/.exec(String(Properties.AlarmDescription))?.[1];
      expect(WORKFLOW_RUNBOOK_SLUGS).toContain(slug);
      expect(existsSync(`${ROOT}docs/runbooks/${slug}.md`), String(slug)).toBe(true);
    }
    const failed = workflowAlarms.find((a) => a.Properties.AlarmName === 'IntegrationHub-order-saga-executions-failed')!.Properties;
    const metrics = JSON.stringify(failed.Metrics);
    expect(metrics).toContain('ExecutionsFailed');
    expect(metrics).toContain('ExecutionsTimedOut');
    expect(metrics).toContain(logicalIdOf(hub.stack.orderSaga!.stateMachine, hub.stack));
    const compensation = workflowAlarms.find((a) => a.Properties.AlarmName === 'IntegrationHub-order-saga-compensation-failed')!.Properties;
    expect(compensation).toMatchObject({ Namespace: 'IntegrationHub/Workflows', MetricName: 'IntegrationHub-order-saga-CompensationFailed', Statistic: 'Sum' });
  });

  it('count CompensationFailed from the saga execution log (Fail state entered), whatever the execution data setting', () => {
    hub.template.hasResourceProperties('AWS::Logs::MetricFilter', {
      LogGroupName: { Ref: logicalIdOf(hub.stack.orderSaga!.logGroup, hub.stack) },
      FilterPattern: '{ ($.type = "FailStateEntered") && ($.details.name = "CompensationFailed") }',
      MetricTransformations: [{ MetricNamespace: 'IntegrationHub/Workflows', MetricName: 'IntegrationHub-order-saga-CompensationFailed', MetricValue: '1' }],
    });
  });

  it('have a runbook each, saying what it means, the impact, how to diagnose, recover and escalate', () => {
    for (const slug of WORKFLOW_RUNBOOK_SLUGS) {
      const text = readFileSync(`${ROOT}docs/runbooks/${slug}.md`, 'utf8');
      for (const heading of ['## What it means', '## Impact', '## Diagnose', '## Recover', '## Escalate']) expect(text, `${slug}: ${heading}`).toContain(heading);
    }
  });

  it('add a Workflows section to the dashboard: executions, duration, compensation failures, starter, task errors; alarms in the header', () => {
    const dashboard = template.Resources[logicalIdOf(hub.stack.dashboard.dashboard, hub.stack)]!;
    const body = JSON.parse(String(resolveIntrinsics(dashboard.Properties!.DashboardBody, template))) as {
      widgets: { type: string; properties: { title?: string; markdown?: string; alarms?: string[] } }[];
    };
    expect(body.widgets.some((w) => w.properties.markdown?.startsWith('## Workflows'))).toBe(true);
    const titles = body.widgets.map((w) => w.properties.title).filter(Boolean);
    for (const title of [
      'order-saga · Executions',
      'order-saga · Execution duration',
      'order-saga · Compensation failed (operator needed)',
      'order-saga · Starter (OrderPlaced → StartExecution)',
      'order-saga · Task function errors (retried or caught by the state machine)',
      'contact-sync · Executions',
      'contact-sync · Execution duration',
    ]) {
      expect(titles).toContain(title);
    }
    const statusAlarms = body.widgets.find((w) => w.type === 'alarm')!.properties.alarms!;
    expect(statusAlarms.filter((arn) => /OrderSagaAlarms|ContactSyncAlarms/.test(arn))).toHaveLength(4);
  });
});

describe('workflow context overrides', () => {
  it('points a standalone provider at another base URL with baseUrl:<provider>, and a shared one with the integration key', () => {
    const tasks = Object.entries(SAGA_TASK_PROVIDER) as [keyof typeof SAGA_TASK_PROVIDER, string][];
    const [standaloneTask, standalone] = tasks.find(([, provider]) => providerEntry(provider).integration === undefined)!;
    const [sharedTask, shared] = tasks.find(([, provider]) => providerEntry(provider).integration !== undefined)!;
    const integration = providerEntry(shared).integration!;
    const { stack, template: t } = synthesizeHub({
      context: { [`baseUrl:${standalone}`]: `http://127.0.0.1:9/${standalone}`, [`baseUrl:${integration}`]: `http://127.0.0.1:9/${integration}` },
    });
    const env = (fn: unknown) => (t.toJSON().Resources[logicalIdOf(fn as never, stack)].Properties.Environment.Variables as Record<string, unknown>);
    expect(env(stack.orderSaga!.taskFunctions.get(standaloneTask)).BASE_URL).toBe(`http://127.0.0.1:9/${standalone}`);
    expect(env(stack.orderSaga!.taskFunctions.get(sharedTask)).BASE_URL).toBe(`http://127.0.0.1:9/${integration}`);
    expect(env(stack.pipelines.get(integration)!.function).BASE_URL).toBe(`http://127.0.0.1:9/${integration}`);
  });
});
